// CallBounds (kube/call_bounds.h) on every RestClient verb: a deadline stops
// retries, a call in flight and a call not yet sent; a cancellation stops a
// call in flight.
#include "kube/call_bounds.h"

#include <catch2/catch.hpp>

#include <functional>
#include <thread>

#include "common/clock.h"
#include "kube/rest_client.h"
#include "test/kube/api_fixture.h"

using namespace srexpert;
using namespace srexpert::kube;
using namespace srexpert::kube::testing;
using srexpert::testing::Fault;

namespace {

ClientOptions OnClock(FakeClock& clock, RandomSource& random) {
  ClientOptions options;
  options.clock = &clock;
  options.random = &random;
  return options;
}

// One verb of the client, called with `bounds`.
struct VerbCall {
  const char* verb;  // as counted in metrics() and matched by faults
  std::function<Result<Document>(ApiFixture&, const CallBounds&)> call;
};

std::vector<VerbCall> EveryVerb() {
  const ObjectRef cm{"v1", "ConfigMap", "bounds", "a"};
  return {
      {"get", [cm](ApiFixture& f, const CallBounds& b) { return f.client().Get(cm, b); }},
      {"get",
       [](ApiFixture& f, const CallBounds& b) {
         return f.client().GetPath("/api/v1/namespaces/bounds/configmaps/a", b);
       }},
      {"list",
       [](ApiFixture& f, const CallBounds& b) {
         ListOptions o;
         o.bounds = b;
         return f.client().List({"v1", "ConfigMap", "bounds", ""}, o);
       }},
      {"create",
       [](ApiFixture& f, const CallBounds& b) {
         WriteOptions o;
         o.bounds = b;
         return f.client().Create(f.ConfigMap("bounds", "b"), o);
       }},
      {"update",
       [](ApiFixture& f, const CallBounds& b) {
         WriteOptions o;
         o.bounds = b;
         return f.client().Update(f.ConfigMap("bounds", "a", R"({"k":"v"})"), o);
       }},
      {"patch",
       [cm](ApiFixture& f, const CallBounds& b) {
         PatchOptions o;
         o.bounds = b;
         return f.client().Patch(cm, PatchType::kMerge, R"({"data":{"k":"v"}})", o);
       }},
      {"patch",
       [](ApiFixture& f, const CallBounds& b) {
         PatchOptions o;
         o.field_manager = "test";
         o.bounds = b;
         return f.client().Apply(f.ConfigMap("bounds", "a", R"({"k":"v"})"), o);
       }},
      {"delete",
       [cm](ApiFixture& f, const CallBounds& b) {
         DeleteOptions o;
         o.bounds = b;
         return f.client().Delete(cm, o);
       }},
  };
}

}  // namespace

TEST_CASE("with a deadline, every verb returns a 429 at once when Retry-After would pass it",
          "[kube][rest][bounds][retry]") {
  FakeClock clock;
  RandomSource random(11);
  ApiFixture f({}, OnClock(clock, random));
  f.CreateNamespace("bounds");
  REQUIRE(f.client().Create(f.ConfigMap("bounds", "a")).ok());

  for (const auto& v : EveryVerb()) {
    INFO(v.verb);
    f.server().AddFault({Fault::Kind::kStatus, v.verb, "/api/v1/namespaces/bounds/configmaps", 429,
                         60, {}, -1});
    uint64_t before = f.client().metrics().Count(v.verb, 429);
    CallBounds b;
    b.deadline = clock.Now() + std::chrono::seconds(10);
    auto t0 = clock.Now();
    auto r = v.call(f, b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason() == Reason::kTooManyRequests);
    CHECK(r.error().retry_after() == std::chrono::seconds(60));
    CHECK(clock.Now() == t0);  // no wait started
    CHECK(f.client().metrics().Count(v.verb, 429) - before == 1);
    f.server().ClearFaults();
  }
}

