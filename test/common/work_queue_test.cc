#include "common/work_queue.h"

#include <catch2/catch.hpp>

#include <thread>

using namespace srexpert;
using namespace std::chrono_literals;

TEST_CASE("a key added many times is handed out once", "[work_queue]") {
  WorkQueue q;
  q.Add("ns/a");
  q.Add("ns/a");
  q.Add("ns/b");
  CHECK(q.Len() == 2);
  CHECK(q.GetFor(10ms) == "ns/a");
  CHECK(q.GetFor(10ms) == "ns/b");
  CHECK_FALSE(q.GetFor(10ms));
}

TEST_CASE("a key added while processing is processed again after Done, never concurrently",
          "[work_queue]") {
  WorkQueue q;
  q.Add("k");
  auto k = q.GetFor(10ms);
  REQUIRE(k == "k");
  CHECK(q.Len() == 0);
  CHECK(q.InFlight() == 1);  // handed out: neither queued nor finished
  q.Add("k");
  CHECK_FALSE(q.GetFor(10ms));  // not handed to a second worker
  q.Done("k");
  CHECK(q.GetFor(10ms) == "k");
  q.Done("k");
  CHECK(q.InFlight() == 0);
  CHECK_FALSE(q.GetFor(10ms));
}

TEST_CASE("AddRateLimited backs off exponentially per key and Forget resets it",
          "[work_queue]") {
  FakeClock clock;
  WorkQueue q({.base_delay = 10ms, .max_delay = 40ms}, clock);
  q.AddRateLimited("k");  // 10ms
  CHECK_FALSE(q.GetFor(5ms));
  clock.Advance(10ms);
  CHECK(q.GetFor(5ms) == "k");
  q.Done("k");
  q.AddRateLimited("k");  // 20ms
  clock.Advance(19ms);
  CHECK_FALSE(q.GetFor(5ms));
  clock.Advance(1ms);
  CHECK(q.GetFor(5ms) == "k");
  q.Done("k");
  q.AddRateLimited("k");  // 40ms
  q.AddRateLimited("k");  // capped at 40ms
  CHECK(q.Failures("k") == 4);
  q.Forget("k");
  CHECK(q.Failures("k") == 0);
}

TEST_CASE("AddAfter makes a key ready only when its delay has passed", "[work_queue]") {
  FakeClock clock;
  WorkQueue q({}, clock);
  q.AddAfter("later", 1s);
  q.Add("now");
  CHECK(q.GetFor(5ms) == "now");
  CHECK(q.DelayedLen() == 1);
  CHECK_FALSE(q.GetFor(5ms));
  clock.Advance(1s);
  CHECK(q.GetFor(5ms) == "later");
}

TEST_CASE("ShutDown wakes blocked workers", "[work_queue]") {
  WorkQueue q;
  std::optional<std::string> got = "unset";
  std::thread worker([&] { got = q.Get(); });
  std::this_thread::sleep_for(20ms);
  q.ShutDown();
  worker.join();
  CHECK_FALSE(got);
  q.Add("ignored");
  CHECK(q.Len() == 0);
}
