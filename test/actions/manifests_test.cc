// manifests.apply (operator/actions/manifests.h) against the loopback test
// API server: created/configured/unchanged with diffs, dry run, field
// conflicts with and without force, the preflight that leaves nothing half
// applied, and every refusal before the first API call.
#include "actions/manifests.h"

#include <catch2/catch.hpp>
#include <future>

#include "test/actions/manifests_fixture.h"
#include "test/kube/api_fixture.h"

using namespace srexpert;
using namespace srexpert::actions;
using srexpert::kube::testing::ApiFixture;
using srexpert::kube::testing::Json;
using namespace srexpert::actions::testing;

namespace {

// The diff entry at `path` of object `o`, or nullptr.
const json::Value* DiffAt(const json::Value& o, const std::string& path) {
  const auto* diff = json::Find(o, {"diff"});
  if (!diff || !diff->IsArray()) return nullptr;
  for (const auto& e : diff->GetArray()) {
    if (json::GetString(e, {"path"}) == path) return &e;
  }
  return nullptr;
}

std::string ConfigMapYaml(const std::string& ns, const std::string& name,
                          const std::string& value) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
         "\ndata:\n  greeting: \"" + value + "\"\n";
}

const char kDeploymentYaml[] = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: team-a
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
)";

std::string Greeting(ApiFixture& f, const std::string& ns, const std::string& name) {
  auto cm = f.client().Get({"v1", "ConfigMap", ns, name});
  if (!cm) return "<" + std::string(kube::ReasonName(cm.error().reason())) + ">";
  return json::GetString(*cm, {"data", "greeting"});
}

ActionPolicy Policy() {
  ActionPolicy p;
  p.switches = {{"applyManifests", true}};
  p.agent_namespace = "srexpert";
  return p;
}

uint64_t ApiRequests(ApiFixture& f) {
  uint64_t n = 0;
  for (const char* verb : {"get", "list", "create", "update", "patch", "delete", "watch"}) {
    n += f.server().RequestCount(verb);
  }
  return n;
}

// The test API server with namespace team-a and a registry that runs
// manifests.apply under Policy().
class ApplyFixture {
 protected:
  ApplyFixture() {
    f.CreateNamespace("team-a");
    r.Register(ManifestsApplyKind(f.shared_client()));
  }

  // What a user's `kubectl apply --server-side` of `object_json` does: the
  // fields become manager "kubectl"'s.
  void ApplyAsKubectl(const std::string& object_json) {
    kube::PatchOptions theirs;
    theirs.field_manager = "kubectl";
    REQUIRE(f.client().Apply(Json(object_json), theirs).ok());
  }

  ApiFixture f;
  ActionRegistry r{Policy(), f.shared_client()};
};

}  // namespace

