// CRUD semantics of the loopback API server against the real API's rules.
#include <catch2/catch.hpp>

#include "test/apiserver/api_server.h"
#include "test/apiserver/server_fixture.h"
#include "test/apiserver/test_client.h"

using srexpert::testing::ApiServer;
using srexpert::testing::TestClient;
namespace json = srexpert::json;

namespace {

const char kCmPath[] = "/api/v1/namespaces/default/configmaps";

std::string Cm(const std::string& name, const std::string& value = "1",
               const std::string& labels = "{}") {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
         R"(","labels":)" + labels + R"(},"data":{"k":")" + value + R"("}})";
}

using Fixture = srexpert::testing::ServerFixture;

}  // namespace

TEST_CASE_METHOD(Fixture, "requests without the bearer token get a 401 Status", "[apiserver][auth]") {
  TestClient anon("127.0.0.1", server.Port(), server.CaFile(), "");
  auto r = anon.Get("/api/v1/namespaces");
  CHECK(r.status == 401);
  auto body = r.Json();
  CHECK(json::GetString(body, {"kind"}) == "Status");
  CHECK(json::GetString(body, {"reason"}) == "Unauthorized");
  CHECK(json::GetInt(body, {"code"}) == 401);
  TestClient wrong("127.0.0.1", server.Port(), server.CaFile(), "not-the-token");
  CHECK(wrong.Get("/version").status == 401);
}

TEST_CASE_METHOD(Fixture, "create assigns uid, creationTimestamp and a resourceVersion", "[apiserver][crud]") {
  auto r = client.Post(kCmPath, Cm("a"));
  REQUIRE(r.status == 201);
  auto obj = r.Json();
  CHECK(json::GetString(obj, {"metadata", "uid"}).size() == 36);
  CHECK(!json::GetString(obj, {"metadata", "creationTimestamp"}).empty());
  CHECK(!json::GetString(obj, {"metadata", "resourceVersion"}).empty());
  CHECK(json::GetString(obj, {"metadata", "namespace"}) == "default");
  // ConfigMaps have no spec, so no generation (as on a real server).
  CHECK(json::Find(obj, {"metadata", "generation"}) == nullptr);
  auto got = client.Get(std::string(kCmPath) + "/a");
  REQUIRE(got.status == 200);
  CHECK(json::GetString(got.Json(), {"data", "k"}) == "1");
  CHECK(json::GetString(got.Json(), {"kind"}) == "ConfigMap");
}

TEST_CASE_METHOD(Fixture, "resourceVersion is one global increasing counter", "[apiserver][crud]") {
  auto a = client.Post(kCmPath, Cm("a")).Json();
  auto b = client.Post("/api/v1/namespaces/kube-system/configmaps", Cm("b")).Json();
  auto rva = std::stoull(json::GetString(a, {"metadata", "resourceVersion"}));
  auto rvb = std::stoull(json::GetString(b, {"metadata", "resourceVersion"}));
  CHECK(rvb > rva);
}

TEST_CASE_METHOD(Fixture, "creating an existing object is 409 AlreadyExists", "[apiserver][errors]") {
  REQUIRE(client.Post(kCmPath, Cm("a")).status == 201);
  auto r = client.Post(kCmPath, Cm("a"));
  CHECK(r.status == 409);
  auto s = r.Json();
  CHECK(json::GetString(s, {"reason"}) == "AlreadyExists");
  CHECK(json::GetString(s, {"message"}) == "configmaps \"a\" already exists");
  CHECK(json::GetString(s, {"details", "kind"}) == "configmaps");
  CHECK(json::GetString(s, {"details", "name"}) == "a");
}

TEST_CASE_METHOD(Fixture, "getting a missing object is 404 NotFound with group in the message", "[apiserver][errors]") {
  auto r = client.Get("/apis/apps/v1/namespaces/default/deployments/nope");
  CHECK(r.status == 404);
  auto s = r.Json();
  CHECK(json::GetString(s, {"reason"}) == "NotFound");
  CHECK(json::GetString(s, {"message"}) == "deployments.apps \"nope\" not found");
  CHECK(json::GetString(s, {"details", "group"}) == "apps");
}

