// The check catalogue: every built-in check with its stable kebab-case id,
// title, category, default severity, what it applies to, why it matters, how
// to fix it, and its aliases in other frameworks (the Pod Security Standards
// control and level, the Polaris check name, the CIS Kubernetes Benchmark
// 5.x id, the NSA/CISA Kubernetes Hardening Guide section).
// docs/checks.md is generated from this table (test/scan/catalogue_test.cc
// keeps it fresh).
//
// Contract: ids never change once released (reports and exemptions refer to
// them); a Polaris name maps to exactly one check; CheckId values index
// Catalogue().
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace srexpert::scan {

enum class Severity : uint8_t { kIgnore, kWarning, kDanger };
enum class Category { kSecurity, kReliability, kEfficiency, kNetwork, kRbac };

std::string_view SeverityName(Severity s);  // "ignore" | "warning" | "danger"
std::string_view CategoryName(Category c);  // "security" | "reliability" | ...
// Accepts the names above (case-insensitive); false otherwise.
bool ParseSeverity(std::string_view text, Severity* out);
bool ParseCategory(std::string_view text, Category* out);

struct Aliases {
  std::string_view polaris;    // Polaris check name ("hostIPCSet"), or ""
  std::string_view pss;        // control name as the Pod Security Standards page writes it
  std::string_view pss_level;  // "baseline" | "restricted" | ""
  std::string_view cis;        // CIS Kubernetes Benchmark ids ("5.2.4"), or ""
  std::string_view nsa;        // NSA/CISA Kubernetes Hardening Guide section, or ""
};

// What one result of a check is about.
enum class Scope {
  kPod,        // a workload's pod (template): one result per workload
  kContainer,  // one result per container of a workload
  kObject,     // one result per object of the kinds in `applies_to`
};

struct CheckInfo {
  std::string_view id;
  std::string_view title;
  Category category;
  Severity severity;  // default; a config may override it
  Scope scope;
  std::string_view applies_to;  // human-readable: "Pods and pod templates", "ClusterRoleBindings"
  std::string_view why;
  std::string_view remediation;
  Aliases aliases;
  std::string_view success_message;
  std::string_view failure_message;
};

// Built-in checks, in catalogue order.
enum class CheckId : int {
  // Pod Security Standards, exactly as PodSecurity admission evaluates them.
  kPssHostProcess,
  kPssHostNamespaces,
  kPssPrivileged,
  kPssCapabilitiesBaseline,
  kPssHostPathVolumes,
  kPssHostPorts,
  kPssHostProbes,
  kPssAppArmor,
  kPssSelinux,
  kPssProcMount,
  kPssSeccompBaseline,
  kPssSysctls,
  kPssVolumeTypes,
  kPssPrivilegeEscalation,
  kPssRunAsNonRoot,
  kPssRunAsUser,
  kPssSeccompRestricted,
  kPssCapabilitiesRestricted,
  kPssNamespaceEnforce,
  // Polaris counterparts: security.
  kHostIpc,
  kHostPid,
  kHostNetwork,
  kHostPort,
  kHostPath,
  kHostProcess,
  kProcMount,
  kPrivileged,
  kRunAsRoot,
  kPrivilegeEscalation,
  kReadOnlyRootFilesystem,
  kDangerousCapabilities,
  kInsecureCapabilities,
  kLinuxHardening,
  kServiceAccountTokenAutomount,
  kSensitiveEnvVar,
  kSensitiveConfigMapContent,
  // Polaris counterparts: network.
  kMissingNetworkPolicy,
  kIngressTls,
  // Polaris counterparts: RBAC.
  kClusterRolePodExecAttach,
  kRolePodExecAttach,
  kClusterRoleBindingPodExecAttach,
  kRoleBindingClusterRolePodExecAttach,
  kRoleBindingRolePodExecAttach,
  kClusterRoleBindingClusterAdmin,
  kRoleBindingClusterAdminClusterRole,
  kRoleBindingClusterAdminRole,
  // Polaris counterparts: reliability.
  kReadinessProbe,
  kLivenessProbe,
  kImageTag,
  kImagePullPolicy,
  kDeploymentReplicas,
  kPodDisruptionBudget,
  kPdbDisruptionsZero,
  kHpaMaxAvailability,
  kHpaMinAvailability,
  kPdbMinAvailableVsHpa,
  kTopologySpread,
  kPriorityClass,
  kMetadataInstanceLabel,
  // Polaris counterparts: efficiency.
  kCpuRequests,
  kCpuLimits,
  kMemoryRequests,
  kMemoryLimits,
  // RBAC analysis beyond Polaris.
  kRbacSecretsClusterWide,
  kRbacPodExec,
  kRbacEscalation,
  kRbacWildcard,
  kRbacDefaultServiceAccount,
  kRbacAnonymous,
  kRbacSystemMasters,
  kCount,
};

const std::vector<CheckInfo>& Catalogue();
inline const CheckInfo& Info(CheckId id) { return Catalogue()[static_cast<size_t>(id)]; }
inline CheckId IdOf(const CheckInfo& info) {
  return static_cast<CheckId>(&info - Catalogue().data());
}

// A built-in check by id or Polaris name (exact), nullptr when unknown.
const CheckInfo* FindCheck(std::string_view id_or_polaris_name);

}  // namespace srexpert::scan
