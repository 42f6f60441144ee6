// HTTPS/1.1 server on Boost.Beast: one thread per connection with blocking
// I/O, so a long-lived watch stream never holds up other requests. TLS uses
// the generated serving certificate; no ALPN is offered, so Go clients
// (kubectl) speak HTTP/1.1 rather than HTTP/2.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace srexpert::testing {

struct HttpRequest {
  std::string method;
  std::string target;  // raw request target
  std::string path;    // percent-decoded path without the query
  std::multimap<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  // First value of query parameter `key`, or `fallback`.
  std::string Query(const std::string& key, const std::string& fallback = "") const;
  bool HasQuery(const std::string& key) const { return query.count(key) > 0; }
  std::string Header(const std::string& lower_name) const;
};

// The sink a streaming response (watch) writes to.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Sends one HTTP chunk; false once the peer is gone or the server stops.
  virtual bool WriteChunk(const std::string& data) = 0;
  // True once the client closed the connection or the server is stopping.
  virtual bool Closed() = 0;
  // Drops the TCP connection with a reset, without the terminating chunk.
  virtual void Reset() = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the response is sent with chunked transfer encoding and this
  // function produces the body; the headers go out before it is called.
  std::function<void(StreamWriter&)> stream;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpsServer {
 public:
  HttpsServer(std::string host, uint16_t port, std::string cert_file, std::string key_file,
              HttpHandler handler);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Binds and starts accepting; throws std::runtime_error on failure.
  void Start();
  // Closes the listener and every open connection, and joins all threads.
  void Stop();
  uint16_t Port() const { return bound_port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string host_;
  uint16_t port_;
  uint16_t bound_port_ = 0;
};

}  // namespace srexpert::testing
