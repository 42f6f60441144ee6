#include "test/apiserver/http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <stdexcept>

#include "common/log.h"

namespace srexpert::testing {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size() &&
        std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

HttpRequest Convert(const http::request<http::string_body>& req) {
  HttpRequest r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  auto q = r.target.find('?');
  r.path = PercentDecode(std::string_view(r.target).substr(0, q), false);
  if (q != std::string::npos) {
    std::string_view rest = std::string_view(r.target).substr(q + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      std::string_view kv = rest.substr(0, amp);
      auto eq = kv.find('=');
      std::string k = PercentDecode(kv.substr(0, eq), true);
      std::string v = eq == std::string_view::npos ? "" : PercentDecode(kv.substr(eq + 1), true);
      if (!k.empty()) r.query.emplace(std::move(k), std::move(v));
      if (amp == std::string_view::npos) break;
      rest = rest.substr(amp + 1);
    }
  }
  for (const auto& h : req) {
    std::string name(h.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    r.headers[name] = std::string(h.value());
  }
  r.body = req.body();
  return r;
}

}  // namespace

std::string HttpRequest::Query(const std::string& key, const std::string& fallback) const {
  auto it = query.find(key);
  return it == query.end() ? fallback : it->second;
}

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

struct HttpsServer::Impl {
  std::string cert_file, key_file;
  HttpHandler handler;
  net::io_context io;
  ssl::context tls{ssl::context::tls_server};
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread accept_thread;
  std::atomic<bool> stopping{false};

  struct Conn {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
    int fd;
  };
  std::mutex mu;
  std::list<Conn> conns;

  void AcceptLoop();
  void Serve(tcp::socket socket, std::shared_ptr<std::atomic<bool>> done);
  void ReapFinished();
};

namespace {

class ChunkWriter final : public StreamWriter {
 public:
  ChunkWriter(ssl::stream<tcp::socket>& stream, std::atomic<bool>& stopping)
      : stream_(stream), stopping_(stopping) {}
  bool WriteChunk(const std::string& data) override {
    if (Closed()) return false;
    boost::system::error_code ec;
    net::write(stream_, http::make_chunk(net::buffer(data)), ec);
    if (ec) failed_ = true;
    return !ec;
  }
  bool Closed() override {
    if (failed_ || stopping_) return true;
    // During a watch the client sends nothing; readable input or a hang-up
    // means it closed the connection (TLS close_notify or FIN).
    pollfd p{stream_.next_layer().native_handle(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))) {
      failed_ = true;
    }
    return failed_;
  }
  void Reset() override {
    // SO_LINGER 0 makes close() send RST: the client sees a connection reset
    // in the middle of the chunked body.
    linger l{1, 0};
    ::setsockopt(stream_.next_layer().native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    boost::system::error_code ec;
    stream_.next_layer().close(ec);
    failed_ = true;
    reset_ = true;
  }
  bool WasReset() const { return reset_; }
  bool Failed() const { return failed_; }

 private:
  ssl::stream<tcp::socket>& stream_;
  std::atomic<bool>& stopping_;
  bool failed_ = false;
  bool reset_ = false;
};

}  // namespace

void HttpsServer::Impl::Serve(tcp::socket socket, std::shared_ptr<std::atomic<bool>> done) {
  boost::system::error_code ec;
  ssl::stream<tcp::socket> stream(std::move(socket), tls);
  stream.handshake(ssl::stream_base::server, ec);
  boost::beast::flat_buffer buffer;
  while (!ec && !stopping) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buffer, parser, ec);
    if (ec) break;
    const auto& raw = parser.get();
    bool keep_alive = raw.keep_alive();
    HttpResponse res;
    try {
      res = handler(Convert(raw));
    } catch (const std::exception& e) {
      res.status = 500;
      res.body = std::string("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                             "\"status\":\"Failure\",\"message\":\"Internal error occurred\","
                             "\"reason\":\"InternalError\",\"code\":500}");
      log::Error("kube-test-apiserver handler failed", {{"error", e.what()}});
    }
    if (res.stream) {
      http::response<http::empty_body> head{static_cast<http::status>(res.status), raw.version()};
      head.set(http::field::content_type, res.content_type);
      for (const auto& [k, v] : res.headers) head.set(k, v);
      head.chunked(true);
      http::response_serializer<http::empty_body> sr{head};
      http::write_header(stream, sr, ec);
      if (ec) break;
      ChunkWriter writer(stream, stopping);
      res.stream(writer);
      if (writer.WasReset()) {
        done->store(true);
        return;
      }
      if (writer.Failed()) break;
      net::write(stream, http::make_chunk_last(), ec);
    } else {
      http::response<http::string_body> out{static_cast<http::status>(res.status), raw.version()};
      out.set(http::field::content_type, res.content_type);
      for (const auto& [k, v] : res.headers) out.set(k, v);
      out.body() = std::move(res.body);
      out.keep_alive(keep_alive);
      out.prepare_payload();
      http::write(stream, out, ec);
    }
    if (!keep_alive) break;
  }
  stream.shutdown(ec);
  stream.next_layer().close(ec);
  done->store(true);
}

