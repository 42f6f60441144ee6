// metrics.k8s.io/v1beta1 as metrics-server serves it through the aggregator:
// NodeMetrics (cluster-scoped, "nodes") and PodMetrics (namespaced, "pods"),
// get and list only. The samples are whatever the test set; the group is
// absent from discovery (404 everywhere) until served, as on a cluster
// without metrics-server.
//
// Like metrics-server: lists ignore limit/continue and return every item in
// one response with empty list metadata (no resourceVersion); items carry no
// apiVersion/kind; writes and watch are 405 MethodNotAllowed; a missing
// object is NotFound for `nodemetrics.metrics.k8s.io "n"` /
// `podmetrics.metrics.k8s.io "ns/name"`. Not modelled: label/field
// selectors (ignored), the node/pod labels metrics-server copies into
// metadata, and the cross-check against existing Pods/Nodes (a sample is
// served whether or not its pod exists).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "test/apiserver/api_server.h"
#include "test/apiserver/rest_storage.h"

namespace srexpert::testing {

class MetricsApi {
 public:
  explicit MetricsApi(Clock& clock, bool served) : clock_(clock), served_(served) {}

  void SetServed(bool served);
  bool Served() const;
  void Set(std::vector<NodeMetricsSample> nodes, std::vector<PodMetricsSample> pods);

  // The group's discovery entry for /apis, when served.
  std::optional<json::Document> GroupEntry() const;
  // Handles /apis/metrics.k8s.io[/v1beta1[/...]]; `segs` are the path's
  // segments ("apis", "metrics.k8s.io", ...).
  Outcome Handle(const std::string& method, const std::vector<std::string>& segs, bool watch);

  // The /_test/metrics body: {"served":bool,"nodes":[{"name","cpu","memory"}],
  // "pods":[{"namespace","name","containers":[{"name","cpu","memory"}]}]}.
  std::optional<std::string> SetFromJson(const json::Value& body);  // error message
  json::Document ToJson() const;

 private:
  json::Value NodeItem(const NodeMetricsSample& n, json::Allocator& a) const;
  json::Value PodItem(const PodMetricsSample& p, json::Allocator& a) const;

  Clock& clock_;
  mutable std::mutex mu_;
  bool served_;
  std::vector<NodeMetricsSample> nodes_;
  std::vector<PodMetricsSample> pods_;
};

}  // namespace srexpert::testing
