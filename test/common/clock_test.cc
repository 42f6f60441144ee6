#include "common/clock.h"

#include <catch2/catch.hpp>

using namespace srexpert;
using namespace std::chrono_literals;

TEST_CASE("FakeClock moves only when advanced", "[clock]") {
  FakeClock clock;
  auto t0 = clock.Now();
  auto w0 = clock.WallNow();
  CHECK(clock.Now() == t0);
  clock.SleepFor(1500ms);
  CHECK(clock.Now() - t0 == 1500ms);
  CHECK(clock.WallNow() - w0 == 1500ms);
}

TEST_CASE("RandomSource is reproducible for a seed and stays between 0 inclusive and 1 exclusive", "[clock]") {
  RandomSource a(42), b(42);
  for (int i = 0; i < 100; ++i) {
    double x = a.Uniform01();
    CHECK(x == b.Uniform01());
    CHECK(x >= 0.0);
    CHECK(x < 1.0);
  }
}
