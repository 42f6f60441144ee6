// Every check of the catalogue has a passing and a failing fixture, and
// gives those verdicts for the object named "target" (and its container
// "app" where the check is per container). A check added to the catalogue
// without fixtures fails here.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>

#include "scan/catalogue.h"
#include "test/scan/scan_test_support.h"

using namespace srexpert;
using namespace srexpert::testing::scan;
using srexpert::scan::CheckId;

namespace {

struct Fixture {
  std::string pass;
  std::string fail;
};

std::string Namespace(const std::string& labels) {
  return fmt::format("apiVersion: v1\nkind: Namespace\nmetadata: {{name: target, labels: {}}}\n", labels);
}

// A binding "target" of `binding_kind` to role "r" (`role_kind`) with
// `rules`, for `subjects`.
std::string Rbac(const std::string& binding_kind, const std::string& role_kind, const std::string& rules,
                 const std::string& subjects = "[{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]",
                 const std::string& role_name = "r") {
  std::string ns = binding_kind == "RoleBinding" ? "apps" : "";
  std::string role_ns = role_kind == "Role" ? "apps" : "";
  return fmt::format(
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: {rk}\nmetadata: {{name: {rn}, namespace: '{rns}'}}\n"
      "rules: {rules}\n---\n"
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: {bk}\nmetadata: {{name: target, namespace: '{ns}'}}\n"
      "roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {rk}, name: {rn}}}\nsubjects: {subjects}\n",
      fmt::arg("rk", role_kind), fmt::arg("rn", role_name), fmt::arg("rns", role_ns),
      fmt::arg("rules", rules), fmt::arg("bk", binding_kind), fmt::arg("ns", ns),
      fmt::arg("subjects", subjects));
}

const std::string kReadPods = "[{apiGroups: [''], resources: [pods], verbs: [get, list]}]";
const std::string kExec = "[{apiGroups: [''], resources: [pods/exec], verbs: [create]}]";
const std::string kStar = "[{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]";

std::string Hpa(int min, int max, const std::string& name = "target") {
  return fmt::format(
      "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{name: {}, namespace: apps}}\n"
      "spec: {{scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: target}}, minReplicas: {}, "
      "maxReplicas: {}}}\n",
      name, min, max);
}

std::string Pdb(const std::string& spec, const std::string& name = "target") {
  return fmt::format(
      "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: {}, namespace: apps}}\n"
      "spec: {{selector: {{matchLabels: {{app: target}}}}, {}}}\n",
      name, spec);
}

std::string SupportWithout(const std::string& kind) {
  std::string all = ModelSupport();
  std::string out;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t next = all.find("---", pos + 3);
    std::string doc = all.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (doc.find("kind: " + kind + "\n") == std::string::npos) out += doc;
    if (next == std::string::npos) break;
    pos = next;
  }
  return out;
}

