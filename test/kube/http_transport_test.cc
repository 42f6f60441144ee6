// ResponseStream::ReadLine over a real HTTP connection whose chunks a test
// script controls: lines split across chunks, CRLF, a last line without '\n',
// idle timeouts in the middle of a line, cancellation, a reset mid-line and
// the line-length bound.
#include "kube/http_transport.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace srexpert::kube;
using namespace std::chrono_literals;

namespace {

// One HTTP/1.1 connection at a time on 127.0.0.1: reads the request head,
// answers 200 with a chunked body and hands the socket to `script`.
class ScriptedServer {
 public:
  class Conn {
   public:
    explicit Conn(int fd) : fd_(fd) {
      timeval tv{10, 0};  // never block a test for good on a client that stopped reading
      setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    void Chunk(const std::string& data) {
      if (data.empty()) return;
      char head[32];
      int n = std::snprintf(head, sizeof head, "%zx\r\n", data.size());
      Write(std::string(head, n) + data + "\r\n");
    }
    void End() { Write("0\r\n\r\n"); }
    // Drops the connection with a RST, no final chunk.
    void Reset() {
      linger l{1, 0};
      setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::close(fd_);
      fd_ = -1;
    }
    ~Conn() {
      if (fd_ >= 0) ::close(fd_);
    }
    void Write(const std::string& s) {
      size_t off = 0;
      while (off < s.size()) {
        ssize_t w = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (w <= 0) return;  // the client went away
        off += static_cast<size_t>(w);
      }
    }

   private:
    int fd_;
  };

  explicit ScriptedServer(std::function<void(Conn&)> script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd_, 4) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
          ::close(fd);
          return;
        }
        head.append(buf, static_cast<size_t>(n));
      }
      Conn conn(fd);
      conn.Write(
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          "Transfer-Encoding: chunked\r\n\r\n");
      script_(conn);
    });
  }
  ~ScriptedServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // unblocks accept if nobody connected
    if (thread_.joinable()) thread_.join();
    ::close(listen_fd_);
  }

  std::unique_ptr<ResponseStream> Open(const Cancellation& cancel = Cancellation()) {
    RestConfig cfg;
    cfg.server = "http://127.0.0.1:" + std::to_string(port_);
    cfg.request_timeout = 10s;
    auto transport = HttpTransport::New(cfg);
    REQUIRE(transport.ok());
    transport_ = std::move(*transport);
    auto stream = transport_->Open({"GET", "/watch", "", "", ""}, cancel);
    REQUIRE(stream.ok());
    return std::move(*stream);
  }

 private:
  std::function<void(Conn&)> script_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::unique_ptr<HttpTransport> transport_;
};

std::string Line(ResponseStream& s, std::chrono::milliseconds idle = 30s) {
  auto r = s.ReadLine(idle);
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  return **r;
}

void RequireEnd(ResponseStream& s) {
  auto r = s.ReadLine(30s);
  REQUIRE(r.ok());
  CHECK_FALSE(r->has_value());
}

}  // namespace

TEST_CASE("ReadLine splits lines across chunks, strips CRLF and returns a last line without newline",
          "[kube][http]") {
  ScriptedServer server([](ScriptedServer::Conn& c) {
    for (const char* part : {"a\r\nbb", "b\n\n", "cc", "c\nd1\nd2\n", "tail"}) {
      c.Chunk(part);
      std::this_thread::sleep_for(20ms);  // separate arrivals
    }
    c.End();
  });
  auto s = server.Open();
  CHECK(Line(*s) == "a");
  CHECK(Line(*s) == "bbb");
  CHECK(Line(*s) == "");  // keep-alive newline
  CHECK(Line(*s) == "ccc");
  CHECK(Line(*s) == "d1");
  CHECK(Line(*s) == "d2");
  CHECK(Line(*s) == "tail");
  RequireEnd(*s);
  RequireEnd(*s);  // and stays at the end
}

TEST_CASE("ReadLine returns every line of a body cut into random chunks", "[kube][http]") {
  std::mt19937 rng(42);
  std::vector<std::string> lines;
  std::string body;
  for (int i = 0; i < 2000; ++i) {
    size_t len = std::uniform_int_distribution<size_t>(0, i % 100 == 0 ? 300000 : 20000)(rng);
    std::string line(len, static_cast<char>('a' + i % 26));
    if (len > 0) line.front() = '{';
    lines.push_back(line);
    body += line + "\n";
  }
  ScriptedServer server([&](ScriptedServer::Conn& c) {
    std::mt19937 crng(7);
    for (size_t off = 0; off < body.size();) {
      size_t n = std::min(body.size() - off,
                          std::uniform_int_distribution<size_t>(1, 200000)(crng));
      c.Chunk(body.substr(off, n));
      off += n;
    }
    c.End();
  });
  auto s = server.Open();
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string got = Line(*s);
    if (got != lines[i]) FAIL("line " << i << ": " << got.size() << " bytes, want " << lines[i].size());
  }
  RequireEnd(*s);
}

