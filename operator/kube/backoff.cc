#include "kube/backoff.h"

#include <algorithm>
#include <cmath>

namespace srexpert::kube {

BackoffSchedule::BackoffSchedule(BackoffPolicy policy, RandomSource& random)
    : policy_(policy), random_(random) {}

std::chrono::milliseconds BackoffSchedule::Next() {
  double ceiling = static_cast<double>(policy_.initial.count()) *
                   std::pow(policy_.factor, static_cast<double>(std::min(attempt_, 62)));
  ceiling = std::min(ceiling, static_cast<double>(policy_.max.count()));
  ++attempt_;
  double d = policy_.jitter ? ceiling * random_.Uniform01() : ceiling;
  return std::chrono::milliseconds(static_cast<int64_t>(d));
}

}  // namespace srexpert::kube
