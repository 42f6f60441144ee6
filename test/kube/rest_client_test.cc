#include "kube/rest_client.h"

#include <catch2/catch.hpp>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "common/clock.h"
#include "common/json.h"
#include "test/kube/api_fixture.h"
#include "test/kube/temp_dir.h"

using namespace srexpert;
using namespace srexpert::kube;
using namespace srexpert::kube::testing;
using srexpert::testing::ApiServerOptions;
using srexpert::testing::Fault;

namespace {

ObjectRef CmRef(const std::string& ns, const std::string& name) {
  return {"v1", "ConfigMap", ns, name};
}

// A client whose waits step `clock` (and draw jitter from `random`).
ClientOptions OnClock(FakeClock& clock, RandomSource& random) {
  ClientOptions options;
  options.clock = &clock;
  options.random = &random;
  return options;
}

}  // namespace

TEST_CASE("RestClient creates, reads, updates and deletes a ConfigMap", "[kube][rest]") {
  ApiFixture f;
  f.CreateNamespace("crud");
  auto created = f.client().Create(f.ConfigMap("crud", "a", R"({"k":"v1"})"));
  REQUIRE(created.ok());
  CHECK_FALSE(json::GetString(*created, {"metadata", "uid"}).empty());
  std::string rv1 = json::GetString(*created, {"metadata", "resourceVersion"});
  CHECK_FALSE(rv1.empty());

  auto got = f.client().Get(CmRef("crud", "a"));
  REQUIRE(got.ok());
  CHECK(json::GetString(*got, {"data", "k"}) == "v1");

  json::SetString(json::EnsureObject(*got, {"data"}, got->GetAllocator()), "k", "v2",
                  got->GetAllocator());
  auto updated = f.client().Update(*got);
  REQUIRE(updated.ok());
  CHECK(json::GetString(*updated, {"data", "k"}) == "v2");
  CHECK(json::GetString(*updated, {"metadata", "resourceVersion"}) != rv1);

  auto deleted = f.client().Delete(CmRef("crud", "a"));
  REQUIRE(deleted.ok());
  auto gone = f.client().Get(CmRef("crud", "a"));
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().IsNotFound());
  CHECK(gone.error().code() == 404);
}

TEST_CASE("Single-object calls default to the kubeconfig's namespace", "[kube][rest]") {
  ApiFixture f;
  REQUIRE(f.client().default_namespace() == "default");
  f.CreateNamespace("default");
  auto cm = f.ConfigMap("", "defaulted");
  json::Remove(cm["metadata"], "namespace");
  REQUIRE(f.client().Create(cm).ok());
  auto got = f.client().Get(CmRef("", "defaulted"));
  REQUIRE(got.ok());
  CHECK(json::GetString(*got, {"metadata", "namespace"}) == "default");
}

TEST_CASE("Updating from a stale resourceVersion is a Conflict", "[kube][rest]") {
  ApiFixture f;
  f.CreateNamespace("conflict");
  auto v1 = f.client().Create(f.ConfigMap("conflict", "a", R"({"k":"1"})"));
  REQUIRE(v1.ok());
  auto stale = json::Clone(*v1);
  json::SetString((*v1)["data"], "k", "2", v1->GetAllocator());
  REQUIRE(f.client().Update(*v1).ok());
  json::SetString(stale["data"], "k", "3", stale.GetAllocator());
  auto r = f.client().Update(stale);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().IsConflict());
  CHECK(r.error().code() == 409);
  CHECK_FALSE(r.error().retryable());
}

TEST_CASE("AlreadyExists, NotFound and Invalid come back as typed errors", "[kube][rest]") {
  ApiFixture f;
  f.CreateNamespace("errs");
  REQUIRE(f.client().Create(f.ConfigMap("errs", "dup")).ok());
  auto dup = f.client().Create(f.ConfigMap("errs", "dup"));
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().IsAlreadyExists());
  CHECK(dup.error().code() == 409);

  auto missing = f.client().Delete(CmRef("errs", "nope"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().IsNotFound());

  auto invalid = f.client().Create(f.ConfigMap("errs", "Not_A_Valid_Name"));
  REQUIRE_FALSE(invalid.ok());
  CHECK(invalid.error().IsInvalid());
  CHECK(invalid.error().code() == 422);
  REQUIRE_FALSE(invalid.error().causes().empty());
  CHECK(invalid.error().causes()[0].field == "metadata.name");

  auto unknown_kind = f.client().Get({"v1", "NoSuchKind", "errs", "x"});
  REQUIRE_FALSE(unknown_kind.ok());
  CHECK(unknown_kind.error().IsNotFound());
  CHECK_THAT(unknown_kind.error().message(), Catch::Contains("NoSuchKind"));
}

