#include "kube/resource_mapper.h"

#include <catch2/catch.hpp>

#include <map>

#include "common/json.h"

using namespace srexpert;
using namespace srexpert::kube;

namespace {

// A fake discovery endpoint whose documents the test changes.
struct FakeDiscovery {
  std::map<std::string, std::string> docs;
  std::map<std::string, int> fetches;
  ResourceMapper::Fetch fetch() {
    return [this](const std::string& path, const CallBounds&) -> Result<rapidjson::Document> {
      ++fetches[path];
      auto it = docs.find(path);
      if (it == docs.end()) return Error(Reason::kNotFound, "404 page not found", 404);
      return std::move(*json::Parse(it->second));
    };
  }
};

const char* kCoreV1 = R"J({"kind":"APIResourceList","groupVersion":"v1","resources":[
  {"name":"configmaps","singularName":"","namespaced":true,"kind":"ConfigMap","verbs":["create","delete","get","list","patch","update","watch"]},
  {"name":"namespaces","singularName":"","namespaced":false,"kind":"Namespace","verbs":["create","delete","get","list","patch","update","watch"]},
  {"name":"namespaces/status","singularName":"","namespaced":false,"kind":"Namespace","verbs":["get","patch","update"]},
  {"name":"pods/log","singularName":"","namespaced":true,"kind":"Pod","verbs":["get"]},
  {"name":"pods","singularName":"","namespaced":true,"kind":"Pod","verbs":["get","list"]}]})J";

}  // namespace

TEST_CASE("ResourceMapper resolves kinds to paths and caches the group-version",
          "[kube][resource_mapper]") {
  FakeDiscovery d;
  d.docs["/api/v1"] = kCoreV1;
  ResourceMapper mapper(d.fetch());

  auto cm = mapper.Resolve("v1", "ConfigMap");
  REQUIRE(cm.ok());
  CHECK(cm->resource == "configmaps");
  CHECK(cm->namespaced);
  CHECK_FALSE(cm->has_status);
  CHECK(cm->ObjectPath("ns1", "a") == "/api/v1/namespaces/ns1/configmaps/a");
  CHECK(cm->CollectionPath("") == "/api/v1/configmaps");

  auto ns = mapper.Resolve("v1", "Namespace");
  REQUIRE(ns.ok());
  CHECK_FALSE(ns->namespaced);
  CHECK(ns->has_status);
  CHECK(ns->ObjectPath("ignored", "x", "status") == "/api/v1/namespaces/x/status");

  auto pod = mapper.Resolve("v1", "Pod");  // the subresource entry "pods/log" is skipped
  REQUIRE(pod.ok());
  CHECK(pod->resource == "pods");
  CHECK(d.fetches["/api/v1"] == 1);
}

TEST_CASE("ResourceMapper re-discovers on a miss so kinds added later are found",
          "[kube][resource_mapper]") {
  FakeDiscovery d;
  d.docs["/apis/example.com/v1"] = R"J({"kind":"APIResourceList","resources":[]})J";
  ResourceMapper mapper(d.fetch());
  auto missing = mapper.Resolve("example.com/v1", "Widget");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().IsNotFound());
  CHECK(missing.error().message().find("Widget") != std::string::npos);

  d.docs["/apis/example.com/v1"] = R"J({"kind":"APIResourceList","resources":[
    {"name":"widgets","namespaced":false,"kind":"Widget","verbs":["get"]},
    {"name":"widgets/status","namespaced":false,"kind":"Widget","verbs":["get"]}]})J";
  auto found = mapper.Resolve("example.com/v1", "Widget");
  REQUIRE(found.ok());
  CHECK(found->ObjectPath("", "w") == "/apis/example.com/v1/widgets/w");
  CHECK(found->has_status);
  int fetches = d.fetches["/apis/example.com/v1"];
  REQUIRE(mapper.Resolve("example.com/v1", "Widget").ok());
  CHECK(d.fetches["/apis/example.com/v1"] == fetches);  // served from the cache
}

TEST_CASE("ResourceMapper reports an unserved group-version as NotFound",
          "[kube][resource_mapper]") {
  FakeDiscovery d;
  ResourceMapper mapper(d.fetch());
  auto r = mapper.Resolve("nope.io/v1", "Thing");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().IsNotFound());
  CHECK(r.error().message().find("nope.io/v1") != std::string::npos);
}

TEST_CASE("GroupVersion parses core and named groups", "[kube][resource_mapper]") {
  CHECK(GroupVersion::Parse("v1").Path() == "/api/v1");
  CHECK(GroupVersion::Parse("coordination.k8s.io/v1").Path() == "/apis/coordination.k8s.io/v1");
  CHECK(GroupVersion::Parse("apps/v1").ApiVersion() == "apps/v1");
}
