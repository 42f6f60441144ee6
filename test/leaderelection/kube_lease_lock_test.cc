#include "leaderelection/kube_lease_lock.h"

#include <catch2/catch.hpp>

#include <thread>

#include "leaderelection/leader_elector.h"
#include "leaderelection/lease_release_watch.h"
#include "test/kube/api_fixture.h"

using namespace srexpert;
using namespace srexpert::leaderelection;
using namespace std::chrono_literals;
using srexpert::kube::testing::ApiFixture;
using srexpert::kube::testing::Eventually;
using srexpert::kube::testing::Json;

TEST_CASE("KubeLeaseLock round-trips the election record through a real Lease",
          "[leaderelection][apiserver]") {
  ApiFixture api;
  api.CreateNamespace("le-1");
  KubeLeaseLock lock(api.shared_client(), "le-1", "agent-leader");
  CHECK(lock.Get({}).error().IsNotFound());

  LeaderElectionRecord rec;
  rec.holder_identity = "pod-a";
  rec.lease_duration_seconds = 15;
  rec.acquire_time = std::chrono::system_clock::from_time_t(1'767'366'245) + 250us;
  rec.renew_time = rec.acquire_time;
  rec.annotations["agent.srexpert.io/tunnel-state"] = "Connected";
  auto created = lock.Create(rec, {});
  REQUIRE(created.ok());
  CHECK(created->record == rec);

  auto lease = api.client().Get({"coordination.k8s.io/v1", "Lease", "le-1", "agent-leader"});
  REQUIRE(lease.ok());
  CHECK(json::GetString(*lease, {"spec", "renewTime"}) == "2026-01-02T15:04:05.000250Z");

  // Somebody else labels and annotates the Lease: our updates keep that.
  auto patched = api.client().Patch(
      {"coordination.k8s.io/v1", "Lease", "le-1", "agent-leader"}, kube::PatchType::kMerge,
      R"({"metadata":{"labels":{"team":"sre"},"annotations":{"other.io/x":"1"}}})");
  REQUIRE(patched.ok());
  auto got = lock.Get({});
  REQUIRE(got.ok());
  rec.renew_time = *rec.renew_time + 2s;
  rec.annotations.clear();
  auto updated = lock.Update(rec, got->resource_version, {});
  REQUIRE(updated.ok());
  CHECK(updated->record.annotations.empty());
  auto after = api.client().Get({"coordination.k8s.io/v1", "Lease", "le-1", "agent-leader"});
  REQUIRE(after.ok());
  CHECK(json::GetString(*after, {"metadata", "labels", "team"}) == "sre");
  CHECK(json::GetString(*after, {"metadata", "annotations", "other.io/x"}) == "1");
  CHECK(json::Find(*after, {"metadata", "annotations", "agent.srexpert.io/tunnel-state"}) == nullptr);

  // A write with the old resourceVersion is refused.
  auto stale = lock.Update(rec, got->resource_version, {});
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().IsConflict());
}

TEST_CASE("electors on a real Lease: one leader at a time, fast hand-over on Stop",
          "[leaderelection][apiserver]") {
  ApiFixture api;
  api.CreateNamespace("le-2");
  auto config = [](const std::string& id) {
    ElectionConfig c;
    c.identity = id;
    c.lease_duration = 3s;
    c.renew_deadline = 2s;
    c.retry_period = 200ms;
    return c;
  };
  KubeLeaseLock lock_a(api.NewClient(), "le-2", "agent-leader");
  KubeLeaseLock lock_b(api.NewClient(), "le-2", "agent-leader");
  std::atomic<int> leaders{0}, max_leaders{0};
  auto callbacks = [&] {
    return ElectionCallbacks{[&] {
                               int n = ++leaders;
                               int m = max_leaders;
                               while (n > m && !max_leaders.compare_exchange_weak(m, n)) {
                               }
                             },
                             [&] { --leaders; }, nullptr};
  };
  LeaderElector a(config("pod-a"), lock_a, callbacks());
  LeaderElector b(config("pod-b"), lock_b, callbacks());
  std::thread ta([&] { a.Run(); });
  std::thread tb([&] { b.Run(); });
  REQUIRE(Eventually([&] { return a.IsLeader() || b.IsLeader(); }));
  std::this_thread::sleep_for(1s);
  bool a_leads = a.IsLeader();
  (a_leads ? a : b).Stop();
  (a_leads ? ta : tb).join();
  LeaderElector& standby = a_leads ? b : a;
  // The released lease is taken well before the 3 s lease could have expired.
  auto released_at = std::chrono::steady_clock::now();
  REQUIRE(Eventually([&] { return standby.IsLeader(); }, 10s));
  CHECK(std::chrono::steady_clock::now() - released_at < 3s);
  auto lease = api.client().Get({"coordination.k8s.io/v1", "Lease", "le-2", "agent-leader"});
  REQUIRE(lease.ok());
  CHECK(json::GetString(*lease, {"spec", "holderIdentity"}) == (a_leads ? "pod-b" : "pod-a"));
  CHECK(json::GetInt(*lease, {"spec", "leaseTransitions"}) >= 1);
  standby.Stop();
  (a_leads ? tb : ta).join();
  CHECK(max_leaders == 1);
}

