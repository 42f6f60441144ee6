#include "kube/backoff.h"

#include <catch2/catch.hpp>

using namespace srexpert;
using namespace srexpert::kube;
using namespace std::chrono_literals;

TEST_CASE("Backoff without jitter doubles up to the cap and resets", "[kube][backoff]") {
  RandomSource random(1);
  BackoffSchedule b({100ms, 1000ms, 2.0, false}, random);
  CHECK(b.Next() == 100ms);
  CHECK(b.Next() == 200ms);
  CHECK(b.Next() == 400ms);
  CHECK(b.Next() == 800ms);
  CHECK(b.Next() == 1000ms);
  CHECK(b.Next() == 1000ms);
  CHECK(b.attempts() == 6);
  b.Reset();
  CHECK(b.Next() == 100ms);
}

TEST_CASE("Backoff with full jitter stays between zero and the ceiling and varies", "[kube][backoff]") {
  RandomSource random(7);
  BackoffSchedule b({100ms, 1000ms, 2.0, true}, random);
  bool varied = false;
  std::chrono::milliseconds previous{-1};
  for (int i = 0; i < 50; ++i) {
    auto ceiling = std::min<std::chrono::milliseconds>(1000ms, 100ms * (1LL << std::min(i, 20)));
    auto d = b.Next();
    CHECK(d >= 0ms);
    CHECK(d <= ceiling);
    if (i > 5 && d != previous) varied = true;
    previous = d;
  }
  CHECK(varied);
}