TEST_CASE_METHOD(Fixture, "an invalid name is 422 Invalid with a cause", "[apiserver][errors]") {
  auto r = client.Post(kCmPath, Cm("Bad_Name"));
  CHECK(r.status == 422);
  auto s = r.Json();
  CHECK(json::GetString(s, {"reason"}) == "Invalid");
  CHECK(json::GetString(s, {"details", "kind"}) == "ConfigMap");
  const auto* causes = json::Find(s, {"details", "causes"});
  REQUIRE(causes != nullptr);
  REQUIRE(causes->Size() == 1);
  CHECK(json::GetString((*causes)[0], {"field"}) == "metadata.name");
  CHECK(json::GetString((*causes)[0], {"reason"}) == "FieldValueInvalid");
  CHECK(json::GetString(s, {"message"}).rfind("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain", 0) == 0);
}

TEST_CASE_METHOD(Fixture, "a missing name without generateName is 422 Required", "[apiserver][errors]") {
  auto r = client.Post(kCmPath, R"({"metadata":{},"data":{}})");
  CHECK(r.status == 422);
  CHECK(json::GetString(r.Json(), {"message"}) ==
        "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required");
}

TEST_CASE_METHOD(Fixture, "generateName appends five random characters", "[apiserver][crud]") {
  auto r = client.Post(kCmPath, R"({"metadata":{"generateName":"gen-"}})");
  REQUIRE(r.status == 201);
  std::string name = json::GetString(r.Json(), {"metadata", "name"});
  CHECK(name.rfind("gen-", 0) == 0);
  CHECK(name.size() == 9);
}

TEST_CASE_METHOD(Fixture, "creating in a missing namespace is 404 for the namespace", "[apiserver][errors]") {
  auto r = client.Post("/api/v1/namespaces/missing/configmaps", Cm("a"));
  CHECK(r.status == 404);
  CHECK(json::GetString(r.Json(), {"message"}) == "namespaces \"missing\" not found");
}

TEST_CASE_METHOD(Fixture, "a body namespace different from the URL is 400 BadRequest", "[apiserver][errors]") {
  auto r = client.Post(kCmPath, R"({"metadata":{"name":"a","namespace":"kube-system"}})");
  CHECK(r.status == 400);
  CHECK(json::GetString(r.Json(), {"reason"}) == "BadRequest");
}

TEST_CASE_METHOD(Fixture, "update with a stale resourceVersion is 409 Conflict", "[apiserver][errors]") {
  auto created = client.Post(kCmPath, Cm("a")).Json();
  std::string rv = json::GetString(created, {"metadata", "resourceVersion"});
  auto first = client.Put(std::string(kCmPath) + "/a",
                          R"({"metadata":{"name":"a","resourceVersion":")" + rv + R"("},"data":{"k":"2"}})");
  REQUIRE(first.status == 200);
  CHECK(json::GetString(first.Json(), {"metadata", "resourceVersion"}) != rv);
  auto stale = client.Put(std::string(kCmPath) + "/a",
                          R"({"metadata":{"name":"a","resourceVersion":")" + rv + R"("},"data":{"k":"3"}})");
  CHECK(stale.status == 409);
  auto s = stale.Json();
  CHECK(json::GetString(s, {"reason"}) == "Conflict");
  CHECK(json::GetString(s, {"message"}) ==
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please "
        "apply your changes to the latest version and try again");
  CHECK(json::GetString(client.Get(std::string(kCmPath) + "/a").Json(), {"data", "k"}) == "2");
}

TEST_CASE_METHOD(Fixture, "an update that changes nothing keeps the resourceVersion", "[apiserver][crud]") {
  auto created = client.Post(kCmPath, Cm("a")).Json();
  std::string rv = json::GetString(created, {"metadata", "resourceVersion"});
  auto same = client.Put(std::string(kCmPath) + "/a", json::Dump(created));
  REQUIRE(same.status == 200);
  CHECK(json::GetString(same.Json(), {"metadata", "resourceVersion"}) == rv);
}

