#include "leaderelection/leader_elector.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "leaderelection/memory_lease_lock.h"

using namespace srexpert;
using namespace srexpert::leaderelection;
using namespace std::chrono_literals;

namespace {

ElectionConfig Config(const std::string& id) {
  ElectionConfig c;
  c.identity = id;
  return c;  // 15s / 10s / 2s, client-go's defaults
}

struct Counting {
  std::atomic<int> started{0}, stopped{0};
  std::string last_leader;
  ElectionCallbacks Callbacks() {
    return {[this] { ++started; }, [this] { ++stopped; },
            [this](const std::string& h) { last_leader = h; }};
  }
};

}  // namespace

TEST_CASE("Validate applies client-go's timing rules", "[leaderelection]") {
  CHECK(Validate(Config("a")).empty());
  auto c = Config("a");
  c.renew_deadline = 15s;
  CHECK(Validate(c).find("greater than renewDeadline") != std::string::npos);
  c = Config("a");
  c.retry_period = 9s;  // 1.2 * 9s > 10s
  CHECK(Validate(c).find("retryPeriod") != std::string::npos);
  CHECK_FALSE(Validate(Config("")).empty());
}

TEST_CASE("a candidate acquires a free lease and records itself", "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock(lease);
  FakeClock clock;
  Counting cb;
  LeaderElector a(Config("pod-a"), lock, cb.Callbacks(), clock);
  CHECK(a.Step());
  CHECK(a.IsLeader());
  CHECK(cb.started == 1);
  CHECK(cb.last_leader == "pod-a");
  CHECK(lease.record.holder_identity == "pod-a");
  CHECK(lease.record.lease_duration_seconds == 15);
  CHECK(lease.record.lease_transitions == 0);
}

TEST_CASE("a live lease is not taken, an expired one is, by local observation time",
          "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock_a(lease), lock_b(lease);
  FakeClock clock;
  Counting ca, cb;
  LeaderElector a(Config("pod-a"), lock_a, ca.Callbacks(), clock);
  LeaderElector b(Config("pod-b"), lock_b, cb.Callbacks(), clock);
  REQUIRE(a.Step());
  CHECK_FALSE(b.Step());
  CHECK(b.ObservedLeader() == "pod-a");

  // A keeps renewing: B never gets it.
  for (int i = 0; i < 10; ++i) {
    clock.Advance(2s);
    REQUIRE(a.Step());
    CHECK_FALSE(b.Step());
  }
  // A goes silent. B must wait a full leaseDuration from when it last saw the
  // record change, whatever renewTime says.
  clock.Advance(14s);
  CHECK_FALSE(b.Step());
  clock.Advance(2s);
  CHECK(b.Step());
  CHECK(lease.record.holder_identity == "pod-b");
  CHECK(lease.record.lease_transitions == 1);
  CHECK(cb.started == 1);
}

TEST_CASE("expiry ignores the holder's clock: an old renewTime does not make a lease free",
          "[leaderelection]") {
  MemoryLease lease;
  lease.exists = true;
  lease.record.holder_identity = "skewed-pod";
  lease.record.lease_duration_seconds = 15;
  lease.record.renew_time = std::chrono::system_clock::from_time_t(0);  // 1970
  MemoryLeaseLock lock(lease);
  FakeClock clock;
  Counting cb;
  LeaderElector b(Config("pod-b"), lock, cb.Callbacks(), clock);
  CHECK_FALSE(b.Step());
  clock.Advance(14s);
  CHECK_FALSE(b.Step());
  clock.Advance(1s);
  CHECK(b.Step());
}

TEST_CASE("a leader that cannot renew stops leading at renewDeadline, before the lease expires",
          "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock_a(lease), lock_b(lease);
  FakeClock clock;
  Counting ca, cb;
  LeaderElector a(Config("pod-a"), lock_a, ca.Callbacks(), clock);
  LeaderElector b(Config("pod-b"), lock_b, cb.Callbacks(), clock);
  REQUIRE(a.Step());
  CHECK_FALSE(b.Step());

  lock_a.fail_calls = 1000;  // the API server is unreachable for A only
  for (int i = 0; i < 4; ++i) {
    clock.Advance(2s);
    CHECK(a.Step());  // 8s since the last renewal: still within renewDeadline
    CHECK_FALSE(b.Step());
  }
  clock.Advance(2s);  // 10s: renewDeadline
  CHECK_FALSE(a.Step());
  CHECK_FALSE(a.IsLeader());
  CHECK(ca.stopped == 1);
  // B still cannot take over: A stopped working 5s before the lease expires.
  CHECK_FALSE(b.Step());
  clock.Advance(5s);
  CHECK(b.Step());
}