TEST_CASE("with a deadline, every verb retries a 429 past max_attempts until the deadline",
          "[kube][rest][bounds][retry]") {
  FakeClock clock;
  RandomSource random(12);
  ApiFixture f({}, OnClock(clock, random));
  f.CreateNamespace("bounds");
  for (const auto& v : EveryVerb()) {
    INFO(v.verb);
    // Each case starts from the same object (the delete removed it).
    (void)f.client().Delete({"v1", "ConfigMap", "bounds", "b"});
    auto fresh = f.ConfigMap("bounds", "a");
    if (!f.client().Get({"v1", "ConfigMap", "bounds", "a"})) {
      REQUIRE(f.client().Create(fresh).ok());
    }
    // Seven refusals: more than RetryPolicy::max_attempts (5) allows
    // without a deadline; 1 s Retry-After each fits in the 60 s deadline.
    f.server().AddFault({Fault::Kind::kStatus, v.verb, "/api/v1/namespaces/bounds/configmaps", 429,
                         1, {}, 7});
    uint64_t before = f.client().metrics().Count(v.verb, 429);
    CallBounds b;
    b.deadline = clock.Now() + std::chrono::seconds(60);
    auto r = v.call(f, b);
    INFO((r ? std::string("ok") : r.error().ToString()));
    CHECK(r.ok());
    CHECK(f.client().metrics().Count(v.verb, 429) - before == 7);
    f.server().ClearFaults();
  }
}

TEST_CASE("a deadline already passed sends nothing, discovery included",
          "[kube][rest][bounds]") {
  FakeClock clock;
  RandomSource random(13);
  ApiFixture f({}, OnClock(clock, random));
  CallBounds b;
  b.deadline = clock.Now();
  f.server().ResetRequestCounts();
  auto r = f.client().Get({"v1", "ConfigMap", "default", "a"}, b);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kTimeout);
  CHECK(r.error().message().find("deadline passed before it was sent") != std::string::npos);
  // apps/v1 was never discovered by this client: the discovery request is
  // bounded too.
  auto info = f.client().Resolve("apps/v1", "Deployment", b);
  REQUIRE_FALSE(info.ok());
  CHECK(info.error().reason() == Reason::kTimeout);
  CHECK(f.server().RequestCount("get") == 0);
  CHECK(f.client().Resolve("apps/v1", "Deployment").ok());
}

TEST_CASE("a request in flight at the deadline is abandoned with Timeout, not retried",
          "[kube][rest][bounds]") {
  ApiFixture f;
  f.CreateNamespace("bounds");
  REQUIRE(f.client().Create(f.ConfigMap("bounds", "a")).ok());
  f.server().AddFault({Fault::Kind::kLatency, "patch", "/api/v1/namespaces/bounds/configmaps", 0, 0,
                       std::chrono::seconds(3), 1});
  PatchOptions o;
  o.bounds.deadline = f.client().clock().Now() + std::chrono::milliseconds(300);
  auto r = f.client().Patch({"v1", "ConfigMap", "bounds", "a"}, PatchType::kMerge,
                            R"({"data":{"k":"v"}})", o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kTimeout);
  CHECK(r.error().message().find("no response within") != std::string::npos);
  CHECK(r.error().message().find("may still have applied it") != std::string::npos);
  CHECK(f.server().RequestCount("patch") == 1);
}

TEST_CASE("cancelling a call's bounds abandons its request in flight",
          "[kube][rest][bounds]") {
  ApiFixture f;
  f.CreateNamespace("bounds");
  f.server().AddFault({Fault::Kind::kLatency, "list", "/api/v1/namespaces/bounds/configmaps", 0, 0,
                       std::chrono::seconds(3), 1});
  Cancellation cancel;
  ListOptions o;
  o.bounds.cancel = cancel;
  o.bounds.deadline = f.client().clock().Now() + std::chrono::minutes(1);
  bool sent = false;
  std::thread canceller([&] {
    sent = Eventually([&] { return f.server().RequestCount("list") >= 1; });
    cancel.Cancel();
  });
  auto r = f.client().List({"v1", "ConfigMap", "bounds", ""}, o);
  canceller.join();
  CHECK(sent);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason() == Reason::kCancelled);
}
