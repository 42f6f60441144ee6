// Deletion semantics: finalizers, preconditions, propagation policies,
// ownerReference garbage collection, namespace termination and CRDs.
#include <catch2/catch.hpp>

#include "test/apiserver/api_server.h"
#include "test/apiserver/server_fixture.h"
#include "test/apiserver/test_client.h"

using srexpert::testing::ApiServer;
using srexpert::testing::Eventually;
using srexpert::testing::TestClient;
namespace json = srexpert::json;

namespace {

const std::string kCm = "/api/v1/namespaces/default/configmaps";

struct Fixture : srexpert::testing::ServerFixture {

  std::string Uid(const std::string& path) { return json::GetString(client.Get(path).Json(), {"metadata", "uid"}); }
  bool Gone(const std::string& path) { return client.Get(path).status == 404; }
};

std::string OwnerRef(const std::string& api_version, const std::string& kind, const std::string& name,
                     const std::string& uid, bool block = false) {
  return R"({"apiVersion":")" + api_version + R"(","kind":")" + kind + R"(","name":")" + name +
         R"(","uid":")" + uid + R"(")" + (block ? R"(,"blockOwnerDeletion":true)" : "") + "}";
}

}  // namespace

TEST_CASE_METHOD(Fixture, "finalizers keep a deleted object until the last one is removed", "[apiserver][finalizers]") {
  REQUIRE(client.Post(kCm, R"({"metadata":{"name":"f","finalizers":["a/x","b/y"]}})").status == 201);
  auto w = client.Watch(kCm + "?watch=1&fieldSelector=metadata.name%3Df");
  REQUIRE(w->Next());  // ADDED
  auto del = client.Delete(kCm + "/f");
  REQUIRE(del.status == 200);
  auto obj = client.Get(kCm + "/f").Json();
  CHECK(!json::GetString(obj, {"metadata", "deletionTimestamp"}).empty());
  CHECK(json::GetInt(obj, {"metadata", "deletionGracePeriodSeconds"}, -1) == 0);
  auto e = w->Next();
  REQUIRE(e);
  CHECK(json::GetString(*e, {"type"}) == "MODIFIED");
  // Adding a finalizer to an object being deleted is forbidden.
  auto add = client.Patch(kCm + "/f", R"({"metadata":{"finalizers":["a/x","b/y","c/z"]}})",
                          "application/merge-patch+json");
  CHECK(add.status == 422);
  REQUIRE(client.Patch(kCm + "/f", R"({"metadata":{"finalizers":["b/y"]}})", "application/merge-patch+json").status == 200);
  CHECK(!Gone(kCm + "/f"));
  REQUIRE(client.Patch(kCm + "/f", R"({"metadata":{"finalizers":null}})", "application/merge-patch+json").status == 200);
  CHECK(Gone(kCm + "/f"));
  e = w->Next();
  REQUIRE(e);
  CHECK(json::GetString(*e, {"type"}) == "MODIFIED");
  e = w->Next();
  REQUIRE(e);
  CHECK(json::GetString(*e, {"type"}) == "DELETED");
}

TEST_CASE_METHOD(Fixture, "delete preconditions on uid and resourceVersion give 409 Conflict", "[apiserver][errors]") {
  REQUIRE(client.Post(kCm, R"({"metadata":{"name":"p"}})").status == 201);
  auto r = client.Delete(kCm + "/p", R"({"preconditions":{"uid":"wrong"}})");
  CHECK(r.status == 409);
  // As kube-apiserver's rest.BeforeDelete words it, naming the kind.
  CHECK(json::GetString(r.Json(), {"message"}) ==
        "Operation cannot be fulfilled on ConfigMap \"p\": the UID in the precondition (wrong) does not match "
        "the UID in record (" + Uid(kCm + "/p") + "). The object might have been deleted and then recreated");
  CHECK(json::GetString(r.Json(), {"details", "kind"}) == "ConfigMap");
  CHECK(client.Delete(kCm + "/p", R"({"preconditions":{"resourceVersion":"1"}})").status == 409);
  CHECK(client.Delete(kCm + "/p", R"({"preconditions":{"uid":")" + Uid(kCm + "/p") + R"("}})").status == 200);
}