TEST_CASE("List pages with limit/continue and ListAll gathers every page", "[kube][rest]") {
  ApiFixture f;
  f.CreateNamespace("pages");
  for (int i = 0; i < 7; ++i) {
    REQUIRE(f.client().Create(f.ConfigMap("pages", "cm-" + std::to_string(i))).ok());
  }
  ListOptions page_opts;
  page_opts.limit = 3;
  auto page1 = f.client().List(CmRef("pages", ""), page_opts);
  REQUIRE(page1.ok());
  CHECK((*page1)["items"].Size() == 3);
  std::string next = json::GetString(*page1, {"metadata", "continue"});
  REQUIRE_FALSE(next.empty());
  page_opts.continue_token = next;
  auto page2 = f.client().List(CmRef("pages", ""), page_opts);
  REQUIRE(page2.ok());
  CHECK((*page2)["items"].Size() == 3);
  CHECK(json::GetString((*page2)["items"][0], {"metadata", "name"}) !=
        json::GetString((*page1)["items"][0], {"metadata", "name"}));

  ListOptions all_opts;
  all_opts.limit = 3;
  uint64_t lists_before = f.client().metrics().CountVerb("list");
  auto all = f.client().ListAll(CmRef("pages", ""), all_opts);
  REQUIRE(all.ok());
  CHECK((*all)["items"].Size() == 7);
  CHECK(f.client().metrics().CountVerb("list") - lists_before == 3);
  CHECK_FALSE(json::GetString(*all, {"metadata", "resourceVersion"}).empty());
  CHECK(json::GetString(*all, {"metadata", "continue"}).empty());
}

TEST_CASE("Label and field selectors filter lists", "[kube][rest]") {
  ApiFixture f;
  f.CreateNamespace("sel");
  f.CreateNamespace("sel-other");
  REQUIRE(f.client().Create(f.ConfigMap("sel", "a", "{}", R"({"app":"web","tier":"front"})")).ok());
  REQUIRE(f.client().Create(f.ConfigMap("sel", "b", "{}", R"({"app":"web","tier":"back"})")).ok());
  REQUIRE(f.client().Create(f.ConfigMap("sel", "c", "{}", R"({"app":"db"})")).ok());
  REQUIRE(f.client().Create(f.ConfigMap("sel-other", "d", "{}", R"({"app":"web"})")).ok());

  auto names = [](const rapidjson::Document& list) {
    std::vector<std::string> out;
    for (const auto& item : list["items"].GetArray()) {
      out.push_back(json::GetString(item, {"metadata", "name"}));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  ListOptions o;
  o.label_selector = "app=web";
  auto web = f.client().List(CmRef("sel", ""), o);
  REQUIRE(web.ok());
  CHECK(names(*web) == std::vector<std::string>{"a", "b"});

  o.label_selector = "app=web,tier!=front";
  auto back = f.client().List(CmRef("sel", ""), o);
  REQUIRE(back.ok());
  CHECK(names(*back) == std::vector<std::string>{"b"});

  ListOptions by_name;
  by_name.field_selector = "metadata.name=c";
  auto c = f.client().List(CmRef("sel", ""), by_name);
  REQUIRE(c.ok());
  CHECK(names(*c) == std::vector<std::string>{"c"});

  // An empty namespace lists across all namespaces.
  ListOptions across;
  across.label_selector = "app=web";
  auto everywhere = f.client().List(CmRef("", ""), across);
  REQUIRE(everywhere.ok());
  CHECK(names(*everywhere) == std::vector<std::string>{"a", "b", "d"});
}

TEST_CASE("UpdateStatus writes status without touching spec, Update the reverse",
          "[kube][rest]") {
  ApiFixture f;
  f.CreateNamespace("st");
  auto dep = Json(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"st"},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"d"}},
      "template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}})");
  auto created = f.client().Create(dep);
  REQUIRE(created.ok());
  int64_t generation = json::GetInt(*created, {"metadata", "generation"});

  auto& a = created->GetAllocator();
  json::Set(json::EnsureObject(*created, {"status"}, a), "observedGeneration",
            rapidjson::Value(generation), a);
  json::Set((*created)["spec"], "replicas", rapidjson::Value(5), a);  // ignored by /status
  auto status = f.client().UpdateStatus(*created);
  REQUIRE(status.ok());
  CHECK(json::GetInt(*status, {"status", "observedGeneration"}) == generation);
  CHECK(json::GetInt(*status, {"spec", "replicas"}) == 1);
  CHECK(json::GetInt(*status, {"metadata", "generation"}) == generation);

  auto& b = status->GetAllocator();
  json::Set((*status)["spec"], "replicas", rapidjson::Value(3), b);
  auto spec = f.client().Update(*status);
  REQUIRE(spec.ok());
  CHECK(json::GetInt(*spec, {"spec", "replicas"}) == 3);
  CHECK(json::GetInt(*spec, {"metadata", "generation"}) == generation + 1);
  CHECK(json::GetInt(*spec, {"status", "observedGeneration"}) == generation);
}

