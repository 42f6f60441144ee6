// Where srexpert-scan's objects come from: manifest files, directories
// (recursively: *.yaml, *.yml, *.json, in sorted order) and standard input,
// read with a size bound before any byte is parsed; or a cluster, listed
// through a kubeconfig with kube::RestClient.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "scan/manifests.h"

namespace srexpert::scan::cli {

// Reads PATH (a file, a directory, or "-" for `in`) into `out`. "" on
// success, otherwise an error naming the file (and document).
std::string ReadManifestPath(const std::string& path, std::istream& in,
                             const ManifestLimits& limits, std::vector<Manifest>* out);

// Lists the kinds the scan reads (Namespaces, workloads and Pods,
// ServiceAccounts, ConfigMaps, NetworkPolicies, Ingresses,
// PodDisruptionBudgets, HorizontalPodAutoscalers, RBAC) from the cluster of
// `kubeconfig` ("" for the default kubeconfig resolution). With `ns`, only
// that namespace (plus its Namespace object, and ClusterRoles marked
// context-only for resolving RoleBindings). Kinds the credentials may not
// list, or the server does not serve, are skipped with a line in
// `warnings`. "" on success.
std::string ListCluster(const std::string& kubeconfig, const std::string& ns,
                        std::vector<Manifest>* out, std::vector<std::string>* warnings);

}  // namespace srexpert::scan::cli