TEST_CASE_METHOD(Fixture, "generation is bumped on spec changes only", "[apiserver][generation]") {
  const std::string path = "/apis/apps/v1/namespaces/default/deployments";
  auto d = client.Post(path, R"({"metadata":{"name":"d","labels":{"a":"1"}},"spec":{"replicas":1}})");
  REQUIRE(d.status == 201);
  CHECK(json::GetInt(d.Json(), {"metadata", "generation"}) == 1);
  auto labels = client.Patch(path + "/d", R"({"metadata":{"labels":{"a":"2"}}})",
                             "application/merge-patch+json");
  REQUIRE(labels.status == 200);
  CHECK(json::GetInt(labels.Json(), {"metadata", "generation"}) == 1);
  auto spec = client.Patch(path + "/d", R"({"spec":{"replicas":3}})", "application/merge-patch+json");
  REQUIRE(spec.status == 200);
  CHECK(json::GetInt(spec.Json(), {"metadata", "generation"}) == 2);
}

TEST_CASE_METHOD(Fixture, "status subresource writes change only status, and main writes ignore status", "[apiserver][status]") {
  const std::string path = "/apis/apps/v1/namespaces/default/deployments";
  auto created = client.Post(path, R"({"metadata":{"name":"d"},"spec":{"replicas":1},"status":{"replicas":9}})");
  REQUIRE(created.status == 201);
  CHECK(json::Find(created.Json(), {"status", "replicas"}) == nullptr);
  auto st = client.Patch(path + "/d/status", R"({"spec":{"replicas":5},"status":{"replicas":1}})",
                         "application/merge-patch+json");
  REQUIRE(st.status == 200);
  CHECK(json::GetInt(st.Json(), {"status", "replicas"}) == 1);
  CHECK(json::GetInt(st.Json(), {"spec", "replicas"}) == 1);
  CHECK(json::GetInt(st.Json(), {"metadata", "generation"}) == 1);
  auto main = client.Patch(path + "/d", R"({"spec":{"replicas":2},"status":{"replicas":7}})",
                           "application/merge-patch+json");
  REQUIRE(main.status == 200);
  CHECK(json::GetInt(main.Json(), {"spec", "replicas"}) == 2);
  CHECK(json::GetInt(main.Json(), {"status", "replicas"}) == 1);
  CHECK(json::GetInt(main.Json(), {"metadata", "generation"}) == 2);
}

TEST_CASE_METHOD(Fixture, "json patch applies RFC 6902 operations", "[apiserver][patch]") {
  REQUIRE(client.Post(kCmPath, Cm("a")).status == 201);
  auto r = client.Patch(std::string(kCmPath) + "/a",
                        R"([{"op":"add","path":"/data/n","value":"v"},{"op":"remove","path":"/data/k"}])",
                        "application/json-patch+json");
  REQUIRE(r.status == 200);
  CHECK(json::GetString(r.Json(), {"data", "n"}) == "v");
  CHECK(json::Find(r.Json(), {"data", "k"}) == nullptr);
  auto bad = client.Patch(std::string(kCmPath) + "/a", R"([{"op":"test","path":"/data/n","value":"x"}])",
                          "application/json-patch+json");
  CHECK(bad.status == 422);
}

TEST_CASE_METHOD(Fixture, "delete without finalizers removes the object and returns a Status", "[apiserver][crud]") {
  REQUIRE(client.Post(kCmPath, Cm("a")).status == 201);
  auto r = client.Delete(std::string(kCmPath) + "/a");
  REQUIRE(r.status == 200);
  CHECK(json::GetString(r.Json(), {"kind"}) == "Status");
  CHECK(json::GetString(r.Json(), {"status"}) == "Success");
  CHECK(client.Get(std::string(kCmPath) + "/a").status == 404);
  CHECK(client.Delete(std::string(kCmPath) + "/a").status == 404);
}

