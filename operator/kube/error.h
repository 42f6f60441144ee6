// Typed Kubernetes API errors and a small Result<T>.
//
// Every fallible call of the client returns Result<T>: either a value or an
// Error. Nothing in this library throws across its interfaces; exceptions from
// cpprestsdk/pplx are caught at the transport boundary and become
// Reason::kTransport errors.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <rapidjson/document.h>

namespace srexpert::kube {

// What went wrong, in Kubernetes terms (metav1.StatusReason) plus the
// client-side failures (transport, decode, config, cancelled).
enum class Reason {
  kUnknown,
  kNotFound,             // 404
  kAlreadyExists,        // 409, reason AlreadyExists
  kConflict,             // 409: stale resourceVersion, SSA field conflict
  kGone,                 // 410, reason Gone or Expired: relist needed
  kInvalid,              // 422 with causes
  kForbidden,            // 403
  kUnauthorized,         // 401
  kTooManyRequests,      // 429 (retry_after set when the server said so)
  kBadRequest,           // 400
  kMethodNotAllowed,     // 405
  kNotAcceptable,        // 406
  kUnsupportedMediaType, // 415
  kRequestEntityTooLarge,// 413
  kTimeout,              // 504, reason Timeout/ServerTimeout
  kInternalError,        // 500
  kServiceUnavailable,   // 503
  kServerError,          // any other 5xx
  kTransport,            // connection refused/reset, TLS failure, client timeout
  kDecode,               // the server's answer was not the JSON we expected
  kConfig,               // bad client configuration (kubeconfig, PEM, URL)
  kCancelled,            // the caller stopped the operation
};

std::string_view ReasonName(Reason reason);

// One entry of Status.details.causes (field validation errors of Invalid).
struct Cause {
  std::string type;     // e.g. "FieldValueRequired"
  std::string message;
  std::string field;    // e.g. "metadata.name"
};

class Error {
 public:
  Error() = default;
  Error(Reason reason, std::string message, int code = 0)
      : reason_(reason), code_(code), message_(std::move(message)) {}

  // Decodes an HTTP error response. When `body` is a metav1.Status its
  // reason/message/details are used; otherwise the reason follows from the
  // HTTP code (like client-go's NewGenericServerResponse) and the message is
  // the start of the body. `retry_after` is the Retry-After header, if any.
  static Error FromResponse(int http_code, std::string_view body,
                            std::optional<std::chrono::seconds> retry_after = std::nullopt);
  // Decodes a metav1.Status object (e.g. the object of a watch ERROR event).
  static Error FromStatus(const rapidjson::Value& status);

  Reason reason() const { return reason_; }
  int code() const { return code_; }                       // HTTP code; 0 for client-side
  const std::string& message() const { return message_; }
  const std::string& status_reason() const { return status_reason_; }  // raw, e.g. "Expired"
  const std::vector<Cause>& causes() const { return causes_; }
  // Server's advice on when to retry (Retry-After header or
  // details.retryAfterSeconds).
  std::optional<std::chrono::seconds> retry_after() const { return retry_after_; }

  // True for failures that may succeed when repeated unchanged: 429, 5xx,
  // server timeouts and transport errors. Whether a request is actually
  // repeated also depends on whether its verb is safe to replay (RestClient).
  bool retryable() const;

  bool IsNotFound() const { return reason_ == Reason::kNotFound; }
  bool IsAlreadyExists() const { return reason_ == Reason::kAlreadyExists; }
  bool IsConflict() const { return reason_ == Reason::kConflict; }
  bool IsGone() const { return reason_ == Reason::kGone; }
  bool IsInvalid() const { return reason_ == Reason::kInvalid; }

  // "Conflict (409): Operation cannot be fulfilled on ..."; causes appended.
  std::string ToString() const;

 private:
  Reason reason_ = Reason::kUnknown;
  int code_ = 0;
  std::string message_;
  std::string status_reason_;
  std::vector<Cause> causes_;
  std::optional<std::chrono::seconds> retry_after_;
};

// Either a T or an Error. Access to value() requires ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace srexpert::kube