TEST_CASE("Merge and JSON patches modify the object", "[kube][rest]") {
  ApiFixture f;
  f.CreateNamespace("patch");
  REQUIRE(f.client().Create(f.ConfigMap("patch", "p", R"({"a":"1","b":"2"})")).ok());
  auto merged = f.client().Patch(CmRef("patch", "p"), PatchType::kMerge,
                                 R"({"data":{"a":null,"c":"3"}})");
  REQUIRE(merged.ok());
  CHECK_FALSE(json::Find(*merged, {"data", "a"}));
  CHECK(json::GetString(*merged, {"data", "c"}) == "3");
  CHECK(json::GetString(*merged, {"data", "b"}) == "2");

  auto patched = f.client().Patch(CmRef("patch", "p"), PatchType::kJson,
                                  R"([{"op":"replace","path":"/data/b","value":"20"}])");
  REQUIRE(patched.ok());
  CHECK(json::GetString(*patched, {"data", "b"}) == "20");
}

TEST_CASE("Delete honours uid and resourceVersion preconditions", "[kube][rest]") {
  ApiFixture f;
  f.CreateNamespace("del");
  auto cm = f.client().Create(f.ConfigMap("del", "x"));
  REQUIRE(cm.ok());
  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-0000-0000-000000000000";
  auto r1 = f.client().Delete(CmRef("del", "x"), wrong_uid);
  REQUIRE_FALSE(r1.ok());
  CHECK(r1.error().IsConflict());

  DeleteOptions wrong_rv;
  wrong_rv.precondition_resource_version = "1";
  auto r2 = f.client().Delete(CmRef("del", "x"), wrong_rv);
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().IsConflict());

  DeleteOptions right;
  right.precondition_uid = json::GetString(*cm, {"metadata", "uid"});
  right.precondition_resource_version = json::GetString(*cm, {"metadata", "resourceVersion"});
  right.propagation_policy = "Background";
  REQUIRE(f.client().Delete(CmRef("del", "x"), right).ok());
  auto after = f.client().Get(CmRef("del", "x"));
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().IsNotFound());

  DeleteOptions bad_policy;
  REQUIRE(f.client().Create(f.ConfigMap("del", "y")).ok());
  bad_policy.propagation_policy = "Sideways";
  auto r3 = f.client().Delete(CmRef("del", "y"), bad_policy);
  REQUIRE_FALSE(r3.ok());
  CHECK((r3.error().IsInvalid() || r3.error().reason() == Reason::kBadRequest));
}

