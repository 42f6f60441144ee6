#include "test/scan/scan_test_support.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

namespace srexpert::testing::scan {

using namespace srexpert::scan;

std::unique_ptr<Scanned> ScanText(const std::string& yaml, const ScanOptions& options) {
  auto s = std::make_unique<Scanned>();
  std::string error = ParseManifests(yaml, "test.yaml", ManifestLimits{}, &s->manifests);
  INFO(yaml);
  REQUIRE(error == "");
  for (const Manifest& m : s->manifests) {
    Object o = MakeObject(*m.value, m.kind, m.api_version);
    o.source = m.source;
    o.line = m.line;
    o.context_only = m.context_only;
    s->objects.push_back(std::move(o));
  }
  s->report = Scan(s->objects, options);
  return s;
}

std::vector<const Finding*> Results(const Scanned& s, std::string_view check, std::string_view name,
                                    std::string_view container) {
  std::vector<const Finding*> out;
  for (const Finding& f : s.report.findings) {
    if (s.report.Check(f).id != check) continue;
    if (s.report.objects[f.object].name != name) continue;
    if (!container.empty() && s.report.Container(f) != container) continue;
    out.push_back(&f);
  }
  return out;
}

std::string Describe(const Scanned& s, const std::vector<const Finding*>& results) {
  std::string out;
  for (const Finding* f : results) {
    const auto& o = s.report.objects[f->object];
    out += fmt::format("{} {}/{}{}: {} {}\n", s.report.Check(*f).id, o.kind, o.name,
                       s.report.Container(*f).empty() ? "" : " " + std::string(s.report.Container(*f)),
                       f->passed ? "passed" : "FAILED", s.report.Message(*f));
  }
  return out.empty() ? "no results\n" : out;
}

std::string Patched(const std::string& base, const std::string& patch) {
  auto doc = json::Parse(base);
  auto p = json::Parse(patch);
  REQUIRE(doc);
  REQUIRE(p);
  json::MergePatch(*doc, *p, doc->GetAllocator());
  return json::Dump(*doc);
}

namespace {

constexpr const char* kContainer = R"({
  "name": "app",
  "image": "registry.example/app:1.4.2",
  "imagePullPolicy": "Always",
  "ports": [{"containerPort": 8080}],
  "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                      "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}},
  "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                "limits": {"cpu": "500m", "memory": "128Mi"}},
  "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
  "livenessProbe": {"httpGet": {"path": "/live", "port": 8080}}
})";

constexpr const char* kPodSpec = R"({
  "serviceAccountName": "target",
  "automountServiceAccountToken": false,
  "priorityClassName": "high",
  "securityContext": {"runAsNonRoot": true, "runAsUser": 10001,
                      "seccompProfile": {"type": "RuntimeDefault"}},
  "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                 "whenUnsatisfiable": "DoNotSchedule",
                                 "labelSelector": {"matchLabels": {"app": "target"}}}]
})";

}  // namespace

std::string ModelDeployment(const std::string& container_patch, const std::string& pod_patch,
                            const std::string& object_patch) {
  std::string container = Patched(kContainer, container_patch);
  std::string spec = Patched(kPodSpec, pod_patch);
  auto spec_doc = json::Parse(spec);
  REQUIRE(spec_doc);
  if (!spec_doc->HasMember("containers")) {
    auto c = json::Parse(container);
    json::Value list(rapidjson::kArrayType);
    list.PushBack(json::Value(*c, spec_doc->GetAllocator()), spec_doc->GetAllocator());
    json::Set(*spec_doc, "containers", std::move(list), spec_doc->GetAllocator());
  }
  std::string deployment = fmt::format(
      R"({{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"target","namespace":"apps",)"
      R"("labels":{{"app.kubernetes.io/instance":"target"}}}},"spec":{{"replicas":3,)"
      R"("selector":{{"matchLabels":{{"app":"target"}}}},"template":{{"metadata":{{"labels":{{"app":"target"}}}},)"
      R"("spec":{}}}}}}})",
      json::Dump(*spec_doc));
  return Patched(deployment, object_patch);
}

std::string ModelSupport() {
  return R"(---
apiVersion: v1
kind: ServiceAccount
metadata: {name: target, namespace: apps}
automountServiceAccountToken: false
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: target, namespace: apps}
spec:
  podSelector: {matchLabels: {app: target}}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {}}]}]
  egress: [{to: [{podSelector: {}}]}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: target, namespace: apps}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: target}}
)";
}

std::string ModelStream(const std::string& container_patch, const std::string& pod_patch,
                        const std::string& object_patch) {
  return ModelDeployment(container_patch, pod_patch, object_patch) + "\n" + ModelSupport();
}

std::string PodJson(const std::string& spec, const std::string& metadata) {
  return fmt::format(R"({{"apiVersion":"v1","kind":"Pod","metadata":{},"spec":{}}})", metadata, spec);
}

std::vector<PssCheckResult> Evaluate(const std::string& pod_json, PssLevel level, PssVersion version,
                                     PssEnvironment env, bool is_pod) {
  auto doc = json::Parse(pod_json);
  INFO(pod_json);
  REQUIRE(doc);
  PssPod pod{json::Find(*doc, {"metadata"}), json::Find(*doc, {"spec"}), is_pod};
  return EvaluatePodSecurity(pod, level, version, env);
}

}  // namespace srexpert::testing::scan
