// The scan engine's entry point: Kubernetes objects in, a Report out (one
// result per check and object — and container where the check is per
// container — passed or not; namespace Pod Security readiness). Pure: no
// I/O, no clock, deterministic order (objects in input order, checks in
// catalogue order within each family).
//
// The same call serves srexpert-scan (full manifests from files or a
// cluster list) and the leader (its cached objects, MakeObject with the
// kind it knows).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "scan/config.h"
#include "scan/object.h"
#include "scan/pod_security.h"
#include "scan/report.h"

namespace srexpert::scan {

struct ScanOptions {
  // The Pod Security Standards controls reported: baseline reports the
  // baseline controls only; privileged none.
  PssLevel pss_level = PssLevel::kRestricted;
  // The policy version the controls are evaluated at. Unset: each
  // namespace's pod-security.kubernetes.io/enforce-version label when its
  // Namespace object is among the inputs, else latest.
  std::optional<PssVersion> pss_version;
  // The API server whose PodSecurity admission is emulated.
  PssEnvironment pss_environment;
  // Polaris-style configuration (severities, exemptions, custom checks).
  std::shared_ptr<const ScanConfig> config;
  // Check ids, Polaris names or category names; empty only = everything.
  std::vector<std::string> only;
  std::vector<std::string> skip;
  // An object whose controller (ownerReferences controller: true) is among
  // the inputs is reported through that controller only — a Deployment's
  // ReplicaSets and Pods are not reported again. Pod Security readiness
  // still counts every Pod.
  bool skip_owned = true;
};

// "" when every name in only/skip is a check id, Polaris name, custom check
// name or category; otherwise which one is not.
std::string ValidateSelection(const ScanOptions& options);

Report Scan(const std::vector<Object>& objects, const ScanOptions& options);

}  // namespace srexpert::scan