TEST_CASE("Foreground deletion keeps the owner until its dependents are gone",
          "[kube][rest]") {
  ApiFixture f;
  f.CreateNamespace("fg");
  auto owner = f.client().Create(f.ConfigMap("fg", "owner"));
  REQUIRE(owner.ok());
  auto child = f.ConfigMap("fg", "child");
  auto& a = child.GetAllocator();
  rapidjson::Value refs(rapidjson::kArrayType);
  auto owner_ref = Json(R"({"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":")" +
                        json::GetString(*owner, {"metadata", "uid"}) +
                        R"(","blockOwnerDeletion":true})");
  // Deep copy: owner_ref's strings live in its own allocator.
  refs.PushBack(rapidjson::Value(owner_ref, a), a);
  json::Set(child["metadata"], "ownerReferences", rapidjson::Value(refs, a), a);
  REQUIRE(f.client().Create(child).ok());

  DeleteOptions fg;
  fg.propagation_policy = "Foreground";
  auto r = f.client().Delete(CmRef("fg", "owner"), fg);
  REQUIRE(r.ok());
  auto missing = [&](const char* name) {
    auto r = f.client().Get(CmRef("fg", name));
    return !r.ok() && r.error().IsNotFound();
  };
  // Right after the delete the owner is still there, held by the
  // foregroundDeletion finalizer, unless the collector was already quicker.
  auto held = f.client().Get(CmRef("fg", "owner"));
  if (held.ok()) {
    CHECK_FALSE(json::GetString(*held, {"metadata", "deletionTimestamp"}).empty());
  }
  REQUIRE(Eventually([&] { return missing("child") && missing("owner"); }));
}

TEST_CASE("Kinds from a CRD created at run time are discovered", "[kube][rest]") {
  ApiFixture f;
  f.CreateNamespace("crd");
  auto before = f.client().Get({"example.com/v1", "Widget", "crd", "w"});
  REQUIRE_FALSE(before.ok());
  CHECK(before.error().IsNotFound());

  auto crd = Json(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"widgets.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced",
      "names":{"plural":"widgets","singular":"widget","kind":"Widget","listKind":"WidgetList"},
      "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
        "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}})");
  REQUIRE(f.client().Create(crd).ok());

  auto info = f.client().Resolve("example.com/v1", "Widget");
  REQUIRE(Eventually([&] { return f.client().Resolve("example.com/v1", "Widget").ok(); }));
  info = f.client().Resolve("example.com/v1", "Widget");
  CHECK(info->resource == "widgets");
  CHECK(info->namespaced);
  CHECK(info->has_status);

  auto w = Json(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"crd"},"spec":{"size":3}})");
  REQUIRE(f.client().Create(w).ok());
  auto got = f.client().Get({"example.com/v1", "Widget", "crd", "w"});
  REQUIRE(got.ok());
  CHECK(json::GetInt(*got, {"spec", "size"}) == 3);
}

TEST_CASE("429 is retried after Retry-After on the client's clock", "[kube][rest][retry]") {
  FakeClock clock;
  RandomSource random(3);
  ApiFixture f({}, OnClock(clock, random));
  f.CreateNamespace("retry");
  REQUIRE(f.client().Create(f.ConfigMap("retry", "a")).ok());

  f.server().AddFault({Fault::Kind::kStatus, "get", "", 429, 3, {}, 2});
  auto t0 = clock.Now();
  uint64_t before = f.client().metrics().Count("get", 429);
  auto got = f.client().Get(CmRef("retry", "a"));
  REQUIRE(got.ok());
  CHECK(f.client().metrics().Count("get", 429) - before == 2);
  // Each retry waited at least the server's Retry-After of 3 s.
  CHECK(clock.Now() - t0 >= std::chrono::seconds(6));

  // A create is retried on 429 too: the server did not process it.
  f.server().AddFault({Fault::Kind::kStatus, "create", "", 429, 1, {}, 1});
  REQUIRE(f.client().Create(f.ConfigMap("retry", "b")).ok());
}

TEST_CASE("5xx is retried for safe verbs but not for create", "[kube][rest][retry]") {
  FakeClock clock;
  ClientOptions options;
  options.clock = &clock;
  ApiFixture f({}, options);
  f.CreateNamespace("five");
  REQUIRE(f.client().Create(f.ConfigMap("five", "a")).ok());

  f.server().AddFault({Fault::Kind::kStatus, "get", "", 500, 0, {}, 2});
  auto got = f.client().Get(CmRef("five", "a"));
  REQUIRE(got.ok());
  CHECK(f.client().metrics().Count("get", 500) == 2);

  f.server().AddFault({Fault::Kind::kStatus, "create", "", 503, 0, {}, 1});
  auto created = f.client().Create(f.ConfigMap("five", "b"));
  REQUIRE_FALSE(created.ok());
  CHECK(created.error().reason() == Reason::kServiceUnavailable);
  CHECK(created.error().retryable());
  CHECK(f.client().metrics().Count("create", 503) == 1);

  // Persistent failures give up after max_attempts.
  f.server().AddFault({Fault::Kind::kStatus, "list", "", 500, 0, {}, -1});
  auto list = f.client().List(CmRef("five", ""));
  REQUIRE_FALSE(list.ok());
  CHECK(list.error().reason() == Reason::kInternalError);
  CHECK(f.client().metrics().Count("list", 500) == 5);
  f.server().ClearFaults();
}

