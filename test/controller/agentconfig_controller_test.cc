// The AgentConfig controller against the loopback API test server: what a
// user sees after kubectl apply, hand edits, spec changes and deletions.
#include "controller/agentconfig_controller.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <vector>

#include "api/names.h"
#include "controller/desired.h"
#include "common/log.h"
#include "common/time_format.h"
#include "test/kube/api_fixture.h"

using namespace srexpert;
using namespace std::chrono_literals;
using kube::testing::ApiFixture;
using kube::testing::Eventually;
using kube::testing::Json;

namespace {

constexpr const char* kNs = "srexpert-system";
constexpr const char* kToken = "tok-0123456789abcdef";
const kube::ObjectRef kAgentConfig{"agent.srexpert.io/v1alpha1", "AgentConfig", kNs,
                                   "srexpert-agent"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> g_log_lines;
std::mutex g_log_mu;
void CaptureLog(std::string_view line) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  g_log_lines.emplace_back(line);
}

struct OperatorFixture {
  ApiFixture api;
  std::unique_ptr<controller::AgentConfigController> ctrl;

  OperatorFixture() {
    auto crd = api.client().Patch(
        {"apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "agentconfigs.agent.srexpert.io"},
        kube::PatchType::kApply, ReadFile(SRX_SOURCE_DIR "/crds/agentconfigs.agent.srexpert.io.yaml"),
        {.field_manager = "test"});
    REQUIRE(crd.ok());
    api.CreateNamespace(kNs);
    ctrl = std::make_unique<controller::AgentConfigController>(
        api.NewClient(), controller::ControllerOptions{kNs, "example.com/agent:test", 2, 1s});
  }
  ~OperatorFixture() { ctrl->Stop(); }

  void Apply(const std::string& spec_json) {
    auto r = api.client().Patch(kAgentConfig, kube::PatchType::kApply,
                                R"({"apiVersion":"agent.srexpert.io/v1alpha1","kind":"AgentConfig",)"
                                R"("metadata":{"name":"srexpert-agent","namespace":"srexpert-system"},)"
                                R"("spec":)" + spec_json + "}",
                                {.field_manager = "kubectl"});
    REQUIRE(r.ok());
  }
  void ApplyDefault() {
    Apply(std::string(R"({"backend":{"url":"wss://hub.example.com/api/v1/tunnel"},)") +
          R"("token":{"value":")" + kToken + R"("},"clusterName":"prod-eu-1"})");
  }
  kube::Result<json::Document> Get(const char* api_version, const char* kind, std::string ns,
                                   std::string name) {
    return api.client().Get({api_version, kind, ns, name});
  }
  bool Exists(const char* api_version, const char* kind, std::string ns, std::string name) {
    return Get(api_version, kind, ns, name).ok();
  }
  std::string Condition(const std::string& type, const char* field = "status") {
    auto ac = api.client().Get(kAgentConfig);
    if (!ac.ok()) return "";
    const auto* conds = json::Find(*ac, {"status", "conditions"});
    if (!conds || !conds->IsArray()) return "";
    for (const auto& c : conds->GetArray()) {
      if (json::GetString(c, {"type"}) == type) return json::GetString(c, {field});
    }
    return "";
  }
  bool AllChildrenExist() {
    return Exists("v1", "ServiceAccount", kNs, "srexpert-agent") &&
           Exists("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent") &&
           Exists("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "srexpert-agent") &&
           Exists("rbac.authorization.k8s.io/v1", "Role", kNs, "srexpert-agent-leader-election") &&
           Exists("rbac.authorization.k8s.io/v1", "RoleBinding", kNs, "srexpert-agent-leader-election") &&
           Exists("v1", "Secret", kNs, "srexpert-agent-secret") &&
           Exists("v1", "ConfigMap", kNs, "srexpert-agent-config") &&
           Exists("apps/v1", "DaemonSet", kNs, "srexpert-agent");
  }
  // Waits until the controller has nothing left to do: no reconcile queued or
  // running, and neither reconciles nor writes for half a second. The quiet
  // window is there because the watch event of the controller's last write
  // reaches its cache a little later; a reconcile from a stale cache would
  // write again (and conflict).
  void Settle() {
    REQUIRE(Eventually([&] { return ctrl->Ready(); }));
    std::pair<uint64_t, uint64_t> last{~0ull, ~0ull};
    int quiet = 0;
    for (int i = 0; i < 200 && quiet < 5; ++i) {
      std::this_thread::sleep_for(100ms);
      std::pair<uint64_t, uint64_t> now{ctrl->stats().reconciles.load(), Writes()};
      quiet = now == last && ctrl->Idle() ? quiet + 1 : 0;
      last = now;
    }
  }
  int64_t DaemonSetGeneration() {
    auto ds = Get("apps/v1", "DaemonSet", kNs, "srexpert-agent");
    return ds.ok() ? json::GetInt(*ds, {"metadata", "generation"}) : -1;
  }
  uint64_t Writes() {
    auto& s = api.server();
    return s.RequestCount("create") + s.RequestCount("update") + s.RequestCount("patch") +
           s.RequestCount("delete");
  }
};

}  // namespace

TEST_CASE("an applied AgentConfig gets every child, owned as the brief says", "[controller]") {
  OperatorFixture f;
  f.ApplyDefault();
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));

