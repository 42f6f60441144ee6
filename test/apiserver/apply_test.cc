// Pure tests of the server-side apply merge and ownership functions.
#include "test/apiserver/apply.h"

#include <catch2/catch.hpp>

namespace json = srexpert::json;
namespace ssa = srexpert::testing::ssa;

namespace {

json::Document J(const char* text) { return *json::Parse(text); }

ssa::ApplyRequest Req(const std::string& manager, bool force = false) {
  ssa::ApplyRequest r;
  r.manager = manager;
  r.force = force;
  r.api_version = "apps/v1";
  r.time = "2024-01-01T00:00:00Z";
  r.scope = ssa::Scope::kMain;
  return r;
}

const char kDeploy[] = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
  "spec":{"template":{"spec":{"containers":[
    {"name":"app","image":"a:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
     "ports":[{"containerPort":80}],"volumeMounts":[{"name":"v","mountPath":"/data"}]}]}}}})";

}  // namespace

TEST_CASE("collected fields use FieldsV1 keys for associative lists", "[apiserver][ssa]") {
  auto schema = ssa::BuiltinSchema("Deployment");
  auto set = ssa::CollectFields(J(kDeploy), *schema, ssa::Scope::kMain);
  ssa::Path c = {"f:spec", "f:template", "f:spec", "f:containers", R"(k:{"name":"app"})"};
  CHECK(set.count(c) == 1);
  auto with = [&](std::vector<std::string> tail) {
    ssa::Path p = c;
    p.insert(p.end(), tail.begin(), tail.end());
    return p;
  };
  CHECK(set.count(with({"f:image"})) == 1);
  CHECK(set.count(with({"f:env", R"(k:{"name":"B"})", "f:value"})) == 1);
  CHECK(set.count(with({"f:ports", R"(k:{"containerPort":80,"protocol":"TCP"})"})) == 1);
  CHECK(set.count(with({"f:volumeMounts", R"(k:{"mountPath":"/data"})", "f:name"})) == 1);
  // Server-owned metadata and type fields are never owned.
  CHECK(set.count({"f:metadata", "f:name"}) == 0);
  CHECK(set.count({"f:apiVersion"}) == 0);
}

TEST_CASE("FieldsV1 round-trips with '.' for owned items that have children", "[apiserver][ssa]") {
  auto schema = ssa::BuiltinSchema("Deployment");
  auto set = ssa::CollectFields(J(kDeploy), *schema, ssa::Scope::kMain);
  json::Document d;
  json::Value v = ssa::ToFieldsV1(set, d.GetAllocator());
  const auto* item = json::Find(v, {"f:spec", "f:template", "f:spec", "f:containers", R"(k:{"name":"app"})"});
  REQUIRE(item != nullptr);
  CHECK(item->HasMember("."));
  CHECK(json::Find(*item, {"f:image"})->ObjectEmpty());
  CHECK(ssa::FromFieldsV1(v) == set);
}

TEST_CASE("apply merges associative lists by key and keeps others' items", "[apiserver][ssa]") {
  auto schema = ssa::BuiltinSchema("Deployment");
  auto live = ssa::Apply(nullptr, J(kDeploy), Req("a"), *schema).object;
  auto second = J(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
    "spec":{"template":{"spec":{"containers":[{"name":"side","image":"s:1"}]}}}})");
  auto r = ssa::Apply(&live, second, Req("b"), *schema);
  REQUIRE(r.conflicts.empty());
  const auto* cs = json::Find(r.object, {"spec", "template", "spec", "containers"});
  REQUIRE(cs->Size() == 2);
  CHECK(json::GetString((*cs)[0], {"name"}) == "app");
  CHECK(json::GetString((*cs)[0], {"image"}) == "a:1");
  CHECK(json::GetString((*cs)[1], {"name"}) == "side");
  CHECK(ssa::ReadManagedFields(r.object).size() == 2);
}