TEST_CASE("Client-side rate limiting spaces requests at qps", "[kube][rest]") {
  FakeClock clock;
  ClientOptions options;
  options.clock = &clock;
  ApiFixture f({}, options);
  auto cfg = LoadKubeconfig(f.server().KubeconfigFile());
  REQUIRE(cfg.ok());
  cfg->qps = 2;
  cfg->burst = 1;
  auto client = RestClient::New(*cfg, options);
  REQUIRE(client.ok());
  auto t0 = clock.Now();
  for (int i = 0; i < 5; ++i) REQUIRE((*client)->GetPath("/api/v1").ok());
  CHECK(clock.Now() - t0 == std::chrono::seconds(2));
}

TEST_CASE("A token file is re-read after a 401", "[kube][rest]") {
  ApiFixture f;
  TempDir dir;
  std::string token_file = dir.Write("token", "wrong-token");
  auto cfg = LoadKubeconfig(f.server().KubeconfigFile());
  REQUIRE(cfg.ok());
  cfg->bearer_token.clear();
  cfg->bearer_token_file = token_file;
  auto client = RestClient::New(*cfg);
  REQUIRE(client.ok());
  auto denied = (*client)->GetPath("/api/v1");
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().reason() == Reason::kUnauthorized);

  dir.Write("token", f.server().Token());  // "rotation"
  REQUIRE((*client)->GetPath("/api/v1").ok());
}

TEST_CASE("A kubeconfig exec plugin supplies the token, and is run again after a 401",
          "[kube][rest][exec]") {
  ApiFixture f;
  TempDir dir;
  // First run: a token the server refuses (revoked); later runs: the real one.
  std::string runs = dir.path() + "/runs";
  std::string plugin = dir.Write(
      "bin/get-token",
      "#!/bin/sh\necho run >> " + runs + "\n"
      "if [ $(wc -l < " + runs + ") -eq 1 ]; then t=revoked; else t=" + f.server().Token() + "; fi\n"
      "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
      "\"status\":{\"token\":\"%s\"}}' \"$t\"\n");
  std::filesystem::permissions(plugin, std::filesystem::perms::owner_all);
  // The server's kubeconfig with its user replaced by the plugin.
  YAML::Node kc = YAML::Load(srexpert::kube::testing::ReadFile(f.server().KubeconfigFile()));
  YAML::Node user;
  user["exec"]["apiVersion"] = "client.authentication.k8s.io/v1";
  user["exec"]["command"] = "./bin/get-token";
  user["exec"]["interactiveMode"] = "Never";
  kc["users"][0]["user"] = user;
  YAML::Emitter out;
  out << kc;
  std::string file = dir.Write("kubeconfig", out.c_str());

  auto cfg = LoadKubeconfig(file);
  REQUIRE(cfg.ok());
  REQUIRE(cfg->exec);
  CHECK(cfg->bearer_token.empty());
  auto client = RestClient::New(*cfg);  // runs the plugin once (fail fast)
  REQUIRE(client.ok());
  REQUIRE((*client)->GetPath("/api/v1").ok());  // 401, plugin again, retried
  REQUIRE((*client)->GetPath("/api/v1").ok());  // cached: no new run
  std::string all = srexpert::kube::testing::ReadFile(runs);
  CHECK(std::count(all.begin(), all.end(), '\n') == 2);
}

