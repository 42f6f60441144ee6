// AgentConfig (agent.srexpert.io/v1alpha1): typed spec, defaults and
// validation.
//
// The schema in crds/agentconfigs.agent.srexpert.io.yaml is the contract
// users see; this file mirrors it for the operator, which cannot assume that
// an object went through a real apiserver's defaulting (old objects may also
// predate a field). ApplyDefaults() applies exactly the schema's defaults
// (test/api checks that they never drift) and Parse() validates everything
// the schema says plus the rules a schema cannot express (PEM parsing,
// quantity comparison, label syntax, client-go's leader-election rules).
#pragma once

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace srexpert::api {

inline constexpr std::string_view kGroup = "agent.srexpert.io";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "agent.srexpert.io/v1alpha1";
inline constexpr std::string_view kKind = "AgentConfig";
inline constexpr std::string_view kPlural = "agentconfigs";

using Duration = std::chrono::milliseconds;

struct SecretKeyRef {
  std::string name;
  std::string key;
};

struct ProxySpec {
  std::string url;
  std::vector<std::string> no_proxy;
};

struct BackendSpec {
  std::string url;
  bool insecure = false;  // allows ws://
  std::string ca_bundle;  // PEM; empty when not set
  std::optional<ProxySpec> proxy;
};

// Exactly one of secret_ref / value is set in a valid spec. The token itself
// (resolved from either) is handed to the desired-state builders separately,
// so that no spec type ever needs to be scrubbed before logging.
struct TokenSpec {
  std::optional<SecretKeyRef> secret_ref;
  std::optional<std::string> value;
};

struct Toleration {
  std::string key;
  std::string op = "Equal";  // "Exists" | "Equal"
  std::string value;
  std::string effect;  // "" | NoSchedule | PreferNoSchedule | NoExecute
  std::optional<int64_t> toleration_seconds;
};

// Quantities are kept as written ("50m", "64Mi"); Parse() checks their syntax
// and that each limit is at least its request.
struct ResourceRequirements {
  std::map<std::string, std::string> requests;
  std::map<std::string, std::string> limits;
};

struct AgentPodSpec {
  std::string image;  // empty: the operator's --agent-image
  std::string image_pull_policy = "IfNotPresent";
  std::vector<std::string> image_pull_secrets;
  ResourceRequirements resources;
  std::map<std::string, std::string> node_selector;
  std::vector<Toleration> tolerations;
  std::string priority_class_name;
  std::map<std::string, std::string> pod_labels;
  std::map<std::string, std::string> pod_annotations;
  std::string log_level = "info";
};

struct LeaderElectionSpec {
  Duration lease_duration{15000};
  Duration renew_deadline{10000};
  Duration retry_period{2000};
};

struct BackoffSpec {
  Duration initial{1000};
  Duration max{60000};
  double multiplier = 2.0;
};

struct TunnelSpec {
  Duration ping_interval{20000};
  Duration pong_timeout{10000};
  BackoffSpec backoff;
  int64_t max_message_bytes = 16 * 1024 * 1024;
};

struct CollectionSpec {
  bool events = true;
  bool metrics = true;
  std::vector<std::string> excluded_namespaces;
  Duration metrics_interval{60000};  // metrics.k8s.io polling period
  double events_per_second = 50;     // token bucket of events sent upstream
  int64_t event_burst = 200;
};

// The state stream's window of unacknowledged messages and delta batching
// (docs/streaming.md).
struct StreamSpec {
  int64_t max_unacked_bytes = 4 * 1024 * 1024;
  int64_t max_unacked_messages = 256;
  Duration batch_interval{50};
};

// One Polaris exemption (scan::Exemption): every field given must match.
struct ScanExemption {
  std::string ns;                             // empty: every namespace
  std::vector<std::string> controller_names;  // object name prefixes
  std::vector<std::string> container_names;   // container name prefixes
  std::vector<std::string> rules;             // check ids or names; empty: every check
};

// spec.scans. Besides the schedule it carries the members of a Polaris
// config file under their Polaris names (docs/scan.md, "Configuration"):
// the agent hands them, as that file's JSON, to scan::ParseConfig, and
// Parse() validates them with the same function.
struct ScansSpec {
  bool enabled = true;
  Duration interval{3600 * 1000};
  // Check name → "danger" | "warning" | "ignore". Presence matters (Polaris'
  // rule: once `checks` is set, Polaris-named checks run only if listed), so
  // an empty map is not the same as none.
  std::optional<std::map<std::string, std::string>> checks;
  std::vector<ScanExemption> exemptions;
  bool disallow_exemptions = false;
  bool disallow_config_exemptions = false;
  bool disallow_annotation_exemptions = false;
  // Custom check name → its definition in Polaris' format, as compact JSON
  // (a JSON Schema has no fixed shape, so it stays a document).
  std::map<std::string, std::string> custom_checks;

  bool HasPolarisConfig() const {
    return checks || !exemptions.empty() || disallow_exemptions || disallow_config_exemptions ||
           disallow_annotation_exemptions || !custom_checks.empty();
  }
};

// The Polaris-format configuration of `scans` as compact JSON — what
// scan::ParseConfig reads and config.json carries as scans.config. "" when
// HasPolarisConfig() is false.
std::string PolarisConfigJson(const ScansSpec& scans);

// At most this many entries in spec.actions.namespaces (one Role and one
// RoleBinding each).
inline constexpr size_t kMaxActionNamespaces = 64;

struct ActionsSpec {
  bool scale = false;
  bool restart = false;
  bool delete_pods = false;      // pod.delete
  bool nodes = false;            // node.cordon, node.uncordon, node.drain
  bool apply_manifests = false;  // manifests.apply
  bool helm = false;             // helm.*; requires a non-empty `namespaces`
  // Where actions may write; empty = every namespace except kube-system,
  // kube-public, kube-node-lease and the AgentConfig's own (never allowed).
  // Non-empty, the namespaced write permissions are granted per namespace
  // (Role + RoleBinding) instead of cluster-wide.
  std::vector<std::string> namespaces;
  bool AnyEnabled() const {
    return scale || restart || delete_pods || nodes || apply_manifests || helm;
  }
};

struct AgentConfigSpec {
  BackendSpec backend;
  TokenSpec token;
  std::string cluster_name;
  AgentPodSpec agent;
  LeaderElectionSpec leader_election;
  TunnelSpec tunnel;
  CollectionSpec collection;
  StreamSpec stream;
  ScansSpec scans;
  ActionsSpec actions;
};

// The parts of metadata the operator needs.
struct ObjectMeta {
  std::string name;
  std::string namespace_;
  std::string uid;
  int64_t generation = 0;
  bool deleting = false;  // metadata.deletionTimestamp is set
};

struct AgentConfig {
  ObjectMeta meta;
  AgentConfigSpec spec;
};

// One problem with one field. path uses JSON-path-like notation:
// "spec.agent.tolerations[0].operator".
struct FieldError {
  std::string path;
  std::string message;
  std::string ToString() const;  // "<path>: <message>"
};

struct ParseResult {
  AgentConfig config;  // meaningful only when ok()
  std::vector<FieldError> errors;

  bool ok() const { return errors.empty(); }
  // All errors joined with "; " (for a condition message).
  std::string Summary() const;
};

// Parses a whole AgentConfig object (apiVersion, kind, metadata, spec) as
// received from the API. Never throws. Defaults are applied to a copy of
// spec first, so a spec that omits optional fields parses to the documented
// defaults. Error messages may quote field values but never the token.
ParseResult Parse(const rapidjson::Value& object);

// Applies the CRD schema's defaults to `spec` (a JSON object) in place, the
// way the apiserver does: a missing field with a default is set, then
// defaults are applied inside it. Non-object input is left alone.
void ApplyDefaults(rapidjson::Value& spec, rapidjson::Document::AllocatorType& alloc);

// Checks a resolved token (from the inline value or the referenced Secret)
// the same way the schema checks spec.token.value: 1..4096 printable ASCII
// characters without spaces. `path` names where it came from. The message
// never contains the token.
std::vector<FieldError> ValidateToken(std::string_view token, std::string_view path);

// Go-style duration strings restricted to the units the CRD allows:
// "15s", "1m30s", "500ms", "2h". nullopt on anything else.
std::optional<Duration> ParseDuration(std::string_view text);
// Shortest canonical form: 90000ms → "1m30s", 500ms → "500ms", 0 → "0s".
std::string FormatDuration(Duration d);

}  // namespace srexpert::api
