// HTTPS to the API server over cpprestsdk: TLS set-up from RestConfig, one
// request with a fully read body, or a streamed body read line by line (for
// watches). No retries, no rate limiting, no auth refresh: RestClient layers
// those on top. cpprestsdk/pplx exceptions stop here and become Errors.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "kube/cancellation.h"
#include "kube/config.h"
#include "kube/error.h"

namespace srexpert::kube {

struct HttpRequest {
  std::string method;        // "GET", "POST", "PUT", "PATCH", "DELETE"
  std::string path;          // absolute path + encoded query, appended to the server URL
  std::string body;          // sent when non-empty
  std::string content_type;  // of body
  std::string bearer_token;  // "" = no Authorization header
  // Send only: give up (kTimeout) when the whole response has not arrived
  // within this, e.g. the caller's deadline. Unset: the config's
  // request_timeout per send/receive step.
  std::optional<std::chrono::milliseconds> timeout;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::optional<std::chrono::seconds> retry_after;
};

// A response whose body is still arriving. Not thread-safe except for the
// Cancellation passed to Open, which may be cancelled from any thread.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;  // closes the connection if still open
  // The next line of the body without its '\n'. nullopt at the end of the
  // body. kTimeout when no complete line arrives within `idle`, kCancelled
  // after cancellation, kTransport when the connection breaks (or a line
  // exceeds 16 MiB: memory stays bounded whatever the server sends).
  virtual Result<std::optional<std::string>> ReadLine(std::chrono::milliseconds idle) = 0;
};

class HttpTransport {
 public:
  // Validates the TLS material (CA, client certificate/key) up front so a bad
  // PEM fails here with kConfig instead of on every connection.
  static Result<std::unique_ptr<HttpTransport>> New(const RestConfig& config);
  virtual ~HttpTransport() = default;

  // Sends and reads the whole response (any status). Errors are transport
  // failures only (kCancelled when `cancel` fired, kTimeout when
  // request.timeout passed); HTTP error codes come back as responses.
  virtual Result<HttpResponse> Send(const HttpRequest& request,
                                    const Cancellation* cancel = nullptr) = 0;

  // Sends and returns once the response headers arrived with a 2xx status;
  // a non-2xx response is read and decoded into an Error. The stream is
  // closed when `cancel` is cancelled or the stream is destroyed.
  virtual Result<std::unique_ptr<ResponseStream>> Open(const HttpRequest& request,
                                                       const Cancellation& cancel) = 0;
};

}  // namespace srexpert::kube
