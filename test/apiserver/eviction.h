// The pods/eviction subresource (policy/v1 Eviction create) with
// PodDisruptionBudget accounting, as k8s.io/kubernetes
// pkg/registry/core/pod/storage/eviction.go (v1.26) does it.
//
// Like the real server, this reads a PDB's status (observedGeneration,
// disruptionsAllowed, currentHealthy, desiredHealthy) and never computes it:
// on a real cluster the disruption controller in kube-controller-manager
// writes that status, and no controller runs here. A test that wants a PDB
// to count writes its status through poddisruptionbudgets/status, exactly as
// the controller would. A PDB whose status.observedGeneration is behind
// metadata.generation (e.g. a fresh one with no status yet) refuses every
// eviction it covers with 429 "still being processed", as the real server
// does before the controller has caught up.
//
// Outcomes (code, reason, message as the real server sends them):
//   201 Status Success          pod deleted (or would be, with dryRun=All);
//                               the PDB's status.disruptionsAllowed
//                               decremented and the pod recorded in
//                               status.disruptedPods
//   404 NotFound                pods "<name>" not found
//   400 BadRequest              body not an Eviction, or names another pod
//   429 TooManyRequests         disruptionsAllowed is 0 (cause DisruptionBudget
//                               "The disruption budget <pdb> needs N healthy
//                               pods and has M currently"), or the PDB is not
//                               yet observed (Retry-After 10)
//   500 (Status Failure)        more than one PDB selects the pod
// Checked against kube-apiserver v1.26.0 (bodies and Retry-After as above):
// a PDB with an empty selector ({}) selects no pod here; before deleting,
// the pod gets the DisruptionTarget condition (reason EvictionByEvictionAPI,
// PodDisruptionConditions); an unready pod under a budget whose status
// still has enough healthy pods is deleted without using the budget, but
// its first eviction is answered 429 "still being processed" (the
// condition's write moves the resourceVersion the delete is pinned to) and
// the retry succeeds — what v1.26.0 does.
// PDBs are skipped when the pod can ignore them (phase Pending, Succeeded,
// Failed, or already being deleted; the test server does not set
// status.phase on create, so a pod without a phase counts as the Pending
// pod a real server would have made of it).
#pragma once

#include <string>

#include "test/apiserver/rest_storage.h"

namespace srexpert::testing {

// POST /api/v1/namespaces/<ns>/pods/<name>/eviction with `body` (JSON).
// `dry_run` is the dryRun=All query parameter (the Eviction's
// deleteOptions.dryRun counts too).
Outcome EvictPod(RestStorage& storage, const std::string& ns, const std::string& name,
                 const std::string& body, bool dry_run);

}  // namespace srexpert::testing
