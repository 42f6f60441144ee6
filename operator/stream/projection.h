// Projection: the compact form in which every collected Kubernetes object is
// cached on the leader and sent to the backend (docs/streaming.md, section
// "Projection", lists per kind what is kept and why the rest is dropped).
//
// Contract:
//  - Output is compact JSON text, written field by field in an order fixed by
//    this code (maps sorted by key), never in the input's member order. The
//    same input therefore gives byte-identical output, and an unchanged
//    projection can be detected by comparing strings.
//  - Never in the output: metadata.managedFields, metadata.resourceVersion,
//    the kubectl.kubernetes.io/last-applied-configuration annotation, env var
//    values (names and valueFrom references only), ConfigMap data, Node image
//    lists and heartbeat times. Secrets are not a collected kind at all.
//  - Unknown fields are dropped; the shape keeps Kubernetes' own nesting
//    (metadata / spec / status) so readers of the API recognise it.
//  - Thread-safe; each thread reuses one scratch buffer, so a call costs
//    about one allocation (the returned string).
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace srexpert::stream {

struct CollectedKind {
  std::string api_version;  // "v1", "apps/v1", "rbac.authorization.k8s.io/v1", ...
  std::string kind;         // "Pod"
  std::string resource;     // plural, "pods"
  bool namespaced;
};

// Every kind the leader collects, in a stable order: Node, Namespace, Pod,
// Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, Service,
// Ingress, NetworkPolicy, PersistentVolumeClaim, PersistentVolume,
// HorizontalPodAutoscaler, ServiceAccount, Role, ClusterRole, RoleBinding,
// ClusterRoleBinding, ConfigMap (metadata only). Never Secret.
const std::vector<CollectedKind>& CollectedKinds();
// nullptr when `kind` is not collected.
const CollectedKind* FindCollectedKind(std::string_view kind);

// `object` as the API returns it (with or without apiVersion/kind: list items
// lack them) projected for `kind`. nullopt when the kind is not collected or
// the object has no metadata.name.
std::optional<std::string> Project(std::string_view kind, const rapidjson::Value& object);

// A core/v1 or events.k8s.io/v1 Event in the one event shape of
// docs/protocol.md ("delta payload", events): uid, namespace, name, type,
// reason, message (at most 1024 bytes, cut at a UTF-8 character boundary),
// count, firstTimestamp, lastTimestamp, regarding{kind,namespace,name,uid},
// reportingController, action. nullopt without metadata.uid or
// metadata.namespace.
std::optional<std::string> ProjectEvent(const rapidjson::Value& event);

// The longest message ProjectEvent keeps, in bytes.
inline constexpr size_t kMaxEventMessageBytes = 1024;

}  // namespace srexpert::stream
