// The Helm chart helm/srexpert-agent, checked with the real Helm binary.
#include <catch2/catch.hpp>

#include <set>

#include "api/agent_config.h"
#include "common/json.h"
#include "test/api/crd_schema.h"
#include "test/packaging/packaging_support.h"
#include "test/packaging/pod_security.h"

using namespace srexpert;
using namespace srexpert::packaging;

namespace {

const std::string kChart = "helm/srexpert-agent";

std::string CiValues(const std::string& name) { return SourcePath(kChart + "/ci/" + name); }

std::vector<YAML::Node> Render(const ChartRender& render) {
  CommandResult r = HelmTemplate(render);
  INFO(r.Describe());
  REQUIRE(r.exit_code == 0);
  return LoadDocuments(r.out);
}

std::vector<YAML::Node> RenderDefault(std::vector<std::string> set = {}) {
  ChartRender render;
  render.values_files = {CiValues("default-values.yaml")};
  render.set = std::move(set);
  return Render(render);
}

// The AgentConfig document as a JSON object (the way the apiserver reads it).
json::Document ToJson(const YAML::Node& node) {
  json::Document doc;
  json::Value v = testing::YamlToJson(node, doc.GetAllocator());
  doc.CopyFrom(v, doc.GetAllocator());
  return doc;
}

// Keys of the documents that differ between two renders (added, removed or
// changed).
std::set<std::string> ChangedObjects(const std::vector<YAML::Node>& before,
                                     const std::vector<YAML::Node>& after) {
  auto a = ByKey(before), b = ByKey(after);
  std::set<std::string> changed;
  for (const auto& [key, node] : a) {
    auto it = b.find(key);
    if (it == b.end() || Canonical(node) != Canonical(it->second)) changed.insert(key);
  }
  for (const auto& [key, node] : b) {
    if (!a.count(key)) changed.insert(key);
  }
  return changed;
}

const std::string kAgentConfig = "AgentConfig srexpert-system/srexpert-agent";
const std::string kDeployment = "Deployment srexpert-system/srexpert-operator";
const std::string kTokenSecret = "Secret srexpert-system/srexpert-agent-registration";

}  // namespace