TEST_CASE("TLS: a wrong CA fails verification, insecure skips it, bad PEM is a config error",
          "[kube][rest]") {
  ApiFixture f;
  auto cfg = LoadKubeconfig(f.server().KubeconfigFile());
  REQUIRE(cfg.ok());

  // Trust only a CA that did not sign the server's certificate.
  srexpert::testing::ApiServer other;
  other.Start();
  auto other_cfg = LoadKubeconfig(other.KubeconfigFile());
  REQUIRE(other_cfg.ok());
  RestConfig wrong_ca = *cfg;
  wrong_ca.ca_pem = other_cfg->ca_pem;
  ClientOptions one_try;
  one_try.retry.max_attempts = 1;
  auto c1 = RestClient::New(wrong_ca, one_try);
  REQUIRE(c1.ok());
  auto r1 = (*c1)->GetPath("/api/v1");
  REQUIRE_FALSE(r1.ok());
  CHECK(r1.error().reason() == Reason::kTransport);

  RestConfig insecure = wrong_ca;
  insecure.ca_pem.clear();
  insecure.insecure_skip_tls_verify = true;
  auto c2 = RestClient::New(insecure);
  REQUIRE(c2.ok());
  CHECK((*c2)->GetPath("/api/v1").ok());

  RestConfig bad_pem = *cfg;
  bad_pem.ca_pem = "-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n";
  auto c3 = RestClient::New(bad_pem);
  REQUIRE_FALSE(c3.ok());
  CHECK(c3.error().reason() == Reason::kConfig);
  CHECK_THAT(c3.error().message(), Catch::Contains("certificate authority"));
}

TEST_CASE("Server-side apply creates, merges, removes dropped fields, conflicts and forces",
          "[kube][rest][ssa]") {
  ApiFixture f;
  f.CreateNamespace("ssa");
  PatchOptions op;
  op.field_manager = "srexpert-operator";
  auto first = f.client().Apply(f.ConfigMap("ssa", "s", R"({"a":"1","b":"2"})"), op);
  REQUIRE(first.ok());  // create-or-merge: the object did not exist
  CHECK(json::GetString(*first, {"data", "a"}) == "1");
  const auto* mf = json::Find(*first, {"metadata", "managedFields"});
  REQUIRE(mf);
  REQUIRE(mf->IsArray());
  bool recorded = false;
  for (const auto& entry : mf->GetArray()) {
    recorded |= json::GetString(entry, {"manager"}) == "srexpert-operator" &&
                json::GetString(entry, {"operation"}) == "Apply";
  }
  CHECK(recorded);

  // Re-applying without "b" removes it: this manager no longer wants it.
  auto second = f.client().Apply(f.ConfigMap("ssa", "s", R"({"a":"1"})"), op);
  REQUIRE(second.ok());
  CHECK_FALSE(json::Find(*second, {"data", "b"}));

  // Another manager setting the same field to a different value conflicts.
  PatchOptions other;
  other.field_manager = "someone-else";
  auto conflict = f.client().Apply(f.ConfigMap("ssa", "s", R"({"a":"9"})"), other);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().IsConflict());
  CHECK_FALSE(conflict.error().retryable());
  CHECK_THAT(conflict.error().message(), Catch::Contains("srexpert-operator"));

  other.force = true;
  auto forced = f.client().Apply(f.ConfigMap("ssa", "s", R"({"a":"9"})"), other);
  REQUIRE(forced.ok());
  CHECK(json::GetString(*forced, {"data", "a"}) == "9");

  PatchOptions nameless;
  auto refused = f.client().Apply(f.ConfigMap("ssa", "s"), nameless);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().reason() == Reason::kBadRequest);
}

TEST_CASE("Apply to the status subresource leaves spec alone", "[kube][rest][ssa]") {
  ApiFixture f;
  f.CreateNamespace("ssa-status");
  auto dep = Json(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"ssa-status"},
    "spec":{"replicas":2,"selector":{"matchLabels":{"app":"d"}},
      "template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}})");
  PatchOptions op;
  op.field_manager = "srexpert-operator";
  REQUIRE(f.client().Apply(dep, op).ok());
  PatchOptions status_op = op;
  status_op.subresource = "status";
  auto status = Json(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"ssa-status"},
    "spec":{"replicas":7},"status":{"observedGeneration":1}})");
  auto r = f.client().Apply(status, status_op);
  REQUIRE(r.ok());
  CHECK(json::GetInt(*r, {"status", "observedGeneration"}) == 1);
  CHECK(json::GetInt(*r, {"spec", "replicas"}) == 2);
}

