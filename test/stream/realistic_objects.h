// Realistic Kubernetes objects for the stream tests and the 10,000-pod
// benchmark: shaped like `kubectl get -o json` output of a real cluster
// (managedFields, last-applied annotation, full status), not minimal ones.
//
// Every object is parameterised by names and an index so a benchmark can
// build a consistent cluster: pods reference their ReplicaSet (name and uid),
// ReplicaSets their Deployment, pods their node. UIDs are derived from
// (kind, namespace, name), so two calls agree without sharing state.
// Serving these objects through an API server replaces uid,
// resourceVersion and creationTimestamp with the server's own.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <vector>

namespace srexpert::testing {

// A deterministic RFC 4122-looking uid for (kind, namespace, name).
std::string FixtureUid(std::string_view kind, std::string_view ns, std::string_view name);
// The pod-template-hash of a Deployment's ReplicaSet ("7d9f8c6b5d"-like).
std::string PodTemplateHash(std::string_view deployment);
// "<deployment>-<hash>".
std::string ReplicaSetName(std::string_view deployment);
// "<deployment>-<hash>-<5 chars from index>".
std::string PodName(std::string_view deployment, int index);

// The literal env values the realistic pod carries; a projection must contain
// none of them (env values often hold credentials).
const std::vector<std::string>& RealisticPodLiteralEnvValues();

// A Deployment's pod: two containers (app and a sidecar) with resources, env
// (literal values and valueFrom secret/configMap/field references), ports,
// liveness/readiness probes and volume mounts; an ownerReference to the
// ReplicaSet; full Running status; managedFields of kube-controller-manager
// and kubelet; the last-applied annotation. About 9 KB of JSON.
std::string RealisticPodJson(std::string_view ns, std::string_view deployment,
                             std::string_view pod_name, std::string_view node, int index);
rapidjson::Document RealisticPod(std::string_view ns, std::string_view deployment,
                                 std::string_view pod_name, std::string_view node, int index);

// A worker node with labels, taints-free spec, capacity/allocatable, the five
// kubelet conditions with heartbeats, addresses, nodeInfo and an image list.
std::string RealisticNodeJson(std::string_view name, int index);
// A Deployment of `replicas` pods whose template is the realistic pod's.
std::string RealisticDeploymentJson(std::string_view ns, std::string_view name, int replicas,
                                    int index);
// The Deployment's current ReplicaSet, owned by it.
std::string RealisticReplicaSetJson(std::string_view ns, std::string_view deployment, int replicas,
                                    int index);
std::string RealisticNamespaceJson(std::string_view name, int index);
// A ClusterIP Service selecting the Deployment `name`'s pods.
std::string RealisticServiceJson(std::string_view ns, std::string_view name, int index);

// Parses fixture text; aborts the test program on invalid JSON (a fixture
// bug, not a condition to handle).
rapidjson::Document ParseFixture(const std::string& text);

// Where each object of a generated cluster goes: pods spread over nodes
// round-robin, `pods_per_deployment` pods per Deployment, Deployments spread
// over `namespaces` namespaces.
struct ClusterLayout {
  int pods = 10000;
  int nodes = 1000;
  int namespaces = 20;
  int pods_per_deployment = 10;

  int Deployments() const { return (pods + pods_per_deployment - 1) / pods_per_deployment; }
};
std::string NodeName(int node_index);            // "node-0007"
std::string NamespaceName(int namespace_index);  // "team-03"
std::string DeploymentName(int deployment_index);
struct PodPlacement {
  std::string ns, deployment, name, node;
};
PodPlacement PlacePod(const ClusterLayout& layout, int pod_index);
// The namespace of Deployment `deployment_index` (consistent with PlacePod).
std::string DeploymentNamespace(const ClusterLayout& layout, int deployment_index);

}  // namespace srexpert::testing