TEST_CASE_METHOD(ApplyFixture, "manifests.apply creates, then reports unchanged, then configured with a diff",
          "[actions][manifests]") {

  std::string both = ConfigMapYaml("team-a", "settings", "hello") + "---\n" + kDeploymentYaml;
  auto created = ResultOf(CallApply(r, "c1", ManifestsPayload(both)));
  CHECK_FALSE(json::GetBool(created, {"dryRun"}, true));
  CHECK(json::GetString(ObjectAt(created, 0), {"action"}) == "created");
  CHECK(json::GetString(ObjectAt(created, 0), {"kind"}) == "ConfigMap");
  CHECK(json::GetString(ObjectAt(created, 0), {"namespace"}) == "team-a");
  CHECK(json::GetString(ObjectAt(created, 1), {"action"}) == "created");
  CHECK(json::GetString(ObjectAt(created, 1), {"name"}) == "web");
  CHECK(Greeting(f, "team-a", "settings") == "hello");
  auto dep = f.client().Get({"apps/v1", "Deployment", "team-a", "web"});
  REQUIRE(dep.ok());
  const auto* mf = json::Find(*dep, {"metadata", "managedFields"});
  REQUIRE(mf != nullptr);
  CHECK(json::GetString((*mf)[0], {"manager"}) == "srexpert-agent");
  CHECK(json::GetString((*mf)[0], {"operation"}) == "Apply");

  auto same = ResultOf(CallApply(r, "c2", ManifestsPayload(both)));
  CHECK(json::GetString(ObjectAt(same, 0), {"action"}) == "unchanged");
  CHECK(json::Find(ObjectAt(same, 0), {"diff"})->Empty());
  CHECK(json::GetString(ObjectAt(same, 1), {"action"}) == "unchanged");

  std::string changed =
      ConfigMapYaml("team-a", "settings", "bonjour") + "---\n" + std::string(kDeploymentYaml);
  // The image of the one container changes too.
  changed.replace(changed.find("nginx:1.25"), 10, "nginx:1.27");
  auto configured = ResultOf(CallApply(r, "c3", ManifestsPayload(changed)));
  const auto& cm = ObjectAt(configured, 0);
  CHECK(json::GetString(cm, {"action"}) == "configured");
  const auto* entry = DiffAt(cm, "/data/greeting");
  REQUIRE(entry != nullptr);
  CHECK(json::GetString(*entry, {"old"}) == "hello");
  CHECK(json::GetString(*entry, {"new"}) == "bonjour");
  CHECK(json::Find(cm, {"diff"})->Size() == 1);  // no bookkeeping in the diff
  const auto& d = ObjectAt(configured, 1);
  CHECK(json::GetString(d, {"action"}) == "configured");
  const auto* image = DiffAt(d, "/spec/template/spec/containers/0/image");
  REQUIRE(image != nullptr);
  CHECK(json::GetString(*image, {"old"}) == "nginx:1.25");
  CHECK(json::GetString(*image, {"new"}) == "nginx:1.27");
  CHECK(Greeting(f, "team-a", "settings") == "bonjour");

  // Events on every target (the registry's audit).
  auto events = f.client().List({"v1", "Event", "team-a", ""});
  REQUIRE(events.ok());
  int for_settings = 0;
  for (const auto& e : (*events)["items"].GetArray()) {
    if (json::GetString(e, {"reason"}) == "SRExpertAction" &&
        json::GetString(e, {"involvedObject", "name"}) == "settings") {
      ++for_settings;
    }
  }
  CHECK(for_settings >= 1);
}

TEST_CASE_METHOD(ApplyFixture, "manifests.apply dry run reports what would change and changes nothing",
          "[actions][manifests]") {
  ResultOf(CallApply(r, "setup", ManifestsPayload(ConfigMapYaml("team-a", "settings", "hello"))));
  auto before = f.client().Get({"v1", "ConfigMap", "team-a", "settings"});
  REQUIRE(before.ok());

  std::string docs = ConfigMapYaml("team-a", "settings", "changed") + "---\n" +
                     ConfigMapYaml("team-a", "fresh", "new");
  auto dry = ResultOf(CallApply(r, "d1", ManifestsPayload(docs, /*dry_run=*/true)));
  CHECK(json::GetBool(dry, {"dryRun"}));
  CHECK(json::GetString(ObjectAt(dry, 0), {"action"}) == "configured");
  const auto* entry = DiffAt(ObjectAt(dry, 0), "/data/greeting");
  REQUIRE(entry != nullptr);
  CHECK(json::GetString(*entry, {"old"}) == "hello");
  CHECK(json::GetString(*entry, {"new"}) == "changed");
  CHECK(json::GetString(ObjectAt(dry, 1), {"action"}) == "created");

  // Verified by GET: nothing was written.
  auto after = f.client().Get({"v1", "ConfigMap", "team-a", "settings"});
  REQUIRE(after.ok());
  CHECK(json::GetString(*after, {"data", "greeting"}) == "hello");
  CHECK(json::GetString(*after, {"metadata", "resourceVersion"}) ==
        json::GetString(*before, {"metadata", "resourceVersion"}));
  CHECK(Greeting(f, "team-a", "fresh") == "<NotFound>");

  // The same manifest as already applied: unchanged in the dry run too.
  auto same = ResultOf(CallApply(r, "d2", ManifestsPayload(ConfigMapYaml("team-a", "settings", "hello"), true)));
  CHECK(json::GetString(ObjectAt(same, 0), {"action"}) == "unchanged");
}

