// Fault injection and request counting, in-process and via /_test.
#include <catch2/catch.hpp>

#include "test/apiserver/api_server.h"
#include "test/apiserver/server_fixture.h"
#include "test/apiserver/test_client.h"

using srexpert::testing::ApiServer;
using srexpert::testing::Fault;
using srexpert::testing::TestClient;
namespace json = srexpert::json;

namespace {

const std::string kCm = "/api/v1/namespaces/default/configmaps";

using Fixture = srexpert::testing::ServerFixture;

}  // namespace

TEST_CASE_METHOD(Fixture, "a 429 fault carries Retry-After and a TooManyRequests Status", "[apiserver][faults]") {
  Fault f;
  f.code = 429;
  f.retry_after_seconds = 3;
  f.verb = "list";
  server.AddFault(f);
  auto r = client.Get(kCm);
  CHECK(r.status == 429);
  CHECK(r.headers["retry-after"] == "3");
  CHECK(json::GetString(r.Json(), {"reason"}) == "TooManyRequests");
  CHECK(json::GetInt(r.Json(), {"details", "retryAfterSeconds"}) == 3);
  CHECK(client.Get(kCm).status == 200);  // times = 1
}

TEST_CASE_METHOD(Fixture, "a 500 fault matches only its verb and path prefix until cleared", "[apiserver][faults]") {
  Fault f;
  f.code = 500;
  f.verb = "create";
  f.path_prefix = "/api/v1/namespaces/default/configmaps";
  f.times = -1;
  server.AddFault(f);
  CHECK(client.Post(kCm, R"({"metadata":{"name":"a"}})").status == 500);
  CHECK(client.Post(kCm, R"({"metadata":{"name":"a"}})").status == 500);
  CHECK(client.Post("/api/v1/namespaces/default/secrets", R"({"metadata":{"name":"a"}})").status == 201);
  CHECK(json::GetString(client.Post(kCm, "{}").Json(), {"reason"}) == "InternalError");
  server.ClearFaults();
  CHECK(client.Post(kCm, R"({"metadata":{"name":"a"}})").status == 201);
}

TEST_CASE_METHOD(Fixture, "a latency fault delays the response", "[apiserver][faults]") {
  Fault f;
  f.kind = Fault::Kind::kLatency;
  f.delay = std::chrono::milliseconds(300);
  server.AddFault(f);
  auto start = std::chrono::steady_clock::now();
  CHECK(client.Get(kCm).status == 200);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
}

TEST_CASE_METHOD(Fixture, "a gone fault ends a watch with a 410 ERROR event", "[apiserver][faults][watch]") {
  Fault f;
  f.kind = Fault::Kind::kGone;
  server.AddFault(f);
  auto w = client.Watch(kCm + "?watch=1");
  auto e = w->Next();
  REQUIRE(e);
  CHECK(json::GetString(*e, {"type"}) == "ERROR");
  CHECK(json::GetInt(*e, {"object", "code"}) == 410);
  CHECK(w->Ended());
  CHECK(!w->EndedWithError());
}

TEST_CASE_METHOD(Fixture, "a reset fault drops the watch connection mid-stream", "[apiserver][faults][watch]") {
  REQUIRE(client.Post(kCm, R"({"metadata":{"name":"a"}})").status == 201);
  Fault f;
  f.kind = Fault::Kind::kResetWatch;
  f.delay = std::chrono::milliseconds(200);
  server.AddFault(f);
  auto w = client.Watch(kCm + "?watch=1");
  REQUIRE(w->Next());  // the initial ADDED arrives first
  CHECK(w->Ended());
  CHECK(w->EndedWithError());
}

TEST_CASE_METHOD(Fixture, "requests are counted by verb and the counters reset", "[apiserver][faults]") {
  REQUIRE(client.Post(kCm, R"({"metadata":{"name":"a"}})").status == 201);
  client.Get(kCm + "/a");
  client.Get(kCm);
  client.Patch(kCm + "/a", R"({"data":{"x":"y"}})", "application/merge-patch+json");
  CHECK(server.RequestCount("create") == 1);
  CHECK(server.RequestCount("get") == 1);
  CHECK(server.RequestCount("list") == 1);
  CHECK(server.RequestCount("patch") == 1);
  CHECK(server.RequestCount("update") == 0);
  server.ResetRequestCounts();
  CHECK(server.RequestCount("create") == 0);
}

TEST_CASE_METHOD(Fixture, "the /_test admin endpoints inject faults and report counts", "[apiserver][faults]") {
  auto add = client.Post("/_test/faults", R"({"kind":"status","code":503,"verb":"get","retryAfterSeconds":2})");
  REQUIRE(add.status == 201);
  auto r = client.Get(kCm + "/x");
  CHECK(r.status == 503);
  CHECK(json::GetString(r.Json(), {"reason"}) == "ServiceUnavailable");
  CHECK(client.Post("/_test/faults", R"({"kind":"bogus"})").status == 400);
  REQUIRE(client.Post("/_test/faults", R"({"code":500,"times":-1})").status == 201);
  CHECK(client.Get(kCm).status == 500);
  REQUIRE(client.Delete("/_test/faults").status == 200);
  CHECK(client.Get(kCm).status == 200);
  auto counts = client.Get("/_test/requests").Json();
  CHECK(json::GetInt(counts, {"get"}) == 1);
  CHECK(json::GetInt(counts, {"list"}) == 2);
  REQUIRE(client.Delete("/_test/requests").status == 200);
  CHECK(json::GetInt(client.Get("/_test/requests").Json(), {"list"}) == 0);
  TestClient anon("127.0.0.1", server.Port(), server.CaFile(), "");
  CHECK(anon.Get("/_test/requests").status == 401);
}
