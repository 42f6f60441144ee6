#include "kube/error.h"

#include <catch2/catch.hpp>

#include "common/json.h"

using namespace srexpert;
using namespace srexpert::kube;

namespace {

// Status bodies as a real kube-apiserver sends them.
struct StatusCase {
  const char* name;
  int code;
  const char* body;
  Reason reason;
  bool retryable;
};

const StatusCase kCases[] = {
    {"NotFound", 404,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"configmaps"},"code":404})J",
     Reason::kNotFound, false},
    {"AlreadyExists", 409,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"x\" already exists","reason":"AlreadyExists","details":{"name":"x","kind":"configmaps"},"code":409})J",
     Reason::kAlreadyExists, false},
    {"Conflict", 409,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on configmaps \"x\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","details":{"name":"x","kind":"configmaps"},"code":409})J",
     Reason::kConflict, false},
    {"Expired", 410,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"The provided continue parameter is too old to display a consistent list result.","reason":"Expired","code":410})J",
     Reason::kGone, false},
    {"Gone", 410,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (100)","reason":"Gone","code":410})J",
     Reason::kGone, false},
    {"Forbidden", 403,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps is forbidden: User \"system:serviceaccount:default:x\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\"","reason":"Forbidden","details":{"kind":"configmaps"},"code":403})J",
     Reason::kForbidden, false},
    {"Unauthorized", 401,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})J",
     Reason::kUnauthorized, false},
    {"BadRequest", 400,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server rejected our request for an unknown reason","reason":"BadRequest","code":400})J",
     Reason::kBadRequest, false},
    {"MethodNotAllowed", 405,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server does not allow this method on the requested resource","reason":"MethodNotAllowed","details":{},"code":405})J",
     Reason::kMethodNotAllowed, false},
    {"UnsupportedMediaType", 415,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml","reason":"UnsupportedMediaType","code":415})J",
     Reason::kUnsupportedMediaType, false},
    {"Timeout", 504,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: request did not complete within requested timeout - context deadline exceeded","reason":"Timeout","details":{},"code":504})J",
     Reason::kTimeout, true},
    {"InternalError", 500,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Internal error occurred: etcdserver: request timed out","reason":"InternalError","details":{"causes":[{"message":"etcdserver: request timed out"}]},"code":500})J",
     Reason::kInternalError, true},
    {"ServiceUnavailable", 503,
     R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"service unavailable","reason":"ServiceUnavailable","code":503})J",
     Reason::kServiceUnavailable, true},
};

}  // namespace

TEST_CASE("Error decodes every Status reason a kube-apiserver sends", "[kube][error]") {
  for (const auto& c : kCases) {
    INFO(c.name);
    Error e = Error::FromResponse(c.code, c.body);
    CHECK(e.reason() == c.reason);
    CHECK(e.code() == c.code);
    CHECK(e.status_reason() == c.name);
    CHECK(e.retryable() == c.retryable);
    auto doc = json::Parse(c.body);
    REQUIRE(doc);
    CHECK(e.message() == json::GetString(*doc, {"message"}));
    CHECK(e.ToString().find(e.message()) != std::string::npos);
  }
}

TEST_CASE("Invalid errors carry their field causes", "[kube][error]") {
  Error e = Error::FromResponse(422, R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
    "message":"ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters",
    "reason":"Invalid","details":{"name":"Bad_Name","kind":"ConfigMap","causes":[
      {"reason":"FieldValueInvalid","message":"Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain","field":"metadata.name"},
      {"reason":"FieldValueRequired","message":"Required value","field":"data"}]},"code":422})J");
  CHECK(e.IsInvalid());
  CHECK_FALSE(e.retryable());
  REQUIRE(e.causes().size() == 2);
  CHECK(e.causes()[0].type == "FieldValueInvalid");
  CHECK(e.causes()[0].field == "metadata.name");
  CHECK(e.causes()[1].type == "FieldValueRequired");
  CHECK(e.causes()[1].message == "Required value");
  CHECK(e.ToString().find("data FieldValueRequired: Required value") != std::string::npos);
}

TEST_CASE("Server-side apply conflicts decode as Conflict with the conflicting fields",
          "[kube][error]") {
  Error e = Error::FromResponse(409, R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
    "message":"Apply failed with 1 conflict: conflict with \"kubectl\" using v1: .data.key","reason":"Conflict",
    "details":{"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"kubectl\" using v1","field":".data.key"}]},"code":409})J");
  CHECK(e.IsConflict());
  REQUIRE(e.causes().size() == 1);
  CHECK(e.causes()[0].type == "FieldManagerConflict");
  CHECK(e.causes()[0].field == ".data.key");
}

TEST_CASE("TooManyRequests takes Retry-After from the header, else from the Status details",
          "[kube][error]") {
  const char* body = R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":2},"code":429})J";
  Error from_details = Error::FromResponse(429, body);
  CHECK(from_details.reason() == Reason::kTooManyRequests);
  CHECK(from_details.retryable());
  REQUIRE(from_details.retry_after());
  CHECK(*from_details.retry_after() == std::chrono::seconds(2));

  Error from_header = Error::FromResponse(429, body, std::chrono::seconds(7));
  REQUIRE(from_header.retry_after());
  CHECK(*from_header.retry_after() == std::chrono::seconds(7));
}

TEST_CASE("A body that is not a Status falls back to the HTTP code", "[kube][error]") {
  Error bad_gateway = Error::FromResponse(502, "<html><body>Bad Gateway</body></html>");
  CHECK(bad_gateway.reason() == Reason::kServerError);
  CHECK(bad_gateway.retryable());
  CHECK(bad_gateway.message().find("Bad Gateway") != std::string::npos);

  CHECK(Error::FromResponse(404, "").IsNotFound());
  CHECK(Error::FromResponse(409, "not json").reason() == Reason::kConflict);
  CHECK(Error::FromResponse(422, "{}").IsInvalid());
  CHECK(Error::FromResponse(429, "").retryable());
  CHECK(Error::FromResponse(418, "teapot").reason() == Reason::kUnknown);
}

TEST_CASE("A watch ERROR event's Status decodes to Gone", "[kube][error]") {
  auto status = json::Parse(
      R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (2)","reason":"Expired","code":410})J");
  REQUIRE(status);
  Error e = Error::FromStatus(*status);
  CHECK(e.IsGone());
  CHECK(e.code() == 410);
}

TEST_CASE("Client-side errors are retryable only for transport failures", "[kube][error]") {
  CHECK(Error(Reason::kTransport, "connection refused").retryable());
  CHECK_FALSE(Error(Reason::kDecode, "x").retryable());
  CHECK_FALSE(Error(Reason::kConfig, "x").retryable());
  CHECK_FALSE(Error(Reason::kCancelled, "x").retryable());
  CHECK(Error(Reason::kConfig, "bad").ToString() == "Config: bad");
}

TEST_CASE("Result holds a value or an error", "[kube][error]") {
  Result<int> ok = 5;
  REQUIRE(ok.ok());
  CHECK(*ok == 5);
  Result<int> failed = Error(Reason::kNotFound, "gone", 404);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().IsNotFound());
  Result<void> done;
  CHECK(done.ok());
  Result<void> not_done = Error(Reason::kConflict, "c", 409);
  CHECK_FALSE(not_done.ok());
  CHECK(not_done.error().code() == 409);
}
