// A small HTTP/1.1 server (plain or TLS) with exact-path and prefix routes,
// for the probe and metrics endpoints of the agent and operator and for the
// hub's REST API. Boost.Beast stays behind the pimpl.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prometheus {
class Registry;
}

namespace srexpert::net {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // without the query
  std::string query;   // after '?', undecoded
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string remote;  // peer address
  // The header value, or empty.
  std::string Header(std::string_view lower_case_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Text(int status, std::string body);
  static HttpResponse Json(int status, std::string body);
};

// Completes a request; call exactly once, from any thread. Calls after the
// server stopped are ignored.
using Respond = std::function<void(HttpResponse)>;
using AsyncHandler = std::function<void(const HttpRequest&, Respond)>;
using Handler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port, see HttpServer::port()
  // Both set: HTTPS with this PEM certificate chain and key.
  std::string tls_cert_file;
  std::string tls_key_file;
  size_t max_body_bytes = 1024 * 1024;
  int threads = 1;
  // Bounds reading a request (slow clients) and writing a response.
  std::chrono::milliseconds io_timeout{30000};
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Register routes before Start(). `path` is matched exactly; a path ending
  // in "/*" matches everything below that prefix. Handlers run on the
  // server's threads and must not block for long (use HandleAsync).
  void Handle(std::string method, std::string path, Handler handler);
  void HandleAsync(std::string method, std::string path, AsyncHandler handler);

  // Binds and starts serving; false and `error` when binding or loading the
  // TLS files fails.
  bool Start(std::string* error);
  // The bound port (after Start()).
  uint16_t port() const;
  // Stops accepting, closes connections, joins the threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// GET /metrics: the registry in the Prometheus text format. `refresh` (may
// be empty) runs before each scrape to update computed gauges.
Handler MetricsHandler(std::shared_ptr<prometheus::Registry> registry,
                       std::function<void()> refresh = {});

// Minimal JSON string escaping for hand-built bodies.
std::string JsonEscape(std::string_view s);

}  // namespace srexpert::net
