// Retry delays: exponential growth from `initial` by `factor`, capped at
// `max`, with "full jitter" (a uniform draw in [0, d]) so that many clients
// retrying after one failure spread out. Randomness is injected.
#pragma once

#include <chrono>

#include "common/clock.h"

namespace srexpert::kube {

struct BackoffPolicy {
  std::chrono::milliseconds initial{200};
  std::chrono::milliseconds max{10000};
  double factor = 2.0;
  bool jitter = true;
};

// Not thread-safe: one schedule per retry loop.
class BackoffSchedule {
 public:
  // `random` must outlive the schedule.
  BackoffSchedule(BackoffPolicy policy, RandomSource& random);

  // The delay before the next attempt; grows with each call.
  std::chrono::milliseconds Next();
  // Back to `initial` (after a success).
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  BackoffPolicy policy_;
  RandomSource& random_;
  int attempt_ = 0;
};

}  // namespace srexpert::kube
