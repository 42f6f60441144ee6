#include "net/http_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <fmt/format.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <thread>

#include "common/log.h"
#include "net/tls.h"

namespace srexpert::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

std::string HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string{} : it->second;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {

struct Route {
  std::string method;
  std::string path;
  bool prefix = false;
  AsyncHandler handler;
};

// Shared with Respond callbacks, which may outlive the server: they post only
// while the server is alive.
struct Liveness {
  std::mutex mu;
  bool alive = true;
};

// One request waiting for its Respond call; lives on the connection's strand.
struct ResponseWait {
  explicit ResponseWait(asio::any_io_executor ex)
      : executor(ex), timer(ex, asio::steady_timer::time_point::max()) {}
  asio::any_io_executor executor;
  asio::steady_timer timer;
  std::optional<HttpResponse> slot;
};

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  std::vector<Route> routes;
  std::shared_ptr<asio::ssl::context> tls;
  std::unique_ptr<asio::io_context> io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::shared_ptr<Liveness> liveness = std::make_shared<Liveness>();
  uint16_t port = 0;
  bool started = false;
  bool stopped = false;

  const Route* Find(const std::string& method, const std::string& path, bool* path_known) const {
    *path_known = false;
    const Route* best = nullptr;
    for (const Route& r : routes) {
      bool match = r.prefix ? path.rfind(r.path, 0) == 0 : path == r.path;
      if (!match) continue;
      *path_known = true;
      if (r.method == method && (!best || r.path.size() > best->path.size())) best = &r;
    }
    return best;
  }

  awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor->async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
        log::Warn("http server accept failed", {{"error", ec.message()}});
        continue;
      }
      // A response larger than one write goes out as several segments;
      // with Nagle the last waits for the peer's delayed ACK (40 ms on
      // Linux). A failure here only costs latency.
      socket.set_option(tcp::no_delay(true), ec);
      // One strand per connection: Dispatch() checks the response slot and
      // then waits on a timer, while Respond() (any thread) posts the fill
      // and cancel to this executor. On a multi-threaded io_context without
      // a strand the cancel could run between check and wait and the request
      // would hang forever; on the strand they cannot interleave.
      auto ex = asio::make_strand(socket.get_executor());
      if (tls) {
        asio::co_spawn(ex, ServeTls(std::move(socket)), asio::detached);
      } else {
        asio::co_spawn(ex, ServePlain(std::move(socket)), asio::detached);
      }
    }
  }

  awaitable<void> ServePlain(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    co_await Serve(stream);
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  awaitable<void> ServeTls(tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(options.io_timeout);
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(use_awaitable, ec));
    if (ec) {
      log::Debug("http server TLS handshake failed", {{"error", ec.message()}});
      co_return;
    }
    co_await Serve(stream);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
  }

  template <typename Stream>
  awaitable<void> Serve(Stream& stream) {
    beast::flat_buffer buffer;
    std::string remote;
    {
      boost::system::error_code ec;
      auto ep = beast::get_lowest_layer(stream).socket().remote_endpoint(ec);
      if (!ec) remote = fmt::format("{}:{}", ep.address().to_string(), ep.port());
    }
    for (;;) {
      boost::system::error_code ec;
      http::request_parser<http::string_body> parser;
      parser.body_limit(options.max_body_bytes);
      parser.header_limit(16 * 1024);
      beast::get_lowest_layer(stream).expires_after(options.io_timeout);
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == http::error::end_of_stream || ec == asio::error::eof) co_return;
      if (ec) {
        if (ec == http::error::body_limit) {
          co_await Write(stream, HttpResponse::Text(413, "request body too large\n"), false,
                         11);
        }
        co_return;
      }
      auto msg = parser.release();
      HttpRequest req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      size_t q = req.target.find('?');
      req.path = req.target.substr(0, q);
      if (q != std::string::npos) req.query = req.target.substr(q + 1);
      for (const auto& field : msg) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        req.headers[name] = std::string(field.value());
      }
      req.body = std::move(msg.body());
      req.remote = remote;

      HttpResponse res = co_await Dispatch(req);
      bool keep_alive = msg.keep_alive();
      if (!co_await Write(stream, res, keep_alive, msg.version())) co_return;
      if (!keep_alive) co_return;
    }
  }

  awaitable<HttpResponse> Dispatch(const HttpRequest& req) {
    bool path_known = false;
    const Route* route = Find(req.method == "HEAD" ? "GET" : req.method, req.path, &path_known);
    if (!route) {
      co_return path_known ? HttpResponse::Text(405, "method not allowed\n")
                           : HttpResponse::Text(404, "not found\n");
    }
    // The request's wait state belongs to this coroutine. Respond (which the
    // handler may keep past Stop() and the io_context's destruction) holds
    // it only weakly: the timer and the strand executor must be destroyed
    // while their io_context exists, and a strong copy in a callback that
    // outlives the server would destroy them later.
    auto wait = std::make_shared<ResponseWait>(co_await asio::this_coro::executor);
    std::weak_ptr<Liveness> weak_live = liveness;
    std::weak_ptr<ResponseWait> weak_wait = wait;
    Respond respond = [weak_live, weak_wait](HttpResponse r) {
      auto live = weak_live.lock();
      if (!live) return;
      std::lock_guard lock(live->mu);
      if (!live->alive) return;
      // Gone: the connection's coroutine already ended (server stopping).
      auto w = weak_wait.lock();
      if (!w) return;
      auto ex = w->executor;
      asio::post(ex, [w = std::move(w), r = std::move(r)]() mutable {
        if (w->slot) return;  // a second call is ignored
        w->slot = std::move(r);
        w->timer.cancel();
      });
    };
    try {
      route->handler(req, std::move(respond));
    } catch (const std::exception& e) {
      // Handlers should not throw; a throwing one must not take the server down.
      log::Error("http handler threw", {{"path", req.path}, {"error", e.what()}});
      co_return HttpResponse::Text(500, "internal error\n");
    }
    while (!wait->slot) {
      boost::system::error_code ec;
      co_await wait->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    co_return std::move(*wait->slot);
  }

  template <typename Stream>
  awaitable<bool> Write(Stream& stream, const HttpResponse& r, bool keep_alive, unsigned version) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "srexpert");
    res.set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.body() = r.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(options.io_timeout);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  }
};

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string method, std::string path, Handler handler) {
  HandleAsync(std::move(method), std::move(path),
              [handler = std::move(handler)](const HttpRequest& req, Respond respond) {
                respond(handler(req));
              });
}