TEST_CASE("IsLeader turns false at renewDeadline even without another Step", "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock(lease);
  FakeClock clock;
  Counting cb;
  LeaderElector a(Config("pod-a"), lock, cb.Callbacks(), clock);
  REQUIRE(a.Step());
  clock.Advance(9999ms);
  CHECK(a.IsLeader());
  clock.Advance(1ms);
  CHECK_FALSE(a.IsLeader());
}

TEST_CASE("a conflicting write means not leader", "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock_a(lease), lock_b(lease);
  FakeClock clock;
  Counting ca, cb;
  LeaderElector a(Config("pod-a"), lock_a, ca.Callbacks(), clock);
  REQUIRE(a.Step());
  // Someone else (pod-b) writes the lease behind A's back after expiry.
  clock.Advance(2s);
  {
    std::lock_guard<std::mutex> l(lease.mu);
    lease.record.holder_identity = "pod-b";
    ++lease.resource_version;
  }
  CHECK_FALSE(a.Step());
  CHECK(ca.stopped == 1);
  CHECK(a.ObservedLeader() == "pod-b");
}

TEST_CASE("Release clears the holder so a standby takes over at once", "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock_a(lease), lock_b(lease);
  FakeClock clock;
  Counting ca, cb;
  LeaderElector a(Config("pod-a"), lock_a, ca.Callbacks(), clock);
  LeaderElector b(Config("pod-b"), lock_b, cb.Callbacks(), clock);
  REQUIRE(a.Step());
  CHECK_FALSE(b.Step());
  CHECK(a.Release());
  CHECK(ca.stopped == 1);
  CHECK(lease.record.holder_identity.empty());
  CHECK(lease.record.lease_duration_seconds == 1);
  CHECK(b.Step());
  CHECK(lease.record.lease_transitions == 1);
}

TEST_CASE("the leader publishes its annotations with every renewal", "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock(lease);
  FakeClock clock;
  Counting cb;
  LeaderElector a(Config("pod-a"), lock, cb.Callbacks(), clock);
  a.SetAnnotations({{"agent.srexpert.io/tunnel", "Connected"}});
  REQUIRE(a.Step());
  CHECK(lease.record.annotations.at("agent.srexpert.io/tunnel") == "Connected");
  a.SetAnnotations({{"agent.srexpert.io/tunnel", "Reconnecting"}});
  clock.Advance(2s);
  REQUIRE(a.Step());
  CHECK(lease.record.annotations.at("agent.srexpert.io/tunnel") == "Reconnecting");
}

TEST_CASE("two running electors: exactly one leads, and Stop hands over", "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock_a(lease), lock_b(lease);
  auto fast = [](const std::string& id) {
    ElectionConfig c;
    c.identity = id;
    c.lease_duration = 1500ms;
    c.renew_deadline = 1000ms;
    c.retry_period = 100ms;
    return c;
  };
  Counting ca, cb;
  LeaderElector a(fast("pod-a"), lock_a, ca.Callbacks());
  LeaderElector b(fast("pod-b"), lock_b, cb.Callbacks());
  std::thread ta([&] { a.Run(); });
  std::thread tb([&] { b.Run(); });
  auto wait_until = [](auto pred) {
    for (int i = 0; i < 500 && !pred(); ++i) std::this_thread::sleep_for(10ms);
    return pred();
  };
  REQUIRE(wait_until([&] { return a.IsLeader() || b.IsLeader(); }));
  for (int i = 0; i < 30; ++i) {
    CHECK_FALSE((a.IsLeader() && b.IsLeader()));
    std::this_thread::sleep_for(10ms);
  }
  bool a_leads = a.IsLeader();
  LeaderElector& leader = a_leads ? a : b;
  LeaderElector& standby = a_leads ? b : a;
  std::thread& leader_thread = a_leads ? ta : tb;
  std::thread& standby_thread = a_leads ? tb : ta;
  leader.Stop();
  leader_thread.join();
  // Released, so the standby leads well before the 1.5 s lease could expire.
  CHECK(wait_until([&] { return standby.IsLeader(); }));
  standby.Stop();
  standby_thread.join();
  CHECK(lease.record.holder_identity.empty());
}

