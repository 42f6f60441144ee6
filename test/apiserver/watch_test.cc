// Watch semantics: initial state, resume, bookmarks, selectors and 410.
#include <catch2/catch.hpp>

#include "test/apiserver/api_server.h"
#include "test/apiserver/test_client.h"

using srexpert::testing::ApiServer;
using srexpert::testing::ApiServerOptions;
using srexpert::testing::TestClient;
namespace json = srexpert::json;

namespace {

const char kCmPath[] = "/api/v1/namespaces/default/configmaps";

std::string Cm(const std::string& name, const std::string& value = "1",
               const std::string& labels = "{}") {
  return R"({"metadata":{"name":")" + name + R"(","labels":)" + labels + R"(},"data":{"k":")" +
         value + R"("}})";
}

std::string Type(const json::Document& e) { return json::GetString(e, {"type"}); }
std::string ObjName(const json::Document& e) { return json::GetString(e, {"object", "metadata", "name"}); }

}  // namespace

TEST_CASE("a watch without resourceVersion starts with ADDED for current objects, then changes", "[apiserver][watch]") {
  ApiServer server;
  server.Start();
  TestClient client(server);
  REQUIRE(client.Post(kCmPath, Cm("a")).status == 201);
  auto w = client.Watch(std::string(kCmPath) + "?watch=1");
  REQUIRE(w->status() == 200);
  auto e = w->Next();
  REQUIRE(e);
  CHECK(Type(*e) == "ADDED");
  CHECK(ObjName(*e) == "a");
  CHECK(json::GetString(*e, {"object", "kind"}) == "ConfigMap");
  REQUIRE(client.Patch(std::string(kCmPath) + "/a", R"({"data":{"k":"2"}})", "application/merge-patch+json").status == 200);
  e = w->Next();
  REQUIRE(e);
  CHECK(Type(*e) == "MODIFIED");
  CHECK(json::GetString(*e, {"object", "data", "k"}) == "2");
  auto deleted = client.Delete(std::string(kCmPath) + "/a");
  REQUIRE(deleted.status == 200);
  e = w->Next();
  REQUIRE(e);
  CHECK(Type(*e) == "DELETED");
}

TEST_CASE("a watch from a resourceVersion replays only later changes", "[apiserver][watch]") {
  ApiServer server;
  server.Start();
  TestClient client(server);
  REQUIRE(client.Post(kCmPath, Cm("a")).status == 201);
  auto list = client.Get(kCmPath).Json();
  std::string rv = json::GetString(list, {"metadata", "resourceVersion"});
  REQUIRE(client.Post(kCmPath, Cm("b")).status == 201);
  auto w = client.Watch(std::string(kCmPath) + "?watch=true&resourceVersion=" + rv);
  auto e = w->Next();
  REQUIRE(e);
  CHECK(Type(*e) == "ADDED");
  CHECK(ObjName(*e) == "b");
  CHECK(!w->Next(std::chrono::milliseconds(300)));
}

TEST_CASE("bookmarks carry only the resourceVersion", "[apiserver][watch]") {
  ApiServerOptions o;
  o.bookmark_interval = std::chrono::milliseconds(100);
  ApiServer server(o);
  server.Start();
  TestClient client(server);
  REQUIRE(client.Post(kCmPath, Cm("a")).status == 201);
  auto w = client.Watch(std::string(kCmPath) + "?watch=1&allowWatchBookmarks=true&resourceVersion=1");
  auto e = w->Next();
  REQUIRE(e);
  CHECK(Type(*e) == "ADDED");
  e = w->Next();
  REQUIRE(e);
  CHECK(Type(*e) == "BOOKMARK");
  CHECK(json::GetString(*e, {"object", "kind"}) == "ConfigMap");
  CHECK(!json::GetString(*e, {"object", "metadata", "resourceVersion"}).empty());
  CHECK(json::Find(*e, {"object", "metadata", "name"}) == nullptr);
}

TEST_CASE("a watch from a compacted resourceVersion gets an ERROR event with 410 Expired", "[apiserver][watch]") {
  ApiServerOptions o;
  o.watch_history = 2;
  ApiServer server(o);
  server.Start();
  TestClient client(server);
  auto first = client.Post(kCmPath, Cm("a")).Json();
  std::string rv = json::GetString(first, {"metadata", "resourceVersion"});
  for (int i = 0; i < 4; ++i) REQUIRE(client.Post(kCmPath, Cm("b" + std::to_string(i))).status == 201);
  auto w = client.Watch(std::string(kCmPath) + "?watch=1&resourceVersion=" + rv);
  REQUIRE(w->status() == 200);
  auto e = w->Next();
  REQUIRE(e);
  CHECK(Type(*e) == "ERROR");
  CHECK(json::GetInt(*e, {"object", "code"}) == 410);
  CHECK(json::GetString(*e, {"object", "reason"}) == "Expired");
  CHECK(json::GetString(*e, {"object", "message"}).rfind("too old resource version: " + rv + " (", 0) == 0);
  CHECK(w->Ended());
}

TEST_CASE("timeoutSeconds ends the watch cleanly", "[apiserver][watch]") {
  ApiServer server;
  server.Start();
  TestClient client(server);
  auto w = client.Watch(std::string(kCmPath) + "?watch=1&timeoutSeconds=1");
  CHECK(w->Ended(std::chrono::seconds(5)));
  CHECK(!w->EndedWithError());
}

TEST_CASE("label-selected watches see objects leave the selector as DELETED", "[apiserver][watch][selectors]") {
  ApiServer server;
  server.Start();
  TestClient client(server);
  REQUIRE(client.Post(kCmPath, Cm("a", "1", R"({"app":"web"})")).status == 201);
  REQUIRE(client.Post(kCmPath, Cm("b", "1", R"({"app":"db"})")).status == 201);
  auto w = client.Watch(std::string(kCmPath) + "?watch=1&labelSelector=app%3Dweb");
  auto e = w->Next();
  REQUIRE(e);
  CHECK(ObjName(*e) == "a");
  REQUIRE(client.Patch(std::string(kCmPath) + "/a", R"({"metadata":{"labels":{"app":"other"}}})", "application/merge-patch+json").status == 200);
  e = w->Next();
  REQUIRE(e);
  CHECK(Type(*e) == "DELETED");
  CHECK(ObjName(*e) == "a");
  REQUIRE(client.Patch(std::string(kCmPath) + "/b", R"({"metadata":{"labels":{"app":"web"}}})", "application/merge-patch+json").status == 200);
  e = w->Next();
  REQUIRE(e);
  CHECK(Type(*e) == "ADDED");
  CHECK(ObjName(*e) == "b");
}
