// The helm.* action kinds (issue #13, switch `helm`): the Helm driver
// (helm.h, the real Helm binary run without a shell) behind the action
// framework (action.h: switch, namespace authorization, protected
// namespaces, per-release serialisation, deadline, idempotency, audit).
//
// Kinds (all switch_name "helm"):
//   helm.install    install; `conflict` if the release exists
//   helm.upgrade    install-or-upgrade (helm upgrade --install)
//   helm.rollback   to "revision" (default: the previous one)
//   helm.uninstall
//   helm.status / helm.history / helm.list   read-only
//
// Payloads ("requestedBy" is the registry's and always accepted; any other
// unknown member is `invalid`, so a misspelt "dryrun" never runs for real):
//   helm.install / helm.upgrade:
//     {"namespace", "release",
//      "chart": {"archive": "<base64 .tgz>"}                       -- or --
//      "chart": {"repoURL": "https://|http://|oci://...", "name", "version"?},
//      "values"?: {...} (a JSON object; reaches Helm as a values file),
//      "wait"?, "atomic"?, "dryRun"?: bool, "timeoutSeconds"?: 1..86400}
//     The archive is at most HelmConfig::max_archive_bytes decoded; it is
//     written to a private directory under the Helm home and removed after.
//   helm.rollback:  {"namespace", "release", "revision"?, "wait"?, "dryRun"?, "timeoutSeconds"?}
//   helm.uninstall: {"namespace", "release", "keepHistory"?, "wait"?, "dryRun"?,
//                    "timeoutSeconds"?}
//   helm.status:    {"namespace", "release", "revision"?}
//   helm.history:   {"namespace", "release", "max"?: 1..1000}
//   helm.list:      {"namespace"}  (required: never all namespaces)
//   release: Helm's rule (DNS-1123 subdomain, at most 53 characters);
//   namespace: DNS-1123 label.
//
// Targets: one per release, {apiVersion "helm.sh/release.v1" (Helm's
// storage format), kind "HelmRelease", namespace, release}, so requests on
// one release run one after the other; helm.list targets the Namespace it
// lists ({v1, Namespace, ns, ns}). The registry authorizes every target's
// namespace before Helm runs.
//
// Results (the "result" of an ok response):
//   install/upgrade/rollback/status: {"name", "namespace", "revision",
//     "status", "description", "firstDeployed", "lastDeployed",
//     "chart": {"name", "version", "appVersion"}, "dryRun"?}; a dry-run
//     install/upgrade adds "manifest" (Secrets hidden by Helm).
//   uninstall: {"name", "namespace", "uninstalled", "dryRun"}
//   history:   {"revisions": [{"revision", "updated", "status", "chart",
//                              "appVersion", "description"}]}
//   list:      {"releases": [{"name", "namespace", "revision", "updated",
//                             "status", "chart", "appVersion"}]}
//   Never the release's values, its NOTES (rendered from the values) or its
//   live objects: they may hold credentials.
//
// Errors: invalid (nothing ran), not_found (no such release/revision),
// conflict (name in use for helm.install, or another Helm operation on the
// release is in progress: retryable), forbidden (the API server refused the
// agent's credentials), timeout (the request's deadline or Helm's
// --timeout), cancelled (the tunnel ended: Helm's process group is killed),
// internal (Helm failed otherwise, with its stderr, or could not be run).
//
// Deadline: Helm's --timeout is the payload's timeoutSeconds (default
// HelmConfig::default_timeout) cut to what is left of the request's
// deadline; when the CancelToken stops (cancelled or past the deadline)
// Helm's process group is killed at once.
#pragma once

#include <vector>

#include "actions/action.h"
#include "actions/helm.h"

namespace srexpert::actions {

// The seven helm.* kinds, sharing one driver configured by `config` (helm
// binary, private Helm home, kubeconfig or in-cluster credentials, CA
// bundle, proxy variables passed through, limits).
std::vector<ActionKind> HelmActionKinds(helm::HelmConfig config);

}  // namespace srexpert::actions