TEST_CASE_METHOD(ApplyFixture, "manifests.apply field conflicts name the manager and force takes ownership",
          "[actions][manifests]") {
  // Another manager (a user's kubectl apply --server-side) owns data.greeting.
  ApplyAsKubectl(
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"team-a"},"data":{"greeting":"theirs"}})");

  // Document 1 would apply cleanly, document 2 conflicts: the preflight
  // stops before either is written.
  std::string docs =
      ConfigMapYaml("team-a", "other", "x") + "---\n" + ConfigMapYaml("team-a", "settings", "ours");
  auto conflict = CallApply(r, "k1", ManifestsPayload(docs));
  REQUIRE_FALSE(conflict.ok);
  CHECK(conflict.error.code == "conflict");
  INFO(conflict.error.message);
  CHECK(conflict.error.message.find("\"kubectl\"") != std::string::npos);
  CHECK(conflict.error.message.find(".data.greeting") != std::string::npos);
  CHECK(conflict.error.message.find("ConfigMap team-a/settings") != std::string::npos);
  CHECK(Greeting(f, "team-a", "settings") == "theirs");
  CHECK(Greeting(f, "team-a", "other") == "<NotFound>");

  auto forced = ResultOf(CallApply(r, "k2", ManifestsPayload(docs, false, /*force=*/true)));
  CHECK(json::GetString(ObjectAt(forced, 0), {"action"}) == "created");
  CHECK(json::GetString(ObjectAt(forced, 1), {"action"}) == "configured");
  const auto* entry = DiffAt(ObjectAt(forced, 1), "/data/greeting");
  REQUIRE(entry != nullptr);
  CHECK(json::GetString(*entry, {"old"}) == "theirs");
  CHECK(Greeting(f, "team-a", "settings") == "ours");
}

