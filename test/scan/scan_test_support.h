// What the scan tests share: scanning manifest text, finding results, and a
// "model" Deployment that passes every check (with the ServiceAccount,
// NetworkPolicy and PodDisruptionBudget it needs), so a fixture is the model
// plus one change.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "scan/engine.h"
#include "scan/manifests.h"
#include "scan/pod_security.h"
#include "scan/report.h"

namespace srexpert::testing::scan {

using srexpert::scan::Finding;
using srexpert::scan::Report;
using srexpert::scan::ScanOptions;

// Manifests, their objects and the report, kept together (the report points
// into the manifests).
struct Scanned {
  std::vector<srexpert::scan::Manifest> manifests;
  std::vector<srexpert::scan::Object> objects;
  Report report;
};

// Parses `yaml` (REQUIREs success) and scans it.
std::unique_ptr<Scanned> ScanText(const std::string& yaml, const ScanOptions& options = {});

// Results of `check` for the object named `name` (and `container`, when
// given).
std::vector<const Finding*> Results(const Scanned& s, std::string_view check,
                                    std::string_view name = "target",
                                    std::string_view container = {});
// "passed" / "failed: message" for every result, for INFO().
std::string Describe(const Scanned& s, const std::vector<const Finding*>& results);

// JSON of `base` with RFC 7386 `patch` applied.
std::string Patched(const std::string& base, const std::string& patch);

// The model Deployment "target" in namespace "apps", as JSON. `pod_patch`
// merges into spec.template.spec; `container_patch` into its only container
// "app"; `object_patch` into the Deployment.
std::string ModelDeployment(const std::string& container_patch = "{}",
                            const std::string& pod_patch = "{}",
                            const std::string& object_patch = "{}");
// The objects the model needs to pass the cross-object checks: its
// ServiceAccount (automount off), a NetworkPolicy and a
// PodDisruptionBudget selecting it.
std::string ModelSupport();
// ModelDeployment(...) + ModelSupport() as one YAML stream.
std::string ModelStream(const std::string& container_patch = "{}", const std::string& pod_patch = "{}",
                        const std::string& object_patch = "{}");

// A Pod (for Pod Security tests): `spec` and `metadata` JSON fragments.
std::string PodJson(const std::string& spec, const std::string& metadata = R"({"name":"p"})");
// Pod Security evaluation of a pod given as JSON text.
std::vector<srexpert::scan::PssCheckResult> Evaluate(
    const std::string& pod_json, srexpert::scan::PssLevel level,
    srexpert::scan::PssVersion version = srexpert::scan::PssVersion::Latest(),
    srexpert::scan::PssEnvironment env = {}, bool is_pod = true);

}  // namespace srexpert::testing::scan