TEST_CASE("An idle timeout in the middle of a line keeps the partial line", "[kube][http]") {
  std::promise<void> go;
  auto released = go.get_future();
  ScriptedServer server([&](ScriptedServer::Conn& c) {
    c.Chunk("first\npar");
    released.wait_for(30s);
    c.Chunk("tial\n");
    c.End();
  });
  auto s = server.Open();
  CHECK(Line(*s) == "first");
  auto r = s->ReadLine(200ms);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kTimeout);
  r = s->ReadLine(100ms);  // still nothing: times out again
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kTimeout);
  go.set_value();
  CHECK(Line(*s) == "partial");
  RequireEnd(*s);
}

TEST_CASE("Cancelling ends a blocked ReadLine promptly", "[kube][http]") {
  std::promise<void> done;
  auto finished = done.get_future();
  ScriptedServer server([&](ScriptedServer::Conn& c) {
    c.Chunk("one\n");
    finished.wait_for(30s);
  });
  Cancellation cancel;
  auto s = server.Open(cancel);
  CHECK(Line(*s) == "one");
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    cancel.Cancel();
  });
  auto r = s->ReadLine(std::chrono::minutes(5));
  stopper.join();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kCancelled);
  r = s->ReadLine(std::chrono::minutes(5));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kCancelled);
  done.set_value();
}

TEST_CASE("A connection reset mid-line is a transport error, not a short line", "[kube][http]") {
  std::promise<void> go;
  auto released = go.get_future();
  ScriptedServer server([&](ScriptedServer::Conn& c) {
    c.Chunk("whole\n{\"partial");
    released.wait_for(30s);
    c.Reset();
  });
  auto s = server.Open();
  CHECK(Line(*s) == "whole");
  go.set_value();
  auto r = s->ReadLine(30s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kTransport);
  r = s->ReadLine(30s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kTransport);
}

TEST_CASE("A line over 16 MiB fails the stream instead of growing without bound",
          "[kube][http]") {
  ScriptedServer server([](ScriptedServer::Conn& c) {
    c.Chunk("ok\n");
    std::string block(64 * 1024, 'x');
    for (int i = 0; i < 17 * 16 + 1; ++i) c.Chunk(block);  // 17 MiB without '\n'
    c.Chunk("\n");
    c.End();
  });
  auto s = server.Open();
  CHECK(Line(*s) == "ok");
  auto r = s->ReadLine(60s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kTransport);
  CHECK_THAT(r.error().ToString(), Catch::Contains("longer than"));
}

namespace {

// Answers every connection on 127.0.0.1 with one canned response and records
// the request heads it received.
class CannedServer {
 public:
  explicit CannedServer(std::string response) : response_(std::move(response)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd_, 4) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) return;
        std::string head;
        char buf[4096];
        while (head.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          if (n <= 0) break;
          head.append(buf, static_cast<size_t>(n));
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          heads_.push_back(head);
        }
        (void)::send(fd, response_.data(), response_.size(), MSG_NOSIGNAL);
        ::close(fd);
      }
    });
  }
  ~CannedServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> heads() {
    std::lock_guard<std::mutex> lock(mu_);
    return heads_;
  }

 private:
  std::string response_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> heads_;
};

}  // namespace

// client-go would not send the token to another host either; and cpprestsdk's
// redirect follower reads the request's headers while its I/O thread still
// writes them (a data race ThreadSanitizer reports on every request).
TEST_CASE("A redirect is returned, not followed with the bearer token", "[kube][http]") {
  CannedServer elsewhere("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  CannedServer server("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:" +
                      std::to_string(elsewhere.port()) +
                      "/stolen\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  RestConfig cfg;
  cfg.server = "http://127.0.0.1:" + std::to_string(server.port());
  cfg.request_timeout = 10s;
  auto transport = HttpTransport::New(cfg);
  REQUIRE(transport.ok());
  auto r = (*transport)->Send({"GET", "/api/v1/namespaces", "", "", "s3cret"}, nullptr);
  REQUIRE(r.ok());
  CHECK(r->status == 302);
  REQUIRE(server.heads().size() == 1);
  CHECK_THAT(server.heads()[0], Catch::Contains("Bearer s3cret"));
  CHECK(elsewhere.heads().empty());
}
