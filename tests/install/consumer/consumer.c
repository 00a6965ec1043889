/* A user's C program: dmtr_init, one UDP queue, sgaalloc/sgafree. */
#include <dmtr/libos.h>
#include <stdio.h>
#include <sys/socket.h>

int main(int argc, char *argv[]) {
  int qd = -1;
  dmtr_sgarray_t sga;
  if (dmtr_init(argc, argv) != 0) return 1;
  if (dmtr_socket(&qd, AF_INET, SOCK_DGRAM, 0) != 0) return 1;
  if (dmtr_sgaalloc(&sga, 64) != 0 || dmtr_sgafree(&sga) != 0) return 1;
  if (dmtr_close(qd) != 0) return 1;
  printf("consumer_c: ok\n");
  return 0;
}
