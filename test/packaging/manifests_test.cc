// manifests/install.yaml and manifests/examples/: fresh, PSS-restricted, and
// accepted by the real kubectl against the loopback API server.
#include <catch2/catch.hpp>

#include <set>

#include "api/agent_config.h"
#include "common/json.h"
#include "scan/config.h"
#include "test/api/crd_schema.h"
#include "test/apiserver/api_server.h"
#include "test/net/test_support.h"
#include "test/packaging/packaging_support.h"
#include "test/packaging/pod_security.h"

using namespace srexpert;
using namespace srexpert::packaging;

namespace {

const std::string kInstall = "manifests/install.yaml";
const std::vector<std::string> kExamples = {
    "manifests/examples/proxy-custom-ca.yaml",
    "manifests/examples/actions-enabled.yaml",
    "manifests/examples/scans-config.yaml",
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
  // The install command docs/install.md gives: one apply, also on a fresh
  // cluster (install.yaml holds no object of the CRD's own kind).
  CommandResult Install(const std::string& file) const {
    return (*this)({"apply", "--server-side", "-f", file});
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

TEST_CASE("install.yaml holds the namespace, CRD, operator, token Secret and bootstrap "
          "AgentConfig in apply order",
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
                    "ClusterRole srexpert-helm-release-storage",
                    "Deployment srexpert-system/srexpert-operator",
                    "Secret srexpert-system/srexpert-agent-registration",
                    "ConfigMap srexpert-system/srexpert-operator-bootstrap",
                });
  // The CRD is the checked-in one, byte for byte in content.
  CHECK(Canonical(docs[1]) ==
        Canonical(YAML::LoadFile(SourcePath("crds/agentconfigs.agent.srexpert.io.yaml"))));
  // No AgentConfig object: kubectl could not map it before the CRD exists.
  // The operator creates it from the bootstrap ConfigMap it mounts.
  auto deployment = FindOne(docs, "Deployment", "srexpert-operator");
  bool flag = false;
  for (const auto& arg : deployment["spec"]["template"]["spec"]["containers"][0]["args"]) {
    flag = flag || arg.as<std::string>() ==
                       "--bootstrap-agent-config=/etc/srexpert/bootstrap/agentconfig.yaml";
  }
  CHECK(flag);
  auto ac = YAML::Load(
      FindOne(docs, "ConfigMap", "srexpert-operator-bootstrap")["data"]["agentconfig.yaml"]
          .as<std::string>());
  CHECK(ac["kind"].as<std::string>() == "AgentConfig");
  CHECK(ac["metadata"]["namespace"].as<std::string>() == "srexpert-system");
  // The placeholders a user (or srexpert-hub) replaces.
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
  auto scans = FindOne(LoadDocuments(ReadFile(SourcePath(kExamples[2]))), "AgentConfig");
  CHECK(scans["spec"]["scans"]["customChecks"]["imageFromCorporateRegistry"]);
  auto gitops = FindOne(LoadDocuments(ReadFile(SourcePath(kExamples[3]))), "AgentConfig");
  CHECK(gitops["spec"]["token"]["secretRef"]["name"].as<std::string>() == "srexpert-registration");
  for (const auto& d : LoadDocuments(ReadFile(SourcePath(kExamples[3])))) {
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
  CHECK(install.out.find("configmap/srexpert-operator-bootstrap serverside-applied") !=
        std::string::npos);
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
  CHECK(dry.out.find("configmap/srexpert-operator-bootstrap") != std::string::npos);

  for (const auto& e : kExamples) {
    CommandResult dry_example = kubectl({"apply", "--dry-run=client", "-f", SourcePath(e)});
    INFO(e << ": " << dry_example.Describe());
    CHECK(dry_example.exit_code == 0);
    CommandResult applied = kubectl({"apply", "--server-side", "-f", SourcePath(e)});
    INFO(e << ": " << applied.Describe());
    CHECK(applied.exit_code == 0);
    if (e.ends_with("scans-config.yaml")) {
      // As the operator reads it back: a valid AgentConfig whose scan
      // configuration the scanner's parser takes.
      CommandResult got = kubectl({"get", "agentconfig", "srexpert-agent", "-n",
                                   "srexpert-system", "-o", "json"});
      REQUIRE(got.exit_code == 0);
      auto doc = json::Parse(got.out);
      REQUIRE(doc);
      api::ParseResult parsed = api::Parse(*doc);
      INFO(parsed.Summary());
      REQUIRE(parsed.ok());
      std::string polaris = api::PolarisConfigJson(parsed.config.spec.scans);
      REQUIRE_FALSE(polaris.empty());
      scan::ScanConfig config;
      CHECK(scan::ParseConfig(polaris, &config) == "");
    }
  }
  // The last example applied wins: the GitOps one points at its own Secret.
  CommandResult ref = kubectl({"get", "agentconfig", "srexpert-agent", "-n", "srexpert-system",
                               "-o", "jsonpath={.spec.token.secretRef.name}"});
  CHECK(ref.out == "srexpert-registration");
}

TEST_CASE("One plain kubectl apply of install.yaml on a fresh API server, then the operator "
          "creates the AgentConfig and deleting the namespace removes everything but the CRD",
          "[packaging][manifests][kubectl][operator]") {
  testing::ApiServer server;
  server.Start();
  Kubectl kubectl(server);

  // The literal command, client-side apply, exactly once.
  CommandResult install = kubectl({"apply", "-f", SourcePath(kInstall)});
  INFO(install.Describe());
  REQUIRE(install.exit_code == 0);
  CHECK(install.out.find("customresourcedefinition.apiextensions.k8s.io/"
                         "agentconfigs.agent.srexpert.io created") != std::string::npos);
  CHECK(install.out.find("deployment.apps/srexpert-operator created") != std::string::npos);

  // No kubelet here: run the operator binary as the Deployment would, with
  // the bootstrap ConfigMap "mounted" as a file.
  TempDir dir;
  CommandResult bootstrap = kubectl({"get", "configmap", "srexpert-operator-bootstrap", "-n",
                                     "srexpert-system", "-o", "jsonpath={.data.agentconfig\\.yaml}"});
  INFO(bootstrap.Describe());
  REQUIRE(bootstrap.exit_code == 0);
  const std::string bootstrap_file = dir.Write("agentconfig.yaml", bootstrap.out);
  const std::string log_file = dir.path() + "/operator.log";
  auto docs = LoadDocuments(ReadFile(SourcePath(kInstall)));
  std::vector<std::string> argv = {SRX_BINARY_DIR "/operator/cmd/srexpert-operator",
                                   "--kubeconfig", server.KubeconfigFile(),
                                   "--metrics-bind-address=0",
                                   "--health-probe-bind-address=127.0.0.1:0"};
  // The Deployment's own arguments, with the paths and the pod's namespace
  // of this machine.
  for (const auto& arg : FindOne(docs, "Deployment", "srexpert-operator")["spec"]["template"]
                             ["spec"]["containers"][0]["args"]) {
    std::string a = arg.as<std::string>();
    if (a.rfind("--metrics-bind-address", 0) == 0 ||
        a.rfind("--health-probe-bind-address", 0) == 0) {
      continue;
    }
    if (a == "--namespace=$(POD_NAMESPACE)") a = "--namespace=srexpert-system";
    if (a.rfind("--bootstrap-agent-config=", 0) == 0) a = "--bootstrap-agent-config=" + bootstrap_file;
    argv.push_back(a);
  }
  testing::ChildProcess op(argv, log_file, log_file);

  auto get = [&](std::vector<std::string> args) { return kubectl(args); };
  CHECK(testing::WaitUntil(
      [&] {
        return get({"get", "agentconfig", "srexpert-agent", "-n", "srexpert-system", "-o",
                    "jsonpath={.spec.clusterName}"})
                   .out == "my-cluster";
      },
      std::chrono::seconds(60)));
  // The operator reconciles it: the agent's children appear.
  CHECK(testing::WaitUntil(
      [&] { return get({"get", "daemonset", "srexpert-agent", "-n", "srexpert-system"}).exit_code == 0; },
      std::chrono::seconds(60)));
  for (const char* kind : {"clusterrole", "clusterrolebinding"}) {
    INFO(kind);
    CHECK(testing::WaitUntil(
        [&] {
          return get({"get", kind, "srexpert-operator", "-o",
                      "jsonpath={.metadata.ownerReferences[0].kind}/"
                      "{.metadata.ownerReferences[0].name}"})
                     .out == "Namespace/srexpert-system";
        },
        std::chrono::seconds(60)));
  }
  // Applying the file again (GitOps, upgrades) keeps both the ownership and
  // any edit made to the AgentConfig since.
  CommandResult edit = kubectl({"patch", "agentconfig", "srexpert-agent", "-n", "srexpert-system",
                                "--type=merge", "-p", R"({"spec":{"clusterName":"edited"}})"});
  INFO(edit.Describe());
  CHECK(edit.exit_code == 0);
  CommandResult again = kubectl({"apply", "-f", SourcePath(kInstall)});
  INFO(again.Describe());
  CHECK(again.exit_code == 0);
  CHECK(get({"get", "clusterrole", "srexpert-operator", "-o",
             "jsonpath={.metadata.ownerReferences[0].name}"})
            .out == "srexpert-system");
  CHECK(get({"get", "agentconfig", "srexpert-agent", "-n", "srexpert-system", "-o",
             "jsonpath={.spec.clusterName}"})
            .out == "edited");

  // Uninstall: one command; only the CRD stays (docs/uninstall.md).
  CommandResult del = kubectl({"delete", "namespace", "srexpert-system", "--wait=false"});
  INFO(del.Describe());
  CHECK(del.exit_code == 0);
  CHECK(testing::WaitUntil(
      [&] {
        return get({"get", "clusterrole,clusterrolebinding", "-o", "name"}).out.find("srexpert") ==
                   std::string::npos &&
               get({"get", "namespace", "srexpert-system"}).exit_code != 0;
      },
      std::chrono::seconds(60)));
  CHECK(get({"get", "crd", "agentconfigs.agent.srexpert.io"}).exit_code == 0);
  INFO(ReadFile(log_file));
  CHECK(op.Terminate(std::chrono::seconds(20)) == 0);
}
