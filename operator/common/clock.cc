#include "common/clock.h"

#include <thread>

namespace srexpert {

void RealClock::SleepFor(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); }

Clock& SystemClock() {
  static RealClock clock;
  return clock;
}

FakeClock::FakeClock()
    : steady_(std::chrono::steady_clock::time_point{} + std::chrono::hours(1)),
      wall_(std::chrono::system_clock::from_time_t(1'700'000'000)) {}

Clock::Steady FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return steady_;
}

Clock::Wall FakeClock::WallNow() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_;
}

void FakeClock::Advance(std::chrono::nanoseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  steady_ += std::chrono::duration_cast<Steady::duration>(d);
  wall_ += std::chrono::duration_cast<Wall::duration>(d);
}

double RandomSource::Uniform01() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen_);
}

}  // namespace srexpert
