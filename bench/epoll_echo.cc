// demi-epoll-echo: the yardstick for "many connections": a plain Linux TCP echo server, one
// thread, non-blocking sockets driven by epoll, written the way a careful C++ programmer would
// write it without demi. It echoes every byte back; a connection whose peer does not read is
// not read from either until its pending echo has left (bounded memory per connection).
//
//   demi-epoll-echo --addr IP:PORT [--port-file F] [--max-conns N] [--busy-poll]
//
// --max-conns N: exit once N connections have closed (so that the bench can read the server's
// CPU time); --busy-poll: epoll_wait with a zero timeout (spin) instead of sleeping.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kBufferSize = 64 * 1024;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Connection {
  std::unique_ptr<char[]> buffer;  // bytes read but not yet echoed: [sent, filled)
  std::size_t filled = 0;
  std::size_t sent = 0;
  bool open = false;
};

int usage() {
  std::fprintf(stderr, "usage: demi-epoll-echo --addr IP:PORT [--port-file F] [--max-conns N] [--busy-poll]\n");
  return 2;
}

bool parse_addr(const std::string& s, sockaddr_in* out) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  std::memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  char* end = nullptr;
  unsigned long port = std::strtoul(s.c_str() + colon + 1, &end, 10);
  if (*end || port > 65535) return false;
  out->sin_port = htons(static_cast<uint16_t>(port));
  return inet_pton(AF_INET, s.substr(0, colon).c_str(), &out->sin_addr) == 1;
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

class EchoServer {
 public:
  EchoServer(int listen_fd, int epoll_fd) : listen_fd_(listen_fd), epoll_fd_(epoll_fd) {}

  void accept_all() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
          std::fprintf(stderr, "demi-epoll-echo: accept: %s\n", std::strerror(errno));
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) * 2 + 1);
      Connection& c = conns_[static_cast<std::size_t>(fd)];
      if (!c.buffer) c.buffer = std::make_unique<char[]>(kBufferSize);
      c.filled = c.sent = 0;
      c.open = true;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    }
  }

  // Reads what is there and echoes it; returns false when the connection is over.
  bool serve(int fd, uint32_t events) {
    Connection& c = conns_[static_cast<std::size_t>(fd)];
    if (c.sent < c.filled && (events & EPOLLOUT)) {
      if (!flush(fd, c)) return false;
      if (c.sent < c.filled) return true;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || c.sent < c.filled) return true;
    ssize_t n = read(fd, c.buffer.get(), kBufferSize);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c.filled = static_cast<std::size_t>(n);
    c.sent = 0;
    if (!flush(fd, c)) return false;
    if (c.sent < c.filled) {  // the peer is slow to read: wait until the echo can leave
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.fd = fd;
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
    }
    return true;
  }

  void close_conn(int fd) {
    conns_[static_cast<std::size_t>(fd)].open = false;
    close(fd);  // also removes it from the epoll set
    ++closed_;
  }

  unsigned long closed() const { return closed_; }

 private:
  static bool flush(int fd, Connection& c) {
    while (c.sent < c.filled) {
      ssize_t w = write(fd, c.buffer.get() + c.sent, c.filled - c.sent);
      if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.sent += static_cast<std::size_t>(w);
    }
    c.filled = c.sent = 0;
    return true;
  }

  int listen_fd_;
  int epoll_fd_;
  std::vector<Connection> conns_;
  unsigned long closed_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  sockaddr_in addr{};
  bool have_addr = false, busy = false;
  const char* port_file = nullptr;
  unsigned long max_conns = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--busy-poll") busy = true;
    else if (a == "--addr" && i + 1 < argc) have_addr = parse_addr(argv[++i], &addr);
    else if (a == "--port-file" && i + 1 < argc) port_file = argv[++i];
    else if (a == "--max-conns" && i + 1 < argc) max_conns = std::strtoul(argv[++i], nullptr, 10);
    else return usage();
  }
  if (!have_addr) return usage();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(lfd, 4096) != 0) {
    std::fprintf(stderr, "demi-epoll-echo: cannot listen: %s\n", std::strerror(errno));
    return 1;
  }
  set_nonblocking(lfd);
  if (port_file) {
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    getsockname(lfd, reinterpret_cast<sockaddr*>(&bound), &len);
    FILE* f = std::fopen(port_file, "w");
    if (!f) return std::fprintf(stderr, "demi-epoll-echo: %s: %s\n", port_file, std::strerror(errno)), 1;
    std::fprintf(f, "%u\n", ntohs(bound.sin_port));
    std::fclose(f);
  }
  int efd = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev);
  EchoServer server(lfd, efd);
  std::vector<epoll_event> events(1024);
  while (!g_stop && !(max_conns && server.closed() >= max_conns)) {
    int n = epoll_wait(efd, events.data(), static_cast<int>(events.size()), busy ? 0 : 100);
    if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "demi-epoll-echo: epoll_wait: %s\n", std::strerror(errno));
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == lfd) server.accept_all();
      else if (!server.serve(fd, events[static_cast<std::size_t>(i)].events)) server.close_conn(fd);
    }
  }
  close(efd);
  close(lfd);
  return 0;
}
