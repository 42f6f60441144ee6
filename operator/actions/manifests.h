// manifests.apply (switch `applyManifests`, issue #13): server-side apply of
// multi-document YAML or JSON manifests with field manager srexpert-agent.
//
// Payload:
//   {"manifests": "<multi-document YAML, or JSON: an object, a List, an array>",
//    "dryRun": false, "force": false}
//   - at most kMaxManifestBytes of text and kMaxManifestObjects objects (YAML
//     documents and List items counted together); empty documents are skipped,
//     zero objects is `invalid`;
//   - every object has apiVersion, kind, metadata.name (a DNS-1123
//     subdomain) and metadata.namespace (a DNS-1123 label).
//     Every allowed kind is namespaced and the namespace is never implied (no
//     "default"): a manifest without one is `invalid`, so what the backend
//     shows is exactly what gets authorized and written;
//   - only the kinds the permission catalogue lets applyManifests write
//     (controller/permissions.cc WritableKinds): v1 ConfigMap, Service;
//     apps Deployment, StatefulSet, DaemonSet; batch Job, CronJob;
//     networking.k8s.io Ingress, NetworkPolicy; autoscaling
//     HorizontalPodAutoscaler — any served version of those groups. Anything
//     else (Secret, RBAC, CRDs, Namespaces, ...) is `invalid` before any API call;
//   - the same object (group, kind, namespace, name) twice is `invalid`;
//   - each object's namespace is a Target, so the registry refuses protected
//     namespaces and namespaces outside spec.actions.namespaces (`forbidden`).
//
// Execution, in document order:
//   1. preflight: each object is server-side applied with dryRun=All (with
//      dryRun, right after reading its live object). Any failure stops here
//      and nothing has been written: field conflicts, validation, admission,
//      RBAC, missing namespaces are all caught before the first real write;
//   2. unless dryRun: for each object, read the live object (absent is fine)
//      and apply it for real (force as requested). A failure here (the
//      cluster changed since the preflight, a transport error) stops at that
//      object; the error message names the objects already applied and how
//      many were not attempted.
//
// Result: {"dryRun":bool,"objects":[{"apiVersion","kind","namespace","name",
//   "action":"created|configured|unchanged","diff":[...]}], "diffTruncated":bool}
//   - action: no live object -> created. Otherwise: the apply left the
//     resourceVersion alone -> unchanged (never true in a dry run); some
//     value differs between the live object and the apply's answer, ignoring
//     server bookkeeping (status, resourceVersion, generation,
//     creationTimestamp, managedFields) -> configured; no value differs but
//     the field owners do (managedFields without timestamps) -> configured
//     with an empty diff (srexpert-agent now co-owns fields with the values
//     they already had: a write, on kube-apiserver too); else unchanged (a
//     controller's status write moved the resourceVersion, not our apply).
//     The same rule for dry runs and real applies, so a dry run predicts the
//     real answer.
//   - diff (empty for created: the manifest is the object): changed leaves as
//     {"path": "<RFC 6901 JSON pointer>", "old": v, "new": v}; "old" missing =
//     added, "new" missing = removed; lists of equal length are compared
//     element by element, a list that grew or shrank is one entry; a side
//     whose JSON exceeds 1 KiB is replaced by "oldBytes"/"newBytes" (its
//     size). At most 50 entries per object ("diffOmitted": n counts the rest)
//     and 512 KiB for all diffs together (later objects get their entries
//     counted in diffOmitted and the top-level "diffTruncated": true).
//
// Errors: `invalid` (payload, YAML, disallowed kind, kind not served, the
// server's 422/400), `forbidden` (namespace refused by the registry, RBAC 403),
// `conflict` (409: the conflicting managers and fields named; retry with
// force to take ownership), `not_found` (namespace missing), `timeout`
// (deadline), `cancelled` (tunnel session ended), `internal`.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "actions/action.h"
#include "common/json.h"

namespace srexpert::kube {
class RestClient;
}

namespace srexpert::actions {

inline constexpr size_t kMaxManifestBytes = 1u << 20;  // well inside the 4 MiB message
inline constexpr size_t kMaxManifestObjects = 100;
inline constexpr const char* kAgentFieldManager = "srexpert-agent";

// One object of the payload, validated and allowed.
struct ApplyObject {
  Target target;                         // apiVersion, kind, namespace, name
  std::shared_ptr<json::Document> body;  // the object exactly as sent
};

struct ManifestsApplyPayload {
  std::vector<ApplyObject> objects;
  bool dry_run = false;
  bool force = false;
};

// Validates a manifests.apply payload (schema above). Returns "" and fills
// `out`, or the `invalid` message. Pure: no API call (the fuzz target
// manifests_apply drives it with arbitrary bytes).
std::string ParseManifestsApplyPayload(const json::Value& payload, ManifestsApplyPayload* out);

ActionKind ManifestsApplyKind(std::shared_ptr<kube::RestClient> client);

}  // namespace srexpert::actions
