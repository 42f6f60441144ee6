#include "controller/desired.h"

#include <rapidjson/pointer.h>

#include <catch2/catch.hpp>
#include <functional>
#include <set>

#include "api/names.h"
#include "test/api/agent_config_fixture.h"
#include "test/api/crd_schema.h"

using namespace srexpert;

namespace {

api::AgentConfig Config(const json::Document& doc) {
  auto r = api::Parse(doc);
  INFO(r.Summary());
  REQUIRE(r.ok());
  return r.config;
}

controller::BuildInputs Inputs(std::string token = std::string(testing::kTestToken)) {
  return {"5d1e0b6a-0000-4000-8000-00000000ns01", std::move(token), "ghcr.io/srexpert/agent:0.1.0"};
}

const json::Value* At(const json::Value& root, const std::string& pointer) {
  return rapidjson::Pointer(pointer.c_str()).Get(root);
}

std::string Base64Of(std::string_view s) {
  // Independent of the implementation under test: a table-free encoder.
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -6;
  for (unsigned char c : s) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(a[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(a[((val << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4) out.push_back('=');
  return out;
}

json::Document ConfigFileOf(const json::Value& config_map) {
  auto doc = json::Parse(json::GetString(config_map, {"data", "config.json"}));
  REQUIRE(doc);
  return std::move(*doc);
}

std::string Checksum(const json::Value& ds) {
  return json::GetString(*At(ds, "/spec/template/metadata/annotations"),
                         {"agent.srexpert.io/config-checksum"});
}

}  // namespace

TEST_CASE("The default AgentConfig's children carry the seed's names", "[desired]") {
  auto config = Config(testing::MinimalAgentConfig());
  auto children = controller::DesiredChildren(config, Inputs());
  std::vector<std::string> kinds_and_names;
  for (const auto& c : children) {
    kinds_and_names.push_back(json::GetString(c, {"kind"}) + "/" +
                              json::GetString(c, {"metadata", "name"}));
  }
  CHECK(kinds_and_names == std::vector<std::string>{
                               "ServiceAccount/srexpert-agent",
                               "ClusterRole/srexpert-agent",
                               "ClusterRoleBinding/srexpert-agent",
                               "Role/srexpert-agent-leader-election",
                               "RoleBinding/srexpert-agent-leader-election",
                               "Secret/srexpert-agent-secret",
                               "ConfigMap/srexpert-agent-config",
                               "DaemonSet/srexpert-agent",
                           });
}

TEST_CASE("Every child is labelled and owned for garbage collection", "[desired]") {
  auto config = Config(testing::FullAgentConfig());
  for (const auto& child : controller::DesiredChildren(config, Inputs())) {
    const std::string kind = json::GetString(child, {"kind"});
    INFO(kind);
    for (const auto& [k, v] : api::CommonLabels("edge")) {
      CHECK(json::GetString(child, {"metadata", "labels", k}) == v);
    }
    const json::Value* refs = json::Find(child, {"metadata", "ownerReferences"});
    REQUIRE(refs);
    REQUIRE(refs->Size() == 1);
    const json::Value& ref = (*refs)[0];
    const std::string ns = json::GetString(child, {"metadata", "namespace"});
    // Outside the AgentConfig's namespace (cluster-scoped, or the actions'
    // Roles in the namespaces it lists) no ownerReference can reach the
    // AgentConfig: its Namespace owns them.
    if (ns != "monitoring") {
      if (kind == "ClusterRole" || kind == "ClusterRoleBinding") {
        CHECK(json::Find(child, {"metadata", "namespace"}) == nullptr);
      } else {
        CHECK((kind == "Role" || kind == "RoleBinding"));
        CHECK(json::GetString(child, {"metadata", "name"}) == "edge-actions");
      }
      CHECK(json::GetString(ref, {"apiVersion"}) == "v1");
      CHECK(json::GetString(ref, {"kind"}) == "Namespace");
      CHECK(json::GetString(ref, {"name"}) == "monitoring");
      CHECK(json::GetString(ref, {"uid"}) == Inputs().namespace_uid);
      CHECK(json::Find(ref, {"controller"}) == nullptr);
      CHECK(json::Find(ref, {"blockOwnerDeletion"}) == nullptr);
      CHECK(json::GetString(child, {"metadata", "labels", "agent.srexpert.io/owner-namespace"}) ==
            "monitoring");
      CHECK(controller::HasOwnerUid(child, Inputs().namespace_uid));
    } else {
      CHECK(json::GetString(ref, {"apiVersion"}) == "agent.srexpert.io/v1alpha1");
      CHECK(json::GetString(ref, {"kind"}) == "AgentConfig");
      CHECK(json::GetString(ref, {"name"}) == "edge");
      CHECK(json::GetString(ref, {"uid"}) == config.meta.uid);
      CHECK(json::GetBool(ref, {"controller"}));
      CHECK(json::GetBool(ref, {"blockOwnerDeletion"}));
      CHECK(controller::HasOwnerUid(child, config.meta.uid));
    }
    CHECK_FALSE(controller::HasOwnerUid(child, "some-other-uid"));
  }
}

TEST_CASE("Apply bodies hold only the fields the operator owns", "[desired]") {
  const std::set<std::string> top = {"apiVersion", "kind",  "metadata", "spec",   "data",
                                     "type",       "rules", "subjects", "roleRef"};
  const std::set<std::string> meta = {"name", "namespace", "labels", "annotations",
                                      "ownerReferences"};
  auto config = Config(testing::FullAgentConfig());
  for (const auto& child : controller::DesiredChildren(config, Inputs())) {
    INFO(json::GetString(child, {"kind"}));
    for (const auto& m : child.GetObject()) CHECK(top.count(m.name.GetString()) == 1);
    for (const auto& m : child["metadata"].GetObject()) CHECK(meta.count(m.name.GetString()) == 1);
  }
  auto ds = controller::DesiredDaemonSet(config, Inputs());
  const std::set<std::string> ds_spec = {"selector", "template"};
  for (const auto& m : ds["spec"].GetObject()) CHECK(ds_spec.count(m.name.GetString()) == 1);
}

TEST_CASE("The same inputs always build byte-identical children", "[desired]") {
  auto config = Config(testing::FullAgentConfig());
  auto a = controller::DesiredChildren(config, Inputs());
  auto b = controller::DesiredChildren(Config(testing::FullAgentConfig()), Inputs());
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(json::Dump(a[i]) == json::Dump(b[i]));
}

TEST_CASE("Agent pods run with the restricted Pod Security Standard", "[desired][security]") {
  auto ds = controller::DesiredDaemonSet(Config(testing::MinimalAgentConfig()), Inputs());
  const json::Value& pod = *At(ds, "/spec/template/spec");
  CHECK(json::GetBool(pod, {"securityContext", "runAsNonRoot"}));
  CHECK(json::GetInt(pod, {"securityContext", "runAsUser"}) == 65532);
  CHECK(json::GetInt(pod, {"securityContext", "runAsGroup"}) == 65532);
  CHECK(json::GetInt(pod, {"securityContext", "fsGroup"}) == 65532);
  CHECK(json::GetString(pod, {"securityContext", "seccompProfile", "type"}) == "RuntimeDefault");
  CHECK(json::Find(pod, {"hostNetwork"}) == nullptr);
  CHECK(json::Find(pod, {"hostPID"}) == nullptr);
  REQUIRE(pod["containers"].Size() == 1);
  const json::Value& c = pod["containers"][0];
  const json::Value& sc = c["securityContext"];
  CHECK(json::GetBool(sc, {"runAsNonRoot"}));
  CHECK(json::GetInt(sc, {"runAsUser"}) == 65532);
  CHECK(json::GetBool(sc, {"readOnlyRootFilesystem"}));
  CHECK(json::GetBool(sc, {"allowPrivilegeEscalation"}, true) == false);
  CHECK(json::GetBool(sc, {"privileged"}, true) == false);
  CHECK(json::Dump(*json::Find(sc, {"capabilities"})) == R"({"drop":["ALL"]})");
  CHECK(json::GetString(sc, {"seccompProfile", "type"}) == "RuntimeDefault");
  // Only the three volumes we need: no hostPath, nothing writable but /tmp.
  std::vector<std::string> volumes;
  for (const auto& v : pod["volumes"].GetArray()) volumes.push_back(json::GetString(v, {"name"}));
  CHECK(volumes == std::vector<std::string>{"token", "config", "tmp"});
  CHECK(json::GetString(*At(pod, "/volumes/2"), {"emptyDir", "medium"}) == "Memory");
  for (const auto& m : c["volumeMounts"].GetArray()) {
    INFO(json::GetString(m, {"name"}));
    CHECK(json::GetBool(m, {"readOnly"}) == (json::GetString(m, {"mountPath"}) != "/tmp"));
  }
}

TEST_CASE("Agent pods get their token, configuration, identity and probes", "[desired]") {
  auto ds = controller::DesiredDaemonSet(Config(testing::MinimalAgentConfig()), Inputs());
  const json::Value& pod = *At(ds, "/spec/template/spec");
  const json::Value& c = pod["containers"][0];
  CHECK(json::GetString(pod, {"serviceAccountName"}) == "srexpert-agent");
  CHECK(json::GetBool(pod, {"automountServiceAccountToken"}));
  CHECK(
      json::Dump(*At(pod, "/volumes/0/secret")) ==
      R"({"secretName":"srexpert-agent-secret","defaultMode":288,"items":[{"key":"token","path":"token"}]})");
  CHECK(json::GetString(*At(pod, "/volumes/1"), {"configMap", "name"}) == "srexpert-agent-config");
  CHECK(json::GetString(*At(c, "/volumeMounts/0"), {"mountPath"}) == "/etc/srexpert/token");
  CHECK(json::GetString(*At(c, "/volumeMounts/1"), {"mountPath"}) == "/etc/srexpert/config");
  std::map<std::string, std::string> env;
  for (const auto& e : c["env"].GetArray()) {
    env[json::GetString(e, {"name"})] =
        e.HasMember("valueFrom") ? json::GetString(e, {"valueFrom", "fieldRef", "fieldPath"})
                                 : json::GetString(e, {"value"});
  }
  CHECK(env == std::map<std::string, std::string>{
                   {"POD_NAME", "metadata.name"},
                   {"POD_NAMESPACE", "metadata.namespace"},
                   {"NODE_NAME", "spec.nodeName"},
                   {"SRX_CONFIG_FILE", "/etc/srexpert/config/config.json"}});
  CHECK(json::GetString(c, {"livenessProbe", "httpGet", "path"}) == "/healthz");
  CHECK(json::GetString(c, {"readinessProbe", "httpGet", "path"}) == "/readyz");
  CHECK(json::GetString(c, {"livenessProbe", "httpGet", "port"}) == "health");
  CHECK(json::GetInt(*At(c, "/ports/0"), {"containerPort"}) == 8081);
  CHECK(json::GetString(*At(c, "/ports/0"), {"name"}) == "health");
  CHECK(json::GetString(c, {"image"}) == "ghcr.io/srexpert/agent:0.1.0");
  CHECK(
      json::Dump(*At(ds, "/spec/selector/matchLabels")) ==
      R"({"app.kubernetes.io/instance":"srexpert-agent","app.kubernetes.io/name":"srexpert-agent"})");
  // The selector must select the pods.
  for (const auto& m : At(ds, "/spec/selector/matchLabels")->GetObject()) {
    CHECK(json::GetString(*At(ds, "/spec/template/metadata/labels"), {m.name.GetString()}) ==
          m.value.GetString());
  }
  auto config_file =
      ConfigFileOf(controller::DesiredConfigMap(Config(testing::MinimalAgentConfig()), Inputs()));
  CHECK(json::GetString(config_file, {"tokenFile"}) == "/etc/srexpert/token/token");
  CHECK(json::GetInt(config_file, {"healthPort"}) == 8081);
  CHECK(json::GetString(config_file, {"leaderElection", "leaseName"}) == "srexpert-agent-leader");
  CHECK(json::GetString(config_file, {"leaderElection", "leaseNamespace"}) == "srexpert-system");
  CHECK(json::Find(config_file, {"backend", "caFile"}) == nullptr);
  CHECK(json::Find(config_file, {"backend", "proxy"}) == nullptr);
}

// Where each spec field must show up. Targets: a child kind, or
// "config.json" (the agent configuration inside the ConfigMap).
struct Route {
  const char* field;  // CRD path, as in docs/agentconfig.md
  const char* target;
  const char* pointer;   // JSON pointer in the target
  const char* expected;  // JSON
};

TEST_CASE("Every spec field reaches the right child", "[desired]") {
  json::Document scratch;
  const std::string ca_json = json::Dump(json::String(testing::kTestCaPem, scratch.GetAllocator()));
  const std::vector<Route> routes = {
      {"spec.backend.url", "config.json", "/backend/url",
       R"("ws://hub.dev.example.com:8080/agent")"},
      {"spec.backend.insecure", "config.json", "/backend/insecure", "true"},
      {"spec.backend.caBundle", "ConfigMap", "/data/ca.crt", ca_json.c_str()},
      {"spec.backend.caBundle", "config.json", "/backend/caFile",
       R"("/etc/srexpert/config/ca.crt")"},
      {"spec.backend.proxy", "config.json", "/backend/proxy",
       R"({"url":"http://proxy.corp.example:3128","noProxy":["10.0.0.0/8",".svc"]})"},
      {"spec.backend.proxy.url", "config.json", "/backend/proxy/url",
       R"("http://proxy.corp.example:3128")"},
      {"spec.backend.proxy.noProxy", "config.json", "/backend/proxy/noProxy",
       R"(["10.0.0.0/8",".svc"])"},
      {"spec.token", "Secret", "/data/token", nullptr},
      {"spec.token.secretRef", "Secret", "/data/token", nullptr},
      {"spec.token.secretRef.name", "Secret", "/data/token", nullptr},
      {"spec.token.secretRef.key", "Secret", "/data/token", nullptr},
      {"spec.token.value", "Secret", "/data/token", nullptr},
      {"spec.clusterName", "config.json", "/clusterName", R"("edge-1")"},
      {"spec.agent.image", "DaemonSet", "/spec/template/spec/containers/0/image",
       R"("registry.example.com/srexpert/agent:1.2.3")"},
      {"spec.agent.imagePullPolicy", "DaemonSet",
       "/spec/template/spec/containers/0/imagePullPolicy", R"("Always")"},
      {"spec.agent.imagePullSecrets", "DaemonSet", "/spec/template/spec/imagePullSecrets",
       R"([{"name":"regcred"}])"},
      {"spec.agent.imagePullSecrets[].name", "DaemonSet",
       "/spec/template/spec/imagePullSecrets/0/name", R"("regcred")"},
      {"spec.agent.resources", "DaemonSet", "/spec/template/spec/containers/0/resources",
       R"({"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"1","memory":"512Mi"}})"},
      {"spec.agent.resources.requests", "DaemonSet",
       "/spec/template/spec/containers/0/resources/requests", R"({"cpu":"100m","memory":"128Mi"})"},
      {"spec.agent.resources.limits", "DaemonSet",
       "/spec/template/spec/containers/0/resources/limits", R"({"cpu":"1","memory":"512Mi"})"},
      {"spec.agent.nodeSelector", "DaemonSet", "/spec/template/spec/nodeSelector",
       R"({"node-role.example.com/edge":"true"})"},
      {"spec.agent.tolerations", "DaemonSet", "/spec/template/spec/tolerations",
       R"([{"key":"dedicated","operator":"Equal","value":"edge","effect":"NoExecute","tolerationSeconds":300}])"},
      {"spec.agent.tolerations[].key", "DaemonSet", "/spec/template/spec/tolerations/0/key",
       R"("dedicated")"},
      {"spec.agent.tolerations[].operator", "DaemonSet",
       "/spec/template/spec/tolerations/0/operator", R"("Equal")"},
      {"spec.agent.tolerations[].value", "DaemonSet", "/spec/template/spec/tolerations/0/value",
       R"("edge")"},
      {"spec.agent.tolerations[].effect", "DaemonSet", "/spec/template/spec/tolerations/0/effect",
       R"("NoExecute")"},
      {"spec.agent.tolerations[].tolerationSeconds", "DaemonSet",
       "/spec/template/spec/tolerations/0/tolerationSeconds", "300"},
      {"spec.agent.priorityClassName", "DaemonSet", "/spec/template/spec/priorityClassName",
       R"("system-node-critical")"},
      {"spec.agent.podLabels", "DaemonSet", "/spec/template/metadata/labels/team", R"("sre")"},
      {"spec.agent.podAnnotations", "DaemonSet",
       "/spec/template/metadata/annotations/example.com~1scrape", R"("false")"},
      {"spec.agent.logLevel", "config.json", "/logLevel", R"("debug")"},
      {"spec.leaderElection.leaseDuration", "config.json", "/leaderElection/leaseDurationMs",
       "30000"},
      {"spec.leaderElection.renewDeadline", "config.json", "/leaderElection/renewDeadlineMs",
       "20000"},
      {"spec.leaderElection.retryPeriod", "config.json", "/leaderElection/retryPeriodMs", "4000"},
      {"spec.tunnel.pingInterval", "config.json", "/tunnel/pingIntervalMs", "15000"},
      {"spec.tunnel.pongTimeout", "config.json", "/tunnel/pongTimeoutMs", "5000"},
      {"spec.tunnel.backoff.initial", "config.json", "/tunnel/backoff/initialMs", "500"},
      {"spec.tunnel.backoff.max", "config.json", "/tunnel/backoff/maxMs", "120000"},
      {"spec.tunnel.backoff.multiplier", "config.json", "/tunnel/backoff/multiplier", "1.5"},
      {"spec.tunnel.maxMessageBytes", "config.json", "/tunnel/maxMessageBytes", "1048576"},
      {"spec.collection.events", "config.json", "/collection/events", "false"},
      {"spec.collection.metrics", "config.json", "/collection/metrics", "false"},
      {"spec.collection.excludedNamespaces", "config.json", "/collection/excludedNamespaces",
       R"(["kube-public"])"},
      {"spec.collection.metricsInterval", "config.json", "/collection/metricsIntervalMs", "30000"},
      {"spec.collection.eventsPerSecond", "config.json", "/collection/eventsPerSecond", "12.5"},
      {"spec.collection.eventBurst", "config.json", "/collection/eventBurst", "40"},
      {"spec.stream.maxUnackedBytes", "config.json", "/stream/maxUnackedBytes", "8388608"},
      {"spec.stream.maxUnackedMessages", "config.json", "/stream/maxUnackedMessages", "512"},
      {"spec.stream.batchInterval", "config.json", "/stream/batchIntervalMs", "100"},
      {"spec.scans.enabled", "config.json", "/scans/enabled", "false"},
      {"spec.scans.interval", "config.json", "/scans/intervalMs", "21600000"},
      // The Polaris-format configuration, one object for scan::ParseConfig.
      {"spec.scans.checks", "config.json", "/scans/config/checks",
       R"({"hostIPCSet":"warning","imageFromRegistry":"danger","noLatestTag":"warning",
           "pss-volume-types":"ignore"})"},
      {"spec.scans.exemptions", "config.json", "/scans/config/exemptions",
       R"([{"namespace":"kube-system","controllerNames":["coredns"],"containerNames":["sidecar"],
            "rules":["hostNetworkSet"]}])"},
      {"spec.scans.exemptions[].namespace", "config.json", "/scans/config/exemptions/0/namespace",
       R"("kube-system")"},
      {"spec.scans.exemptions[].controllerNames", "config.json",
       "/scans/config/exemptions/0/controllerNames", R"(["coredns"])"},
      {"spec.scans.exemptions[].containerNames", "config.json",
       "/scans/config/exemptions/0/containerNames", R"(["sidecar"])"},
      {"spec.scans.exemptions[].rules", "config.json", "/scans/config/exemptions/0/rules",
       R"(["hostNetworkSet"])"},
      {"spec.scans.disallowExemptions", "config.json", "/scans/config/disallowExemptions", "true"},
      {"spec.scans.disallowConfigExemptions", "config.json",
       "/scans/config/disallowConfigExemptions", "true"},
      {"spec.scans.disallowAnnotationExemptions", "config.json",
       "/scans/config/disallowAnnotationExemptions", "true"},
      {"spec.scans.customChecks", "config.json", "/scans/config/customChecks/noLatestTag",
       R"({"category":"Reliability","target":"apps/Deployment",
           "schemaString":"properties:\n  metadata:\n    required: [labels]\n"})"},
      {"spec.scans.customChecks{}.successMessage", "config.json",
       "/scans/config/customChecks/imageFromRegistry/successMessage",
       R"("Image comes from the company registry")"},
      {"spec.scans.customChecks{}.failureMessage", "config.json",
       "/scans/config/customChecks/imageFromRegistry/failureMessage",
       R"("Image must come from registry.example")"},
      {"spec.scans.customChecks{}.category", "config.json",
       "/scans/config/customChecks/imageFromRegistry/category", R"("Security")"},
      {"spec.scans.customChecks{}.target", "config.json",
       "/scans/config/customChecks/imageFromRegistry/target", R"("Container")"},
      {"spec.scans.customChecks{}.schemaTarget", "config.json",
       "/scans/config/customChecks/imageFromRegistry/schemaTarget", R"("PodSpec")"},
      {"spec.scans.customChecks{}.controllers.include", "config.json",
       "/scans/config/customChecks/imageFromRegistry/controllers/include", R"(["Deployment"])"},
      {"spec.scans.customChecks{}.controllers.exclude", "config.json",
       "/scans/config/customChecks/imageFromRegistry/controllers/exclude", R"(["Job"])"},
      {"spec.scans.customChecks{}.containers.include", "config.json",
       "/scans/config/customChecks/imageFromRegistry/containers/include", R"(["container"])"},
      {"spec.scans.customChecks{}.containers.exclude", "config.json",
       "/scans/config/customChecks/imageFromRegistry/containers/exclude", R"(["initContainer"])"},
      {"spec.scans.customChecks{}.schema", "config.json",
       "/scans/config/customChecks/imageFromRegistry/schema",
       R"({"$schema":"http://json-schema.org/draft/2019-09/schema",
           "properties":{"containers":{"items":{"properties":{
             "image":{"pattern":"^registry\\.example/"}}}}}})"},
      {"spec.scans.customChecks{}.schemaString", "config.json",
       "/scans/config/customChecks/noLatestTag/schemaString",
       R"("properties:\n  metadata:\n    required: [labels]\n")"},
      {"spec.actions.scale", "config.json", "/actions/scale", "true"},
      {"spec.actions.restart", "config.json", "/actions/restart", "true"},
      {"spec.actions.deletePods", "config.json", "/actions/deletePods", "true"},
      {"spec.actions.nodes", "config.json", "/actions/nodes", "true"},
      {"spec.actions.namespaces", "config.json", "/actions/namespaces", R"(["shop","payments"])"},
      {"spec.actions.applyManifests", "config.json", "/actions/applyManifests", "true"},
      {"spec.actions.helm", "config.json", "/actions/helm", "true"},
  };
  auto config = Config(testing::FullAgentConfig());
  const std::string token = "resolved-from-secret-0042";
  std::map<std::string, json::Document> targets;
  for (auto& child : controller::DesiredChildren(config, Inputs(token))) {
    targets[json::GetString(child, {"kind"})] = std::move(child);
  }
  targets["config.json"] = ConfigFileOf(targets["ConfigMap"]);

  std::set<std::string> routed;
  for (const auto& r : routes) {
    INFO(r.field << " → " << r.target << " " << r.pointer);
    routed.insert(r.field);
    REQUIRE(targets.count(r.target) == 1);
    const json::Value* v = At(targets[r.target], r.pointer);
    REQUIRE(v != nullptr);
    if (r.expected == nullptr) {  // the token, base64-encoded in the Secret
      CHECK(json::GetString(targets["Secret"], {"data", "token"}) == Base64Of(token));
      continue;
    }
    auto expected = json::Parse(r.expected);
    REQUIRE(expected);
    INFO("got " << json::Dump(*v));
    CHECK(json::Equal(*v, *expected));
  }
  // The table covers every field the CRD declares.
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  for (const auto& [path, node] : testing::Properties(root["properties"]["spec"], "spec")) {
    if (node["properties"]) continue;  // objects are covered through their fields
    INFO(path);
    CHECK(routed.count(path) == 1);
  }
}

TEST_CASE("spec.agent.image falls back to the operator's --agent-image", "[desired]") {
  auto ds = controller::DesiredDaemonSet(Config(testing::MinimalAgentConfig()), Inputs());
  CHECK(json::GetString(*At(ds, "/spec/template/spec/containers/0"), {"image"}) ==
        "ghcr.io/srexpert/agent:0.1.0");
}

TEST_CASE("Default scheduling puts one agent on every Linux node", "[desired]") {
  auto ds = controller::DesiredDaemonSet(Config(testing::MinimalAgentConfig()), Inputs());
  CHECK(json::Dump(*At(ds, "/spec/template/spec/tolerations")) == R"([{"operator":"Exists"}])");
  CHECK(json::Dump(*At(ds, "/spec/template/spec/nodeSelector")) ==
        R"({"kubernetes.io/os":"linux"})");
  CHECK(At(ds, "/spec/template/spec/priorityClassName") == nullptr);
  CHECK(At(ds, "/spec/template/spec/imagePullSecrets") == nullptr);
  CHECK(json::Dump(*At(ds, "/spec/template/spec/containers/0/resources")) ==
        R"({"requests":{"cpu":"50m","memory":"64Mi"},"limits":{"memory":"256Mi"}})");
}

TEST_CASE("The token appears only in the Secret", "[desired][token]") {
  for (auto make : {testing::MinimalAgentConfig, testing::FullAgentConfig}) {
    auto config = Config(make());
    const std::string token = "tok-UNIQUE-9c1d2e3f4a5b";
    for (const auto& child : controller::DesiredChildren(config, Inputs(token))) {
      const std::string kind = json::GetString(child, {"kind"});
      INFO(kind);
      const std::string text = json::Dump(child);
      CHECK(text.find(token) == std::string::npos);
      CHECK((text.find(Base64Of(token)) != std::string::npos) == (kind == "Secret"));
    }
    auto secret = controller::DesiredSecret(config, Inputs(token));
    CHECK(json::GetString(secret, {"type"}) == "Opaque");
    CHECK(json::Dump(*json::Find(secret, {"data"})) == R"({"token":")" + Base64Of(token) + R"("})");
  }
}

TEST_CASE("The config checksum changes exactly when the configuration changes",
          "[desired][checksum]") {
  auto base_doc = testing::FullAgentConfig();
  const auto base = Checksum(controller::DesiredDaemonSet(Config(base_doc), Inputs()));
  CHECK(base.size() == 64);
  CHECK(Checksum(controller::DesiredDaemonSet(Config(testing::FullAgentConfig()), Inputs())) ==
        base);

  SECTION("a rotated token does not roll the pods: agents re-read the token file") {
    CHECK(Checksum(controller::DesiredDaemonSet(Config(base_doc), Inputs("rotated-token"))) ==
          base);
  }
  const std::vector<const char*> config_changes = {
      R"({"spec":{"backend":{"url":"ws://other.example.com/agent"}}})",
      R"({"spec":{"backend":{"caBundle":null}}})",
      R"({"spec":{"backend":{"proxy":{"noProxy":[]}}}})",
      R"({"spec":{"clusterName":"edge-2"}})",
      R"({"spec":{"agent":{"logLevel":"info"}}})",
      R"({"spec":{"leaderElection":{"retryPeriod":"3s"}}})",
      R"({"spec":{"tunnel":{"pongTimeout":"6s"}}})",
      R"({"spec":{"collection":{"excludedNamespaces":[]}}})",
      R"({"spec":{"scans":{"enabled":true}}})",
      R"({"spec":{"scans":{"checks":{"hostIPCSet":"danger"}}}})",
      R"({"spec":{"scans":{"customChecks":{"imageFromRegistry":{"failureMessage":"no"}}}}})",
      R"({"spec":{"actions":{"helm":false}}})",
  };
  for (const char* patch : config_changes) {
    SECTION(std::string("configuration change rolls the pods: ") + patch) {
      auto changed = Config(testing::Patched(testing::FullAgentConfig(), patch));
      CHECK(Checksum(controller::DesiredDaemonSet(changed, Inputs())) != base);
    }
  }
  const std::vector<const char*> other_changes = {
      R"({"spec":{"agent":{"image":"registry.example.com/srexpert/agent:1.2.4"}}})",
      R"({"spec":{"agent":{"resources":{"limits":{"memory":"1Gi"}}}}})",
      R"({"spec":{"agent":{"podLabels":{"team":"platform"}}}})",
      R"({"spec":{"agent":{"podAnnotations":{"example.com/scrape":"true"}}}})",
      R"({"spec":{"agent":{"tolerations":[]}}})",
      R"({"spec":{"agent":{"priorityClassName":null}}})",
      R"({"spec":{"token":{"secretRef":{"name":"other-secret"}}}})",
      R"({"metadata":{"generation":8}})",
  };
  for (const char* patch : other_changes) {
    SECTION(std::string("no checksum change for: ") + patch) {
      auto changed = Config(testing::Patched(testing::FullAgentConfig(), patch));
      CHECK(Checksum(controller::DesiredDaemonSet(changed, Inputs())) == base);
    }
  }
}

TEST_CASE("The checksum keeps ConfigMap keys and values apart", "[desired][checksum]") {
  auto a = *json::Parse(R"({"data":{"a":"bc"}})");
  auto b = *json::Parse(R"({"data":{"ab":"c"}})");
  auto c = *json::Parse(R"({"data":{"ab":"c","x":""}})");
  CHECK(controller::ConfigChecksum(a) != controller::ConfigChecksum(b));
  CHECK(controller::ConfigChecksum(b) != controller::ConfigChecksum(c));
  CHECK(controller::ConfigChecksum(a) == controller::ConfigChecksum(a));
  // Known answer: sha256("1:a2:bc").
  CHECK(controller::ConfigChecksum(a) ==
        "5310a58788781ab25d5ad7c3f85035824b4eb7bdfa394e0ac2186271472b5492");
}

TEST_CASE("RBAC bindings grant the roles to the agent's ServiceAccount", "[desired][rbac]") {
  auto config = Config(testing::MinimalAgentConfig());
  auto crb = controller::DesiredClusterRoleBinding(config, Inputs());
  CHECK(json::Dump(crb["subjects"]) ==
        R"([{"kind":"ServiceAccount","name":"srexpert-agent","namespace":"srexpert-system"}])");
  CHECK(json::Dump(crb["roleRef"]) ==
        R"({"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"srexpert-agent"})");
  auto rb = controller::DesiredLeaderElectionRoleBinding(config, Inputs());
  CHECK(json::Dump(rb["subjects"]) == json::Dump(crb["subjects"]));
  CHECK(
      json::Dump(rb["roleRef"]) ==
      R"({"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"srexpert-agent-leader-election"})");
}

TEST_CASE("config.json carries scans.config only when spec.scans sets a Polaris field",
          "[desired][scans]") {
  // Without one, config.json (and so the checksum and the pods) is what it
  // was before spec.scans grew these fields: an operator upgrade rolls nothing.
  auto minimal = controller::AgentConfigFile(Config(testing::MinimalAgentConfig()));
  CHECK(json::Dump(*json::Find(minimal, {"scans"})) == R"({"enabled":true,"intervalMs":3600000})");
  auto with_exemption = controller::AgentConfigFile(Config(
      testing::Patched(testing::MinimalAgentConfig(),
                       R"({"spec":{"scans":{"exemptions":[{"namespace":"kube-system"}]}}})")));
  CHECK(json::Dump(*json::Find(with_exemption, {"scans", "config"})) ==
        R"({"exemptions":[{"namespace":"kube-system"}]})");
}
