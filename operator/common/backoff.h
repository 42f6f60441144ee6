// Retry and reconnect delays: exponential growth with FULL jitter (AWS
// architecture blog, "Exponential Backoff And Jitter": sleep = random(0,
// min(cap, base * multiplier^attempt))). Full jitter spreads many clients
// retrying after one failure (a fleet of agents after a backend restart, the
// informers of one process after an apiserver hiccup) over the whole window
// instead of synchronized waves. The tunnel also resets the schedule once a
// connection has stayed up for `stable_after`; API retries Reset() after a
// success.
#pragma once

#include <chrono>

#include "common/clock.h"

namespace srexpert {

struct BackoffPolicy {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max{60000};
  double multiplier = 2.0;
  // false: exactly the cap every time (deterministic, for tests and tools).
  bool jitter = true;
  // A connection that lasted at least this long resets the schedule.
  std::chrono::milliseconds stable_after{60000};
};

// Not thread-safe; owned by one connection loop. `random` must outlive it.
class BackoffSchedule {
 public:
  BackoffSchedule(BackoffPolicy policy, RandomSource& random);

  // The delay before the next attempt, uniformly in [0, Cap()) (or Cap()
  // itself without jitter); then the cap grows for the attempt after.
  std::chrono::milliseconds Next();
  // For refusals that retrying soon cannot fix (401/403, superseded,
  // unsupported version): exactly the maximum delay. Also advances.
  std::chrono::milliseconds NextMax();
  // The current jitter window: min(max, initial * multiplier^attempts).
  std::chrono::milliseconds Cap() const;
  // A connection ended after being up for `connected_for`: resets the
  // schedule if that reached stable_after.
  void ConnectionEnded(std::chrono::nanoseconds connected_for);
  void Reset() { attempts_ = 0; }
  int attempts() const { return attempts_; }
  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  RandomSource& random_;
  int attempts_ = 0;
};

}  // namespace srexpert
