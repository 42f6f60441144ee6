// The operator's start-up tasks against the loopback API test server: the
// bootstrap AgentConfig (created once the CRD is served, never overwritten)
// and the Namespace as owner of the operator's own cluster RBAC.
#include "controller/bootstrap.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <thread>

#include "test/kube/api_fixture.h"

using namespace srexpert;
using namespace std::chrono_literals;
using kube::testing::ApiFixture;
using kube::testing::Eventually;
using kube::testing::Json;
using Outcome = controller::StartupTasks::Outcome;

namespace {

constexpr const char* kNs = "srexpert-system";
const kube::ObjectRef kAgentConfig{"agent.srexpert.io/v1alpha1", "AgentConfig", kNs,
                                   "srexpert-agent"};
const kube::ObjectRef kCrd{"apiextensions.k8s.io/v1", "CustomResourceDefinition", "",
                           "agentconfigs.agent.srexpert.io"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// As the chart renders it into the bootstrap ConfigMap.
const std::string kBootstrapYaml = R"(apiVersion: agent.srexpert.io/v1alpha1
kind: AgentConfig
metadata:
  name: srexpert-agent
  labels:
    app.kubernetes.io/part-of: srexpert
spec:
  clusterName: "my-cluster"
  backend:
    url: "wss://connect.srexpert.io/agent"
    insecure: false
  token:
    secretRef:
      name: srexpert-agent-registration
      key: token
  tunnel:
    backoff:
      multiplier: 2
    maxMessageBytes: 1048576
)";

// Fast, deterministic retries: these are correctness tests.
controller::StartupOptions FastRetries() {
  controller::StartupOptions o;
  o.backoff = {10ms, 50ms, 2.0, false};
  return o;
}

void InstallCrd(kube::RestClient& client) {
  auto crd = client.Patch(kCrd, kube::PatchType::kApply,
                          ReadFile(SRX_SOURCE_DIR "/crds/agentconfigs.agent.srexpert.io.yaml"),
                          {.field_manager = "test"});
  REQUIRE(crd.ok());
}

json::Document Parsed(const std::string& text) {
  std::string err;
  auto doc = controller::ParseBootstrapAgentConfig(text, "bootstrap.yaml", kNs, &err);
  INFO(err);
  REQUIRE(doc);
  return std::move(*doc);
}

}  // namespace

TEST_CASE("a bootstrap file in YAML or JSON parses to the AgentConfig, typed and namespaced",
          "[controller][bootstrap]") {
  json::Document yaml = Parsed(kBootstrapYaml);
  CHECK(json::GetString(yaml, {"metadata", "namespace"}) == kNs);
  CHECK(json::GetString(yaml, {"spec", "clusterName"}) == "my-cluster");
  CHECK(yaml["spec"]["backend"]["insecure"].IsBool());
  CHECK(yaml["spec"]["tunnel"]["maxMessageBytes"].IsInt64());
  CHECK(yaml["spec"]["tunnel"]["backoff"]["multiplier"].GetDouble() == 2.0);

  json::Document from_json = Parsed(json::Dump(yaml));
  CHECK(json::Equal(from_json, yaml));
  // Quoted scalars stay strings even when they look like numbers or booleans.
  json::Document quoted = Parsed(
      "apiVersion: agent.srexpert.io/v1alpha1\nkind: AgentConfig\nmetadata: {name: a}\n"
      "spec:\n  clusterName: \"123\"\n  backend: {url: \"wss://h/x\"}\n"
      "  token: {secretRef: {name: s, key: \"true\"}}\n");
  CHECK(quoted["spec"]["clusterName"].IsString());
  CHECK(json::GetString(quoted, {"spec", "token", "secretRef", "key"}) == "true");
}

TEST_CASE("an invalid bootstrap file is refused with a reason that never shows the token",
          "[controller][bootstrap]") {
  const std::string secret = "tok-bootstrap-secret-value-7Q";
  struct Case {
    std::string text, reason;
  };
  const std::vector<Case> cases = {
      {"kind: [unclosed", "not valid YAML"},
      {"", "exactly one"},
      {kBootstrapYaml + "---\n" + kBootstrapYaml, "exactly one"},
      {"- a\n- b\n", "not an object"},
      {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "apiVersion"},
      {"apiVersion: agent.srexpert.io/v1alpha1\nkind: AgentConfig\nmetadata: {}\n", "metadata.name"},
      {"apiVersion: agent.srexpert.io/v1alpha1\nkind: AgentConfig\n"
       "metadata: {name: a, namespace: other}\nspec: {}\n",
       "reconciles srexpert-system"},
      // An inline token with a space is invalid; the message must not quote it.
      {"apiVersion: agent.srexpert.io/v1alpha1\nkind: AgentConfig\nmetadata: {name: a}\n"
       "spec:\n  clusterName: UPPER_case\n  backend: {url: \"wss://h/x\"}\n"
       "  token: {value: \"" + secret + " x\"}\n",
       "invalid AgentConfig"},
  };
  for (const auto& c : cases) {
    std::string err;
    auto doc = controller::ParseBootstrapAgentConfig(c.text, "bootstrap.yaml", kNs, &err);
    INFO(c.text);
    CHECK_FALSE(doc);
    CHECK(err.find(c.reason) != std::string::npos);
    CHECK(err.find("bootstrap.yaml") == 0);
    CHECK(err.find(secret) == std::string::npos);
  }
  std::string err;
  CHECK_FALSE(controller::LoadBootstrapAgentConfig("/nonexistent/agentconfig.yaml", kNs, &err));
  CHECK(err.find("cannot read") != std::string::npos);
}