  auto ns = f.Get("v1", "Namespace", "", kNs);
  REQUIRE(ns.ok());
  std::string ns_uid = json::GetString(*ns, {"metadata", "uid"});
  auto ac = f.api.client().Get(kAgentConfig);
  REQUIRE(ac.ok());
  std::string ac_uid = json::GetString(*ac, {"metadata", "uid"});

  auto cr = f.Get("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent");
  CHECK(json::GetString((*cr)["metadata"]["ownerReferences"][0], {"kind"}) == "Namespace");
  CHECK(json::GetString((*cr)["metadata"]["ownerReferences"][0], {"uid"}) == ns_uid);
  auto ds = f.Get("apps/v1", "DaemonSet", kNs, "srexpert-agent");
  const auto& owner = (*ds)["metadata"]["ownerReferences"][0];
  CHECK(json::GetString(owner, {"uid"}) == ac_uid);
  CHECK(json::GetBool(owner, {"controller"}));
  CHECK(json::GetString(*ds, {"spec", "template", "spec", "containers"}).empty());
  CHECK(json::GetString((*ds)["spec"]["template"]["spec"]["containers"][0], {"image"}) ==
        "example.com/agent:test");

  // No finalizer (deleting the namespace must never wait on the operator),
  // observedGeneration and conditions.
  REQUIRE(Eventually([&] { return f.Condition("Ready", "reason") == "NoAgentsScheduled"; }));
  ac = f.api.client().Get(kAgentConfig);
  CHECK(json::Find(*ac, {"metadata", "finalizers"}) == nullptr);
  CHECK(json::GetInt(*ac, {"status", "observedGeneration"}) ==
        json::GetInt(*ac, {"metadata", "generation"}));
  CHECK(f.Condition("Degraded") == "False");

  // The DaemonSet controller reports three ready agents: Ready flips.
  auto ds_now = f.Get("apps/v1", "DaemonSet", kNs, "srexpert-agent");
  auto& a = ds_now->GetAllocator();
  auto status = Json(R"({"desiredNumberScheduled":3,"numberReady":3,"updatedNumberScheduled":3,)"
                     R"("currentNumberScheduled":3,"numberMisscheduled":0})");
  json::Value status_value;
  status_value.CopyFrom(status, a);
  json::Set(*ds_now, "status", std::move(status_value), a);
  REQUIRE(f.api.client().UpdateStatus(*ds_now).ok());
  REQUIRE(Eventually([&] { return f.Condition("Ready") == "True"; }));
  CHECK(f.Condition("Ready", "reason") == "AgentsReady");
  CHECK(f.Condition("Progressing") == "False");
}

TEST_CASE("a reconcile that finds everything in sync writes nothing", "[controller]") {
  OperatorFixture f;
  f.ApplyDefault();
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));
  f.Settle();
  f.api.server().ResetRequestCounts();
  for (int i = 0; i < 5; ++i) {
    auto r = f.ctrl->Reconcile("srexpert-system/srexpert-agent");
    INFO((r.ok() ? std::string() : r.error().ToString()));
    REQUIRE(r.ok());
  }
  f.Settle();
  CHECK(f.Writes() == 0);
}