TEST_CASE("manifests.apply refusals happen before any API call", "[actions][manifests]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  auto policy = Policy();
  policy.namespaces = {"team-a"};
  ActionRegistry r(policy, f.shared_client());
  r.Register(ManifestsApplyKind(f.shared_client()));
  f.server().ResetRequestCounts();

  auto code = [&](const std::string& id, const std::string& payload) {
    auto resp = CallApply(r, id, payload);
    INFO(id << ": " << resp.error.message);
    CHECK_FALSE(resp.ok);
    return resp.error.code;
  };
  const std::string secret =
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: team-a\nstringData:\n  "
      "password: hunter2\n";
  // A disallowed kind after an allowed one: the whole request is refused.
  CHECK(code("secret", ManifestsPayload(ConfigMapYaml("team-a", "a", "1") + "---\n" + secret)) == "invalid");
  CHECK(code("role", ManifestsPayload("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  "
                             "name: r\n  namespace: team-a\n")) == "invalid");
  CHECK(code("ns", ManifestsPayload("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: evil\n")) ==
        "invalid");
  CHECK(
      code(
          "crd",
          ManifestsPayload(
              R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"x.example.com"}})")) ==
      "invalid");
  CHECK(code("protected", ManifestsPayload(ConfigMapYaml("kube-system", "a", "1"))) == "forbidden");
  CHECK(code("agent", ManifestsPayload(ConfigMapYaml("srexpert", "a", "1"))) == "forbidden");
  CHECK(code("outside", ManifestsPayload(ConfigMapYaml("team-b", "a", "1"))) == "forbidden");
  CHECK(code("no-namespace",
             ManifestsPayload("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {}\n")) ==
        "invalid");
  CHECK(code("generate-name", ManifestsPayload("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  "
                                      "generateName: a-\n  namespace: team-a\n")) == "invalid");
  CHECK(code("path-name", ManifestsPayload(ConfigMapYaml("team-a", "../../secrets/x", "1"))) == "invalid");
  CHECK(code("dot-name", ManifestsPayload(ConfigMapYaml("team-a", "..", "1"))) == "invalid");
  CHECK(code("upper-ns", ManifestsPayload(ConfigMapYaml("Team-A", "a", "1"))) == "invalid");
  CHECK(code("malformed", ManifestsPayload("apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n")) ==
        "invalid");
  CHECK(code("stray-comma", ManifestsPayload(ConfigMapYaml("team-a", "a", "1") + "---\n,\n")) == "invalid");
  std::string many;
  for (int i = 0; i < 101; ++i)
    many += ConfigMapYaml("team-a", "cm" + std::to_string(i), "v") + "---\n";
  CHECK(code("too-many", ManifestsPayload(many)) == "invalid");
  CHECK(code("twice", ManifestsPayload(ConfigMapYaml("team-a", "a", "1") + "---\n" +
                              ConfigMapYaml("team-a", "a", "2"))) == "invalid");
  CHECK(code("empty", ManifestsPayload("---\n# nothing\n")) == "invalid");
  CHECK(code("typo", R"({"manifests":"apiVersion: v1","dryrun":true})") == "invalid");
  CHECK(code("dry-type", R"({"manifests":"apiVersion: v1","dryRun":"yes"})") == "invalid");
  CHECK(code("no-manifests", R"({"force":true})") == "invalid");
  CHECK(code("too-big", ManifestsPayload(std::string(kMaxManifestBytes + 1, '#'))) == "invalid");
  CHECK(ApiRequests(f) == 0);

  auto off = Policy();
  off.switches["applyManifests"] = false;
  ActionRegistry disabled(off, f.shared_client());
  disabled.Register(ManifestsApplyKind(f.shared_client()));
  auto resp = CallApply(disabled, "off", ManifestsPayload(ConfigMapYaml("team-a", "a", "1")));
  CHECK(resp.error.code == "forbidden");
  CHECK(ApiRequests(f) == 0);
}

TEST_CASE("manifests.apply invalid messages say where and why", "[actions][manifests]") {
  auto parse = [](const std::string& payload) {
    ManifestsApplyPayload out;
    auto doc = json::Parse(payload);
    REQUIRE(doc);
    return ParseManifestsApplyPayload(*doc, &out);
  };
  auto secret = parse(
      ManifestsPayload(ConfigMapYaml("team-a", "a", "1") +
              "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: team-a\n"));
  CHECK(secret.find("document 2") != std::string::npos);
  CHECK(secret.find("Secret") != std::string::npos);
  CHECK(secret.find("not allowed") != std::string::npos);
  CHECK(parse(ManifestsPayload(",")).find("no progress") != std::string::npos);
  std::string many;
  for (int i = 0; i < 101; ++i)
    many += ConfigMapYaml("team-a", "cm" + std::to_string(i), "v") + "---\n";
  CHECK(parse(ManifestsPayload(many)).find("more than the limit of 100") != std::string::npos);
  CHECK(parse(ManifestsPayload("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"))
            .find("metadata.namespace") != std::string::npos);

  // JSON works too: a List's items are objects of the request.
  ManifestsApplyPayload out;
  auto list = Json(ManifestsPayload(R"({"apiVersion":"v1","kind":"List","items":[
    {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"team-a"}},
    {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"team-b"},"spec":{"podSelector":{}}}]})",
                           true, true));
  REQUIRE(ParseManifestsApplyPayload(list, &out) == "");
  REQUIRE(out.objects.size() == 2);
  CHECK(out.dry_run);
  CHECK(out.force);
  CHECK(out.objects[1].target.Key() == "networking.k8s.io/v1/NetworkPolicy/team-b/deny");
}

