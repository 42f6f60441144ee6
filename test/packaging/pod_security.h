// The Pod Security Standard "restricted" (Kubernetes v1.25+ policy, as the
// PodSecurity admission plugin checks it), plus this project's own rule that
// every container runs with a read-only root filesystem.
// https://kubernetes.io/docs/concepts/security/pod-security-standards/
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace srexpert::packaging {

// Whether `object` is a kind that carries a pod spec (Pod, Deployment,
// DaemonSet, StatefulSet, ReplicaSet, ReplicationController, Job, CronJob).
bool IsWorkload(const YAML::Node& object);
// The pod spec of a workload object (possibly an invalid node when the
// object lacks one, which RestrictedViolations reports).
YAML::Node PodSpecOf(const YAML::Node& object);

// Every violation of the restricted standard in `pod_spec`, one message per
// problem, each starting with `where` ("Deployment srexpert-system/x: ...").
// Empty when the pod spec complies.
std::vector<std::string> RestrictedViolations(const YAML::Node& pod_spec,
                                              const std::string& where);

}  // namespace srexpert::packaging