TEST_CASE_METHOD(Fixture, "list pages with limit and continue over a consistent snapshot", "[apiserver][list]") {
  for (int i = 0; i < 5; ++i) REQUIRE(client.Post(kCmPath, Cm("cm" + std::to_string(i))).status == 201);
  auto p1 = client.Get(std::string(kCmPath) + "?limit=2").Json();
  REQUIRE(json::Find(p1, {"items"})->Size() == 2);
  std::string cont = json::GetString(p1, {"metadata", "continue"});
  REQUIRE(!cont.empty());
  CHECK(json::GetInt(p1, {"metadata", "remainingItemCount"}) == 3);
  CHECK(json::Find(p1, {"items"})->operator[](0).HasMember("kind") == false);
  // A change after the first page is not visible in later pages.
  REQUIRE(client.Post(kCmPath, Cm("cm9")).status == 201);
  REQUIRE(client.Delete(std::string(kCmPath) + "/cm4").status == 200);
  std::vector<std::string> names;
  for (const auto& i : json::Find(p1, {"items"})->GetArray()) names.push_back(json::GetString(i, {"metadata", "name"}));
  while (!cont.empty()) {
    auto page = client.Get(std::string(kCmPath) + "?limit=2&continue=" + cont).Json();
    for (const auto& i : json::Find(page, {"items"})->GetArray()) names.push_back(json::GetString(i, {"metadata", "name"}));
    CHECK(json::GetString(page, {"metadata", "resourceVersion"}) == json::GetString(p1, {"metadata", "resourceVersion"}));
    cont = json::GetString(page, {"metadata", "continue"});
  }
  CHECK(names == std::vector<std::string>{"cm0", "cm1", "cm2", "cm3", "cm4"});
}

TEST_CASE("a continue token older than the kept history is 410 Expired", "[apiserver][list]") {
  srexpert::testing::ApiServerOptions o;
  o.watch_history = 3;
  ApiServer server(o);
  server.Start();
  TestClient client(server);
  for (int i = 0; i < 3; ++i) REQUIRE(client.Post(kCmPath, Cm("cm" + std::to_string(i))).status == 201);
  auto p1 = client.Get(std::string(kCmPath) + "?limit=1").Json();
  std::string cont = json::GetString(p1, {"metadata", "continue"});
  for (int i = 0; i < 5; ++i) REQUIRE(client.Post(kCmPath, Cm("x" + std::to_string(i))).status == 201);
  auto r = client.Get(std::string(kCmPath) + "?limit=1&continue=" + cont);
  CHECK(r.status == 410);
  CHECK(json::GetString(r.Json(), {"reason"}) == "Expired");
}

TEST_CASE_METHOD(Fixture, "label selectors support =, !=, in, notin, exists and !exists", "[apiserver][selectors]") {
  REQUIRE(client.Post(kCmPath, Cm("a", "1", R"({"app":"web","tier":"fe"})")).status == 201);
  REQUIRE(client.Post(kCmPath, Cm("b", "1", R"({"app":"db"})")).status == 201);
  REQUIRE(client.Post(kCmPath, Cm("c", "1", R"({})")).status == 201);
  auto names = [&](const std::string& q) {
    auto l = client.Get(std::string(kCmPath) + "?labelSelector=" + q).Json();
    std::vector<std::string> out;
    for (const auto& i : json::Find(l, {"items"})->GetArray()) out.push_back(json::GetString(i, {"metadata", "name"}));
    return out;
  };
  CHECK(names("app%3Dweb") == std::vector<std::string>{"a"});
  CHECK(names("app%3D%3Ddb") == std::vector<std::string>{"b"});
  CHECK(names("app!%3Dweb") == std::vector<std::string>{"b", "c"});
  CHECK(names("app%20in%20(web,db)") == std::vector<std::string>{"a", "b"});
  CHECK(names("app%20notin%20(web)") == std::vector<std::string>{"b", "c"});
  CHECK(names("tier") == std::vector<std::string>{"a"});
  CHECK(names("!app") == std::vector<std::string>{"c"});
  CHECK(names("app,!tier") == std::vector<std::string>{"b"});
  // kube-apiserver's parser: "app in ()" is the value set {""}, not an error.
  CHECK(names("app%20in%20()").empty());
  auto bad = client.Get(std::string(kCmPath) + "?labelSelector=app%20in%20(web");
  CHECK(bad.status == 400);
  CHECK(json::GetString(bad.Json(), {"message"}) == "unable to parse requirement: found '', expected: ',' or ')'");
}

