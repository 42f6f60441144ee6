// ClusterStream: everything the leader runs to stream the cluster upstream,
// for one leadership term — a ResourceCollector per collected kind
// (projection.h), the EventCollector and MetricsCollector when enabled, and
// the Streamer they all report to.
//
// Built when an agent becomes leader and destroyed when it stops leading:
// standbys run none of it, and Stop() frees every cache and thread. The
// agent connects the Streamer to its tunnel session (SessionStarted / OnAck /
// OnError / SessionEnded).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "kube/rest_client.h"
#include "stream/event_collector.h"
#include "stream/metrics_collector.h"
#include "stream/resource_collector.h"
#include "stream/streamer.h"

namespace srexpert::stream {

struct ClusterStreamOptions {
  std::vector<std::string> excluded_namespaces;
  bool events = true;
  bool metrics = true;
  std::chrono::milliseconds metrics_interval{60000};
  EventThrottleOptions event_throttle;
  StreamerOptions streamer;
  // List page size for every resource collector; small pages keep the
  // leader's peak memory low during the initial sync.
  int64_t page_size = 250;
};

struct ClusterStreamStats {
  StreamerStats streamer;
  std::vector<std::pair<std::string, ResourceCollectorStats>> kinds;
  EventCollectorStats events;
  MetricsCollectorStats metrics;
};

class ClusterStream {
 public:
  ClusterStream(std::shared_ptr<kube::RestClient> client, ClusterStreamOptions options,
                Clock& clock = SystemClock());
  ~ClusterStream();  // Stop()s
  ClusterStream(const ClusterStream&) = delete;
  ClusterStream& operator=(const ClusterStream&) = delete;

  // Starts the streamer and every collector. At most once.
  void Start();
  // Collectors first (no change arrives afterwards), then the streamer.
  void Stop();

  Streamer& streamer() { return *streamer_; }
  ClusterStreamStats Stats() const;

 private:
  std::shared_ptr<kube::RestClient> client_;
  ClusterStreamOptions options_;
  std::unique_ptr<Streamer> streamer_;
  std::vector<std::unique_ptr<ResourceCollector>> resources_;
  std::unique_ptr<EventCollector> events_;
  std::unique_ptr<MetricsCollector> metrics_;
  Clock& clock_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace srexpert::stream