TEST_CASE("hand edits and deletions of children are undone", "[controller]") {
  OperatorFixture f;
  f.ApplyDefault();
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));
  f.Settle();

  SECTION("a deleted ConfigMap comes back") {
    REQUIRE(f.api.client().Delete({"v1", "ConfigMap", kNs, "srexpert-agent-config"}).ok());
    CHECK(Eventually([&] { return f.Exists("v1", "ConfigMap", kNs, "srexpert-agent-config"); }));
  }
  SECTION("a deleted DaemonSet comes back") {
    REQUIRE(f.api.client().Delete({"apps/v1", "DaemonSet", kNs, "srexpert-agent"}).ok());
    CHECK(Eventually([&] { return f.Exists("apps/v1", "DaemonSet", kNs, "srexpert-agent"); }));
  }
  SECTION("widened ClusterRole rules are narrowed again") {
    auto r = f.api.client().Patch({"rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent"},
                                  kube::PatchType::kMerge,
                                  R"({"rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["*"]}]})");
    REQUIRE(r.ok());
    CHECK(Eventually([&] {
      auto cr = f.Get("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent");
      return cr.ok() && json::Dump((*cr)["rules"]).find("secrets") == std::string::npos;
    }));
  }
  SECTION("a tampered token Secret is restored") {
    auto r = f.api.client().Patch({"v1", "Secret", kNs, "srexpert-agent-secret"},
                                  kube::PatchType::kMerge, R"({"data":{"token":"ZXZpbA=="}})");
    REQUIRE(r.ok());
    CHECK(Eventually([&] {
      auto s = f.Get("v1", "Secret", kNs, "srexpert-agent-secret");
      return s.ok() && json::GetString(*s, {"data", "token"}) != "ZXZpbA==";
    }));
  }
}

TEST_CASE("a spec change rolls the DaemonSet exactly once, a token change rolls nothing",
          "[controller]") {
  OperatorFixture f;
  f.ApplyDefault();
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));
  f.Settle();
  int64_t gen = f.DaemonSetGeneration();

  f.Apply(std::string(R"({"backend":{"url":"wss://hub.example.com/api/v1/tunnel"},)") +
          R"("token":{"value":"tok-rotated-987654"},"clusterName":"prod-eu-1"})");
  REQUIRE(Eventually([&] {
    auto s = f.Get("v1", "Secret", kNs, "srexpert-agent-secret");
    return s.ok() && json::GetString(*s, {"data", "token"}) == "dG9rLXJvdGF0ZWQtOTg3NjU0";
  }));
  f.Settle();
  CHECK(f.DaemonSetGeneration() == gen);

  f.Apply(std::string(R"({"backend":{"url":"wss://hub.example.com/api/v1/tunnel"},)") +
          R"("token":{"value":"tok-rotated-987654"},"clusterName":"prod-eu-2"})");
  REQUIRE(Eventually([&] { return f.DaemonSetGeneration() > gen; }));
  f.Settle();
  CHECK(f.DaemonSetGeneration() == gen + 1);
  auto cm = f.Get("v1", "ConfigMap", kNs, "srexpert-agent-config");
  CHECK(json::GetString(*cm, {"data", "config.json"}).find("prod-eu-2") != std::string::npos);
}

TEST_CASE("a token from a referenced Secret is resolved, and its absence reported",
          "[controller]") {
  OperatorFixture f;
  f.Apply(R"({"backend":{"url":"wss://hub.example.com/api/v1/tunnel"},)"
          R"("token":{"secretRef":{"name":"registration","key":"token"}},"clusterName":"c1"})");
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.Condition("Degraded", "reason") == "TokenUnavailable"; }));
  CHECK_FALSE(f.Exists("apps/v1", "DaemonSet", kNs, "srexpert-agent"));

  REQUIRE(f.api.client().Create(Json(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"registration","namespace":"srexpert-system"},"data":{"token":"dG9rLWZyb20tc2VjcmV0LTEyMzQ="}})")).ok());
  REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));
  auto s = f.Get("v1", "Secret", kNs, "srexpert-agent-secret");
  CHECK(json::GetString(*s, {"data", "token"}) == "dG9rLWZyb20tc2VjcmV0LTEyMzQ=");
  CHECK(Eventually([&] { return f.Condition("Degraded") == "False"; }));
}