TEST_CASE_METHOD(ApplyFixture, "manifests.apply of a missing namespace is not_found and writes nothing",
          "[actions][manifests]") {
  auto resp = CallApply(
      r, "m",
      ManifestsPayload(ConfigMapYaml("team-a", "a", "1") + "---\n" + ConfigMapYaml("nowhere", "b", "2")));
  CHECK_FALSE(resp.ok);
  CHECK(resp.error.code == "not_found");
  CHECK(Greeting(f, "team-a", "a") == "<NotFound>");
}

TEST_CASE_METHOD(ApplyFixture, "manifests.apply retried with the same id returns the stored result",
          "[actions][manifests]") {
  auto first = CallApply(r, "same-id", ManifestsPayload(ConfigMapYaml("team-a", "settings", "v1")));
  REQUIRE(first.ok);
  CHECK(json::GetString(ObjectAt(ResultOf(first), 0), {"action"}) == "created");
  f.server().ResetRequestCounts();
  auto executions = r.executions();
  auto again = CallApply(r, "same-id", ManifestsPayload(ConfigMapYaml("team-a", "settings", "v1")));
  CHECK(again.ok);
  CHECK(again.payload == first.payload);  // still "created", not "unchanged"
  CHECK(r.executions() == executions);
  CHECK(f.server().RequestCount("patch") == 0);
}

TEST_CASE_METHOD(ApplyFixture, "manifests.apply of values another manager already set is an ownership change",
          "[actions][manifests]") {
  // kube-apiserver's behaviour (test/real/manifests_real_test.cc): no
  // conflict, srexpert-agent becomes a co-owner, which is a write.
  ApplyAsKubectl(
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shared","namespace":"team-a"},"data":{"greeting":"same"}})");
  auto dry = ResultOf(CallApply(r, "o1", ManifestsPayload(ConfigMapYaml("team-a", "shared", "same"), true)));
  CHECK(json::GetString(ObjectAt(dry, 0), {"action"}) == "configured");
  CHECK(json::Find(ObjectAt(dry, 0), {"diff"})->Empty());
  auto real = ResultOf(CallApply(r, "o2", ManifestsPayload(ConfigMapYaml("team-a", "shared", "same"))));
  CHECK(json::GetString(ObjectAt(real, 0), {"action"}) == "configured");
  CHECK(json::Find(ObjectAt(real, 0), {"diff"})->Empty());
  auto again = ResultOf(CallApply(r, "o3", ManifestsPayload(ConfigMapYaml("team-a", "shared", "same"))));
  CHECK(json::GetString(ObjectAt(again, 0), {"action"}) == "unchanged");
}

TEST_CASE_METHOD(ApplyFixture, "manifests.apply failing after the preflight says what was applied",
          "[actions][manifests]") {
  // The preflight passes; then reading document 2's live object fails (a
  // 403 injected for its path only; the preflight does not read it without
  // dryRun). Document 1 is in the cluster, document 3 was not attempted, and
  // the error says exactly that.
  srexpert::testing::Fault fault;
  fault.verb = "get";
  fault.path_prefix = "/api/v1/namespaces/team-a/configmaps/second";
  fault.code = 403;
  f.server().AddFault(fault);
  auto resp = CallApply(r, "p1",
                   ManifestsPayload(ConfigMapYaml("team-a", "first", "1") + "---\n" +
                           ConfigMapYaml("team-a", "second", "2") + "---\n" +
                           ConfigMapYaml("team-a", "third", "3")));
  REQUIRE_FALSE(resp.ok);
  CHECK(resp.error.code == "forbidden");
  INFO(resp.error.message);
  CHECK(resp.error.message.find("ConfigMap team-a/second") == 0);
  CHECK(resp.error.message.find("applied before this failure: ConfigMap team-a/first") !=
        std::string::npos);
  CHECK(resp.error.message.find("not attempted: 1") != std::string::npos);
  CHECK(Greeting(f, "team-a", "first") == "1");
  CHECK(Greeting(f, "team-a", "second") == "<NotFound>");
  CHECK(Greeting(f, "team-a", "third") == "<NotFound>");
}