std::map<CheckId, Fixture> Fixtures() {
  const std::string model = ModelStream();
  auto pod = [](const std::string& patch) { return ModelStream("{}", patch); };
  auto container = [](const std::string& patch) { return ModelStream(patch); };
  auto object = [](const std::string& patch) { return ModelStream("{}", "{}", patch); };
  const std::string unconfined_annotation =
      R"({"spec":{"template":{"metadata":{"annotations":{"container.apparmor.security.beta.kubernetes.io/app":"unconfined"}}}}})";
  const std::string other_labels = R"({"spec":{"template":{"metadata":{"labels":{"app":"other"}}}}})";
  const std::string pdb_vs_hpa_base = ModelDeployment() + "\n" + SupportWithout("PodDisruptionBudget");
  return {
      {CheckId::kPssHostProcess, {model, pod(R"({"securityContext":{"windowsOptions":{"hostProcess":true}}})")}},
      {CheckId::kPssHostNamespaces, {model, pod(R"({"hostPID":true})")}},
      {CheckId::kPssPrivileged, {model, container(R"({"securityContext":{"privileged":true}})")}},
      {CheckId::kPssCapabilitiesBaseline,
       {model, container(R"({"securityContext":{"capabilities":{"add":["SYS_ADMIN"]}}})")}},
      {CheckId::kPssHostPathVolumes, {model, pod(R"({"volumes":[{"name":"h","hostPath":{"path":"/"}}]})")}},
      {CheckId::kPssHostPorts, {model, container(R"({"ports":[{"containerPort":80,"hostPort":80}]})")}},
      {CheckId::kPssHostProbes, {model, container(R"({"readinessProbe":{"httpGet":{"host":"10.0.0.1"}}})")}},
      {CheckId::kPssAppArmor, {model, object(unconfined_annotation)}},
      {CheckId::kPssSelinux, {model, pod(R"({"securityContext":{"seLinuxOptions":{"type":"spc_t"}}})")}},
      {CheckId::kPssProcMount, {model, container(R"({"securityContext":{"procMount":"Unmasked"}})")}},
      {CheckId::kPssSeccompBaseline, {model, pod(R"({"securityContext":{"seccompProfile":{"type":"Unconfined"}}})")}},
      {CheckId::kPssSysctls,
       {model, pod(R"({"securityContext":{"sysctls":[{"name":"kernel.msgmax","value":"1"}]}})")}},
      {CheckId::kPssVolumeTypes,
       {pod(R"({"volumes":[{"name":"e","emptyDir":{}}]})"),
        pod(R"({"volumes":[{"name":"n","nfs":{"server":"s","path":"/"}}]})")}},
      {CheckId::kPssPrivilegeEscalation, {model, container(R"({"securityContext":{"allowPrivilegeEscalation":true}})")}},
      {CheckId::kPssRunAsNonRoot, {model, pod(R"({"securityContext":{"runAsNonRoot":false}})")}},
      {CheckId::kPssRunAsUser, {model, pod(R"({"securityContext":{"runAsUser":0}})")}},
      {CheckId::kPssSeccompRestricted, {model, pod(R"({"securityContext":{"seccompProfile":null}})")}},
      {CheckId::kPssCapabilitiesRestricted, {model, container(R"({"securityContext":{"capabilities":{"drop":null}}})")}},
      {CheckId::kPssNamespaceEnforce,
       {Namespace("{pod-security.kubernetes.io/enforce: baseline}"), Namespace("{}")}},
      {CheckId::kHostIpc, {model, pod(R"({"hostIPC":true})")}},
      {CheckId::kHostPid, {model, pod(R"({"hostPID":true})")}},
      {CheckId::kHostNetwork, {model, pod(R"({"hostNetwork":true})")}},
      {CheckId::kHostPort, {model, container(R"({"ports":[{"containerPort":80,"hostPort":80}]})")}},
      {CheckId::kHostPath, {model, pod(R"({"volumes":[{"name":"h","hostPath":{"path":"/"}}]})")}},
      {CheckId::kHostProcess, {model, pod(R"({"securityContext":{"windowsOptions":{"hostProcess":true}}})")}},
      {CheckId::kProcMount, {model, container(R"({"securityContext":{"procMount":"Unmasked"}})")}},
      {CheckId::kPrivileged, {model, container(R"({"securityContext":{"privileged":true}})")}},
      {CheckId::kRunAsRoot, {model, container(R"({"securityContext":{"runAsNonRoot":false}})")}},
      {CheckId::kPrivilegeEscalation, {model, container(R"({"securityContext":{"allowPrivilegeEscalation":true}})")}},
      {CheckId::kReadOnlyRootFilesystem, {model, container(R"({"securityContext":{"readOnlyRootFilesystem":false}})")}},
      {CheckId::kDangerousCapabilities, {model, container(R"({"securityContext":{"capabilities":{"add":["NET_ADMIN"]}}})")}},
      {CheckId::kInsecureCapabilities, {model, container(R"({"securityContext":{"capabilities":{"drop":["NET_RAW"]}}})")}},
      {CheckId::kLinuxHardening,
       {model, ModelStream(R"({"securityContext":{"capabilities":null}})",
                           R"({"securityContext":{"seccompProfile":null}})")}},
      {CheckId::kServiceAccountTokenAutomount, {model, pod(R"({"automountServiceAccountToken":true})")}},
      {CheckId::kSensitiveEnvVar,
       {container(R"({"env":[{"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"name":"db","key":"p"}}},{"name":"COLOR","value":"blue"}]})"),
        container(R"({"env":[{"name":"DB_PASSWORD","value":"hunter2"}]})")}},
      {CheckId::kSensitiveConfigMapContent,
       {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: target, namespace: apps}\ndata: {color: blue}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: target, namespace: apps}\ndata: {api_token: abc}\n"}},
      {CheckId::kMissingNetworkPolicy, {model, object(other_labels)}},
      {CheckId::kIngressTls,
       {"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: target, namespace: apps}\n"
        "spec: {tls: [{hosts: [a.example], secretName: tls}], rules: [{host: a.example}]}\n",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: target, namespace: apps}\n"
        "spec: {rules: [{host: a.example}]}\n"}},
      {CheckId::kClusterRolePodExecAttach,
       {"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: target}\nrules: " + kReadPods,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: target}\nrules: " + kExec}},
      {CheckId::kRolePodExecAttach,
       {"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: target, namespace: apps}\nrules: " + kReadPods,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: target, namespace: apps}\nrules: " + kExec}},
      {CheckId::kClusterRoleBindingPodExecAttach,
       {Rbac("ClusterRoleBinding", "ClusterRole", kReadPods), Rbac("ClusterRoleBinding", "ClusterRole", kExec)}},
      {CheckId::kRoleBindingClusterRolePodExecAttach,
       {Rbac("RoleBinding", "ClusterRole", kReadPods), Rbac("RoleBinding", "ClusterRole", kExec)}},
      {CheckId::kRoleBindingRolePodExecAttach,
       {Rbac("RoleBinding", "Role", kReadPods), Rbac("RoleBinding", "Role", kExec)}},
      {CheckId::kClusterRoleBindingClusterAdmin,
       {Rbac("ClusterRoleBinding", "ClusterRole", kReadPods), Rbac("ClusterRoleBinding", "ClusterRole", kStar)}},
      {CheckId::kRoleBindingClusterAdminClusterRole,
       {Rbac("RoleBinding", "ClusterRole", kReadPods),
        Rbac("RoleBinding", "ClusterRole", kStar, "[{kind: User, name: alice}]", "cluster-admin")}},
      {CheckId::kRoleBindingClusterAdminRole,
       {Rbac("RoleBinding", "Role", kReadPods), Rbac("RoleBinding", "Role", kStar)}},
      {CheckId::kReadinessProbe, {model, container(R"({"readinessProbe":null})")}},
      {CheckId::kLivenessProbe, {model, container(R"({"livenessProbe":null})")}},
      {CheckId::kImageTag, {model, container(R"({"image":"registry.example/app:latest"})")}},
      {CheckId::kImagePullPolicy, {model, container(R"({"imagePullPolicy":"IfNotPresent"})")}},
      {CheckId::kDeploymentReplicas, {model, object(R"({"spec":{"replicas":1}})")}},
      {CheckId::kPodDisruptionBudget, {model, object(other_labels)}},
      {CheckId::kPdbDisruptionsZero, {Pdb("maxUnavailable: 1"), Pdb("maxUnavailable: 0")}},
      {CheckId::kHpaMaxAvailability, {Hpa(2, 5), Hpa(3, 3)}},
      {CheckId::kHpaMinAvailability, {Hpa(2, 5), Hpa(1, 5)}},
      {CheckId::kPdbMinAvailableVsHpa,
       {pdb_vs_hpa_base + "---\n" + Pdb("minAvailable: 1", "budget") + "---\n" + Hpa(2, 5, "scaler"),
        pdb_vs_hpa_base + "---\n" + Pdb("minAvailable: 2", "budget") + "---\n" + Hpa(2, 5, "scaler")}},
      {CheckId::kTopologySpread, {model, pod(R"({"topologySpreadConstraints":null})")}},
      {CheckId::kPriorityClass, {model, pod(R"({"priorityClassName":null})")}},
      {CheckId::kMetadataInstanceLabel,
       {model, object(R"({"metadata":{"labels":{"app.kubernetes.io/instance":"other"}}})")}},
      {CheckId::kCpuRequests, {model, container(R"({"resources":{"requests":{"cpu":null}}})")}},
      {CheckId::kCpuLimits, {model, container(R"({"resources":{"limits":{"cpu":null}}})")}},
      {CheckId::kMemoryRequests, {model, container(R"({"resources":{"requests":{"memory":null}}})")}},
      {CheckId::kMemoryLimits, {model, container(R"({"resources":{"limits":{"memory":null}}})")}},
      {CheckId::kRbacSecretsClusterWide,
       {Rbac("ClusterRoleBinding", "ClusterRole", "[{apiGroups: [''], resources: [configmaps], verbs: [get]}]"),
        Rbac("ClusterRoleBinding", "ClusterRole", "[{apiGroups: [''], resources: [secrets], verbs: [list]}]")}},
      {CheckId::kRbacPodExec,
       {Rbac("ClusterRoleBinding", "ClusterRole", kReadPods), Rbac("RoleBinding", "ClusterRole", kExec)}},
      {CheckId::kRbacEscalation,
       {Rbac("ClusterRoleBinding", "ClusterRole", kReadPods),
        Rbac("ClusterRoleBinding", "ClusterRole",
             "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}]")}},
      {CheckId::kRbacWildcard,
       {"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: target}\nrules: " + kReadPods,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: target}\n"
        "rules: [{apiGroups: [''], resources: [pods], verbs: ['*']}]"}},
      {CheckId::kRbacDefaultServiceAccount,
       {Rbac("RoleBinding", "Role", kReadPods, "[{kind: ServiceAccount, name: app, namespace: apps}]"),
        Rbac("RoleBinding", "Role", kReadPods, "[{kind: ServiceAccount, name: default, namespace: apps}]")}},
      {CheckId::kRbacAnonymous,
       {Rbac("ClusterRoleBinding", "ClusterRole", kReadPods),
        Rbac("ClusterRoleBinding", "ClusterRole", kReadPods,
             "[{kind: Group, name: 'system:unauthenticated', apiGroup: rbac.authorization.k8s.io}]")}},
      {CheckId::kRbacSystemMasters,
       {Rbac("ClusterRoleBinding", "ClusterRole", kReadPods),
        Rbac("ClusterRoleBinding", "ClusterRole", kReadPods,
             "[{kind: Group, name: 'system:masters', apiGroup: rbac.authorization.k8s.io}]")}},
  };
}

}  // namespace

