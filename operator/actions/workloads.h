// Workload actions (docs/actions.md, docs/protocol.md "Actions"):
//  - workload.scale (switch `scale`): {"kind":"Deployment|StatefulSet",
//    "namespace","name","replicas":N[, "expectedReplicas":M]} — written through
//    the /scale subresource only. With expectedReplicas the current replica
//    count must equal it, and the write carries the resourceVersion read with
//    it, so a concurrent change is `conflict`, never overwritten.
//    Result: {"previousReplicas":M,"replicas":N}.
//  - workload.restart (switch `restart`): {"kind":"Deployment|StatefulSet|DaemonSet",
//    "namespace","name"} — what `kubectl rollout restart` does: the pod
//    template annotation kubectl.kubernetes.io/restartedAt set to now.
//    Result: {"restartedAt":"<RFC 3339>"}.
#pragma once

#include <memory>

#include "actions/action.h"

namespace srexpert::kube {
class RestClient;
}

namespace srexpert::actions {

ActionKind WorkloadScaleKind(std::shared_ptr<kube::RestClient> client);
ActionKind WorkloadRestartKind(std::shared_ptr<kube::RestClient> client);

}  // namespace srexpert::actions
