#include "common/backoff.h"

#include <algorithm>
#include <cmath>

namespace srexpert {

BackoffSchedule::BackoffSchedule(BackoffPolicy policy, RandomSource& random)
    : policy_(policy), random_(random) {
  if (policy_.initial.count() < 1) policy_.initial = std::chrono::milliseconds(1);
  if (policy_.max < policy_.initial) policy_.max = policy_.initial;
  if (!(policy_.multiplier >= 1.0)) policy_.multiplier = 1.0;  // also catches NaN
}

std::chrono::milliseconds BackoffSchedule::Cap() const {
  // Computed in floating point and clamped, so a long outage cannot overflow.
  double cap = static_cast<double>(policy_.initial.count()) *
               std::pow(policy_.multiplier, static_cast<double>(attempts_));
  double max = static_cast<double>(policy_.max.count());
  return std::chrono::milliseconds(static_cast<int64_t>(std::min(cap, max)));
}

std::chrono::milliseconds BackoffSchedule::Next() {
  auto cap = Cap();
  if (attempts_ < 1000) ++attempts_;
  if (!policy_.jitter) return cap;
  double r = random_.Uniform01();
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(cap.count()) * r));
}

std::chrono::milliseconds BackoffSchedule::NextMax() {
  if (attempts_ < 1000) ++attempts_;
  return policy_.max;
}

void BackoffSchedule::ConnectionEnded(std::chrono::nanoseconds connected_for) {
  if (connected_for >= policy_.stable_after) attempts_ = 0;
}

}  // namespace srexpert