TEST_CASE("an invalid spec is reported as Degraded and creates nothing", "[controller]") {
  OperatorFixture f;
  // The schema's CEL rule would reject this on a real apiserver; the
  // operator must still cope with it (older apiservers, schema drift).
  f.Apply(std::string(R"({"backend":{"url":"wss://hub.example.com/x"},"token":{"value":")") + kToken +
          R"("},"clusterName":"c1","leaderElection":{"leaseDuration":"10s","renewDeadline":"10s"}})");
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.Condition("Degraded", "reason") == "InvalidSpec"; }));
  CHECK(f.Condition("Degraded", "message").find("spec.leaderElection.renewDeadline") != std::string::npos);
  CHECK(f.Condition("Ready") == "False");
  CHECK_FALSE(f.Exists("apps/v1", "DaemonSet", kNs, "srexpert-agent"));
}

TEST_CASE("a foreign object with one of our names is never touched", "[controller]") {
  OperatorFixture f;
  REQUIRE(f.api.client().Create(Json(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"srexpert-agent"},"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]})")).ok());
  f.ApplyDefault();
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.Condition("Degraded", "reason") == "NameConflict"; }));
  CHECK(f.Condition("Degraded", "message").find("ClusterRole srexpert-agent") != std::string::npos);
  auto cr = f.Get("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent");
  CHECK(json::Dump((*cr)["rules"]) == R"([{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}])");
  CHECK(json::Find(*cr, {"metadata", "ownerReferences"}) == nullptr);
  // Everything else is still managed.
  CHECK(Eventually([&] { return f.Exists("apps/v1", "DaemonSet", kNs, "srexpert-agent"); }));
}

TEST_CASE("deleting the AgentConfig removes every child, cluster-scoped ones included",
          "[controller]") {
  OperatorFixture f;
  f.ApplyDefault();
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));
  REQUIRE(f.api.client().Delete(kAgentConfig).ok());
  CHECK(Eventually([&] { return !f.api.client().Get(kAgentConfig).ok(); }));
  CHECK(Eventually([&] {
    return !f.Exists("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent") &&
           !f.Exists("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "srexpert-agent") &&
           !f.Exists("apps/v1", "DaemonSet", kNs, "srexpert-agent") &&
           !f.Exists("v1", "Secret", kNs, "srexpert-agent-secret");
  }));
}

TEST_CASE("an AgentConfig deleted while the operator was down loses its cluster RBAC at restart",
          "[controller]") {
  OperatorFixture f;
  f.ApplyDefault();
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));
  f.ctrl->Stop();
  // Nothing holds the AgentConfig: it is gone at once, operator or not.
  REQUIRE(f.api.client().Delete(kAgentConfig).ok());
  REQUIRE_FALSE(f.api.client().Get(kAgentConfig).ok());
  REQUIRE(f.Exists("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent"));

  f.ctrl = std::make_unique<controller::AgentConfigController>(
      f.api.NewClient(), controller::ControllerOptions{kNs, "example.com/agent:test", 2, 1s});
  f.ctrl->Start();
  CHECK(Eventually([&] {
    return !f.Exists("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent") &&
           !f.Exists("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "srexpert-agent");
  }));
}

