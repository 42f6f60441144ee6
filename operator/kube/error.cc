#include "kube/error.h"

#include <fmt/format.h>

#include "common/json.h"

namespace srexpert::kube {

namespace {

struct ReasonEntry {
  Reason reason;
  std::string_view name;
};

constexpr ReasonEntry kReasons[] = {
    {Reason::kUnknown, "Unknown"},
    {Reason::kNotFound, "NotFound"},
    {Reason::kAlreadyExists, "AlreadyExists"},
    {Reason::kConflict, "Conflict"},
    {Reason::kGone, "Gone"},
    {Reason::kInvalid, "Invalid"},
    {Reason::kForbidden, "Forbidden"},
    {Reason::kUnauthorized, "Unauthorized"},
    {Reason::kTooManyRequests, "TooManyRequests"},
    {Reason::kBadRequest, "BadRequest"},
    {Reason::kMethodNotAllowed, "MethodNotAllowed"},
    {Reason::kNotAcceptable, "NotAcceptable"},
    {Reason::kUnsupportedMediaType, "UnsupportedMediaType"},
    {Reason::kRequestEntityTooLarge, "RequestEntityTooLarge"},
    {Reason::kTimeout, "Timeout"},
    {Reason::kInternalError, "InternalError"},
    {Reason::kServiceUnavailable, "ServiceUnavailable"},
    {Reason::kServerError, "ServerError"},
    {Reason::kTransport, "Transport"},
    {Reason::kDecode, "Decode"},
    {Reason::kConfig, "Config"},
    {Reason::kCancelled, "Cancelled"},
};

// metav1.StatusReason strings the server sends, including the aliases that
// map onto one of our reasons ("Expired" is a 410 too; "ServerTimeout" is the
// server's variant of Timeout).
std::optional<Reason> ReasonFromStatusReason(std::string_view s) {
  if (s == "Expired") return Reason::kGone;
  if (s == "ServerTimeout") return Reason::kTimeout;
  for (const auto& e : kReasons) {
    if (e.name == s && e.reason != Reason::kUnknown && e.reason != Reason::kTransport &&
        e.reason != Reason::kDecode && e.reason != Reason::kConfig &&
        e.reason != Reason::kCancelled && e.reason != Reason::kServerError) {
      return e.reason;
    }
  }
  return std::nullopt;
}

// As client-go's NewGenericServerResponse: the reason implied by a bare code.
Reason ReasonFromCode(int code) {
  switch (code) {
    case 400: return Reason::kBadRequest;
    case 401: return Reason::kUnauthorized;
    case 403: return Reason::kForbidden;
    case 404: return Reason::kNotFound;
    case 405: return Reason::kMethodNotAllowed;
    case 406: return Reason::kNotAcceptable;
    case 409: return Reason::kConflict;
    case 410: return Reason::kGone;
    case 413: return Reason::kRequestEntityTooLarge;
    case 415: return Reason::kUnsupportedMediaType;
    case 422: return Reason::kInvalid;
    case 429: return Reason::kTooManyRequests;
    case 500: return Reason::kInternalError;
    case 503: return Reason::kServiceUnavailable;
    case 504: return Reason::kTimeout;
    default: return code >= 500 ? Reason::kServerError : Reason::kUnknown;
  }
}

bool IsStatus(const rapidjson::Value& v) {
  return v.IsObject() && json::GetString(v, {"kind"}) == "Status";
}

}  // namespace

std::string_view ReasonName(Reason reason) {
  for (const auto& e : kReasons) {
    if (e.reason == reason) return e.name;
  }
  return "Unknown";
}

Error Error::FromStatus(const rapidjson::Value& status) {
  Error err;
  err.code_ = static_cast<int>(json::GetInt(status, {"code"}));
  err.status_reason_ = json::GetString(status, {"reason"});
  err.message_ = json::GetString(status, {"message"});
  auto by_reason = ReasonFromStatusReason(err.status_reason_);
  err.reason_ = by_reason ? *by_reason : ReasonFromCode(err.code_);
  if (const auto* causes = json::Find(status, {"details", "causes"});
      causes && causes->IsArray()) {
    for (const auto& c : causes->GetArray()) {
      err.causes_.push_back({json::GetString(c, {"reason"}), json::GetString(c, {"message"}),
                             json::GetString(c, {"field"})});
    }
  }
  if (int64_t secs = json::GetInt(status, {"details", "retryAfterSeconds"}); secs > 0) {
    err.retry_after_ = std::chrono::seconds(secs);
  }
  if (err.message_.empty()) err.message_ = std::string(ReasonName(err.reason_));
  return err;
}

Error Error::FromResponse(int http_code, std::string_view body,
                          std::optional<std::chrono::seconds> retry_after) {
  Error err;
  auto doc = json::Parse(body);
  if (doc && IsStatus(*doc)) {
    err = FromStatus(*doc);
  } else {
    err.reason_ = ReasonFromCode(http_code);
    std::string_view head = body.substr(0, 256);
    err.message_ = head.empty() ? fmt::format("the server responded with HTTP {}", http_code)
                                : fmt::format("the server responded with HTTP {}: {}",
                                              http_code, head);
  }
  // The HTTP code is authoritative (a Status body may omit or disagree).
  err.code_ = http_code;
  if (err.reason_ == Reason::kUnknown) err.reason_ = ReasonFromCode(http_code);
  if (retry_after) err.retry_after_ = retry_after;
  return err;
}

bool Error::retryable() const {
  switch (reason_) {
    case Reason::kTooManyRequests:
    case Reason::kTimeout:
    case Reason::kInternalError:
    case Reason::kServiceUnavailable:
    case Reason::kServerError:
    case Reason::kTransport:
      return true;
    default:
      return false;
  }
}

std::string Error::ToString() const {
  std::string out = code_ ? fmt::format("{} ({}): {}", ReasonName(reason_), code_, message_)
                          : fmt::format("{}: {}", ReasonName(reason_), message_);
  for (const auto& c : causes_) {
    out += fmt::format("; {} {}: {}", c.field, c.type, c.message);
  }
  return out;
}

}  // namespace srexpert::kube
