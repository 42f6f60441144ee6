#include "common/backoff.h"

#include <catch2/catch.hpp>

using namespace srexpert;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

namespace {
BackoffPolicy Policy() {
  BackoffPolicy p;
  p.initial = milliseconds(1000);
  p.max = milliseconds(30000);
  p.multiplier = 2.0;
  p.stable_after = milliseconds(60000);
  return p;
}
}  // namespace

TEST_CASE("the jitter window grows geometrically up to the cap", "[backoff]") {
  RandomSource random(1);
  BackoffSchedule b(Policy(), random);
  const int64_t expected_caps[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
  for (int64_t cap : expected_caps) {
    CHECK(b.Cap().count() == cap);
    b.Next();
  }
}

TEST_CASE("every delay lies between zero and the cap (full jitter)", "[backoff]") {
  RandomSource random(42);
  BackoffSchedule b(Policy(), random);
  for (int i = 0; i < 200; ++i) {
    auto cap = b.Cap();
    auto d = b.Next();
    CHECK(d.count() >= 0);
    CHECK(d < cap);
  }
}

TEST_CASE("full jitter spreads delays over the whole window", "[backoff]") {
  // At the cap, delays of a seeded source must cover both the lower and the
  // upper part of the window and average about half of it.
  RandomSource random(7);
  BackoffSchedule b(Policy(), random);
  for (int i = 0; i < 10; ++i) b.Next();
  REQUIRE(b.Cap().count() == 30000);
  double sum = 0;
  int low = 0, high = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    auto d = b.Next().count();
    sum += static_cast<double>(d);
    if (d < 7500) ++low;
    if (d > 22500) ++high;
  }
  double mean = sum / n;
  CHECK(mean > 13500);
  CHECK(mean < 16500);
  CHECK(low > n / 8);
  CHECK(high > n / 8);
}

TEST_CASE("the same seed gives the same schedule", "[backoff]") {
  RandomSource r1(99), r2(99);
  BackoffSchedule a(Policy(), r1), b(Policy(), r2);
  for (int i = 0; i < 20; ++i) CHECK(a.Next() == b.Next());
}

TEST_CASE("refusals wait exactly the maximum delay", "[backoff]") {
  RandomSource random(3);
  BackoffSchedule b(Policy(), random);
  CHECK(b.NextMax() == milliseconds(30000));
  CHECK(b.NextMax() == milliseconds(30000));
  CHECK(b.attempts() == 2);
}

TEST_CASE("a stable connection resets the schedule, a short one does not", "[backoff]") {
  RandomSource random(5);
  BackoffSchedule b(Policy(), random);
  for (int i = 0; i < 4; ++i) b.Next();
  CHECK(b.Cap().count() == 16000);
  b.ConnectionEnded(std::chrono::seconds(10));
  CHECK(b.Cap().count() == 16000);
  b.ConnectionEnded(std::chrono::seconds(60));
  CHECK(b.Cap().count() == 1000);
  CHECK(b.attempts() == 0);
}

TEST_CASE("nonsense policies are made safe", "[backoff]") {
  RandomSource random(5);
  BackoffPolicy p;
  p.initial = milliseconds(0);
  p.max = milliseconds(-5);
  p.multiplier = 0.5;
  BackoffSchedule b(p, random);
  CHECK(b.policy().initial.count() == 1);
  CHECK(b.policy().max.count() == 1);
  CHECK(b.policy().multiplier == 1.0);
  for (int i = 0; i < 5000; ++i) b.Next();  // no overflow after many attempts
  CHECK(b.Cap().count() == 1);
}

TEST_CASE("a long outage never overflows the cap", "[backoff]") {
  RandomSource random(5);
  BackoffPolicy p = Policy();
  p.multiplier = 10.0;
  BackoffSchedule b(p, random);
  for (int i = 0; i < 5000; ++i) {
    auto d = b.Next();
    REQUIRE(d.count() >= 0);
    REQUIRE(d.count() < 30000);
  }
}

// Fixed delays and deterministic growth, as API retries without jitter use.
TEST_CASE("Backoff without jitter doubles up to the cap and resets", "[backoff]") {
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

TEST_CASE("Backoff with full jitter stays between zero and the ceiling and varies", "[backoff]") {
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