TEST_CASE("Connection failures are retried for safe verbs and surface as Transport",
          "[kube][rest][retry]") {
  ApiFixture f;
  auto cfg = LoadKubeconfig(f.server().KubeconfigFile());
  REQUIRE(cfg.ok());
  FakeClock clock;
  ClientOptions options;
  options.clock = &clock;
  options.retry.max_attempts = 3;
  auto client = RestClient::New(*cfg, options);
  REQUIRE(client.ok());
  REQUIRE((*client)->Resolve("v1", "ConfigMap").ok());  // discovery cached
  f.server().Stop();  // nothing listens on that port any more
  auto t0 = clock.Now();
  auto r = (*client)->GetPath("/api/v1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kTransport);
  CHECK(r.error().retryable());
  CHECK((*client)->metrics().Count("get", 0) == 3);
  CHECK(clock.Now() > t0);  // backed off between attempts

  auto created = (*client)->Create(f.ConfigMap("x", "y"));
  REQUIRE_FALSE(created.ok());
  CHECK(created.error().reason() == Reason::kTransport);
  CHECK((*client)->metrics().Count("create", 0) == 1);  // a create is never replayed
  auto listed = (*client)->List({"v1", "ConfigMap", "x", ""});
  REQUIRE_FALSE(listed.ok());
  CHECK((*client)->metrics().Count("list", 0) == 3);
}

namespace {

rapidjson::Document PodDoc(const std::string& ns, const std::string& name) {
  return Json(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
              R"(","namespace":")" + ns +
              R"("},"spec":{"containers":[{"name":"c","image":"busybox"}]}})");
}

rapidjson::Document EvictionDoc(const std::string& ns, const std::string& name) {
  return Json(R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":")" + name +
              R"(","namespace":")" + ns + R"("}})");
}

Fault EvictionFault(const std::string& ns, const std::string& name, int code, int retry_after,
                    int times) {
  return {Fault::Kind::kStatus, "create",
          "/api/v1/namespaces/" + ns + "/pods/" + name + "/eviction", code, retry_after, {}, times};
}

}  // namespace

TEST_CASE("CreateSubresource posts to the object's subresource", "[kube][rest][subresource]") {
  ApiFixture f;
  f.CreateNamespace("sub");
  REQUIRE(f.client().Create(PodDoc("sub", "p")).ok());

  auto r = f.client().CreateSubresource({"v1", "Pod", "sub", "p"}, "eviction",
                                        EvictionDoc("sub", "p"));
  REQUIRE(r.ok());
  CHECK(json::GetString(*r, {"kind"}) == "Status");
  auto gone = f.client().Get({"v1", "Pod", "sub", "p"});
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().IsNotFound());

  // The subresource's own errors come back typed: the pod is gone now.
  auto again = f.client().CreateSubresource({"v1", "Pod", "sub", "p"}, "eviction",
                                            EvictionDoc("sub", "p"));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().IsNotFound());
}

TEST_CASE("CreateSubresource refuses a call without name, subresource or object body",
          "[kube][rest][subresource]") {
  ApiFixture f;
  auto body = EvictionDoc("sub", "p");
  auto no_name = f.client().CreateSubresource({"v1", "Pod", "sub", ""}, "eviction", body);
  REQUIRE_FALSE(no_name.ok());
  CHECK(no_name.error().reason() == Reason::kBadRequest);
  CHECK(no_name.error().message().find("name is required") != std::string::npos);
  auto no_sub = f.client().CreateSubresource({"v1", "Pod", "sub", "p"}, "", body);
  REQUIRE_FALSE(no_sub.ok());
  CHECK(no_sub.error().message().find("subresource is required") != std::string::npos);
  auto not_object = f.client().CreateSubresource({"v1", "Pod", "sub", "p"}, "eviction",
                                                 Json("[1]"));
  REQUIRE_FALSE(not_object.ok());
  CHECK(not_object.error().message().find("not an object") != std::string::npos);
  CHECK(f.server().RequestCount("create") == 0);
}

