// The client supports what leader election needs: get/create/update of
// coordination.k8s.io/v1 Leases with optimistic concurrency.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "common/json.h"
#include "kube/rest_client.h"
#include "test/kube/api_fixture.h"

using namespace srexpert;
using namespace srexpert::kube;
using namespace srexpert::kube::testing;

namespace {

const ObjectRef kLease{"coordination.k8s.io/v1", "Lease", "leases", "srexpert-agent-leader"};

rapidjson::Document WithHolder(const rapidjson::Value& lease, const std::string& holder) {
  auto copy = json::Clone(lease);
  auto& a = copy.GetAllocator();
  json::SetString(json::EnsureObject(copy, {"spec"}, a), "holderIdentity", holder, a);
  return copy;
}

}  // namespace

TEST_CASE("Two writers racing on one Lease: exactly one wins, the other gets Conflict",
          "[kube][lease]") {
  ApiFixture f;
  f.CreateNamespace("leases");
  auto created = f.client().Create(Json(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"srexpert-agent-leader","namespace":"leases"},
    "spec":{"holderIdentity":"","leaseDurationSeconds":15}})"));
  REQUIRE(created.ok());

  // Both candidates read the same version, then try to take the lease.
  auto seen_a = f.client().Get(kLease);
  auto seen_b = f.client().Get(kLease);
  REQUIRE(seen_a.ok());
  REQUIRE(seen_b.ok());
  auto client_b = f.NewClient();
  Result<Document> result_a = Error(), result_b = Error();
  std::atomic<bool> go{false};
  std::thread ta([&] {
    while (!go) std::this_thread::yield();
    result_a = f.client().Update(WithHolder(*seen_a, "pod-a"));
  });
  std::thread tb([&] {
    while (!go) std::this_thread::yield();
    result_b = client_b->Update(WithHolder(*seen_b, "pod-b"));
  });
  go = true;
  ta.join();
  tb.join();

  REQUIRE(result_a.ok() != result_b.ok());
  const auto& winner = result_a.ok() ? result_a : result_b;
  const auto& loser = result_a.ok() ? result_b : result_a;
  CHECK(loser.error().IsConflict());
  CHECK(loser.error().code() == 409);
  std::string holder = json::GetString(*winner, {"spec", "holderIdentity"});
  auto now = f.client().Get(kLease);
  REQUIRE(now.ok());
  CHECK(json::GetString(*now, {"spec", "holderIdentity"}) == holder);

  // Creating a Lease that already exists is AlreadyExists, not a silent win.
  auto fresh = json::Clone(*now);
  json::Remove(fresh["metadata"], "resourceVersion");
  auto again = client_b->Create(fresh);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().IsAlreadyExists());
}
