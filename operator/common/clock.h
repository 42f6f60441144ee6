// Time and randomness as injectable seams: leader election, backoff and rate
// limiting take a Clock so tests can step time instead of sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>

namespace srexpert {

class Clock {
 public:
  using Steady = std::chrono::steady_clock::time_point;
  using Wall = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  // Monotonic time: for durations, deadlines and expiry by local observation.
  virtual Steady Now() const = 0;
  // Wall-clock time: only for timestamps written into API objects.
  virtual Wall WallNow() const = 0;
  // Blocks for `d` of this clock's time (a fake clock returns at once after
  // advancing itself).
  virtual void SleepFor(std::chrono::nanoseconds d) = 0;
};

class RealClock final : public Clock {
 public:
  Steady Now() const override { return std::chrono::steady_clock::now(); }
  Wall WallNow() const override { return std::chrono::system_clock::now(); }
  void SleepFor(std::chrono::nanoseconds d) override;
};

// Process-wide real clock.
Clock& SystemClock();

// A clock that only moves when told to; SleepFor advances it. Thread-safe.
class FakeClock final : public Clock {
 public:
  FakeClock();
  Steady Now() const override;
  Wall WallNow() const override;
  void SleepFor(std::chrono::nanoseconds d) override { Advance(d); }
  void Advance(std::chrono::nanoseconds d);

 private:
  mutable std::mutex mu_;
  Steady steady_;
  Wall wall_;
};

// Uniform random numbers in [0, 1); seeded so tests are reproducible.
class RandomSource {
 public:
  explicit RandomSource(uint64_t seed = std::random_device{}()) : gen_(seed) {}
  double Uniform01();

 private:
  std::mutex mu_;
  std::mt19937_64 gen_;
};

}  // namespace srexpert