TEST_CASE("a ClusterRole of our name owned by nobody of ours survives the orphan clean-up",
          "[controller]") {
  OperatorFixture f;
  // Labelled like ours, but not owned by our Namespace: someone else's.
  // (Not owned by anything: an ownerReference to a missing uid would be
  // garbage-collected by a real cluster.)
  auto cr = f.api.client().Create(Json(
      R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",)"
      R"("metadata":{"name":"srexpert-agent","labels":{"app.kubernetes.io/managed-by":"srexpert-operator",)"
      R"("app.kubernetes.io/instance":"srexpert-agent"}},"rules":[]})"));
  REQUIRE(cr.ok());
  // And an orphaned binding that is ours (owned by the Namespace): its clean-up
  // runs for this AgentConfig's name and must spare the foreign ClusterRole.
  auto ns = f.Get("v1", "Namespace", "", kNs);
  REQUIRE(ns.ok());
  auto crb = f.api.client().Create(Json(
      R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",)"
      R"("metadata":{"name":"srexpert-agent","labels":{"app.kubernetes.io/managed-by":"srexpert-operator",)"
      R"("app.kubernetes.io/instance":"srexpert-agent"},"ownerReferences":[{"apiVersion":"v1",)"
      R"("kind":"Namespace","name":"srexpert-system","uid":")" +
      json::GetString(*ns, {"metadata", "uid"}) +
      R"("}]},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"srexpert-agent"},)"
      R"("subjects":[{"kind":"ServiceAccount","name":"srexpert-agent","namespace":"srexpert-system"}]})"));
  REQUIRE(crb.ok());
  f.ctrl->Start();
  CHECK(Eventually([&] {
    return !f.Exists("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "srexpert-agent");
  }));
  f.Settle();
  CHECK(f.Exists("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent"));
}

TEST_CASE("the finalizer of earlier versions is removed, and released on deletion",
          "[controller]") {
  OperatorFixture f;
  f.ApplyDefault();
  auto with_finalizer = [&] {
    auto ac = f.api.client().Get(kAgentConfig);
    REQUIRE(ac.ok());
    auto& a = ac->GetAllocator();
    json::Value list(rapidjson::kArrayType);
    list.PushBack(json::String(api::kFinalizer, a), a);
    json::Set((*ac)["metadata"], "finalizers", std::move(list), a);
    REQUIRE(f.api.client().Update(*ac, {"old-operator"}).ok());
  };
  with_finalizer();
  f.ctrl->Start();
  CHECK(Eventually([&] {
    auto ac = f.api.client().Get(kAgentConfig);
    return ac.ok() && json::Find(*ac, {"metadata", "finalizers"}) == nullptr;
  }));
  REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));

  // An old AgentConfig being deleted while the operator stops: released.
  f.Settle();
  f.ctrl->Stop();
  with_finalizer();
  REQUIRE(f.api.client().Delete(kAgentConfig).ok());
  REQUIRE(f.api.client().Get(kAgentConfig).ok());  // held by the finalizer
  f.ctrl = std::make_unique<controller::AgentConfigController>(
      f.api.NewClient(), controller::ControllerOptions{kNs, "example.com/agent:test", 2, 1s});
  f.ctrl->Start();
  CHECK(Eventually([&] { return !f.api.client().Get(kAgentConfig).ok(); }));
  CHECK(Eventually([&] {
    return !f.Exists("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent");
  }));
}

