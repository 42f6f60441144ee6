#include "test/bench/chaos_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace srexpert::bench {

namespace {

enum Command : int { kForward = 0, kStall = 1, kReset = 2 };

// close() after SO_LINGER {on, 0}: the kernel sends RST instead of FIN.
void CloseWithReset(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

struct ChaosRelay::Conn {
  int fd[2] = {-1, -1};  // 0: accepted (client), 1: dialed (target)
  std::atomic<int> command{kForward};
  std::atomic<bool> done{false};
  std::thread thread;
};

ChaosRelay::ChaosRelay(uint16_t target_port) : target_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("relay: socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    std::string e = std::strerror(errno);
    ::close(listen_fd_);
    throw std::runtime_error("relay: bind/listen: " + e);
  }
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  accept_ = std::thread([this] { AcceptLoop(); });
}

ChaosRelay::~ChaosRelay() { Stop(); }

void ChaosRelay::Stop() {
  if (stopped_.exchange(true)) return;
  if (accept_.joinable()) accept_.join();
  std::list<std::shared_ptr<Conn>> conns;
  {
    std::lock_guard l(mu_);
    conns.swap(conns_);
  }
  for (auto& c : conns) c->command = kReset;
  for (auto& c : conns) {
    if (c->thread.joinable()) c->thread.join();
  }
  ::close(listen_fd_);
}

int ChaosRelay::ResetAll() {
  std::lock_guard l(mu_);
  int n = 0;
  for (auto& c : conns_) {
    if (c->done) continue;
    c->command = kReset;
    ++n;
  }
  return n;
}

int ChaosRelay::StallAll() {
  std::lock_guard l(mu_);
  int n = 0;
  for (auto& c : conns_) {
    int expected = kForward;
    if (!c->done && c->command.compare_exchange_strong(expected, kStall)) ++n;
  }
  return n;
}

int ChaosRelay::ResetStalled() {
  std::lock_guard l(mu_);
  int n = 0;
  for (auto& c : conns_) {
    int expected = kStall;
    if (!c->done && c->command.compare_exchange_strong(expected, kReset)) ++n;
  }
  return n;
}

int ChaosRelay::open_connections() const {
  std::lock_guard l(mu_);
  int n = 0;
  for (const auto& c : conns_) n += c->done ? 0 : 1;
  return n;
}

void ChaosRelay::ReapFinished() {
  std::vector<std::shared_ptr<Conn>> finished;
  {
    std::lock_guard l(mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if ((*it)->done) {
        finished.push_back(*it);
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) c->thread.join();
}

void ChaosRelay::AcceptLoop() {
  while (!stopped_) {
    ReapFinished();
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++accepted_;
    int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(target_);
    if (upstream < 0 || ::connect(upstream, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      // The target is down (a killed hub): the client sees the refusal as RST.
      ++failed_dials_;
      if (upstream >= 0) ::close(upstream);
      CloseWithReset(client);
      continue;
    }
    // No Nagle on either leg: the relay must not add latency of its own.
    int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_shared<Conn>();
    c->fd[0] = client;
    c->fd[1] = upstream;
    std::lock_guard l(mu_);
    conns_.push_back(c);
    c->thread = std::thread([this, c] { Serve(c); });
  }
}

// Forwards both directions; a FIN from one side is passed on as a FIN
// (half-close) and the connection ends when both sides have finished, or at
// once on an error or a reset command.
void ChaosRelay::Serve(const std::shared_ptr<Conn>& c) {
  std::vector<char> buf(64 * 1024);
  bool reading[2] = {true, true};
  bool failed = false;
  while ((reading[0] || reading[1]) && !failed) {
    int cmd = c->command.load();
    if (cmd == kReset) break;
    if (cmd == kStall) {
      // Nothing is read, so nothing moves; the peers' buffers fill up.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    pollfd p[2];
    for (int i = 0; i < 2; ++i) {
      p[i].fd = reading[i] ? c->fd[i] : -1;  // a finished side is not polled (POLLHUP would spin)
      p[i].events = POLLIN;
      p[i].revents = 0;
    }
    // Short timeout: commands take effect within 50 ms.
    if (::poll(p, 2, 50) <= 0) continue;
    for (int i = 0; i < 2 && !failed; ++i) {
      if (!reading[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::recv(c->fd[i], buf.data(), buf.size(), 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) {
        failed = true;
      } else if (n == 0) {
        reading[i] = false;
        ::shutdown(c->fd[1 - i], SHUT_WR);
      } else if (!WriteAll(c->fd[1 - i], buf.data(), static_cast<size_t>(n))) {
        failed = true;
      }
    }
  }
  if (c->command.load() == kReset || failed) {
    // A reset leg is passed on as a reset, as a NAT dropping state would.
    CloseWithReset(c->fd[0]);
    CloseWithReset(c->fd[1]);
  } else {
    ::close(c->fd[0]);
    ::close(c->fd[1]);
  }
  c->done = true;
}

}  // namespace srexpert::bench