TEST_CASE("a standby watching the Lease takes over right after a release",
          "[leaderelection][apiserver]") {
  ApiFixture api;
  api.CreateNamespace("le-3");
  auto config = [](const std::string& id) {
    ElectionConfig c;
    c.identity = id;
    c.lease_duration = 60s;
    c.renew_deadline = 50s;
    c.retry_period = 30s;  // retries alone would take 30-66 s
    return c;
  };
  KubeLeaseLock lock_a(api.NewClient(), "le-3", "agent-leader");
  KubeLeaseLock lock_b(api.NewClient(), "le-3", "agent-leader");
  LeaderElector a(config("pod-a"), lock_a, {});
  REQUIRE(a.Step());
  LeaderElector b(config("pod-b"), lock_b, {});
  LeaseReleaseWatch watch(api.NewClient(), "le-3", "agent-leader", [&] { b.Nudge(); });
  watch.Start();
  std::thread tb([&] { b.Run(); });
  REQUIRE(Eventually([&] { return b.ObservedLeader() == "pod-a"; }, 10s));
  REQUIRE(a.Release());
  CHECK(Eventually([&] { return b.IsLeader(); }, 10s));
  b.Stop();
  tb.join();
  watch.Stop();
}

TEST_CASE("KubeLeaseLock bounds each call: a Retry-After past its timeout comes back at once, Stop's cancellation ends it",
          "[leaderelection][apiserver]") {
  ApiFixture api;
  api.CreateNamespace("le-bounds");
  KubeLeaseLock lock(api.shared_client(), "le-bounds", "agent-leader");
  LeaderElectionRecord rec;
  rec.holder_identity = "pod-a";
  rec.lease_duration_seconds = 15;
  REQUIRE(lock.Create(rec, {}).ok());
  auto got = lock.Get({});
  REQUIRE(got.ok());

  srexpert::testing::Fault throttled{srexpert::testing::Fault::Kind::kStatus, "update",
                                     "/apis/coordination.k8s.io/v1/namespaces/le-bounds/leases",
                                     429, 60, {}, -1};
  api.server().AddFault(throttled);
  uint64_t before = api.client().metrics().Count("update", 429);
  LeaseCall call;
  call.timeout = 2s;
  auto renewed = lock.Update(rec, got->resource_version, call);
  REQUIRE_FALSE(renewed.ok());
  CHECK(renewed.error().reason() == kube::Reason::kTooManyRequests);
  CHECK(api.client().metrics().Count("update", 429) - before == 1);  // no 60 s wait

  // Retry-After within the timeout: waited out, then cancelled by "Stop".
  api.server().ClearFaults();
  throttled.retry_after_seconds = 1;
  api.server().AddFault(throttled);
  LeaseCall stoppable;
  stoppable.cancel = kube::Cancellation();
  std::thread stopper([c = *stoppable.cancel] {
    std::this_thread::sleep_for(300ms);
    c.Cancel();
  });
  auto stopped = lock.Update(rec, got->resource_version, stoppable);
  stopper.join();
  REQUIRE_FALSE(stopped.ok());
  CHECK(stopped.error().reason() == kube::Reason::kCancelled);
  api.server().ClearFaults();
}