TEST_CASE("spec.actions.namespaces gets a Role and RoleBinding per namespace, pruned when "
          "dropped, gone with the AgentConfig or its namespace",
          "[controller][actions]") {
  OperatorFixture f;
  for (const char* ns : {"shop", "payments"}) f.api.CreateNamespace(ns);
  auto spec = [](const std::string& namespaces) {
    return std::string(R"({"backend":{"url":"wss://hub.example.com/api/v1/tunnel"},)") +
           R"("token":{"value":")" + kToken + R"("},"clusterName":"prod-eu-1",)" +
           R"("actions":{"scale":true,"namespaces":)" + namespaces + "}}";
  };
  auto roles_in = [&](const char* ns) {
    return f.Exists("rbac.authorization.k8s.io/v1", "Role", ns, "srexpert-agent-actions") &&
           f.Exists("rbac.authorization.k8s.io/v1", "RoleBinding", ns, "srexpert-agent-actions");
  };
  auto none_in = [&](const char* ns) {
    return !f.Exists("rbac.authorization.k8s.io/v1", "Role", ns, "srexpert-agent-actions") &&
           !f.Exists("rbac.authorization.k8s.io/v1", "RoleBinding", ns, "srexpert-agent-actions");
  };
  f.Apply(spec(R"(["shop","payments"])"));
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.AllChildrenExist() && roles_in("shop") && roles_in("payments"); }));
  // The writes are in the Roles, not in the ClusterRole.
  auto cr = f.Get("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent");
  REQUIRE(cr.ok());
  CHECK(json::Dump(*cr).find("deployments/scale") == std::string::npos);
  auto role = f.Get("rbac.authorization.k8s.io/v1", "Role", "shop", "srexpert-agent-actions");
  REQUIRE(role.ok());
  CHECK(json::Dump(*role).find("deployments/scale") != std::string::npos);
  // Owned by the AgentConfig's Namespace (an ownerReference cannot cross
  // namespaces to the AgentConfig itself).
  auto ns = f.Get("v1", "Namespace", "", kNs);
  REQUIRE(ns.ok());
  CHECK(controller::HasOwnerUid(*role, json::GetString(*ns, {"metadata", "uid"})));

  // A hand-deleted Role comes back.
  REQUIRE(f.api.client().Delete({"rbac.authorization.k8s.io/v1", "Role", "payments",
                                 "srexpert-agent-actions"}).ok());
  CHECK(Eventually([&] { return roles_in("payments"); }));

  // Dropped from the list: pruned there, kept elsewhere.
  f.Apply(spec(R"(["shop"])"));
  CHECK(Eventually([&] { return none_in("payments"); }));
  CHECK(roles_in("shop"));
  CHECK(f.Condition("Degraded") == "False");

  // An empty list: the writes move back to the ClusterRole, the Roles go.
  f.Apply(spec("[]"));
  CHECK(Eventually([&] { return none_in("shop"); }));
  CHECK(Eventually([&] {
    auto c = f.Get("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent");
    return c.ok() && json::Dump(*c).find("deployments/scale") != std::string::npos;
  }));

  // Deleting the AgentConfig removes the Roles of the namespaces it listed.
  f.Apply(spec(R"(["shop"])"));
  REQUIRE(Eventually([&] { return roles_in("shop"); }));
  REQUIRE(f.api.client().Delete(kAgentConfig).ok());
  CHECK(Eventually([&] { return none_in("shop"); }));
}

TEST_CASE("with spec.actions.helm the status says where the release-storage binding is missing, "
          "until an administrator makes it",
          "[controller][actions][helm]") {
  OperatorFixture f;
  // Bindings that are not ours are not watched: a short recheck finds the
  // administrator's binding.
  f.ctrl = std::make_unique<controller::AgentConfigController>(
      f.api.NewClient(), controller::ControllerOptions{kNs, "example.com/agent:test", 2, 1s, 200ms});
  for (const char* ns : {"shop", "payments"}) f.api.CreateNamespace(ns);
  auto spec = [](bool helm) {
    return std::string(R"({"backend":{"url":"wss://hub.example.com/api/v1/tunnel"},)") +
           R"("token":{"value":")" + kToken + R"("},"clusterName":"prod-eu-1",)" +
           R"("actions":{"helm":)" + (helm ? "true" : "false") +
           R"(,"namespaces":["shop","payments"]}})";
  };
  auto bind = [&](const char* ns) {
    auto r = f.api.client().Create(Json(std::string(R"({"apiVersion":"rbac.authorization.k8s.io/v1",)") +
                                        R"("kind":"RoleBinding","metadata":{"name":"srexpert-agent-helm","namespace":")" +
                                        ns + R"("},"roleRef":{"apiGroup":"rbac.authorization.k8s.io",)" +
                                        R"("kind":"ClusterRole","name":"srexpert-helm-release-storage"},)" +
                                        R"("subjects":[{"kind":"ServiceAccount","name":"srexpert-agent",)" +
                                        R"("namespace":"srexpert-system"}]})"));
    REQUIRE(r.ok());
  };
  // A binding of the role to someone else does not count.
  auto other = f.api.client().Create(Json(
      R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding",)"
      R"("metadata":{"name":"someone-else","namespace":"payments"},)"
      R"("roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"srexpert-helm-release-storage"},)"
      R"("subjects":[{"kind":"ServiceAccount","name":"other","namespace":"srexpert-system"}]})"));
  REQUIRE(other.ok());
  bind("shop");
  f.Apply(spec(true));
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.Condition("HelmStorageBound") == "False"; }));
  CHECK(f.Condition("HelmStorageBound", "reason") == "BindingMissing");
  const std::string message = f.Condition("HelmStorageBound", "message");
  CHECK(message.find("refused in payments:") != std::string::npos);
  CHECK(message.find("shop") == std::string::npos);
  CHECK(message.find("--serviceaccount=srexpert-system:srexpert-agent") != std::string::npos);
  // The agent still runs: only Helm actions are affected.
  REQUIRE(Eventually([&] { return f.Condition("Degraded") == "False"; }));
  CHECK(Eventually([&] {
    auto events = f.api.client().List({"v1", "Event", kNs, ""});
    return events.ok() && json::Dump(*events).find("HelmStorageBindingMissing") != std::string::npos;
  }));

  bind("payments");
  CHECK(Eventually([&] { return f.Condition("HelmStorageBound") == "True"; }));
  CHECK(f.Condition("HelmStorageBound", "reason") == "Bound");

  // Helm off: the condition goes.
  f.Apply(spec(false));
  CHECK(Eventually([&] {
    auto ac = f.api.client().Get(kAgentConfig);
    return ac.ok() && json::Dump(*ac).find("HelmStorageBound") == std::string::npos;
  }));
}

