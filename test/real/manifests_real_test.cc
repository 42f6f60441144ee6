// manifests.apply (operator/actions/manifests.h) against a real
// kube-apiserver, beside a user running plain `kubectl apply --server-side`
// (field manager "kubectl"): created/configured/unchanged with diffs, a dry
// run that writes nothing, a field conflict that names the user's manager,
// force, and a shared owner of unchanged values. What the real server says
// here is what the test API server must say in test/actions/manifests_test.cc.
#include <catch2/catch.hpp>
#include <future>
#include <string>
#include <thread>

#include "actions/manifests.h"
#include "actions/process.h"
#include "common/json.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "test/actions/manifests_fixture.h"
#include "test/real/real_cluster.h"

using namespace srexpert;
using namespace srexpert::actions;
using namespace srexpert::actions::testing;

namespace {

ProcessResult Kubectl(std::vector<std::string> args, const std::string& stdin_data = "") {
  args.insert(args.begin(),
              {"/usr/bin/env", "kubectl", "--kubeconfig", srexpert::testing::real::AdminKubeconfig()});
  ProcessSpec spec;
  spec.argv = std::move(args);
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp"};
  spec.stdin_data = stdin_data;
  spec.timeout = std::chrono::seconds(120);
  return RunProcess(spec);
}

std::string Action(const json::Document& result, size_t i) {
  return json::GetString(ObjectAt(result, i), {"action"});
}

const json::Value* DiffAt(const json::Value& o, const std::string& path) {
  for (const auto& e : json::Find(o, {"diff"})->GetArray()) {
    if (json::GetString(e, {"path"}) == path) return &e;
  }
  return nullptr;
}

std::string ConfigMapYaml(const std::string& ns, const std::string& name,
                          const std::string& value) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
         "\ndata:\n  greeting: \"" + value + "\"\n";
}

std::string DeploymentYaml(const std::string& ns, const std::string& image) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: " + ns +
         "\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: web\n  template:\n"
         "    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n"
         "      - name: web\n        image: " +
         image + "\n";
}

std::string Greeting(const std::string& ns, const std::string& name) {
  auto r = Kubectl({"get", "configmap", name, "-n", ns, "-o", "jsonpath={.data.greeting}"});
  return r.ok() ? r.out : "<absent>";
}

struct World {
  std::shared_ptr<kube::RestClient> client;
  std::string ns;
  std::unique_ptr<ActionRegistry> registry;

  explicit World(const std::string& namespace_name) : ns(namespace_name) {
    auto c = srexpert::testing::real::AdminClient();
    REQUIRE(c.ok());
    client = *c;
    Kubectl({"delete", "namespace", ns, "--wait=true", "--ignore-not-found"});
    auto created = Kubectl({"create", "namespace", ns});
    INFO(created.err);
    REQUIRE(created.ok());
    ActionPolicy policy;
    policy.switches = {{"applyManifests", true}};
    policy.agent_namespace = "srexpert-system";
    registry = std::make_unique<ActionRegistry>(policy, client);
    registry->Register(ManifestsApplyKind(client));
  }
  ~World() {
    registry.reset();
    Kubectl({"delete", "namespace", ns, "--wait=false"});
  }
};

}  // namespace

