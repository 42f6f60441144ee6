// Client-side rate limiting: a token bucket of `burst` tokens refilled at
// `qps` per second (client-go's default limiter semantics). Time comes from an
// injected Clock so tests step it instead of sleeping.
#pragma once

#include <chrono>
#include <mutex>

#include "common/clock.h"

namespace srexpert::kube {

class RateLimiter {
 public:
  // qps <= 0 disables limiting. burst < 1 is treated as 1. `clock` must
  // outlive the limiter.
  RateLimiter(double qps, int burst, Clock& clock);

  // Takes a token if one is available now.
  bool TryAcquire();
  // Reserves the next token and returns how long the caller must wait before
  // using it (zero when a token was available). Reservations queue: each
  // caller gets its own slot, so concurrent callers are spaced 1/qps apart.
  std::chrono::nanoseconds Reserve();
  // Reserve() and then sleep on the clock for the returned delay.
  void Acquire();

 private:
  void RefillLocked(Clock::Steady now);

  const double qps_;
  const double burst_;
  Clock& clock_;
  std::mutex mu_;
  double tokens_;  // may go negative: outstanding reservations
  Clock::Steady last_;
};

}  // namespace srexpert::kube
