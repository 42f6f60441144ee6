// Server-side apply over HTTP: create, merge, conflicts, force, managedFields.
#include <catch2/catch.hpp>

#include "test/apiserver/api_server.h"
#include "test/apiserver/server_fixture.h"
#include "test/apiserver/test_client.h"

using srexpert::testing::ApiServer;
using srexpert::testing::TestClient;
namespace json = srexpert::json;

namespace {

const char kApply[] = "application/apply-patch+yaml";
const std::string kPath = "/apis/apps/v1/namespaces/default/deployments/web";

using Fixture = srexpert::testing::ServerFixture;

const char kYaml[] = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: app
        image: nginx:1
)";

}  // namespace

TEST_CASE_METHOD(Fixture, "apply requires a fieldManager", "[apiserver][ssa]") {
  // kube-apiserver: 422 Invalid on PatchOptions.meta.k8s.io (test/real differential).
  auto r = client.Patch(kPath, kYaml, kApply);
  CHECK(r.status == 422);
  CHECK(json::GetString(r.Json(), {"reason"}) == "Invalid");
}

TEST_CASE_METHOD(Fixture, "apply creates a missing object and records an Apply entry", "[apiserver][ssa]") {
  auto r = client.Patch(kPath + "?fieldManager=op", kYaml, kApply);
  REQUIRE(r.status == 201);
  auto obj = r.Json();
  CHECK(json::GetInt(obj, {"spec", "replicas"}) == 2);
  CHECK(json::GetInt(obj, {"metadata", "generation"}) == 1);
  const auto* mf = json::Find(obj, {"metadata", "managedFields"});
  REQUIRE(mf != nullptr);
  REQUIRE(mf->Size() == 1);
  CHECK(json::GetString((*mf)[0], {"manager"}) == "op");
  CHECK(json::GetString((*mf)[0], {"operation"}) == "Apply");
  CHECK(json::GetString((*mf)[0], {"fieldsType"}) == "FieldsV1");
  CHECK(json::Find((*mf)[0], {"fieldsV1", "f:spec", "f:replicas"}) != nullptr);
}

TEST_CASE_METHOD(Fixture, "re-applying the same configuration is a no-op", "[apiserver][ssa]") {
  auto first = client.Patch(kPath + "?fieldManager=op", kYaml, kApply).Json();
  auto second = client.Patch(kPath + "?fieldManager=op", kYaml, kApply);
  REQUIRE(second.status == 200);
  CHECK(json::GetString(second.Json(), {"metadata", "resourceVersion"}) ==
        json::GetString(first, {"metadata", "resourceVersion"}));
}

TEST_CASE_METHOD(Fixture, "apply conflicts with another manager's field unless forced", "[apiserver][ssa]") {
  REQUIRE(client.Patch(kPath + "?fieldManager=op", kYaml, kApply).status == 201);
  auto edit = client.Patch(kPath + "?fieldManager=editor", R"({"spec":{"replicas":5}})",
                           "application/merge-patch+json");
  REQUIRE(edit.status == 200);
  auto conflict = client.Patch(kPath + "?fieldManager=op", kYaml, kApply);
  CHECK(conflict.status == 409);
  auto s = conflict.Json();
  CHECK(json::GetString(s, {"reason"}) == "Conflict");
  CHECK(json::GetString(s, {"message"}) ==
        "Apply failed with 1 conflict: conflict with \"editor\" using apps/v1: .spec.replicas");
  const auto* causes = json::Find(s, {"details", "causes"});
  REQUIRE(causes != nullptr);
  CHECK(json::GetString((*causes)[0], {"reason"}) == "FieldManagerConflict");
  CHECK(json::GetString((*causes)[0], {"field"}) == ".spec.replicas");
  auto forced = client.Patch(kPath + "?fieldManager=op&force=true", kYaml, kApply);
  REQUIRE(forced.status == 200);
  CHECK(json::GetInt(forced.Json(), {"spec", "replicas"}) == 2);
}

TEST_CASE_METHOD(Fixture, "apply removes containers the manager no longer applies", "[apiserver][ssa]") {
  std::string two = std::string(kYaml) + "      - name: side\n        image: busybox\n";
  REQUIRE(client.Patch(kPath + "?fieldManager=op", two, kApply).status == 201);
  auto r = client.Patch(kPath + "?fieldManager=op", kYaml, kApply);
  REQUIRE(r.status == 200);
  auto obj = r.Json();  // Find() points into it
  const auto* cs = json::Find(obj, {"spec", "template", "spec", "containers"});
  REQUIRE(cs->Size() == 1);
  CHECK(json::GetString((*cs)[0], {"name"}) == "app");
}

TEST_CASE_METHOD(Fixture, "apply to the status subresource changes only status", "[apiserver][ssa][status]") {
  REQUIRE(client.Patch(kPath + "?fieldManager=op", kYaml, kApply).status == 201);
  auto r = client.Patch(kPath + "/status?fieldManager=ctl",
                        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 9}\nstatus: {replicas: 1}\n",
                        kApply);
  REQUIRE(r.status == 200);
  auto obj = r.Json();
  CHECK(json::GetInt(obj, {"status", "replicas"}) == 1);
  CHECK(json::GetInt(obj, {"spec", "replicas"}) == 2);
  bool status_entry = false;
  for (const auto& e : json::Find(obj, {"metadata", "managedFields"})->GetArray()) {
    if (json::GetString(e, {"manager"}) == "ctl") {
      status_entry = json::GetString(e, {"subresource"}) == "status";
    }
  }
  CHECK(status_entry);
}

TEST_CASE_METHOD(Fixture, "create records an Update entry for the creating manager", "[apiserver][ssa]") {
  auto r = client.Post("/api/v1/namespaces/default/configmaps?fieldManager=maker",
                       R"({"metadata":{"name":"c"},"data":{"a":"1"}})");
  REQUIRE(r.status == 201);
  auto obj = r.Json();
  const auto* mf = json::Find(obj, {"metadata", "managedFields"});
  REQUIRE(mf != nullptr);
  CHECK(json::GetString((*mf)[0], {"manager"}) == "maker");
  CHECK(json::GetString((*mf)[0], {"operation"}) == "Update");
}
