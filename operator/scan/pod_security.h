// The Pod Security Standards exactly as Kubernetes' PodSecurity admission
// (k8s.io/pod-security-admission/policy) evaluates them: every check, its
// versions, the restricted level's overrides of baseline checks, and the
// admission's "violates PodSecurity" message.
//
// Two versions matter and are kept apart, as in Kubernetes:
//  - the policy version (pod-security.kubernetes.io/<mode>-version: "v1.23"
//    or "latest") selects which revision of each check applies;
//  - the Kubernetes version of the API server (its binary) decides what
//    "latest" means, the amendments made in place to a check at every policy
//    version (AppArmor fields from 1.30, image volumes allowed from 1.33), and
//    what the API server does to a pod before admission sees it (fields of
//    disabled features dropped; on 1.19-1.26 servers the seccomp annotations
//    and fields synced both ways).
// The default Kubernetes version is the newest this code models
// (kNewestKubernetesMinor); exact behaviour is verified against a v1.26 API
// server by test/real/pss_real_test.cc.
//
// Pure functions; no allocation beyond the results.
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scan/catalogue.h"

namespace srexpert::scan {

enum class PssLevel { kPrivileged, kBaseline, kRestricted };
std::string_view PssLevelName(PssLevel level);  // "privileged" | "baseline" | "restricted"
bool ParsePssLevel(std::string_view text, PssLevel* out);

// The newest Kubernetes minor version whose PodSecurity this code models.
inline constexpr int kNewestKubernetesMinor = 36;

// A policy version: v1.<minor> or latest.
struct PssVersion {
  bool latest = true;
  int minor = 0;  // when !latest
  static PssVersion Latest() { return {}; }
  static PssVersion Of(int minor) { return {false, minor}; }
  std::string ToString() const;  // "latest" | "v1.23"
  bool operator==(const PssVersion&) const = default;
};
// "latest" or "v1.<minor>" with no leading zero, as PodSecurity admission
// parses the version labels. False otherwise.
bool ParsePssVersion(std::string_view text, PssVersion* out);

// The API server being emulated.
struct PssEnvironment {
  int kubernetes_minor = kNewestKubernetesMinor;
};

// PodSecurity admission's checks (their PSA ids), baseline then restricted.
enum class PssCheck {
  kAppArmorProfile,
  kCapabilitiesBaseline,
  kHostNamespaces,
  kHostPathVolumes,
  kHostPorts,
  kHostProbesAndHostLifecycle,
  kPrivileged,
  kProcMount,
  kSeLinuxOptions,
  kSeccompProfileBaseline,
  kSysctls,
  kWindowsHostProcess,
  kAllowPrivilegeEscalation,
  kCapabilitiesRestricted,
  kProcMountRestricted,
  kRestrictedVolumes,
  kRunAsNonRoot,
  kRunAsUser,
  kSeccompProfileRestricted,
  kCount,
};
std::string_view PssCheckId(PssCheck check);  // "capabilities_baseline", ...
PssLevel PssCheckLevel(PssCheck check);
// The catalogue check (Pod Security Standards control) a PSA check reports to.
CheckId PssCheckControl(PssCheck check);

// The pod as admission sees it.
struct PssPod {
  const rapidjson::Value* metadata = nullptr;  // annotations (seccomp, AppArmor)
  const rapidjson::Value* spec = nullptr;
  // A Pod created through the API (not a workload's template): the API
  // server's pod-only preparation (seccomp annotation sync) applies.
  bool is_pod = true;
};

struct PssCheckResult {
  PssCheck check;
  bool allowed = true;
  std::string reason;  // ForbiddenReason, "" when allowed
  std::string detail;  // ForbiddenDetail
};

// The policy version a check revision is chosen by: min(policy, server);
// "latest" is the server's own version.
int EffectiveMinor(PssVersion policy, const PssEnvironment& env);

// Whether `check` exists at the effective minor version.
bool PssCheckApplies(PssCheck check, int effective_minor);

// Runs every check that exists at the effective version (both levels, no
// overrides applied), in PssCheck order.
std::vector<PssCheckResult> RunPssChecks(const PssPod& pod, PssVersion policy,
                                         const PssEnvironment& env = {});

// The checks PodSecurity admission runs for `level` at the effective version
// (restricted: every baseline check not overridden by a restricted one, then
// the restricted checks), in the admission's order (ids sorted, baseline
// first).
std::vector<PssCheck> PssChecksForLevel(PssLevel level, int effective_minor);

// Admission's verdict for `level`: the failing results of PssChecksForLevel.
// Empty when the pod is allowed.
std::vector<PssCheckResult> EvaluatePodSecurity(const PssPod& pod, PssLevel level,
                                                PssVersion policy,
                                                const PssEnvironment& env = {});

// The failing results among `all` (RunPssChecks' output at
// `effective_minor`) that the admission reports for `level`, in its order:
// EvaluatePodSecurity without evaluating the pod again.
std::vector<PssCheckResult> ViolationsForLevel(const std::vector<PssCheckResult>& all, PssLevel level,
                                               int effective_minor);

// The strictest level the pod meets at `policy`.
PssLevel StrictestLevel(const PssPod& pod, PssVersion policy, const PssEnvironment& env = {});

// The admission's message for a rejected pod:
// violates PodSecurity "restricted:latest": reason (detail), reason (detail)
std::string PssViolationMessage(PssLevel level, PssVersion policy,
                                const std::vector<PssCheckResult>& violations);

// The enforce policy a namespace's labels select, as PodSecurity admission
// reads them: no label is privileged; an invalid level is restricted; a
// missing or invalid version is latest.
struct NamespacePolicy {
  PssLevel level = PssLevel::kPrivileged;
  PssVersion version;
  bool labeled = false;       // the enforce label is present
  bool invalid = false;       // a label value could not be parsed
};
NamespacePolicy EnforcePolicy(const rapidjson::Value* namespace_labels);

}  // namespace srexpert::scan