TEST_CASE("the bootstrap AgentConfig is created once the CRD is served", "[controller][bootstrap]") {
  ApiFixture api;
  api.CreateNamespace(kNs);
  json::Document ac = Parsed(kBootstrapYaml);
  auto client = api.NewClient();
  controller::StartupTasks tasks(*client, FastRetries());
  Outcome outcome = Outcome::kStopped;
  std::thread run([&] { outcome = tasks.CreateAgentConfig(ac); });
  // The task is waiting for the CRD: nothing exists yet. The CRD arrives
  // later, as with a single `kubectl apply` where the operator may start
  // before the CRD is Established.
  InstallCrd(api.client());
  run.join();
  CHECK(outcome == Outcome::kCreated);
  auto got = api.client().Get(kAgentConfig);
  REQUIRE(got.ok());
  CHECK(json::GetString(*got, {"spec", "clusterName"}) == "my-cluster");
  CHECK(json::GetString(*got, {"metadata", "labels", "app.kubernetes.io/part-of"}) == "srexpert");
}

TEST_CASE("the bootstrap never overwrites an AgentConfig that exists", "[controller][bootstrap]") {
  ApiFixture api;
  InstallCrd(api.client());
  api.CreateNamespace(kNs);
  // A user's later edit (or GitOps) changed the cluster name.
  json::Document edited = Parsed(kBootstrapYaml);
  json::SetString(edited["spec"], "clusterName", "edited-by-user", edited.GetAllocator());
  REQUIRE(api.client().Create(edited).ok());
  auto before = api.client().Get(kAgentConfig);
  REQUIRE(before.ok());

  auto client = api.NewClient();
  controller::StartupTasks tasks(*client, FastRetries());
  CHECK(tasks.CreateAgentConfig(Parsed(kBootstrapYaml)) == Outcome::kAlreadyExists);
  auto after = api.client().Get(kAgentConfig);
  REQUIRE(after.ok());
  CHECK(json::GetString(*after, {"spec", "clusterName"}) == "edited-by-user");
  CHECK(json::GetString(*after, {"metadata", "resourceVersion"}) ==
        json::GetString(*before, {"metadata", "resourceVersion"}));
}

TEST_CASE("the bootstrap waits for a missing namespace and stops when asked",
          "[controller][bootstrap]") {
  ApiFixture api;
  InstallCrd(api.client());
  json::Document ac = Parsed(kBootstrapYaml);
  {
    auto client = api.NewClient();
    controller::StartupTasks tasks(*client, FastRetries());
    Outcome outcome = Outcome::kCreated;
    std::thread run([&] { outcome = tasks.CreateAgentConfig(ac); });
    tasks.Stop();
    run.join();
    CHECK(outcome == Outcome::kStopped);
  }
  auto client = api.NewClient();
  controller::StartupTasks tasks(*client, FastRetries());
  Outcome outcome = Outcome::kStopped;
  std::thread run([&] { outcome = tasks.CreateAgentConfig(ac); });
  api.CreateNamespace(kNs);  // retried until the namespace exists
  run.join();
  CHECK(outcome == Outcome::kCreated);
}

TEST_CASE("an AgentConfig the API server rejects is reported as rejected, not retried",
          "[controller][bootstrap]") {
  ApiFixture api;
  InstallCrd(api.client());
  api.CreateNamespace(kNs);
  // Passes the local checks but not the CRD schema: unknown enum value.
  json::Document ac = Parsed(kBootstrapYaml);
  json::SetString(json::EnsureObject(ac, {"spec", "agent"}, ac.GetAllocator()), "imagePullPolicy",
                  "Sometimes", ac.GetAllocator());
  auto client = api.NewClient();
  controller::StartupTasks tasks(*client, FastRetries());
  CHECK(tasks.CreateAgentConfig(ac) == Outcome::kRejected);
  CHECK(api.client().Get(kAgentConfig).error().IsNotFound());
}