TEST_CASE("helm lint --strict passes for every CI values file", "[packaging][helm]") {
  for (const char* file :
       {"default-values.yaml", "existing-secret-values.yaml", "full-values.yaml"}) {
    CommandResult r = HelmLint({CiValues(file)});
    INFO(file << ": " << r.Describe());
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("values.schema.json rejects invalid values, naming the field", "[packaging][helm]") {
  struct Case {
    std::vector<std::string> set;
    std::string field;  // expected in Helm's message
  };
  const std::vector<Case> cases = {
      {{"agentConfig.backend.url=http://x"}, "/agentConfig/backend/url"},
      {{"agentConfig.backend.url=ws://hub.local/agent"}, "/agentConfig/backend/url"},
      {{"agentConfig.clusterName="}, "/agentConfig/clusterName"},
      {{"agentConfig.clusterName=Not_A_DNS_Label"}, "/agentConfig/clusterName"},
      {{"agentConfig.token.value=", "agentConfig.token.existingSecret.name="}, "/agentConfig/token"},
      {{"agentConfig.token.existingSecret.name=other"}, "/agentConfig/token"},
      {{"agentConfig.clustername=typo"}, "clustername"},
      {{"agentConfig.actions.scale=yes"}, "/agentConfig/actions/scale"},
      {{"agentConfig.leaderElection.leaseDuration=15"}, "/agentConfig/leaderElection/leaseDuration"},
      {{"agentConfig.agent.podLabels.app\\.kubernetes\\.io/name=x"},
       "invalid propertyName 'app.kubernetes.io/name'"},
      {{"operator.replicas=-1"}, "/operator/replicas"},
      {{"operator.image.digest=latest"}, "/operator/image/digest"},
      {{"operator.logLevel=verbose"}, "/operator/logLevel"},
  };
  for (const auto& c : cases) {
    CommandResult r = HelmLint({CiValues("default-values.yaml")}, c.set);
    INFO(c.set[0] << ": " << r.Describe());
    CHECK(r.exit_code != 0);
    CHECK(r.out.find(c.field) != std::string::npos);
  }
}

TEST_CASE("values.schema.json accepts ws:// only with insecure, and no AgentConfig without "
          "cluster name or token when agentConfig.create is false",
          "[packaging][helm]") {
  CommandResult insecure = HelmLint({CiValues("default-values.yaml")},
                                    {"agentConfig.backend.url=ws://hub.local:8080/agent",
                                     "agentConfig.backend.insecure=true"});
  INFO(insecure.Describe());
  CHECK(insecure.exit_code == 0);

  CommandResult operator_only = HelmLint({}, {"agentConfig.create=false"});
  INFO(operator_only.Describe());
  CHECK(operator_only.exit_code == 0);
}

TEST_CASE("helm template renders the operator, its RBAC, the token Secret and the AgentConfig",
          "[packaging][helm]") {
  auto docs = RenderDefault();
  std::set<std::string> keys;
  for (const auto& [key, node] : ByKey(docs)) keys.insert(key);
  CHECK(keys == std::set<std::string>{
                    "ServiceAccount srexpert-system/srexpert-operator",
                    "Role srexpert-system/srexpert-operator",
                    "RoleBinding srexpert-system/srexpert-operator",
                    "ClusterRole srexpert-operator",
                    "ClusterRoleBinding srexpert-operator",
                    "ClusterRole srexpert-helm-release-storage",
                    kDeployment,
                    kTokenSecret,
                    kAgentConfig,
                });
  // Helm convention: the release namespace, no Namespace object.
  for (const auto& d : docs) {
    INFO(ObjectKey(d));
    CHECK(d["kind"].as<std::string>() != "Namespace");
    if (d["metadata"]["namespace"]) {
      CHECK(d["metadata"]["namespace"].as<std::string>() == "srexpert-system");
    }
  }
}

TEST_CASE("helm template --include-crds ships the CRD unchanged", "[packaging][helm]") {
  CHECK(ReadFile(SourcePath(kChart + "/crds/agentconfigs.agent.srexpert.io.yaml")) ==
        ReadFile(SourcePath("crds/agentconfigs.agent.srexpert.io.yaml")));
  ChartRender render;
  render.values_files = {CiValues("default-values.yaml")};
  render.include_crds = true;
  auto crd = FindOne(Render(render), "CustomResourceDefinition");
  CHECK(Canonical(crd) == Canonical(YAML::LoadFile(SourcePath("crds/agentconfigs.agent.srexpert.io.yaml"))));
}

TEST_CASE("The operator Deployment is hardened and wired like the operator expects",
          "[packaging][helm]") {
  auto deploy = FindOne(RenderDefault(), "Deployment");
  YAML::Node pod = PodSpecOf(deploy);
  auto violations = RestrictedViolations(pod, "Deployment srexpert-operator");
  INFO(Canonical(pod));
  for (const auto& v : violations) FAIL_CHECK(v);

  CHECK(pod["securityContext"]["runAsUser"].as<int>() == 65532);
  CHECK(pod["serviceAccountName"].as<std::string>() == "srexpert-operator");
  REQUIRE(pod["containers"].size() == 1);
  YAML::Node c = pod["containers"][0];
  CHECK(c["image"].as<std::string>() == "ghcr.io/srexpert/srexpert-agent:0.1.0");
  CHECK(c["command"][0].as<std::string>() == "/usr/local/bin/srexpert-operator");
  std::set<std::string> args;
  for (const auto& a : c["args"]) args.insert(a.as<std::string>());
  CHECK(args.count("--agent-image=ghcr.io/srexpert/srexpert-agent:0.1.0"));
  CHECK(args.count("--metrics-bind-address=:8080"));
  CHECK(args.count("--health-probe-bind-address=:8081"));
  CHECK_FALSE(args.count("--leader-elect"));  // one replica
  CHECK(deploy["spec"]["strategy"]["type"].as<std::string>() == "Recreate");
  CHECK(c["livenessProbe"]["httpGet"]["path"].as<std::string>() == "/healthz");
  CHECK(c["readinessProbe"]["httpGet"]["path"].as<std::string>() == "/readyz");
  CHECK(c["resources"]["requests"]["memory"]);
  CHECK(c["resources"]["limits"]["memory"]);
  bool pod_namespace = false;
  for (const auto& e : c["env"]) {
    if (e["name"].as<std::string>() == "POD_NAMESPACE") {
      pod_namespace =
          e["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>() == "metadata.namespace";
    }
  }
  CHECK(pod_namespace);
}

TEST_CASE("More than one operator replica turns on leader election", "[packaging][helm]") {
  auto deploy = FindOne(RenderDefault({"operator.replicas=2"}), "Deployment");
  std::set<std::string> args;
  for (const auto& a : PodSpecOf(deploy)["containers"][0]["args"]) args.insert(a.as<std::string>());
  CHECK(args.count("--leader-elect"));
  CHECK(args.count("--leader-election-id=srexpert-operator"));
  CHECK(deploy["spec"]["strategy"]["type"].as<std::string>() == "RollingUpdate");
}

TEST_CASE("The rendered AgentConfig is valid for the CRD schema and the operator",
          "[packaging][helm]") {
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  for (const char* file :
       {"default-values.yaml", "existing-secret-values.yaml", "full-values.yaml"}) {
    ChartRender render;
    render.values_files = {CiValues(file)};
    auto ac = FindOne(Render(render), "AgentConfig");
    json::Document obj = ToJson(ac);
    INFO(file << ": " << json::DumpPretty(obj));
    for (const auto& e : testing::SchemaErrors(root, obj, "")) FAIL_CHECK(e);
    // As the operator receives it: from the API, with a uid.
    json::SetString(json::EnsureObject(obj, {"metadata"}, obj.GetAllocator()), "uid",
                    "00000000-0000-0000-0000-000000000001", obj.GetAllocator());
    api::ParseResult parsed = api::Parse(obj);
    CHECK(parsed.Summary() == "");
    CHECK(parsed.ok());
  }
}

TEST_CASE("The chart's AgentConfig defaults equal the CRD's defaults", "[packaging][helm]") {
  auto ac = FindOne(RenderDefault(), "AgentConfig");
  json::Document rendered = ToJson(ac["spec"]);
  // What a user writes by hand: only the required fields, then the
  // apiserver's structural defaulting.
  json::Document minimal;
  minimal.SetObject();
  auto& a = minimal.GetAllocator();
  json::Set(minimal, "clusterName", json::Value(*json::Find(rendered, {"clusterName"}), a), a);
  json::Set(json::EnsureObject(minimal, {"backend"}, a), "url",
            json::Value(*json::Find(rendered, {"backend", "url"}), a), a);
  json::Set(minimal, "token", json::Value(*json::Find(rendered, {"token"}), a), a);
  testing::ApplySchemaDefaults(testing::SchemaAt(testing::RootSchema(testing::LoadCrd()), "spec"),
                               minimal, a);
  INFO("chart: " << json::DumpPretty(rendered) << "\nCRD defaults: " << json::DumpPretty(minimal));
  CHECK(json::Equal(rendered, minimal));
}

TEST_CASE("An inline token goes into a Secret the AgentConfig references, and existingSecret "
          "renders no Secret",
          "[packaging][helm]") {
  auto inline_docs = RenderDefault();
  auto secret = FindOne(inline_docs, "Secret");
  CHECK(secret["stringData"]["token"].as<std::string>() == "ci-registration-token");
  auto ac = FindOne(inline_docs, "AgentConfig");
  CHECK_FALSE(ac["spec"]["token"]["value"]);
  CHECK(ac["spec"]["token"]["secretRef"]["name"].as<std::string>() == "srexpert-agent-registration");
  // The token is in the Secret only.
  for (const auto& d : inline_docs) {
    if (d["kind"].as<std::string>() == "Secret") continue;
    CHECK(Canonical(d).find("ci-registration-token") == std::string::npos);
  }

  ChartRender render;
  render.values_files = {CiValues("existing-secret-values.yaml")};
  auto gitops = Render(render);
  for (const auto& d : gitops) CHECK(d["kind"].as<std::string>() != "Secret");
  auto ref = FindOne(gitops, "AgentConfig")["spec"]["token"]["secretRef"];
  CHECK(ref["name"].as<std::string>() == "srexpert-registration");
  CHECK(ref["key"].as<std::string>() == "registration-token");
}

TEST_CASE("agentConfig.create=false installs only the operator", "[packaging][helm]") {
  auto docs = Render(ChartRender{{}, {"agentConfig.create=false"}});
  for (const auto& d : docs) {
    INFO(ObjectKey(d));
    CHECK(d["kind"].as<std::string>() != "AgentConfig");
    CHECK(d["kind"].as<std::string>() != "Secret");
  }
  CHECK(FindOne(docs, "Deployment")["metadata"]["name"].as<std::string>() == "srexpert-operator");
}

TEST_CASE("helm upgrade with changed values changes only the objects those values feed",
          "[packaging][helm]") {
  const auto base = RenderDefault();
  struct Case {
    std::vector<std::string> set;
    std::set<std::string> changed;
  };
  const std::vector<Case> cases = {
      {{"agentConfig.actions.scale=true"}, {kAgentConfig}},
      {{"agentConfig.clusterName=other-cluster"}, {kAgentConfig}},
      {{"agentConfig.backend.proxy.url=http://proxy:3128"}, {kAgentConfig}},
      {{"agentConfig.leaderElection.leaseDuration=30s"}, {kAgentConfig}},
      {{"agentConfig.agent.image=registry.example/agent:2"}, {kAgentConfig}},
      {{"agentConfig.token.value=rotated-token"}, {kTokenSecret}},
      {{"operator.image.tag=0.2.0"}, {kDeployment}},
      {{"operator.replicas=3"}, {kDeployment}},
      {{"operator.resources.limits.memory=512Mi"}, {kDeployment}},
  };
  for (const auto& c : cases) {
    INFO(c.set[0]);
    CHECK(ChangedObjects(base, RenderDefault(c.set)) == c.changed);
  }
  // Switching the token to an existing Secret drops the chart's Secret and
  // repoints the AgentConfig.
  CHECK(ChangedObjects(base, RenderDefault({"agentConfig.token.value=",
                                            "agentConfig.token.existingSecret.name=mine"})) ==
        std::set<std::string>{kAgentConfig, kTokenSecret});
}
