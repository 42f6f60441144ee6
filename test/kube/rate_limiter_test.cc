#include "kube/rate_limiter.h"

#include <catch2/catch.hpp>

using namespace srexpert;
using namespace srexpert::kube;
using namespace std::chrono_literals;

TEST_CASE("RateLimiter allows a burst, then refills at qps", "[kube][rate_limiter]") {
  FakeClock clock;
  RateLimiter limiter(5, 3, clock);
  CHECK(limiter.TryAcquire());
  CHECK(limiter.TryAcquire());
  CHECK(limiter.TryAcquire());
  CHECK_FALSE(limiter.TryAcquire());
  clock.Advance(100ms);  // half a token
  CHECK_FALSE(limiter.TryAcquire());
  clock.Advance(100ms);  // one token
  CHECK(limiter.TryAcquire());
  CHECK_FALSE(limiter.TryAcquire());
  clock.Advance(10s);  // refills to burst, not beyond
  for (int i = 0; i < 3; ++i) CHECK(limiter.TryAcquire());
  CHECK_FALSE(limiter.TryAcquire());
}

TEST_CASE("RateLimiter reservations queue callers 1/qps apart", "[kube][rate_limiter]") {
  FakeClock clock;
  RateLimiter limiter(10, 1, clock);
  CHECK(limiter.Reserve() == 0ns);
  CHECK(limiter.Reserve() == 100ms);
  CHECK(limiter.Reserve() == 200ms);
  clock.Advance(200ms);
  CHECK(limiter.Reserve() == 100ms);
}

TEST_CASE("RateLimiter::Acquire sleeps on the injected clock", "[kube][rate_limiter]") {
  FakeClock clock;
  RateLimiter limiter(2, 1, clock);
  auto t0 = clock.Now();
  limiter.Acquire();
  CHECK(clock.Now() == t0);
  limiter.Acquire();
  CHECK(clock.Now() - t0 == 500ms);
  limiter.Acquire();
  CHECK(clock.Now() - t0 == 1000ms);
}

TEST_CASE("RateLimiter with qps <= 0 never limits", "[kube][rate_limiter]") {
  FakeClock clock;
  RateLimiter limiter(0, 1, clock);
  for (int i = 0; i < 1000; ++i) REQUIRE(limiter.TryAcquire());
  CHECK(limiter.Reserve() == 0ns);
}