TEST_CASE("deleting the namespace leaves nothing of ours cluster-wide", "[controller]") {
  OperatorFixture f;
  f.ApplyDefault();
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));
  REQUIRE(f.api.client().Delete({"v1", "Namespace", "", kNs}).ok());
  CHECK(Eventually([&] { return !f.Exists("v1", "Namespace", "", kNs); }));
  CHECK(Eventually([&] {
    return !f.Exists("rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-agent") &&
           !f.Exists("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "srexpert-agent");
  }));
  auto managed = f.api.client().List({"rbac.authorization.k8s.io/v1", "ClusterRole", "", ""},
                                     {.label_selector = "app.kubernetes.io/managed-by=srexpert-operator"});
  REQUIRE(managed.ok());
  CHECK((*managed)["items"].Size() == 0);
}

TEST_CASE("the leader and tunnel state published on the Lease reach the status",
          "[controller]") {
  OperatorFixture f;
  f.ApplyDefault();
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));
  auto now = std::chrono::system_clock::now();
  auto lease = Json(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"srexpert-agent-leader","namespace":"srexpert-system","annotations":{"agent.srexpert.io/tunnel-state":"Connected"}},"spec":{"holderIdentity":"srexpert-agent-x7k2p","leaseDurationSeconds":15}})");
  json::SetString(lease["spec"], "renewTime", FormatRfc3339Micro(now), lease.GetAllocator());
  REQUIRE(f.api.client().Create(lease).ok());
  CHECK(Eventually([&] {
    auto ac = f.api.client().Get(kAgentConfig);
    return ac.ok() && json::GetString(*ac, {"status", "leader"}) == "srexpert-agent-x7k2p" &&
           json::GetString(*ac, {"status", "tunnel"}) == "Connected";
  }));
}

