// AgentConfig status: conditions (metav1.Condition semantics), DaemonSet
// rollout numbers, the leader pod and its tunnel state.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace srexpert::api {

inline constexpr std::string_view kConditionReady = "Ready";
inline constexpr std::string_view kConditionProgressing = "Progressing";
inline constexpr std::string_view kConditionDegraded = "Degraded";

// Condition reasons shared by the operator and its tests.
inline constexpr std::string_view kReasonInvalidSpec = "InvalidSpec";
inline constexpr std::string_view kReasonNameConflict = "NameConflict";
inline constexpr std::string_view kReasonTokenUnavailable = "TokenUnavailable";

// Tunnel states the leader publishes (kLeaseTunnelStateAnnotation).
inline constexpr std::string_view kTunnelUnknown = "Unknown";

struct Condition {
  std::string type;
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;
  std::string message;
  std::string last_transition_time;  // RFC 3339, e.g. 2024-05-01T10:00:00Z
  int64_t observed_generation = 0;
};

struct DaemonSetStatus {
  int32_t desired = 0;
  int32_t ready = 0;
  int32_t updated = 0;
};

struct ManagedResource {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string namespace_;  // empty for cluster-scoped objects
};

// status.scan: the leader's last full scan, from its Lease annotations.
struct ScanStatus {
  int32_t score = 0;  // 0..100
  int64_t dangers = 0;
  int64_t warnings = 0;
  std::string last_scan_time;  // RFC 3339
  bool operator==(const ScanStatus&) const = default;
};

struct AgentConfigStatus {
  int64_t observed_generation = 0;
  std::vector<Condition> conditions;
  DaemonSetStatus daemon_set;
  std::string leader;
  std::string tunnel;
  std::optional<ScanStatus> scan;
  std::vector<ManagedResource> managed_resources;
};

// The scan summary a leader publishes on its Lease (the kLeaseScan*
// annotations of api/names.h; any other keys are ignored). nullopt unless
// all four are present and well-formed: a half-written or foreign value
// never reaches the status.
std::optional<ScanStatus> ScanStatusFromAnnotations(
    const std::map<std::string, std::string>& annotations);

// Longest condition message the CRD accepts; SetCondition truncates to it.
inline constexpr size_t kMaxConditionMessage = 32768;

// Sets the condition of c.type. lastTransitionTime is `now` when the status
// is new or flips, and otherwise the existing one: reasons and messages may
// change without a transition (metav1.Condition semantics). Returns whether
// anything changed, so an unchanged status costs no write.
bool SetCondition(std::vector<Condition>* conditions, Condition c, std::string_view now);
const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type);

// The JSON of .status (conditions in the order given; daemonSet.summary is
// "ready/desired"). Empty strings and lists are omitted.
rapidjson::Value StatusToJson(const AgentConfigStatus& status,
                              rapidjson::Document::AllocatorType& alloc);
// Reads .status of an AgentConfig object leniently: fields of the wrong type
// are ignored (the status is ours; a bad value is simply recomputed).
AgentConfigStatus ParseStatus(const rapidjson::Value& object);

}  // namespace srexpert::api