TEST_CASE_METHOD(Fixture, "dependents are garbage-collected once all owners are gone", "[apiserver][gc]") {
  REQUIRE(client.Post(kCm, R"({"metadata":{"name":"owner1"}})").status == 201);
  REQUIRE(client.Post(kCm, R"({"metadata":{"name":"owner2"}})").status == 201);
  std::string u1 = Uid(kCm + "/owner1"), u2 = Uid(kCm + "/owner2");
  REQUIRE(client.Post(kCm, R"({"metadata":{"name":"dep","ownerReferences":[)" +
                               OwnerRef("v1", "ConfigMap", "owner1", u1) + "," +
                               OwnerRef("v1", "ConfigMap", "owner2", u2) + "]}}").status == 201);
  REQUIRE(client.Delete(kCm + "/owner1").status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  CHECK(!Gone(kCm + "/dep"));
  REQUIRE(client.Delete(kCm + "/owner2").status == 200);
  CHECK(Eventually([&] { return Gone(kCm + "/dep"); }));
}

TEST_CASE_METHOD(Fixture, "a cluster-scoped dependent owned by a Namespace is collected with it", "[apiserver][gc][namespaces]") {
  REQUIRE(client.Post("/api/v1/namespaces", R"({"metadata":{"name":"sys"}})").status == 201);
  std::string ns_uid = Uid("/api/v1/namespaces/sys");
  const std::string cr = "/apis/rbac.authorization.k8s.io/v1/clusterroles";
  REQUIRE(client.Post(cr, R"({"metadata":{"name":"sys:reader","ownerReferences":[)" +
                              OwnerRef("v1", "Namespace", "sys", ns_uid) + R"(]},"rules":[]})").status == 201);
  // A cluster-scoped dependent naming a namespaced owner is unresolvable
  // and never collected.
  REQUIRE(client.Post(cr, R"({"metadata":{"name":"odd","ownerReferences":[)" +
                              OwnerRef("v1", "ConfigMap", "x", "no-such-uid") + R"(]},"rules":[]})").status == 201);
  REQUIRE(client.Delete("/api/v1/namespaces/sys").status == 200);
  CHECK(Eventually([&] { return Gone(cr + "/sys:reader"); }));
  CHECK(!Gone(cr + "/odd"));
}

TEST_CASE_METHOD(Fixture, "Orphan propagation strips ownerReferences instead of deleting dependents", "[apiserver][gc]") {
  REQUIRE(client.Post(kCm, R"({"metadata":{"name":"owner"}})").status == 201);
  REQUIRE(client.Post(kCm, R"({"metadata":{"name":"dep","ownerReferences":[)" +
                               OwnerRef("v1", "ConfigMap", "owner", Uid(kCm + "/owner")) + "]}}").status == 201);
  REQUIRE(client.Delete(kCm + "/owner?propagationPolicy=Orphan").status == 200);
  CHECK(Eventually([&] { return Gone(kCm + "/owner"); }));
  auto dep = client.Get(kCm + "/dep");
  REQUIRE(dep.status == 200);
  CHECK(json::Find(dep.Json(), {"metadata", "ownerReferences"}) == nullptr);
}

TEST_CASE_METHOD(Fixture, "Foreground propagation deletes blocking dependents before the owner", "[apiserver][gc]") {
  REQUIRE(client.Post(kCm, R"({"metadata":{"name":"owner"}})").status == 201);
  REQUIRE(client.Post(kCm, R"({"metadata":{"name":"dep","finalizers":["test/hold"],"ownerReferences":[)" +
                               OwnerRef("v1", "ConfigMap", "owner", Uid(kCm + "/owner"), true) + "]}}").status == 201);
  auto del = client.Delete(kCm + "/owner", R"({"propagationPolicy":"Foreground"})");
  REQUIRE(del.status == 200);
  CHECK(json::GetString(del.Json(), {"metadata", "finalizers"}).empty());
  CHECK(Eventually([&] { return !json::GetString(client.Get(kCm + "/dep").Json(), {"metadata", "deletionTimestamp"}).empty(); }));
  // The owner waits for the blocking dependent.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto owner = client.Get(kCm + "/owner").Json();
  REQUIRE(!Gone(kCm + "/owner"));
  const auto* fins = json::Find(owner, {"metadata", "finalizers"});
  REQUIRE(fins != nullptr);
  CHECK(std::string((*fins)[0].GetString()) == "foregroundDeletion");
  REQUIRE(client.Patch(kCm + "/dep", R"({"metadata":{"finalizers":null}})", "application/merge-patch+json").status == 200);
  CHECK(Eventually([&] { return Gone(kCm + "/owner"); }));
}

TEST_CASE_METHOD(Fixture, "deleting a namespace terminates it, empties it, then removes it", "[apiserver][namespaces]") {
  REQUIRE(client.Post("/api/v1/namespaces", R"({"metadata":{"name":"team"}})").status == 201);
  auto ns = client.Get("/api/v1/namespaces/team").Json();
  CHECK(json::GetString(ns, {"status", "phase"}) == "Active");
  CHECK(json::GetString(ns, {"metadata", "labels", "kubernetes.io/metadata.name"}) == "team");
  REQUIRE(client.Post("/api/v1/namespaces/team/configmaps", R"({"metadata":{"name":"a"}})").status == 201);
  REQUIRE(client.Post("/api/v1/namespaces/team/configmaps", R"({"metadata":{"name":"held","finalizers":["x/y"]}})").status == 201);
  auto del = client.Delete("/api/v1/namespaces/team");
  REQUIRE(del.status == 200);
  CHECK(json::GetString(del.Json(), {"status", "phase"}) == "Terminating");
  CHECK(Eventually([&] { return Gone("/api/v1/namespaces/team/configmaps/a"); }));
  // Terminating namespaces refuse new content with 403 Forbidden.
  auto create = client.Post("/api/v1/namespaces/team/configmaps", R"({"metadata":{"name":"late"}})");
  CHECK(create.status == 403);
  CHECK(json::GetString(create.Json(), {"reason"}) == "Forbidden");
  CHECK(json::GetString(create.Json(), {"message"}) ==
        "configmaps \"late\" is forbidden: unable to create new content in namespace team because it is being terminated");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(!Gone("/api/v1/namespaces/team"));  // the finalizer on "held" blocks it
  REQUIRE(client.Patch("/api/v1/namespaces/team/configmaps/held", R"({"metadata":{"finalizers":null}})",
                       "application/merge-patch+json").status == 200);
  CHECK(Eventually([&] { return Gone("/api/v1/namespaces/team"); }));
}

TEST_CASE_METHOD(Fixture, "a CRD becomes a served resource with discovery and a status subresource", "[apiserver][crd]") {
  const char crd[] = R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"widgets.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced",
      "names":{"plural":"widgets","singular":"widget","kind":"Widget","shortNames":["wd"]},
      "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
        "schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object",
          "properties":{"parts":{"type":"array","x-kubernetes-list-type":"map",
            "x-kubernetes-list-map-keys":["id"],"items":{"type":"object","required":["id"],
              "properties":{"id":{"type":"string"},"n":{"type":"integer"}}}}}}}}}}]}})";
  auto created = client.Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  REQUIRE(created.status == 201);
  auto obj = created.Json();
  bool established = false;
  for (const auto& c : json::Find(obj, {"status", "conditions"})->GetArray()) {
    if (json::GetString(c, {"type"}) == "Established") established = json::GetString(c, {"status"}) == "True";
  }
  CHECK(established);
  CHECK(json::GetString(obj, {"status", "acceptedNames", "kind"}) == "Widget");
  auto disc = client.Get("/apis/example.com/v1").Json();
  std::vector<std::string> names;
  for (const auto& r : json::Find(disc, {"resources"})->GetArray()) names.push_back(json::GetString(r, {"name"}));
  CHECK(names == std::vector<std::string>{"widgets", "widgets/status"});
  const std::string path = "/apis/example.com/v1/namespaces/default/widgets";
  auto w = client.Post(path, R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},
                                 "spec":{"parts":[{"id":"a","n":1}]},"status":{"ok":true}})");
  REQUIRE(w.status == 201);
  CHECK(json::Find(w.Json(), {"status"}) == nullptr);  // status via /status only
  CHECK(json::GetInt(w.Json(), {"metadata", "generation"}) == 1);
  // Custom resources refuse unconditional updates and strategic merge patch.
  auto put = client.Put(path + "/w", R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{}})");
  CHECK(put.status == 422);
  CHECK(client.Patch(path + "/w", R"({"spec":{}})", "application/strategic-merge-patch+json").status == 415);
  // The CRD schema makes spec.parts a map list for apply.
  auto applied = client.Patch(path + "/w?fieldManager=m",
                              "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {parts: [{id: b, n: 2}]}\n",
                              "application/apply-patch+yaml");
  REQUIRE(applied.status == 200);
  CHECK(json::Find(applied.Json(), {"spec", "parts"})->Size() == 2);
  // Deleting the CRD deletes its custom resources and stops serving them.
  REQUIRE(client.Delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status == 200);
  CHECK(Eventually([&] { return client.Get("/apis/example.com/v1").status == 404; }));
}

TEST_CASE_METHOD(Fixture, "a cluster-scoped CRD serves objects without a namespace", "[apiserver][crd]") {
  REQUIRE(client.Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                      R"({"metadata":{"name":"gadgets.example.com"},"spec":{"group":"example.com","scope":"Cluster",
                          "names":{"plural":"gadgets","kind":"Gadget"},
                          "versions":[{"name":"v1alpha1","served":true,"storage":true}]}})").status == 201);
  auto r = client.Post("/apis/example.com/v1alpha1/gadgets", R"({"metadata":{"name":"g"}})");
  REQUIRE(r.status == 201);
  CHECK(json::Find(r.Json(), {"metadata", "namespace"}) == nullptr);
  CHECK(client.Get("/apis/example.com/v1alpha1/namespaces/default/gadgets/g").status == 404);
  auto list = client.Get("/apis/example.com/v1alpha1/gadgets").Json();
  CHECK(json::GetString(list, {"kind"}) == "GadgetList");
  CHECK(json::GetString((*json::Find(list, {"items"}))[0], {"kind"}) == "Gadget");
}
