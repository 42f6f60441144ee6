// What a scan returns: one result per check and object (and container where
// the check is per container), passed or not, plus the Pod Security
// readiness of every namespace seen. Compact by design — 10,000 pods give
// some 500,000 results — so a result refers to its check, object and message
// instead of copying them.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scan/catalogue.h"
#include "scan/object.h"
#include "scan/pod_security.h"

namespace srexpert::scan {

// 16 bytes: 10,000 pods give some 700,000 results.
struct Finding {
  uint32_t object = 0;     // index into Report::objects
  uint32_t container = 0;  // Report::Container(); 0 unless the check is per container
  uint32_t message = 0;    // 0: the check's success/failure message; else Report::Message()
  uint16_t check = 0;      // Report::Check(): a CheckId, or a custom check after them
  Severity severity = Severity::kWarning;  // after configuration overrides
  bool passed = true;
};

// A namespace's readiness for Pod Security admission enforcement.
struct NamespaceReadiness {
  std::string name;
  bool has_namespace_object = false;  // a Namespace object was among the inputs
  NamespacePolicy enforce;            // what its labels enforce now
  PssVersion evaluated_at;            // the policy version the pods were evaluated at
  size_t pods = 0;                    // pods (or, without pods, pod templates) evaluated
  bool templates = false;             // evaluated pod templates because no pods were given
  PssLevel meets = PssLevel::kRestricted;  // the strictest level every pod already meets
  // One level above the enforced one (absent when enforcing restricted), and
  // the pods it would reject with the admission's message each.
  std::optional<PssLevel> next;
  std::vector<std::pair<std::string, std::string>> rejected_by_next;  // "Kind/name", message
};

struct Report {
  Report() = default;
  Report(Report&&) = default;
  Report& operator=(Report&&) = default;
  // Not copyable: the interning indexes point into the report's own storage.
  Report(const Report&) = delete;
  Report& operator=(const Report&) = delete;

  std::vector<ObjectRef> objects;
  std::vector<std::pair<std::string, int>> locations;  // parallel to objects: source, line
  // A deque: no reallocation copies at 500,000+ results.
  std::deque<Finding> findings;
  std::vector<NamespaceReadiness> namespaces;  // sorted by name
  // The custom checks' catalogue entries (findings point into it).
  std::shared_ptr<const std::deque<CheckInfo>> custom_checks;

  const CheckInfo& Check(const Finding& f) const {
    size_t builtin = static_cast<size_t>(CheckId::kCount);
    return f.check < builtin ? Catalogue()[f.check] : (*custom_checks)[f.check - builtin];
  }
  // Finding::check for a built-in check or an entry of custom_checks.
  uint16_t CheckIndex(const CheckInfo* check) const;
  std::string_view Message(const Finding& f) const {
    if (f.message != 0) return messages_[f.message];
    return f.passed ? Check(f).success_message : Check(f).failure_message;
  }
  std::string_view Container(const Finding& f) const { return containers_[f.container]; }

  // Interned storage for Finding::container and Finding::message (the same
  // text is stored once, however many results carry it).
  uint32_t InternContainer(std::string_view name);
  uint32_t InternMessage(std::string message);

 private:
  std::deque<std::string> containers_{""};
  std::unordered_map<std::string_view, uint32_t> container_index_;
  std::deque<std::string> messages_{""};
  std::unordered_map<std::string_view, uint32_t> message_index_;
};

}  // namespace srexpert::scan
