// Defaulting of built-in kinds as kube-apiserver's decoder applies it to
// every write (k8s.io/kubernetes pkg/apis/{apps,core}/v1 defaults.go), and
// what its Go serialization adds or omits: `resources: {}` on containers,
// `creationTimestamp: null` in pod templates, status fields without
// omitempty (a StatefulSet's `replicas: 0`, an Ingress's `loadBalancer: {}`),
// canonical resource quantities ("0.5" → "500m", "1024Mi" → "1Gi"), no
// empty `metadata.labels`/`annotations`/`finalizers`/`ownerReferences` or
// ConfigMap/Secret `data`. Defaults covered: apps/v1 Deployment,
// StatefulSet, DaemonSet and ReplicaSet with their pod templates
// (containers, init containers, probes, ports, env fieldRefs, volumes).
// Checked against kube-apiserver v1.26 by the differential suite
// (test/real/differential_test.cc, defaults.*).
#pragma once

#include <optional>
#include <string>

#include "common/json.h"

namespace srexpert::testing {

struct ResourceType;

// Fills in the defaults of `type` in `obj` (a whole object of that kind)
// and drops what Go's encoding omits (empty omitempty maps and lists: a
// ConfigMap's `data: {}`, `metadata.labels: {}`, ...). Kinds without
// modelled defaults keep all but the metadata part.
void ApplyDefaults(const ResourceType& type, json::Document& obj);

// status.qosClass of a pod as kube-apiserver sets it on create
// (pkg/apis/core/helper/qos GetPodQOS over containers and init containers,
// requests defaulted from limits): "BestEffort" without cpu/memory requests
// or limits, "Guaranteed" when every container limits both and each request
// equals its limit, "Burstable" otherwise. Quantities compare in canonical
// form per container, where the real function compares the pod's sums.
std::string PodQosClass(const json::Value& pod);

// The canonical form of a resource quantity, as resource.Quantity.String()
// prints it; nullopt when `text` is not a quantity.
std::optional<std::string> CanonicalQuantity(const std::string& text);

}  // namespace srexpert::testing
