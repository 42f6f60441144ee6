// Lease-based leader election with client-go's semantics
// (k8s.io/client-go/tools/leaderelection):
//  - a Lease that is free, or whose record has not changed for
//    leaseDuration *as observed locally* (never trusting the holder's clock),
//    may be taken; writes use the Lease's resourceVersion, so of two racing
//    candidates exactly one wins;
//  - the leader renews every retryPeriod; if it has not renewed for
//    renewDeadline it stops leading at once — before anyone else can acquire,
//    because renewDeadline < leaseDuration (fencing);
//  - Stop() releases a held Lease (holderIdentity cleared) so a standby takes
//    over without waiting for expiry;
//  - after losing leadership the elector goes back to candidate.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "leaderelection/lease_lock.h"

namespace srexpert::leaderelection {

struct ElectionConfig {
  std::string identity;  // unique per candidate, e.g. the pod name
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  bool release_on_stop = true;
};

// client-go's JitterFactor: candidates retry after retryPeriod * (1 + 1.2 * rand).
inline constexpr double kJitterFactor = 1.2;

// Empty when valid, else why not (client-go's rules: leaseDuration >
// renewDeadline > JitterFactor * retryPeriod, all positive, identity set).
std::string Validate(const ElectionConfig& config);

struct ElectionCallbacks {
  // Called on the elector's thread when this candidate becomes leader; must
  // return promptly (start work elsewhere).
  std::function<void()> on_started_leading;
  // Called when leadership ends (renew deadline passed, lease lost, Stop());
  // work must stop before it returns.
  std::function<void()> on_stopped_leading;
  // Called when the observed holder changes (including to ourselves or "").
  std::function<void(const std::string& holder)> on_new_leader;
};

class LeaderElector {
 public:
  // `lock`, `clock` and `random` must outlive the elector. Aborts on an
  // invalid config: validate with Validate() first.
  LeaderElector(ElectionConfig config, LeaseLock& lock, ElectionCallbacks callbacks,
                Clock& clock = SystemClock(), RandomSource* random = nullptr);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Runs the election loop on the calling thread until Stop().
  void Run();
  // Thread-safe; makes Run() return after releasing a held Lease.
  void Stop();
  // Thread-safe; a candidate waiting for its next retry tries at once. Called
  // when a watch on the Lease shows it was released, so a standby takes over
  // in milliseconds instead of after up to 2.2 x retryPeriod of jitter.
  void Nudge();

  // True only while this candidate holds the Lease and its last successful
  // renewal is less than renewDeadline ago.
  bool IsLeader() const;
  std::string ObservedLeader() const;

  // Annotations written on the Lease with every renewal while leading (e.g.
  // tunnel state). Takes effect at the next renewal.
  void SetAnnotations(std::map<std::string, std::string> annotations);

  // One iteration of the loop, for tests driving a FakeClock: as candidate,
  // try to acquire; as leader, enforce the renew deadline then renew.
  // Returns whether this candidate leads afterwards.
  bool Step();
  // Releases the Lease if held (what Stop() does); returns whether it wrote.
  bool Release();

 private:
  bool TryAcquireOrRenew();
  void BecomeLeader();
  void LoseLeadership(const char* why);
  void EnforceRenewDeadline();
  // Records what was read or written; returns whether the holder changed.
  bool Observe(const LeaderElectionRecord& record);
  void NotifyNewLeader(bool changed, const std::string& holder);
  std::chrono::milliseconds NextWait();
  // The limits of the next Lease call of an acquire-or-renew try: Stop()
  // cancels it; a leader's ends at its renew deadline (an answer after it
  // is useless: the leadership is lost there), a candidate's after
  // renewDeadline (its view of the Lease would be stale).
  LeaseCall NextCall() const;

  ElectionConfig config_;
  LeaseLock& lock_;
  ElectionCallbacks callbacks_;
  Clock& clock_;
  RandomSource own_random_;
  RandomSource* random_;

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  bool nudged_ = false;
  bool leading_ = false;
  Clock::Steady last_renew_{};          // local time of our last successful write
  LeaderElectionRecord observed_;       // last record read or written
  Clock::Steady observed_time_{};       // local time the record last changed
  bool observed_any_ = false;
  std::string observed_rv_;
  std::map<std::string, std::string> annotations_;
  std::thread watchdog_;
  // Cancelled by Stop(): ends a Lease call in flight or retrying.
  kube::Cancellation stop_signal_;
};

}  // namespace srexpert::leaderelection
