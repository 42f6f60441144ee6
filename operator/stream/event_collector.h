// EventCollector: Kubernetes Events streamed to the sink as they happen,
// de-duplicated by uid and rate-limited.
//
// It lists and watches events.k8s.io/v1 Events when the cluster serves that
// API (discovery), else core/v1 Events. Existing events are sent too (the
// backend upserts by uid); deletions (events expiring) are not reported:
// events are history, not resource state. A relist after 410 Gone offers
// every listed event again; the pending map coalesces and the backend
// upserts, so that costs bandwidth, not correctness.
//
// Rate limiting (EventThrottle): events wait in a pending map keyed by uid,
// in arrival order; a repeated report of a series before it was sent
// replaces its pending entry in place (same position, latest content). A
// token bucket (events_per_second, burst) releases pending events to
// sink->Event(). The pending map is bounded: beyond max_pending the oldest
// pending event is dropped, counted in Stats().dropped and logged (at most
// once per drop_log_interval, with the count) — never silently.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/backoff.h"
#include "common/clock.h"
#include "kube/cancellation.h"
#include "kube/rest_client.h"
#include "stream/change_sink.h"
#include "stream/resource_collector.h"  // Projector

namespace srexpert::stream {

struct EventThrottleOptions {
  double events_per_second = 50;
  size_t burst = 200;
  size_t max_pending = 5000;
  std::chrono::milliseconds drop_log_interval{std::chrono::seconds(60)};
};

struct EventThrottleStats {
  uint64_t offered = 0;    // events handed to Offer()
  uint64_t coalesced = 0;  // offers that replaced a pending event of the same uid
  uint64_t sent = 0;       // events handed to the sink
  uint64_t dropped = 0;    // pending events dropped because max_pending was reached
  uint64_t pending = 0;
};

// The de-dup + token-bucket core, without threads: Offer() from any thread,
// Release() from one thread at a time (it keeps arrival order). Time comes
// only from `clock`, so tests step a FakeClock instead of sleeping.
class EventThrottle {
 public:
  EventThrottle(ChangeSink* sink, Clock& clock, EventThrottleOptions options);

  void Offer(const std::string& uid, JsonText event);
  // Sends as many pending events as the bucket allows now, oldest first.
  // Returns how long until the next pending event may be sent (zero when
  // nothing is pending).
  std::chrono::nanoseconds Release();
  EventThrottleStats Stats() const;

 private:
  struct Pending {
    std::string uid;
    JsonText event;
  };
  void Refill();                   // mu_ held
  void MaybeLogDrops(bool force);  // mu_ held

  ChangeSink* sink_;
  Clock& clock_;
  EventThrottleOptions options_;
  std::mutex release_mu_;  // one Release() at a time: sink order = arrival order
  mutable std::mutex mu_;
  std::list<Pending> queue_;  // arrival order
  std::unordered_map<std::string, std::list<Pending>::iterator> by_uid_;
  double tokens_;
  Clock::Steady last_refill_;
  EventThrottleStats stats_;
  uint64_t dropped_unlogged_ = 0;
  bool drop_logged_ = false;
  Clock::Steady last_drop_log_{};
};

struct EventCollectorOptions {
  Projector project;  // the event's projected form; nullopt = skip it
  std::vector<std::string> excluded_namespaces;
  EventThrottleOptions throttle;
  Clock* clock = nullptr;  // token bucket and drop logging; SystemClock() if null
  int64_t page_size = 250;
  int64_t watch_timeout_seconds = 300;
  // Above watch_timeout_seconds: see kube::WatcherOptions::idle_timeout.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(360)};
  BackoffPolicy backoff{std::chrono::milliseconds(200), std::chrono::milliseconds(10000), 2.0,
                        true};
  // Delay before retrying when events cannot be read (Forbidden/NotFound).
  std::chrono::milliseconds unavailable_retry{std::chrono::seconds(60)};
};

struct EventCollectorStats {
  EventThrottleStats throttle;
  uint64_t relists = 0;
  uint64_t errors = 0;
  bool synced = false;      // the first list was offered
  std::string api_version;  // "events.k8s.io/v1" or "v1" once discovered
};

class EventCollector {
 public:
  // `sink` must outlive the collector. Nothing happens before Start().
  EventCollector(std::shared_ptr<kube::RestClient> client, EventCollectorOptions options,
                 ChangeSink* sink);
  ~EventCollector();  // Stop()
  EventCollector(const EventCollector&) = delete;
  EventCollector& operator=(const EventCollector&) = delete;

  // Starts the list+watch thread and the sender thread. At most once.
  void Start();
  // Prompt; joins both threads. Pending unsent events are discarded (a new
  // leader lists them again).
  void Stop();

  EventCollectorStats Stats() const;

 private:
  void WatchLoop();
  void SendLoop();
  void Offer(const rapidjson::Value& object);
  kube::Result<std::string> ListAll(const kube::ObjectRef& ref);
  bool WaitAfterError(const kube::Error& error, const char* during, BackoffSchedule& backoff);

  std::shared_ptr<kube::RestClient> client_;
  EventCollectorOptions options_;
  Clock& clock_;
  EventThrottle throttle_;
  std::unordered_set<std::string> excluded_;
  kube::Cancellation stop_;
  RandomSource random_;
  std::thread watch_thread_;
  std::thread send_thread_;
  bool started_ = false;

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;

  std::atomic<uint64_t> relists_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<bool> synced_{false};
  mutable std::mutex api_mu_;
  std::string api_version_;
};

}  // namespace srexpert::stream
