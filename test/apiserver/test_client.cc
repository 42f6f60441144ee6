#include "test/apiserver/test_client.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

namespace srexpert::testing {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

json::Document TestResponse::Json() const {
  auto d = json::Parse(body);
  return d ? std::move(*d) : json::Document();
}

namespace {

struct Connection {
  net::io_context io;
  ssl::context tls{ssl::context::tls_client};
  std::unique_ptr<ssl::stream<tcp::socket>> stream;

  Connection(const std::string& host, uint16_t port, const std::string& ca) {
    tls.load_verify_file(ca);
    tls.set_verify_mode(ssl::verify_peer);
    stream = std::make_unique<ssl::stream<tcp::socket>>(io, tls);
    // Verify the SAN like Go clients do.
    stream->set_verify_callback(ssl::host_name_verification(host));
    tcp::resolver resolver(io);
    net::connect(stream->next_layer(), resolver.resolve(host, std::to_string(port)));
    stream->handshake(ssl::stream_base::client);
  }
};

http::request<http::string_body> MakeRequest(const std::string& method, const std::string& target,
                                             const std::string& body,
                                             const std::string& content_type,
                                             const std::string& token, const std::string& host) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "apiserver-test/v0 (linux/amd64)");
  req.set(http::field::accept, "application/json");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.set(http::field::content_type, content_type);
    req.body() = body;
  }
  req.prepare_payload();
  return req;
}

}  // namespace

TestClient::TestClient(const ApiServer& server)
    : TestClient("127.0.0.1", server.Port(), server.CaFile(), server.Token()) {}

TestClient::TestClient(std::string host, uint16_t port, std::string ca_file, std::string token)
    : host_(std::move(host)), port_(port), ca_file_(std::move(ca_file)), token_(std::move(token)) {}

TestResponse TestClient::Request(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& content_type,
                                 const std::map<std::string, std::string>& extra_headers) {
  Connection c(host_, port_, ca_file_);
  auto req = MakeRequest(method, target, body, content_type, token_, host_);
  for (const auto& [k, v] : extra_headers) req.set(k, v);
  http::write(*c.stream, req);
  boost::beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 * 1024 * 1024);
  http::read(*c.stream, buf, parser);
  TestResponse r;
  r.status = parser.get().result_int();
  for (const auto& h : parser.get()) {
    std::string name(h.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    r.headers[name] = std::string(h.value());
  }
  r.body = parser.get().body();
  boost::system::error_code ec;
  c.stream->shutdown(ec);
  return r;
}

struct WatchStream::Impl {
  std::unique_ptr<Connection> conn;
  std::thread reader;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<json::Document> events;
  bool ended = false;
  bool error = false;
};

WatchStream::~WatchStream() {
  ::shutdown(impl_->conn->stream->next_layer().native_handle(), SHUT_RDWR);
  if (impl_->reader.joinable()) impl_->reader.join();
}

std::optional<json::Document> WatchStream::Next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, timeout, [&] { return !impl_->events.empty() || impl_->ended; });
  if (impl_->events.empty()) return std::nullopt;
  json::Document d = std::move(impl_->events.front());
  impl_->events.pop_front();
  return d;
}

bool WatchStream::Ended(std::chrono::milliseconds wait) {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, wait, [&] { return impl_->ended; });
  return impl_->ended;
}

bool WatchStream::EndedWithError() const {
  std::lock_guard lock(impl_->mu);
  return impl_->error;
}

std::unique_ptr<WatchStream> TestClient::Watch(const std::string& target) {
  auto w = std::unique_ptr<WatchStream>(new WatchStream());
  w->impl_ = std::make_unique<WatchStream::Impl>();
  auto* impl = w->impl_.get();
  impl->conn = std::make_unique<Connection>(host_, port_, ca_file_);
  auto req = MakeRequest("GET", target, "", "", token_, host_);
  http::write(*impl->conn->stream, req);
  // Read the header synchronously so status() is known on return.
  auto buf = std::make_shared<boost::beast::flat_buffer>();
  auto parser = std::make_shared<http::response_parser<http::string_body>>();
  parser->body_limit(boost::none);
  http::read_header(*impl->conn->stream, *buf, *parser);
  w->status_ = parser->get().result_int();
  impl->reader = std::thread([impl, buf, parser] {
    std::string pending;
    auto on_chunk = [&](std::uint64_t, std::string_view body, boost::beast::error_code&) -> std::size_t {
      pending.append(body.data(), body.size());
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        auto d = json::Parse(pending.substr(0, nl));
        pending.erase(0, nl + 1);
        if (d) {
          std::lock_guard lock(impl->mu);
          impl->events.push_back(std::move(*d));
          impl->cv.notify_all();
        }
      }
      return body.size();
    };
    parser->on_chunk_body(on_chunk);
    boost::system::error_code ec;
    while (!parser->is_done()) {
      http::read_some(*impl->conn->stream, *buf, *parser, ec);
      if (ec) break;
    }
    if (!ec && !pending.empty()) {
      // Non-chunked bodies (an error Status) arrive whole.
      if (auto d = json::Parse(pending)) {
        std::lock_guard lock(impl->mu);
        impl->events.push_back(std::move(*d));
      }
    }
    if (!parser->get().chunked() && !parser->get().body().empty()) {
      if (auto d = json::Parse(parser->get().body())) {
        std::lock_guard lock(impl->mu);
        impl->events.push_back(std::move(*d));
      }
    }
    std::lock_guard lock(impl->mu);
    impl->ended = true;
    impl->error = static_cast<bool>(ec);
    impl->cv.notify_all();
  });
  return w;
}

bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace srexpert::testing
