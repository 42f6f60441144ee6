// MetricsCollector: node and pod usage from metrics.k8s.io, polled.
//
// Every `interval` it asks discovery whether metrics.k8s.io/v1beta1 is
// served (metrics-server installed). If so it lists NodeMetrics and
// PodMetrics and reports one sample:
//   {"available":true,"collectedAt":"<RFC 3339>",
//    "nodes":[{"name","cpuMilli","memoryBytes"}],
//    "pods":[{"namespace","name","cpuMilli","memoryBytes"}]}
// (a pod's usage is the sum of its containers'). If not served it reports
// {"available":false,"reason":"metrics.k8s.io is not served by this cluster"};
// a failed poll (aggregated API down: 503, forbidden, transport) reports
// {"available":false,"reason":"<why>"} and is tried again next interval.
// Unavailable samples are reported on the first poll and whenever the
// reason changes, not on every poll; available samples every poll.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "kube/cancellation.h"
#include "kube/rest_client.h"
#include "stream/change_sink.h"

namespace srexpert::stream {

struct MetricsCollectorOptions {
  std::chrono::milliseconds interval{std::chrono::seconds(60)};
  std::vector<std::string> excluded_namespaces;  // their pods are not reported
  // Sent as limit; metrics-server ignores it and answers in one page, other
  // implementations may page (continue is followed).
  int64_t page_size = 500;
  Clock* clock = nullptr;  // collectedAt; SystemClock() if null
};

struct MetricsCollectorStats {
  uint64_t polls = 0;
  uint64_t failures = 0;   // polls that ended in a request error
  bool available = false;  // the last poll produced a sample
};

class MetricsCollector {
 public:
  // `sink` must outlive the collector.
  MetricsCollector(std::shared_ptr<kube::RestClient> client, MetricsCollectorOptions options,
                   ChangeSink* sink);
  ~MetricsCollector();  // Stop()
  MetricsCollector(const MetricsCollector&) = delete;
  MetricsCollector& operator=(const MetricsCollector&) = delete;

  // Polls at once, then every interval, on a thread of its own. At most once.
  void Start();
  // Prompt (cancels a request in flight); joins the thread.
  void Stop();
  // One poll on the caller's thread (tests; not concurrently with Start()).
  void PollOnce();

  MetricsCollectorStats Stats() const;

 private:
  // The sample's JSON text, or the error that made the poll fail.
  kube::Result<std::string> Collect();
  void ReportUnavailable(const std::string& reason);

  std::shared_ptr<kube::RestClient> client_;
  MetricsCollectorOptions options_;
  ChangeSink* sink_;
  Clock& clock_;
  std::unordered_set<std::string> excluded_;
  kube::Cancellation stop_;
  std::thread thread_;
  bool started_ = false;

  std::optional<std::string> last_unavailable_;  // reason last reported; poll thread only
  std::atomic<uint64_t> polls_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<bool> available_{false};
};

// A Kubernetes resource.Quantity ("250m", "1", "12345n", "1024Ki", "1Gi",
// "1e3", "1.5", "-2M") times 10^scale, rounded up to an integer like
// Quantity.ScaledValue: scale 3 gives MilliValue (CPU in millicores),
// scale 0 Value (bytes), scale 9 nano units. Saturates at the int64 range.
// nullopt when the text is not a quantity.
std::optional<int64_t> ParseQuantityScaled(std::string_view text, int scale);

}  // namespace srexpert::stream