TEST_CASE("Nudge makes a waiting candidate try at once instead of after its retry period",
          "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock_a(lease), lock_b(lease);
  auto slow = [](const std::string& id) {
    ElectionConfig c;
    c.identity = id;
    c.lease_duration = 60s;
    c.renew_deadline = 50s;
    c.retry_period = 30s;  // without a nudge B would not look again for 30-66 s
    return c;
  };
  Counting ca, cb;
  LeaderElector a(slow("pod-a"), lock_a, ca.Callbacks());
  REQUIRE(a.Step());
  LeaderElector b(slow("pod-b"), lock_b, cb.Callbacks());
  std::thread tb([&] { b.Run(); });
  auto wait_until = [](auto pred, int tenths) {
    for (int i = 0; i < tenths * 10 && !pred(); ++i) std::this_thread::sleep_for(10ms);
    return pred();
  };
  // B made its first attempt (lost) and now sleeps for its retry period.
  REQUIRE(wait_until([&] { return b.ObservedLeader() == "pod-a"; }, 50));
  REQUIRE(a.Release());
  b.Nudge();
  CHECK(wait_until([&] { return b.IsLeader(); }, 100));
  b.Stop();
  tb.join();
}

TEST_CASE("every Lease call is bounded: a leader's by its renew deadline, a candidate's by renewDeadline, both by Stop",
          "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock(lease);
  FakeClock clock;
  Counting cb;
  LeaderElector a(Config("pod-a"), lock, cb.Callbacks(), clock);

  // A candidate: the whole renewDeadline (its view of the Lease is stale after).
  REQUIRE(a.Step());
  CHECK(lock.last_call.timeout == 10s);
  REQUIRE(lock.last_call.cancel.has_value());
  CHECK_FALSE(lock.last_call.cancel->cancelled());

  // A leader that last renewed 7 s ago: what is left of its renew deadline,
  // since an answer after it cannot keep the leadership.
  lock.fail_calls = 1;  // the renewal's read fails: last renew stays at t=0
  clock.Advance(3s);
  CHECK(a.Step());
  clock.Advance(4s);
  CHECK(a.Step());
  CHECK(lock.last_call.timeout == 3s);  // the Update after the Get of the try at t=7s

  // Stop() cancels the call in flight or retrying.
  auto cancel = *lock.last_call.cancel;
  a.Stop();
  CHECK(cancel.cancelled());
}

TEST_CASE("Release is bounded by renewDeadline but not cancelled by the Stop that leads to it",
          "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock(lease);
  FakeClock clock;
  Counting cb;
  LeaderElector a(Config("pod-a"), lock, cb.Callbacks(), clock);
  REQUIRE(a.Step());
  a.Stop();
  CHECK(a.Release());
  CHECK(lock.last_call.timeout == 10s);
  CHECK_FALSE(lock.last_call.cancel.has_value());
  CHECK(lease.record.holder_identity.empty());
}

TEST_CASE("Release still releases when a renewal it stopped waiting for landed after all",
          "[leaderelection]") {
  MemoryLease lease;
  MemoryLeaseLock lock(lease);
  FakeClock clock;
  Counting cb;
  LeaderElector a(Config("pod-a"), lock, cb.Callbacks(), clock);
  REQUIRE(a.Step());
  // Stop() abandoned a renewal in flight and the server wrote it anyway: the
  // Lease is still ours, at a resourceVersion the elector never saw.
  {
    std::lock_guard<std::mutex> l(lease.mu);
    ++lease.resource_version;
  }
  a.Stop();
  CHECK(a.Release());
  CHECK(lease.record.holder_identity.empty());
  CHECK(lease.record.lease_duration_seconds == 1);

  // A Lease someone else took meanwhile is left alone.
  LeaderElector b(Config("pod-b"), lock, cb.Callbacks(), clock);
  REQUIRE(b.Step());
  {
    std::lock_guard<std::mutex> l(lease.mu);
    lease.record.holder_identity = "pod-c";
    ++lease.resource_version;
  }
  CHECK_FALSE(b.Release());
  CHECK(lease.record.holder_identity == "pod-c");
}