TEST_CASE("every check passes its passing fixture and fails its failing fixture", "[scan][fixtures]") {
  auto fixtures = Fixtures();
  for (const auto& info : srexpert::scan::Catalogue()) {
    auto id = srexpert::scan::IdOf(info);
    DYNAMIC_SECTION(info.id) {
      auto it = fixtures.find(id);
      INFO("check " << info.id << " has no fixtures");
      REQUIRE(it != fixtures.end());
      std::string container = info.scope == srexpert::scan::Scope::kContainer ? "app" : "";
      {
        auto s = ScanText(it->second.pass);
        auto results = Results(*s, info.id, "target", container);
        INFO("passing fixture:\n" << it->second.pass << "\n" << Describe(*s, results));
        REQUIRE_FALSE(results.empty());
        for (const auto* f : results) CHECK(f->passed);
      }
      {
        auto s = ScanText(it->second.fail);
        auto results = Results(*s, info.id, "target", container);
        INFO("failing fixture:\n" << it->second.fail << "\n" << Describe(*s, results));
        REQUIRE_FALSE(results.empty());
        bool failed = false;
        for (const auto* f : results) failed |= !f->passed;
        CHECK(failed);
      }
    }
  }
}

TEST_CASE("the model deployment passes every check", "[scan][fixtures]") {
  auto s = ScanText(ModelStream());
  std::string failures;
  for (const auto& f : s->report.findings) {
    if (!f.passed) failures += Describe(*s, {&f});
  }
  INFO(failures);
  CHECK(failures.empty());
}
