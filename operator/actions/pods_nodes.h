// Pod and node actions (issue #13; docs/protocol.md "Actions").
//
//  - pod.delete (switch `deletePods`):
//      {"namespace","name"[,"gracePeriodSeconds":N>=0]}
//    DELETE of one pod (its controller, if any, replaces it), with N as the
//    DeleteOptions' gracePeriodSeconds when given (else the pod's own
//    terminationGracePeriodSeconds). Result: {"deleted":true,"uid":"<uid>"}.
//    A missing pod is `not_found`.
//
//  - node.cordon / node.uncordon (switch `nodes`): {"name"}
//    What `kubectl cordon|uncordon` does: read the Node, and unless it is
//    already in the wanted state, merge-patch spec.unschedulable (true; for
//    uncordon the field is removed, as kubectl's two-way patch of the
//    omitempty false does). Result: {"unschedulable":bool,"changed":bool}.
//    Nodes are cluster-scoped: the target has no namespace, so only the
//    switch governs them. A missing node is `not_found`.
//
//  - node.drain (switch `nodes`):
//      {"name"[,"gracePeriodSeconds":N>=0][,"deleteEmptyDirData":bool][,"force":bool]}
//    `kubectl drain --ignore-daemonsets` through the Eviction API:
//      1. cordon (as node.cordon; a missing node is `not_found`);
//      2. list the pods with fieldSelector spec.nodeName=<node> and sort
//         each, first match wins (kubectl's filters, then our policy):
//         - DaemonSet-managed (controller ownerReference kind DaemonSet) ->
//           skipped, "DaemonSet-managed";
//         - mirror pod (annotation kubernetes.io/config.mirror) -> skipped,
//           "mirror pod";
//         - namespace protected (kube-system, kube-public, kube-node-lease,
//           the agent's own) or, with a non-empty spec.actions.namespaces,
//           not listed -> skipped with that reason: NEVER evicted;
//         - not terminal (Succeeded/Failed) and has an emptyDir volume,
//           without deleteEmptyDirData -> skipped, "has local storage
//           (emptyDir); set deleteEmptyDirData";
//         - not terminal and no controller ownerReference, without force ->
//           skipped, "not managed by a controller; set force";
//         - everything else is evicted: POST pods/<name>/eviction (policy/v1
//           Eviction; deleteOptions.gracePeriodSeconds = N when given) so
//           PodDisruptionBudgets are honoured;
//      3. each pod's eviction is sent on its own thread (as kubectl's
//         goroutine per pod), through RestClient::CreateSubresource with the
//         request's deadline: a 429 (a PDB allows no disruption now) and
//         5xx are retried with the client's backoff, at least the server's
//         Retry-After, until a wait would pass the deadline; a 404 means the
//         pod is already gone (evicted); any other refusal is final for that
//         pod (`failed`);
//      4. wait (until the deadline) for every evicted pod to be gone (absent,
//         or replaced by a pod with another uid).
//    The drain learns which namespaces it may touch from the same
//    ActionPolicy the registry enforces (NodeDrainKind's `policy`): the
//    registry authorizes targets, and a drain's pods are not targets (they
//    are only known after listing), so the handler applies the policy to
//    every pod itself.
//    Result: {"cordoned":true,
//             "evicted":[{"namespace","name"}],       (accepted and gone)
//             "skipped":[{"namespace","name","reason"}],
//             "failed":[{"namespace","name","reason"}],  (429 until the
//                 deadline, with the PDB's message; other API refusals;
//                 evicted but still present at the deadline)
//             "complete":bool}
//    complete is true when every pod on the node was evicted and is gone,
//    except DaemonSet-managed and mirror pods (what kubectl drain
//    --ignore-daemonsets leaves); a pod skipped for namespace policy,
//    local storage or no controller makes it false. The deadline ending a
//    drain is not an error: the result reports each pod. Cancellation
//    (tunnel gone) is `cancelled`.
//    Progress (ActionRequest::Progress, a `progress` message to a backend
//    that takes them): one report once the pods are listed and sorted, then
//    one per pod as its outcome is known (skipped at once; evicted, or
//    failed, as it happens or at the deadline):
//      {"node", "pod"?: {"namespace","name"}, "outcome"?: "evicted" |
//       "skipped" | "failed", "reason"?, "evicted", "skipped", "failed",
//       "remaining"}    (running counts; remaining = evictions unresolved)
#pragma once

#include <memory>

#include "actions/action.h"

namespace srexpert::kube {
class RestClient;
}

namespace srexpert::actions {

ActionKind PodDeleteKind(std::shared_ptr<kube::RestClient> client);
ActionKind NodeCordonKind(std::shared_ptr<kube::RestClient> client);
ActionKind NodeUncordonKind(std::shared_ptr<kube::RestClient> client);
// `policy` must be the ActionPolicy given to the ActionRegistry this kind is
// registered with: its agent_namespace and namespaces decide which pods the
// drain may evict.
ActionKind NodeDrainKind(std::shared_ptr<kube::RestClient> client, const ActionPolicy& policy);

}  // namespace srexpert::actions