TEST_CASE("manifests.apply on kube-apiserver: created, unchanged, configured, dry run",
          "[real][manifests]") {
  World w("manifests-real-apply");
  std::string v1 =
      ConfigMapYaml(w.ns, "settings", "hello") + "---\n" + DeploymentYaml(w.ns, "nginx:1.25");
  auto created = ResultOf(CallApply(*w.registry, "a1", ManifestsPayload(v1)));
  CHECK(Action(created, 0) == "created");
  CHECK(Action(created, 1) == "created");
  CHECK(Greeting(w.ns, "settings") == "hello");
  auto managers = Kubectl({"get", "deployment", "web", "-n", w.ns, "--show-managed-fields", "-o",
                           "jsonpath={.metadata.managedFields[*].manager}"});
  CHECK(managers.out.find("srexpert-agent") != std::string::npos);

  // The deployment controller annotates a new Deployment with its revision
  // right after creation; a re-apply racing that write would rightly report
  // the annotation as a change it did not make. Wait for it first.
  bool settled = false;
  for (int i = 0; i < 300 && !settled; ++i) {
    auto d = w.client->Get({"apps/v1", "Deployment", w.ns, "web"});
    settled =
        d.ok() && json::Find(*d, {"metadata", "annotations", "deployment.kubernetes.io/revision"});
    if (!settled) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(settled);

  // The same manifests again: the server writes nothing (status writes by
  // the controller in between are not ours and are not reported).
  auto same = ResultOf(CallApply(*w.registry, "a2", ManifestsPayload(v1)));
  CHECK(Action(same, 0) == "unchanged");
  CHECK(Action(same, 1) == "unchanged");
  CHECK(json::Find(ObjectAt(same, 1), {"diff"})->Empty());

  // A dry run of a change: reported, not written.
  auto rv_before = Kubectl(
      {"get", "configmap", "settings", "-n", w.ns, "-o", "jsonpath={.metadata.resourceVersion}"});
  std::string v2 = ConfigMapYaml(w.ns, "settings", "bonjour") + "---\n" +
                   DeploymentYaml(w.ns, "nginx:1.27") + "---\n" +
                   ConfigMapYaml(w.ns, "fresh", "new");
  auto dry = ResultOf(CallApply(*w.registry, "a3", ManifestsPayload(v2, /*dry_run=*/true)));
  CHECK(json::GetBool(dry, {"dryRun"}));
  CHECK(Action(dry, 0) == "configured");
  const auto* greeting = DiffAt(ObjectAt(dry, 0), "/data/greeting");
  REQUIRE(greeting != nullptr);
  CHECK(json::GetString(*greeting, {"old"}) == "hello");
  CHECK(json::GetString(*greeting, {"new"}) == "bonjour");
  CHECK(json::Find(ObjectAt(dry, 0), {"diff"})->Size() == 1);
  CHECK(Action(dry, 1) == "configured");
  CHECK(DiffAt(ObjectAt(dry, 1), "/spec/template/spec/containers/0/image") != nullptr);
  CHECK(Action(dry, 2) == "created");
  CHECK(Greeting(w.ns, "settings") == "hello");
  CHECK(Greeting(w.ns, "fresh") == "<absent>");
  auto rv_after = Kubectl(
      {"get", "configmap", "settings", "-n", w.ns, "-o", "jsonpath={.metadata.resourceVersion}"});
  CHECK(rv_after.out == rv_before.out);

  // The same change for real.
  auto applied = ResultOf(CallApply(*w.registry, "a4", ManifestsPayload(v2)));
  CHECK(Action(applied, 0) == "configured");
  CHECK(Action(applied, 1) == "configured");
  const auto* image = DiffAt(ObjectAt(applied, 1), "/spec/template/spec/containers/0/image");
  REQUIRE(image != nullptr);
  CHECK(json::GetString(*image, {"old"}) == "nginx:1.25");
  CHECK(json::GetString(*image, {"new"}) == "nginx:1.27");
  CHECK(Action(applied, 2) == "created");
  CHECK(Greeting(w.ns, "settings") == "bonjour");
  CHECK(Greeting(w.ns, "fresh") == "new");
}

TEST_CASE("manifests.apply on kube-apiserver: conflicts name kubectl, force takes ownership",
          "[real][manifests]") {
  World w("manifests-real-conflict");
  // A user's server-side apply: field manager "kubectl".
  auto user =
      Kubectl({"apply", "--server-side", "-f", "-"}, ConfigMapYaml(w.ns, "settings", "theirs"));
  INFO(user.err);
  REQUIRE(user.ok());

  std::string ours =
      ConfigMapYaml(w.ns, "other", "x") + "---\n" + ConfigMapYaml(w.ns, "settings", "ours");
  auto conflict = CallApply(*w.registry, "k1", ManifestsPayload(ours));
  REQUIRE_FALSE(conflict.ok);
  CHECK(conflict.error.code == "conflict");
  INFO(conflict.error.message);
  CHECK(conflict.error.message.find("\"kubectl\"") != std::string::npos);
  CHECK(conflict.error.message.find(".data.greeting") != std::string::npos);
  // The preflight caught it: document 1 was not written either.
  CHECK(Greeting(w.ns, "other") == "<absent>");
  CHECK(Greeting(w.ns, "settings") == "theirs");

  auto dry_forced = ResultOf(CallApply(*w.registry, "k2", ManifestsPayload(ours, true, true)));
  CHECK(Action(dry_forced, 1) == "configured");
  CHECK(Greeting(w.ns, "settings") == "theirs");

  auto forced = ResultOf(CallApply(*w.registry, "k3", ManifestsPayload(ours, false, true)));
  CHECK(Action(forced, 0) == "created");
  CHECK(Action(forced, 1) == "configured");
  CHECK(Greeting(w.ns, "settings") == "ours");
}

TEST_CASE("manifests.apply on kube-apiserver: the same values from a new owner",
          "[real][manifests]") {
  World w("manifests-real-owner");
  auto user = Kubectl({"apply", "--server-side", "-f", "-"}, ConfigMapYaml(w.ns, "shared", "same"));
  INFO(user.err);
  REQUIRE(user.ok());
  // No value changes, so no conflict; srexpert-agent becomes a co-owner,
  // which is a write: configured with an empty diff, in the dry run too.
  auto dry = ResultOf(CallApply(*w.registry, "o1", ManifestsPayload(ConfigMapYaml(w.ns, "shared", "same"), true)));
  CHECK(Action(dry, 0) == "configured");
  CHECK(json::Find(ObjectAt(dry, 0), {"diff"})->Empty());
  auto real = ResultOf(CallApply(*w.registry, "o2", ManifestsPayload(ConfigMapYaml(w.ns, "shared", "same"))));
  CHECK(Action(real, 0) == "configured");
  CHECK(json::Find(ObjectAt(real, 0), {"diff"})->Empty());
  auto again = ResultOf(CallApply(*w.registry, "o3", ManifestsPayload(ConfigMapYaml(w.ns, "shared", "same"))));
  CHECK(Action(again, 0) == "unchanged");
}

TEST_CASE("manifests.apply on kube-apiserver: get, create and patch are the verbs it needs",
          "[real][manifests]") {
  // The permission catalogue's rule for applyManifests, checked with a
  // ServiceAccount that has only these verbs: apply that creates an object
  // is authorized as create, apply of an existing one as patch, the live
  // read as get. Without create, a new object is refused `forbidden`.
  World w("manifests-real-rbac");
  const std::string rbac =
      "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: applier\n  namespace: " + w.ns +
      "\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: apply\n"
      "  namespace: " +
      w.ns +
      "\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n"
      "  verbs: [get, create, patch]\n"
      "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: no-create\n"
      "  namespace: " +
      w.ns +
      "\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n"
      "  verbs: [get, patch]\n"
      "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: patcher\n  namespace: " +
      w.ns +
      "\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: "
      "applier\n"
      "  namespace: " +
      w.ns +
      "\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n"
      "  name: apply\nsubjects:\n- kind: ServiceAccount\n  name: applier\n  namespace: " +
      w.ns +
      "\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: "
      "patcher\n"
      "  namespace: " +
      w.ns +
      "\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n"
      "  name: no-create\nsubjects:\n- kind: ServiceAccount\n  name: patcher\n  namespace: " +
      w.ns + "\n";
  auto setup = Kubectl({"apply", "-f", "-"}, rbac);
  INFO(setup.err);
  REQUIRE(setup.ok());

  auto client_as = [&](const std::string& sa) {
    auto token = Kubectl({"create", "token", sa, "-n", w.ns});
    INFO(token.err);
    REQUIRE(token.ok());
    auto cfg = kube::LoadKubeconfig(srexpert::testing::real::AdminKubeconfig());
    REQUIRE(cfg.ok());
    cfg->client_cert_pem.clear();
    cfg->client_key_pem.clear();
    cfg->bearer_token = token.out.substr(0, token.out.find_last_not_of("\r\n") + 1);
    cfg->qps = 0;
    auto c = kube::RestClient::New(*cfg);
    REQUIRE(c.ok());
    return *c;
  };
  ActionPolicy policy;
  policy.switches = {{"applyManifests", true}};
  policy.agent_namespace = "srexpert-system";

  auto applier = client_as("applier");
  ActionRegistry as_applier(policy, applier);
  as_applier.Register(ManifestsApplyKind(applier));
  auto created = ResultOf(CallApply(as_applier, "r1", ManifestsPayload(ConfigMapYaml(w.ns, "settings", "one"))));
  CHECK(Action(created, 0) == "created");
  auto dry = ResultOf(CallApply(as_applier, "r2", ManifestsPayload(ConfigMapYaml(w.ns, "settings", "two"), true)));
  CHECK(Action(dry, 0) == "configured");
  auto configured = ResultOf(CallApply(as_applier, "r3", ManifestsPayload(ConfigMapYaml(w.ns, "settings", "two"))));
  CHECK(Action(configured, 0) == "configured");
  CHECK(Greeting(w.ns, "settings") == "two");

  auto patcher = client_as("patcher");
  ActionRegistry as_patcher(policy, patcher);
  as_patcher.Register(ManifestsApplyKind(patcher));
  auto updated = ResultOf(CallApply(as_patcher, "p1", ManifestsPayload(ConfigMapYaml(w.ns, "settings", "three"))));
  CHECK(Action(updated, 0) == "configured");
  auto refused = CallApply(as_patcher, "p2", ManifestsPayload(ConfigMapYaml(w.ns, "brand-new", "x")));
  CHECK_FALSE(refused.ok);
  CHECK(refused.error.code == "forbidden");
  // kube-apiserver's patch handler authorizes the implied create itself and
  // words it `configmaps "brand-new" is forbidden: ` with RBAC's empty reason.
  CHECK(refused.error.message.find("\"brand-new\" is forbidden") != std::string::npos);
  CHECK(Greeting(w.ns, "brand-new") == "<absent>");
}