void HttpsServer::Impl::ReapFinished() {
  std::lock_guard lock(mu);
  for (auto it = conns.begin(); it != conns.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = conns.erase(it);
    } else {
      ++it;
    }
  }
}

void HttpsServer::Impl::AcceptLoop() {
  while (!stopping) {
    boost::system::error_code ec;
    tcp::socket socket(io);
    acceptor->accept(socket, ec);
    if (ec || stopping) break;
    // As kube-apiserver (Go sets TCP_NODELAY on every connection): without
    // it a response written in two TLS records waits for the client's
    // delayed ACK of the first, 40 ms on Linux. A failure only costs latency.
    socket.set_option(tcp::no_delay(true), ec);
    ReapFinished();
    auto done = std::make_shared<std::atomic<bool>>(false);
    int fd = socket.native_handle();
    std::lock_guard lock(mu);
    conns.push_back(Conn{std::thread([this, s = std::move(socket), done]() mutable {
                           Serve(std::move(s), done);
                         }),
                         done, fd});
  }
}

HttpsServer::HttpsServer(std::string host, uint16_t port, std::string cert_file,
                         std::string key_file, HttpHandler handler)
    : impl_(std::make_unique<Impl>()), host_(std::move(host)), port_(port) {
  impl_->cert_file = std::move(cert_file);
  impl_->key_file = std::move(key_file);
  impl_->handler = std::move(handler);
}

HttpsServer::~HttpsServer() { Stop(); }

void HttpsServer::Start() {
  try {
    impl_->tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1);
    impl_->tls.use_certificate_chain_file(impl_->cert_file);
    impl_->tls.use_private_key_file(impl_->key_file, ssl::context::pem);
    tcp::endpoint ep(net::ip::make_address(host_), port_);
    impl_->acceptor = std::make_unique<tcp::acceptor>(impl_->io);
    impl_->acceptor->open(ep.protocol());
    impl_->acceptor->set_option(net::socket_base::reuse_address(true));
    impl_->acceptor->bind(ep);
    impl_->acceptor->listen();
    bound_port_ = impl_->acceptor->local_endpoint().port();
  } catch (const std::exception& e) {
    throw std::runtime_error("kube-test-apiserver: cannot listen on " + host_ + ":" +
                             std::to_string(port_) + ": " + e.what());
  }
  impl_->accept_thread = std::thread([this] { impl_->AcceptLoop(); });
}

void HttpsServer::Stop() {
  if (!impl_ || !impl_->acceptor || impl_->stopping.exchange(true)) return;
  // shutdown() wakes the blocking accept()/read() calls in other threads;
  // closing the descriptors there would race with their use.
  ::shutdown(impl_->acceptor->native_handle(), SHUT_RDWR);
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  {
    std::lock_guard lock(impl_->mu);
    for (auto& c : impl_->conns) {
      if (!c.done->load()) ::shutdown(c.fd, SHUT_RDWR);
    }
  }
  std::list<Impl::Conn> conns;
  {
    std::lock_guard lock(impl_->mu);
    conns.swap(impl_->conns);
  }
  for (auto& c : conns) c.thread.join();
  boost::system::error_code ec;
  impl_->acceptor->close(ec);
}

}  // namespace srexpert::testing