TEST_CASE("the operator's Namespace becomes the owner of its ClusterRole and binding, and "
          "deleting the namespace removes them",
          "[controller][bootstrap]") {
  ApiFixture api;
  api.CreateNamespace(kNs);
  api.CreateNamespace("other-owner");
  auto other = api.client().Get({"v1", "Namespace", "", "other-owner"});
  REQUIRE(other.ok());
  const std::string other_uid = json::GetString(*other, {"metadata", "uid"});
  const std::string rules = R"("rules":[{"apiGroups":[""],"resources":["namespaces"],"verbs":["get"]}])";
  REQUIRE(api.client()
              .Create(Json(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
                "metadata":{"name":"srexpert-operator"},)" + rules + "}"))
              .ok());
  REQUIRE(api.client()
              .Create(Json(R"({"apiVersion":"rbac.authorization.k8s.io/v1",
                "kind":"ClusterRoleBinding","metadata":{"name":"srexpert-operator"},
                "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole",
                "name":"srexpert-operator"},"subjects":[{"kind":"ServiceAccount",
                "name":"srexpert-operator","namespace":"srexpert-system"}]})"))
              .ok());
  // Already owned by someone else: that reference must stay, and keeps the
  // object alive when our namespace goes.
  REQUIRE(api.client()
              .Create(Json(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
                "metadata":{"name":"shared","ownerReferences":[{"apiVersion":"v1",
                "kind":"Namespace","name":"other-owner","uid":")" + other_uid + R"("}]},)" + rules + "}"))
              .ok());
  REQUIRE(api.client()
              .Create(Json(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
                "metadata":{"name":"unrelated"},"rules":[]})"))
              .ok());
  const std::vector<kube::ObjectRef> own = {
      {"rbac.authorization.k8s.io/v1", "ClusterRole", "", "srexpert-operator"},
      {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "srexpert-operator"},
      {"rbac.authorization.k8s.io/v1", "ClusterRole", "", "shared"},
      {"rbac.authorization.k8s.io/v1", "ClusterRole", "", "not-there"},  // skipped
  };
  auto ns = api.client().Get({"v1", "Namespace", "", kNs});
  REQUIRE(ns.ok());
  const std::string ns_uid = json::GetString(*ns, {"metadata", "uid"});

  auto client = api.NewClient();
  controller::StartupTasks tasks(*client, FastRetries());
  REQUIRE(tasks.OwnByNamespace(kNs, own));
  for (int i : {0, 1}) {
    auto obj = api.client().Get(own[i]);
    REQUIRE(obj.ok());
    const auto& refs = (*obj)["metadata"]["ownerReferences"];
    REQUIRE(refs.Size() == 1);
    CHECK(json::GetString(refs[0], {"apiVersion"}) == "v1");
    CHECK(json::GetString(refs[0], {"kind"}) == "Namespace");
    CHECK(json::GetString(refs[0], {"name"}) == kNs);
    CHECK(json::GetString(refs[0], {"uid"}) == ns_uid);
    CHECK_FALSE(refs[0].HasMember("blockOwnerDeletion"));
  }
  auto shared = api.client().Get(own[2]);
  REQUIRE(shared.ok());
  const auto& shared_refs = (*shared)["metadata"]["ownerReferences"];
  REQUIRE(shared_refs.Size() == 2);
  CHECK(json::GetString(shared_refs[0], {"uid"}) == other_uid);
  CHECK(json::GetString(shared_refs[1], {"uid"}) == ns_uid);
  CHECK(api.client().Get(own[3]).error().IsNotFound());  // not created

  // A restart finds them owned and writes nothing.
  api.server().ResetRequestCounts();
  controller::StartupTasks again(*client, FastRetries());
  REQUIRE(again.OwnByNamespace(kNs, own));
  CHECK(api.server().RequestCount("patch") == 0);
  CHECK(api.server().RequestCount("update") == 0);
  CHECK(api.server().RequestCount("create") == 0);

  REQUIRE(api.client().Delete({"v1", "Namespace", "", kNs}).ok());
  CHECK(Eventually([&] {
    auto role = api.client().Get(own[0]);
    auto binding = api.client().Get(own[1]);
    return !role.ok() && role.error().IsNotFound() && !binding.ok() &&
           binding.error().IsNotFound();
  }));
  CHECK(api.client().Get(own[2]).ok());  // its other owner still exists
  CHECK(api.client().Get({"rbac.authorization.k8s.io/v1", "ClusterRole", "", "unrelated"}).ok());
}