TEST_CASE_METHOD(Fixture, "field selectors on metadata.name and metadata.namespace", "[apiserver][selectors]") {
  REQUIRE(client.Post(kCmPath, Cm("a")).status == 201);
  REQUIRE(client.Post(kCmPath, Cm("b")).status == 201);
  REQUIRE(client.Post("/api/v1/namespaces/kube-system/configmaps", Cm("a")).status == 201);
  auto l = client.Get("/api/v1/configmaps?fieldSelector=metadata.name%3Da").Json();
  CHECK(json::Find(l, {"items"})->Size() == 2);
  l = client.Get("/api/v1/configmaps?fieldSelector=metadata.name%3Da,metadata.namespace!%3Ddefault").Json();
  REQUIRE(json::Find(l, {"items"})->Size() == 1);
  CHECK(json::GetString((*json::Find(l, {"items"}))[0], {"metadata", "namespace"}) == "kube-system");
  auto bad = client.Get("/api/v1/configmaps?fieldSelector=spec.foo%3Dx");
  CHECK(bad.status == 400);
  CHECK(json::GetString(bad.Json(), {"message"}) ==
        "\"spec.foo\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
  // Kinds with their own field labels (Secret: type) say it differently.
  CHECK(client.Get("/api/v1/secrets?fieldSelector=type%3DOpaque").status == 200);
  bad = client.Get("/api/v1/secrets?fieldSelector=spec.foo%3Dx");
  CHECK(json::GetString(bad.Json(), {"message"}) == "field label not supported: spec.foo");
}

TEST_CASE_METHOD(Fixture, "discovery lists built-in groups, resources and status subresources", "[apiserver][discovery]") {
  auto v = client.Get("/version").Json();
  CHECK(json::GetString(v, {"major"}) == "1");
  auto core = client.Get("/api/v1").Json();
  bool has_ns = false, has_ns_status = false;
  for (const auto& r : json::Find(core, {"resources"})->GetArray()) {
    if (json::GetString(r, {"name"}) == "namespaces") has_ns = !json::GetBool(r, {"namespaced"}, true);
    if (json::GetString(r, {"name"}) == "namespaces/status") has_ns_status = true;
  }
  CHECK(has_ns);
  CHECK(has_ns_status);
  auto groups = client.Get("/apis").Json();
  std::vector<std::string> names;
  for (const auto& g : json::Find(groups, {"groups"})->GetArray()) names.push_back(json::GetString(g, {"name"}));
  for (const char* g : {"apps", "rbac.authorization.k8s.io", "coordination.k8s.io", "batch",
                        "networking.k8s.io", "apiextensions.k8s.io"}) {
    CHECK(std::find(names.begin(), names.end(), g) != names.end());
  }
  auto apps = client.Get("/apis/apps/v1").Json();
  bool ds = false;
  for (const auto& r : json::Find(apps, {"resources"})->GetArray()) {
    if (json::GetString(r, {"name"}) == "daemonsets") {
      ds = true;
      CHECK(json::GetString(r, {"kind"}) == "DaemonSet");
      CHECK(json::GetString(r, {"singularName"}).empty());  // as kube-apiserver v1.26
      CHECK(json::GetString((*json::Find(r, {"shortNames"}))[0], {}) == "ds");
    }
  }
  CHECK(ds);
  CHECK(client.Get("/apis/nope/v1").status == 404);
}

TEST_CASE_METHOD(Fixture, "a Secret's stringData is merged into data on every write and not stored",
                 "[apiserver][crud]") {
  const std::string path = "/api/v1/namespaces/default/secrets";
  auto r = client.Post(path, R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
    "data":{"keep":"a2VlcA=="},"stringData":{"token":"plain","keep2":"x"}})");
  REQUIRE(r.status == 201);
  auto obj = r.Json();
  CHECK(json::GetString(obj, {"data", "token"}) == "cGxhaW4=");
  CHECK(json::GetString(obj, {"data", "keep"}) == "a2VlcA==");
  CHECK(json::GetString(obj, {"data", "keep2"}) == "eA==");
  CHECK(json::Find(obj, {"stringData"}) == nullptr);
  // stringData wins over data for the same key, also on update.
  auto u = client.Patch(path + "/s", R"({"stringData":{"token":"new"}})",
                        "application/merge-patch+json");
  REQUIRE(u.status == 200);
  CHECK(json::GetString(u.Json(), {"data", "token"}) == "bmV3");
  CHECK(json::Find(u.Json(), {"stringData"}) == nullptr);
}
