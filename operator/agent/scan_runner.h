// ScanRunner: the leader's scans (docs/scan.md, "In the cluster"). One per
// leadership term, beside the ClusterStream whose cache it scans:
//   * every `interval` (spec.scans.interval) once the cache is complete, a
//     full scan whose report goes upstream as the next delta's `scan`
//     member (stream::Streamer::ScanReport);
//   * the backend's `scan.run` requests (docs/protocol.md), optionally
//     scoped to namespaces, kinds and checks, answered with the report; an
//     unscoped one also goes upstream as the latest report.
// Scans run on the runner's own thread, one at a time: the tunnel thread
// only queues a request (at most `max_queued_requests`, beyond: `busy`).
//
// Lifetime: the runner holds the ClusterStream weakly. When the leadership
// ends (the stream is freed) queued requests are answered `internal` and
// nothing more is scanned; Stop() (or the destructor) joins the thread.
#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/scan_report.h"
#include "agent/tunnel_client.h"
#include "common/clock.h"
#include "protocol/messages.h"
#include "scan/config.h"
#include "stream/cluster_stream.h"

namespace srexpert::agent {

inline constexpr const char* kScanRunRequest = "scan.run";

struct ScanRunnerOptions {
  // spec.scans.enabled: false = no periodic scans and `scan.run` is
  // answered `forbidden`.
  bool enabled = true;
  std::chrono::milliseconds interval{3600000};
  // spec.scans: severities, exemptions, custom checks (may be null).
  std::shared_ptr<const scan::ScanConfig> config;
  // How often a runner waiting for the cache looks again.
  std::chrono::milliseconds cache_poll{500};
  size_t max_queued_requests = 4;
  // Optional: gets the srexpert_scan_* metrics (docs/scan.md), updated
  // after every full scan.
  std::shared_ptr<prometheus::Registry> registry;
};

struct ScanRunnerStats {
  uint64_t scans = 0;              // completed scans (periodic and requested)
  uint64_t reports_published = 0;  // reports handed to the stream
  uint64_t requests = 0;           // scan.run requests answered
  bool has_last = false;
  scan::Counts last;  // the last full scan's counts
  Clock::Wall last_at{};
  std::chrono::milliseconds last_duration{0};
};

class ScanRunner {
 public:
  ScanRunner(std::weak_ptr<stream::ClusterStream> stream, ScanRunnerOptions options,
             Clock& clock = SystemClock());
  ~ScanRunner();  // Stop()s
  ScanRunner(const ScanRunner&) = delete;
  ScanRunner& operator=(const ScanRunner&) = delete;

  void Start();
  void Stop();

  // The `scan.run` handler (TunnelClient::HandleRequests). Never blocks.
  void Handle(const protocol::Request& request, Reply reply);

  ScanRunnerStats Stats() const;
  // Called after every completed full scan (metrics, status), on the
  // runner's thread. Set before Start().
  void OnScan(std::function<void(const ScanOutcome&)> observer);

 private:
  // Everything the runner's thread touches: shared with it, so that the
  // runner may be destroyed from a callback on that very thread (the last
  // owner of the tunnel can be a reply running there) — the thread then
  // finds `stop` set and leaves without touching the runner.
  struct State;
  static void Loop(std::shared_ptr<State> s);
  static bool ScanNow(State& s, const ScanScope& scope, ScanOutcome* out);

  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace srexpert::agent