TEST_CASE("the scan summary published on the Lease reaches status.scan, written only on change",
          "[controller][scan]") {
  OperatorFixture f;
  f.ApplyDefault();
  f.ctrl->Start();
  REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));
  auto lease = Json(
      R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"srexpert-agent-leader","namespace":"srexpert-system","annotations":{"agent.srexpert.io/tunnel-state":"Connected","agent.srexpert.io/scan-score":"87","agent.srexpert.io/scan-dangers":"3","agent.srexpert.io/scan-warnings":"12","agent.srexpert.io/scan-time":"2024-05-01T10:00:00Z"}},"spec":{"holderIdentity":"srexpert-agent-x7k2p","leaseDurationSeconds":15}})");
  json::SetString(lease["spec"], "renewTime", FormatRfc3339Micro(std::chrono::system_clock::now()),
                  lease.GetAllocator());
  REQUIRE(f.api.client().Create(lease).ok());
  auto scan = [&](const char* field) -> std::string {
    auto ac = f.api.client().Get(kAgentConfig);
    if (!ac.ok()) return "<error>";
    const json::Value* v = json::Find(*ac, {"status", "scan", field});
    return v == nullptr ? "" : json::Dump(*v);
  };
  REQUIRE(Eventually([&] { return scan("score") == "87"; }));
  CHECK(scan("dangers") == "3");
  CHECK(scan("warnings") == "12");
  CHECK(scan("lastScanTime") == R"("2024-05-01T10:00:00Z")");
  f.Settle();

  // Renewals every retryPeriod carry the same summary: no status write.
  auto renew = [&](const std::map<std::string, std::string>& annotations,
                   const char* holder = "srexpert-agent-x7k2p") {
    auto live =
        f.api.client().Get({"coordination.k8s.io/v1", "Lease", kNs, "srexpert-agent-leader"});
    REQUIRE(live.ok());
    json::Value& meta = (*live)["metadata"];
    json::Set(meta, "annotations", json::Value(rapidjson::kObjectType), live->GetAllocator());
    for (const auto& [k, v] : annotations) {
      json::SetString(meta["annotations"], k, v, live->GetAllocator());
    }
    json::SetString((*live)["spec"], "holderIdentity", holder, live->GetAllocator());
    json::SetString((*live)["spec"], "renewTime",
                    FormatRfc3339Micro(std::chrono::system_clock::now()), live->GetAllocator());
    REQUIRE(f.api.client().Update(*live).ok());
  };
  std::map<std::string, std::string> published = {
      {"agent.srexpert.io/tunnel-state", "Connected"},
      {"agent.srexpert.io/scan-score", "87"},
      {"agent.srexpert.io/scan-dangers", "3"},
      {"agent.srexpert.io/scan-warnings", "12"},
      {"agent.srexpert.io/scan-time", "2024-05-01T10:00:00Z"}};
  const uint64_t writes = f.ctrl->stats().status_writes;
  const uint64_t reconciles = f.ctrl->stats().reconciles;
  for (int i = 0; i < 3; ++i) renew(published);
  REQUIRE(Eventually([&] { return f.ctrl->stats().reconciles >= reconciles + 1; }));
  f.Settle();
  CHECK(f.ctrl->stats().status_writes == writes);

  // A new scan: the new numbers.
  published["agent.srexpert.io/scan-score"] = "91";
  published["agent.srexpert.io/scan-time"] = "2024-05-01T11:00:00Z";
  renew(published);
  REQUIRE(Eventually([&] { return scan("score") == "91"; }));
  CHECK(scan("lastScanTime") == R"("2024-05-01T11:00:00Z")");

  // A new leader that has not scanned yet: the last summary stays (SCORE
  // does not blank at every failover).
  renew({{"agent.srexpert.io/tunnel-state", "Connecting"}}, "srexpert-agent-b9c4d");
  REQUIRE(Eventually([&] {
    auto ac = f.api.client().Get(kAgentConfig);
    return ac.ok() && json::GetString(*ac, {"status", "leader"}) == "srexpert-agent-b9c4d";
  }));
  CHECK(scan("score") == "91");

  // Scans switched off: no score is current any more.
  f.Apply(std::string(R"({"backend":{"url":"wss://hub.example.com/api/v1/tunnel"},)") +
          R"("token":{"value":")" + kToken + R"("},"clusterName":"prod-eu-1",)" +
          R"("scans":{"enabled":false}})");
  REQUIRE(Eventually([&] { return scan("score").empty(); }));
}

TEST_CASE("the token never reaches the ConfigMap, the status or the logs", "[controller]") {
  g_log_lines.clear();
  log::SetSink(&CaptureLog);
  {
    OperatorFixture f;
    f.ApplyDefault();
    f.ctrl->Start();
    REQUIRE(Eventually([&] { return f.AllChildrenExist(); }));
    f.Settle();
    auto cm = f.Get("v1", "ConfigMap", kNs, "srexpert-agent-config");
    CHECK(json::Dump(*cm).find(kToken) == std::string::npos);
    auto ds = f.Get("apps/v1", "DaemonSet", kNs, "srexpert-agent");
    CHECK(json::Dump(*ds).find(kToken) == std::string::npos);
    auto ac = f.api.client().Get(kAgentConfig);
    CHECK(json::Dump((*ac)["status"]).find(kToken) == std::string::npos);
  }
  log::SetSink(nullptr);
  std::lock_guard<std::mutex> lock(g_log_mu);
  CHECK_FALSE(g_log_lines.empty());
  for (const auto& line : g_log_lines) CHECK(line.find(kToken) == std::string::npos);
}