void HttpServer::HandleAsync(std::string method, std::string path, AsyncHandler handler) {
  Route r;
  r.method = std::move(method);
  if (path.size() >= 2 && path.ends_with("/*")) {
    r.prefix = true;
    path.pop_back();
  }
  r.path = std::move(path);
  r.handler = std::move(handler);
  impl_->routes.push_back(std::move(r));
}

bool HttpServer::Start(std::string* error) {
  Impl& d = *impl_;
  if (d.started) {
    if (error) *error = "http server already started";
    return false;
  }
  if (!d.options.tls_cert_file.empty() || !d.options.tls_key_file.empty()) {
    d.tls = MakeTlsServerContext(d.options.tls_cert_file, d.options.tls_key_file, error);
    if (!d.tls) return false;
  }
  d.io = std::make_unique<asio::io_context>();
  boost::system::error_code ec;
  auto address = asio::ip::make_address(d.options.bind_address, ec);
  if (ec) {
    if (error) *error = fmt::format("invalid bind address {}", d.options.bind_address);
    return false;
  }
  tcp::endpoint endpoint(address, d.options.port);
  d.acceptor = std::make_unique<tcp::acceptor>(*d.io);
  d.acceptor->open(endpoint.protocol(), ec);
  if (!ec) d.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor->bind(endpoint, ec);
  if (!ec) d.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    if (error) {
      *error = fmt::format("cannot listen on {}:{}: {}", d.options.bind_address, d.options.port,
                           ec.message());
    }
    return false;
  }
  d.port = d.acceptor->local_endpoint(ec).port();
  d.started = true;
  asio::co_spawn(*d.io, d.Accept(), asio::detached);
  for (int i = 0; i < std::max(1, d.options.threads); ++i) {
    d.threads.emplace_back([io = d.io.get()] {
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception& e) {
          log::Error("http server thread caught an exception", {{"error", e.what()}});
        }
      }
    });
  }
  return true;
}

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::Stop() {
  Impl& d = *impl_;
  if (!d.started || d.stopped) return;
  d.stopped = true;
  {
    std::lock_guard lock(d.liveness->mu);
    d.liveness->alive = false;
  }
  asio::post(*d.io, [&d] {
    boost::system::error_code ec;
    d.acceptor->close(ec);
  });
  d.io->stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
  // Destroys pending handlers, and with them open connections.
  d.acceptor.reset();
  d.io.reset();
}

Handler MetricsHandler(std::shared_ptr<prometheus::Registry> registry,
                       std::function<void()> refresh) {
  return [registry = std::move(registry), refresh = std::move(refresh)](const HttpRequest&) {
    if (refresh) refresh();
    prometheus::TextSerializer serializer;
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = serializer.Serialize(registry->Collect());
    return r;
  };
}

}  // namespace srexpert::net