TEST_CASE("CreateSubresource with a deadline retries 429 past max_attempts, never past the deadline",
          "[kube][rest][subresource][retry]") {
  FakeClock clock;
  RandomSource random(5);
  ApiFixture f({}, OnClock(clock, random));
  f.CreateNamespace("sub");
  REQUIRE(f.client().Create(PodDoc("sub", "p")).ok());

  SECTION("a Retry-After within the deadline is waited out and the call succeeds") {
    f.server().AddFault(EvictionFault("sub", "p", 429, 2, 2));
    SubresourceOptions o;
    o.write.bounds.deadline = clock.Now() + std::chrono::seconds(30);
    auto t0 = clock.Now();
    auto r = f.client().CreateSubresource({"v1", "Pod", "sub", "p"}, "eviction",
                                          EvictionDoc("sub", "p"), o);
    REQUIRE(r.ok());
    CHECK(clock.Now() - t0 >= std::chrono::seconds(4));
    CHECK(f.client().metrics().Count("create", 429) == 2);
  }

  SECTION("persistent 429s are retried more than max_attempts times until the deadline") {
    f.server().AddFault(EvictionFault("sub", "p", 429, 1, -1));
    SubresourceOptions o;
    auto deadline = clock.Now() + std::chrono::seconds(20);
    o.write.bounds.deadline = deadline;
    auto r = f.client().CreateSubresource({"v1", "Pod", "sub", "p"}, "eviction",
                                          EvictionDoc("sub", "p"), o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason() == Reason::kTooManyRequests);
    CHECK(f.client().metrics().Count("create", 429) > 5);
    CHECK(clock.Now() < deadline);
  }

  SECTION("a Retry-After past the deadline returns the 429 at once") {
    f.server().AddFault(EvictionFault("sub", "p", 429, 30, -1));
    SubresourceOptions o;
    o.write.bounds.deadline = clock.Now() + std::chrono::seconds(10);
    auto t0 = clock.Now();
    auto wall0 = std::chrono::steady_clock::now();
    auto r = f.client().CreateSubresource({"v1", "Pod", "sub", "p"}, "eviction",
                                          EvictionDoc("sub", "p"), o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason() == Reason::kTooManyRequests);
    CHECK(r.error().retry_after() == std::chrono::seconds(30));
    CHECK(clock.Now() == t0);  // no wait started
    CHECK(std::chrono::steady_clock::now() - wall0 < std::chrono::seconds(5));
    CHECK(f.client().metrics().Count("create", 429) == 1);
  }

  f.server().ClearFaults();
}

TEST_CASE("CreateSubresource retries 5xx only when the caller says a replay is safe",
          "[kube][rest][subresource][retry]") {
  FakeClock clock;
  ClientOptions options;
  options.clock = &clock;
  ApiFixture f({}, options);
  f.CreateNamespace("sub");
  REQUIRE(f.client().Create(PodDoc("sub", "p")).ok());

  f.server().AddFault(EvictionFault("sub", "p", 503, 0, 1));
  auto once = f.client().CreateSubresource({"v1", "Pod", "sub", "p"}, "eviction",
                                           EvictionDoc("sub", "p"));
  REQUIRE_FALSE(once.ok());
  CHECK(once.error().reason() == Reason::kServiceUnavailable);
  CHECK(f.client().metrics().Count("create", 503) == 1);

  f.server().AddFault(EvictionFault("sub", "p", 503, 0, 2));
  SubresourceOptions o;
  o.replay_safe = true;
  auto retried = f.client().CreateSubresource({"v1", "Pod", "sub", "p"}, "eviction",
                                              EvictionDoc("sub", "p"), o);
  REQUIRE(retried.ok());
  CHECK(f.client().metrics().Count("create", 503) == 3);
}

TEST_CASE("CreateSubresource ends with Cancelled when its cancellation fires during retries",
          "[kube][rest][subresource][retry]") {
  ApiFixture f;
  f.CreateNamespace("sub");
  REQUIRE(f.client().Create(PodDoc("sub", "p")).ok());
  f.server().AddFault(EvictionFault("sub", "p", 429, 30, -1));
  SubresourceOptions o;
  Cancellation cancel;
  o.write.bounds.cancel = cancel;
  o.write.bounds.deadline = f.client().clock().Now() + std::chrono::minutes(5);
  std::thread canceller([cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel.Cancel();
  });
  auto start = std::chrono::steady_clock::now();
  auto r = f.client().CreateSubresource({"v1", "Pod", "sub", "p"}, "eviction",
                                        EvictionDoc("sub", "p"), o);
  canceller.join();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kCancelled);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  f.server().ClearFaults();
}
