// What the check families share during one scan (internal to srx_scan):
// the objects indexed by kind and namespace, and the Emitter that turns a
// check's verdict into a Finding after applying the selection (only/skip,
// configured severities) and the exemptions (configuration and
// annotations).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scan/catalogue.h"
#include "scan/engine.h"
#include "scan/object.h"
#include "scan/report.h"

namespace srexpert::scan {

class Inventory {
 public:
  Inventory(const std::vector<Object>& objects, bool skip_owned);

  const std::vector<Object>& objects() const { return objects_; }
  const Object& at(uint32_t i) const { return objects_[i]; }

  // Workload-kind objects to report (owned ones dropped when skip_owned),
  // with their pod templates.
  const std::vector<uint32_t>& workloads() const { return workloads_; }
  const PodTemplate& pod_template(uint32_t i) const { return templates_[i]; }
  // Every Pod, owned or not.
  const std::vector<uint32_t>& pods() const { return pods_; }

  // Objects of a kind, in input order; of a kind in one namespace.
  const std::vector<uint32_t>& OfKind(std::string_view kind) const;
  const std::vector<uint32_t>& InNamespace(std::string_view kind, std::string_view ns) const;
  // One object by kind, namespace ("" for cluster-scoped) and name.
  const Object* Find(std::string_view kind, std::string_view ns, std::string_view name) const;
  // Every namespace name that appears (Namespace objects and namespaced
  // objects' namespaces), sorted.
  std::vector<std::string> NamespaceNames() const;

 private:
  const std::vector<Object>& objects_;
  std::vector<uint32_t> workloads_, pods_;
  std::vector<PodTemplate> templates_;
  std::unordered_map<std::string, std::vector<uint32_t>> by_kind_;
  std::unordered_map<std::string, std::vector<uint32_t>> by_kind_ns_;
  std::unordered_map<std::string, uint32_t> by_key_;
};

class Emitter {
 public:
  Emitter(Report* report, const Inventory& inventory, const ScanOptions& options);

  // Whether the check runs at all (selection and configuration).
  bool Enabled(CheckId id) const { return enabled_[static_cast<size_t>(id)]; }
  bool Enabled(const CheckInfo& custom) const;

  // Records one result unless the object (or container) is exempt from the
  // check. `message` replaces the check's success/failure message.
  void Emit(CheckId id, uint32_t object, std::string_view container, bool passed,
            std::string message = {});
  void Emit(const CheckInfo* check, Severity severity, uint32_t object, std::string_view container,
            bool passed, std::string message = {});

  Report& report() { return *report_; }

 private:
  bool Exempt(const CheckInfo& check, uint32_t object, std::string_view container);
  struct ObjectExemptions {
    bool computed = false;
    bool all = false;
    std::vector<std::string> names;  // check ids / Polaris names from annotations
  };

  Report* report_;
  const Inventory& inventory_;
  const ScanOptions& options_;
  std::vector<bool> enabled_;
  std::vector<Severity> severity_;
  std::vector<ObjectExemptions> annotation_exemptions_;
  std::string_view last_container_;
  uint32_t last_container_index_ = 0;
};

struct ScanContext {
  const Inventory& inventory;
  const ScanOptions& options;
  Emitter& emit;
};

// The check families (one file each).
void RunPodSecurityChecks(ScanContext& ctx);    // pss_checks.cc
void RunWorkloadChecks(ScanContext& ctx);       // workload_checks.cc
void RunSensitiveDataChecks(ScanContext& ctx);  // sensitive_data_checks.cc
void RunAvailabilityChecks(ScanContext& ctx);   // availability_checks.cc
void RunNetworkChecks(ScanContext& ctx);        // network_checks.cc
void RunRbacChecks(ScanContext& ctx);           // rbac_checks.cc
void RunCustomChecks(ScanContext& ctx);         // custom_check_runner.cc

}  // namespace srexpert::scan
