// A user's C++ program: an empty LibOS with the POSIX module, one UDP queue.
#include <demi/libos.h>
#include <demi/posix.h>

#include <cstdio>
#include <sys/socket.h>

int main() {
  demi::LibOS libos;
  if (int rc = libos.install(demi::make_posix_module())) return std::printf("install failed: %d\n", rc), 1;
  auto qd = libos.socket(AF_INET, SOCK_DGRAM, 0);
  if (!qd) return std::printf("socket failed: %d\n", qd.error()), 1;
  if (libos.close(*qd)) return 1;
  std::printf("consumer_cpp: ok\n");
  return 0;
}