TEST_CASE("apply removes fields the manager stopped applying unless shared", "[apiserver][ssa]") {
  auto schema = ssa::BuiltinSchema("Deployment");
  auto live = ssa::Apply(nullptr, J(kDeploy), Req("a"), *schema).object;
  // Manager b co-owns env B by applying the same value.
  auto b = J(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
    "spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"B","value":"2"}]}]}}}})");
  live = ssa::Apply(&live, b, Req("b"), *schema).object;
  auto dropped = J(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
    "spec":{"template":{"spec":{"containers":[{"name":"app","image":"a:1"}]}}}})");
  auto r = ssa::Apply(&live, dropped, Req("a"), *schema);
  REQUIRE(r.conflicts.empty());
  const auto* c = &(*json::Find(r.object, {"spec", "template", "spec", "containers"}))[0];
  const auto* env = json::Find(*c, {"env"});
  REQUIRE(env != nullptr);
  REQUIRE(env->Size() == 1);  // A removed, B kept because b owns it
  CHECK(json::GetString((*env)[0], {"name"}) == "B");
  CHECK(json::Find(*c, {"ports"}) == nullptr);
  CHECK(json::Find(*c, {"volumeMounts"}) == nullptr);
  CHECK(json::GetString(*c, {"image"}) == "a:1");
}

TEST_CASE("apply reports a conflict on a field another manager owns with a different value", "[apiserver][ssa]") {
  auto schema = ssa::BuiltinSchema("Deployment");
  auto live = ssa::Apply(nullptr, J(kDeploy), Req("a"), *schema).object;
  auto change = J(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
    "spec":{"template":{"spec":{"containers":[{"name":"app","image":"b:2"}]}}}})");
  auto r = ssa::Apply(&live, change, Req("b"), *schema);
  REQUIRE(r.conflicts.size() == 1);
  CHECK(ssa::PathString(r.conflicts[0].path) == R"(.spec.template.spec.containers[name="app"].image)");
  CHECK(ssa::ConflictMessage(r.conflicts) ==
        R"(Apply failed with 1 conflict: conflict with "a": .spec.template.spec.containers[name="app"].image)");
  auto forced = ssa::Apply(&live, change, Req("b", true), *schema);
  REQUIRE(forced.conflicts.empty());
  CHECK(json::GetString((*json::Find(forced.object, {"spec", "template", "spec", "containers"}))[0], {"image"}) == "b:2");
  // a lost the image; b owns it now.
  for (const auto& e : ssa::ReadManagedFields(forced.object)) {
    ssa::Path image = {"f:spec", "f:template", "f:spec", "f:containers", R"(k:{"name":"app"})", "f:image"};
    CHECK(e.fields.count(image) == (e.manager == "b" ? 1u : 0u));
  }
}

TEST_CASE("an update takes ownership of the fields it changes", "[apiserver][ssa]") {
  auto schema = ssa::BuiltinSchema("ConfigMap");
  auto live = ssa::Apply(nullptr, J(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1","b":"2"}})"),
                         Req("applier"), *schema).object;
  json::Document next = json::Clone(live);
  next["data"]["a"].SetString("9");
  ssa::RecordUpdate(&live, next, "editor", "v1", "t", "", ssa::Scope::kAll, *schema);
  auto entries = ssa::ReadManagedFields(next);
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].manager == "applier");
  CHECK(entries[0].fields.count({"f:data", "f:a"}) == 0);
  CHECK(entries[0].fields.count({"f:data", "f:b"}) == 1);
  CHECK(entries[1].manager == "editor");
  CHECK(entries[1].operation == "Update");
  CHECK(entries[1].fields == ssa::FieldSet{{"f:data", "f:a"}});
  // Now "applier" re-applying a=1 conflicts with the Update manager.
  auto r = ssa::Apply(&next, J(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1","b":"2"}})"),
                      Req("applier"), *schema);
  REQUIRE(r.conflicts.size() == 1);
  CHECK(r.conflicts[0].manager == "\"editor\" using v1");
}

TEST_CASE("CRD schemas decide list merge types and lists default to atomic", "[apiserver][ssa]") {
  auto schema_doc = std::make_shared<json::Document>(J(R"({"type":"object","properties":{
    "spec":{"type":"object","properties":{
      "items":{"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["id"],
               "items":{"type":"object"}},
      "plain":{"type":"array","items":{"type":"string"}}}}}})"));
  auto schema = ssa::CrdSchema(schema_doc);
  CHECK(schema->List({"spec", "items"}).type == ssa::ListInfo::Type::kMap);
  CHECK(schema->List({"spec", "plain"}).type == ssa::ListInfo::Type::kAtomic);
  CHECK(schema->List({"metadata", "finalizers"}).type == ssa::ListInfo::Type::kSet);
}
