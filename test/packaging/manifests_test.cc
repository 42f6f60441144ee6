// manifests/install.yaml and manifests/examples/: fresh, PSS-restricted, and
// accepted by the real kubectl against the loopback API server.
#include <catch2/catch.hpp>

#include <set>

#include "api/agent_config.h"
#include "common/json.h"
#include "test/api/crd_schema.h"
#include "test/apiserver/api_server.h"
#include "test/packaging/packaging_support.h"
#include "test/packaging/pod_security.h"

using namespace srexpert;
using namespace srexpert::packaging;

namespace {

const std::string kInstall = "manifests/install.yaml";
const std::vector<std::string> kExamples = {
    "manifests/examples/proxy-custom-ca.yaml",
    "manifests/examples/actions-enabled.yaml",
    "manifests/examples/existing-secret-gitops.yaml",
};

// kubectl against one ApiServer, with its own discovery cache.
class Kubectl {
 public:
  explicit Kubectl(const testing::ApiServer& server) : kubeconfig_(server.KubeconfigFile()) {}
  CommandResult operator()(std::vector<std::string> args, const std::string& input = {}) const {
    std::vector<std::string> argv = {"kubectl", "--kubeconfig", kubeconfig_, "--cache-dir",
                                     cache_.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return Run(argv, input);
  }
  // The install command docs/install.md gives: kubectl maps every object of
  // a file before it applies the first one, so on a fresh cluster the
  // AgentConfig fails until the CRD exists; the second apply creates it.
  CommandResult Install(const std::string& file) const {
    std::string k = "kubectl --kubeconfig '" + kubeconfig_ + "' --cache-dir '" + cache_.path() + "'";
    return Run({"bash", "-c",
                k + " apply --server-side -f '" + file + "' || { " + k +
                    " wait --for=condition=Established --timeout=60s"
                    " crd/agentconfigs.agent.srexpert.io && " +
                    k + " apply --server-side -f '" + file + "'; }"});
  }

 private:
  std::string kubeconfig_;
  TempDir cache_;
};

json::Document ToJson(const YAML::Node& node) {
  json::Document doc;
  json::Value v = testing::YamlToJson(node, doc.GetAllocator());
  doc.CopyFrom(v, doc.GetAllocator());
  return doc;
}

}  // namespace

TEST_CASE("manifests/install.yaml is what scripts/gen-manifests.sh generates from the chart",
          "[packaging][manifests]") {
  TempDir dir;
  const std::string out = dir.path() + "/install.yaml";
  CommandResult r = Run({"bash", SourcePath("scripts/gen-manifests.sh"), out}, {},
                        {{"HELM", HelmBinary()}});
  INFO(r.Describe());
  REQUIRE(r.exit_code == 0);
  INFO("manifests/install.yaml is stale: run scripts/gen-manifests.sh and commit the result");
  CHECK(ReadFile(out) == ReadFile(SourcePath(kInstall)));
}

TEST_CASE("install.yaml holds the namespace, CRD, operator, token Secret and AgentConfig in "
          "apply order",
          "[packaging][manifests]") {
  auto docs = LoadDocuments(ReadFile(SourcePath(kInstall)));
  REQUIRE(docs.size() >= 2);
  CHECK(ObjectKey(docs[0]) == "Namespace srexpert-system");
  CHECK(ObjectKey(docs[1]) == "CustomResourceDefinition agentconfigs.agent.srexpert.io");
  std::set<std::string> keys;
  for (const auto& [key, node] : ByKey(docs)) keys.insert(key);
  CHECK(keys == std::set<std::string>{
                    "Namespace srexpert-system",
                    "CustomResourceDefinition agentconfigs.agent.srexpert.io",
                    "ServiceAccount srexpert-system/srexpert-operator",
                    "Role srexpert-system/srexpert-operator",
                    "RoleBinding srexpert-system/srexpert-operator",
                    "ClusterRole srexpert-operator",
                    "ClusterRoleBinding srexpert-operator",
                    "Deployment srexpert-system/srexpert-operator",
                    "Secret srexpert-system/srexpert-agent-registration",
                    "AgentConfig srexpert-system/srexpert-agent",
                });
  // The CRD is the checked-in one, byte for byte in content.
  CHECK(Canonical(docs[1]) ==
        Canonical(YAML::LoadFile(SourcePath("crds/agentconfigs.agent.srexpert.io.yaml"))));
  // The placeholders a user (or srexpert-hub) replaces.
  auto ac = FindOne(docs, "AgentConfig");
  CHECK(ac["spec"]["clusterName"].as<std::string>() == "my-cluster");
  CHECK(ac["spec"]["backend"]["url"].as<std::string>() == "wss://connect.srexpert.io/agent");
  CHECK(FindOne(docs, "Secret")["stringData"]["token"].as<std::string>() ==
        "REPLACE_WITH_REGISTRATION_TOKEN");
}

TEST_CASE("Every pod in the chart and the manifests meets the restricted Pod Security Standard",
          "[packaging][manifests]") {
  std::vector<std::pair<std::string, std::vector<YAML::Node>>> sources;
  sources.emplace_back(kInstall, LoadDocuments(ReadFile(SourcePath(kInstall))));
  for (const auto& e : kExamples) sources.emplace_back(e, LoadDocuments(ReadFile(SourcePath(e))));
  for (const char* values :
       {"default-values.yaml", "existing-secret-values.yaml", "full-values.yaml"}) {
    ChartRender render;
    render.values_files = {SourcePath(std::string("helm/srexpert-agent/ci/") + values)};
    CommandResult r = HelmTemplate(render);
    INFO(r.Describe());
    REQUIRE(r.exit_code == 0);
    sources.emplace_back(std::string("chart with ") + values, LoadDocuments(r.out));
  }
  int pods = 0;
  for (const auto& [source, docs] : sources) {
    for (const auto& d : docs) {
      if (!IsWorkload(d)) continue;
      YAML::Node pod = PodSpecOf(d);
      ++pods;
      for (const auto& v : RestrictedViolations(pod, source + ": " + ObjectKey(d))) FAIL_CHECK(v);
    }
  }
  CHECK(pods >= 4);  // the operator Deployment in install.yaml and in each render
  // The namespace enforces the standard too.
  auto ns = FindOne(LoadDocuments(ReadFile(SourcePath(kInstall))), "Namespace");
  CHECK(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"].as<std::string>() ==
        "restricted");
}

TEST_CASE("The example AgentConfigs are valid for the CRD schema and the operator",
          "[packaging][manifests]") {
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  for (const auto& e : kExamples) {
    auto ac = FindOne(LoadDocuments(ReadFile(SourcePath(e))), "AgentConfig");
    json::Document obj = ToJson(ac);
    INFO(e);
    for (const auto& err : testing::SchemaErrors(root, obj, "")) FAIL_CHECK(err);
    // As the operator receives it: from the API, with a uid.
    json::SetString(json::EnsureObject(obj, {"metadata"}, obj.GetAllocator()), "uid",
                    "00000000-0000-0000-0000-000000000001", obj.GetAllocator());
    api::ParseResult parsed = api::Parse(obj);
    CHECK(parsed.Summary() == "");
  }
  // Each example shows what its name promises.
  auto proxy = FindOne(LoadDocuments(ReadFile(SourcePath(kExamples[0]))), "AgentConfig");
  CHECK(proxy["spec"]["backend"]["proxy"]["url"]);
  CHECK(proxy["spec"]["backend"]["caBundle"]);
  auto actions = FindOne(LoadDocuments(ReadFile(SourcePath(kExamples[1]))), "AgentConfig");
  CHECK(actions["spec"]["actions"]["scale"].as<bool>());
  auto gitops = FindOne(LoadDocuments(ReadFile(SourcePath(kExamples[2]))), "AgentConfig");
  CHECK(gitops["spec"]["token"]["secretRef"]["name"].as<std::string>() == "srexpert-registration");
  for (const auto& d : LoadDocuments(ReadFile(SourcePath(kExamples[2])))) {
    CHECK(d["kind"].as<std::string>() != "Secret");  // the token is not in Git
  }
}

TEST_CASE("kubectl installs install.yaml on an API server with the documented command, and "
          "the examples on top",
          "[packaging][manifests][kubectl]") {
  testing::ApiServer server;
  server.Start();
  Kubectl kubectl(server);

  CommandResult install = kubectl.Install(SourcePath(kInstall));
  INFO(install.Describe());
  REQUIRE(install.exit_code == 0);
  CHECK(install.out.find("agentconfig.agent.srexpert.io/srexpert-agent serverside-applied") !=
        std::string::npos);

  CommandResult get = kubectl({"get", "agentconfig", "srexpert-agent", "-n", "srexpert-system",
                               "-o", "jsonpath={.spec.clusterName}"});
  INFO(get.Describe());
  CHECK(get.exit_code == 0);
  CHECK(get.out == "my-cluster");
  for (const std::vector<std::string>& object :
       {std::vector<std::string>{"deployment", "srexpert-operator", "-n", "srexpert-system"},
        {"clusterrole", "srexpert-operator"},
        {"clusterrolebinding", "srexpert-operator"},
        {"role", "srexpert-operator", "-n", "srexpert-system"},
        {"secret", "srexpert-agent-registration", "-n", "srexpert-system"}}) {
    std::vector<std::string> args = {"get"};
    args.insert(args.end(), object.begin(), object.end());
    CommandResult r = kubectl(args);
    INFO(r.Describe());
    CHECK(r.exit_code == 0);
  }

  // Re-applying is a no-op that succeeds (GitOps and helm-less upgrades).
  CommandResult again = kubectl({"apply", "--server-side", "-f", SourcePath(kInstall)});
  INFO(again.Describe());
  CHECK(again.exit_code == 0);

  // Client-side dry run, which needs the server's discovery, from a pipe.
  CommandResult dry =
      kubectl({"apply", "--dry-run=client", "-f", "-"}, ReadFile(SourcePath(kInstall)));
  INFO(dry.Describe());
  CHECK(dry.exit_code == 0);
  CHECK(dry.out.find("agentconfig.agent.srexpert.io/srexpert-agent") != std::string::npos);

  for (const auto& e : kExamples) {
    CommandResult dry_example = kubectl({"apply", "--dry-run=client", "-f", SourcePath(e)});
    INFO(e << ": " << dry_example.Describe());
    CHECK(dry_example.exit_code == 0);
    CommandResult applied = kubectl({"apply", "--server-side", "-f", SourcePath(e)});
    INFO(e << ": " << applied.Describe());
    CHECK(applied.exit_code == 0);
  }
  // The last example applied wins: the GitOps one points at its own Secret.
  CommandResult ref = kubectl({"get", "agentconfig", "srexpert-agent", "-n", "srexpert-system",
                               "-o", "jsonpath={.spec.token.secretRef.name}"});
  CHECK(ref.out == "srexpert-registration");
}
