// CreateMergePatch: applying the patch (RFC 7386) to `before` must give
// `after`, for hand-made cases and for realistic projected pods.
#include "stream/merge_patch.h"

#include <catch2/catch.hpp>

#include "common/json.h"
#include "stream/projection.h"
#include "test/stream/realistic_objects.h"

using namespace srexpert;
using srexpert::stream::CreateMergePatch;

namespace {

// Applies `patch` to `before` and compares with `after`.
bool RoundTrips(const std::string& before, const std::string& patch, const std::string& after) {
  auto doc = json::Parse(before);
  auto p = json::Parse(patch);
  auto want = json::Parse(after);
  REQUIRE(doc);
  REQUIRE(p);
  REQUIRE(want);
  json::MergePatch(*doc, *p, doc->GetAllocator());
  return json::Equal(*doc, *want);
}

}  // namespace

TEST_CASE("merge patch: identical objects give an empty patch") {
  CHECK(CreateMergePatch(R"({"a":1,"b":{"c":[1,2]}})", R"({"b":{"c":[1,2]},"a":1})") == "{}");
}

TEST_CASE("merge patch: added, changed and removed members, nested objects, whole arrays") {
  std::string before = R"({"keep":1,"gone":"x","change":"old","nested":{"same":true,"inner":2},"list":[1,2,3]})";
  std::string after = R"({"keep":1,"change":"new","nested":{"same":true,"inner":3,"added":{"deep":1}},"list":[1,2],"fresh":[{"a":1}]})";
  auto patch = CreateMergePatch(before, after);
  REQUIRE(patch);
  CHECK(*patch ==
        R"({"gone":null,"change":"new","nested":{"inner":3,"added":{"deep":1}},"list":[1,2],"fresh":[{"a":1}]})");
  CHECK(RoundTrips(before, *patch, after));
}

TEST_CASE("merge patch: an object replaced by a scalar and back") {
  std::string before = R"({"a":{"b":1},"c":5})";
  std::string after = R"({"a":7,"c":{"d":{"e":"f"}}})";
  auto patch = CreateMergePatch(before, after);
  REQUIRE(patch);
  CHECK(RoundTrips(before, *patch, after));
}

TEST_CASE("merge patch: not expressible when the new form holds a null, or input is not an object") {
  CHECK_FALSE(CreateMergePatch(R"({"a":1})", R"({"a":null})"));
  CHECK_FALSE(CreateMergePatch(R"({"a":1})", R"({"a":[1,null]})"));
  CHECK_FALSE(CreateMergePatch(R"([1])", R"({"a":1})"));
  CHECK_FALSE(CreateMergePatch(R"({"a":1})", R"(not json)"));
}

TEST_CASE("merge patch: a realistic pod status change is a small fraction of the projected pod") {
  using namespace srexpert::testing;
  auto pod = ParseFixture(RealisticPodJson("team-01", "web", "web-7d9f8c6b5-x2k4p", "node-0001", 3));
  auto before = stream::Project("Pod", pod);
  REQUIRE(before);
  // The kubelet reports a container restart and readiness flip.
  auto* statuses = json::FindMutable(pod, {"status", "containerStatuses"});
  REQUIRE(statuses);
  REQUIRE(statuses->IsArray());
  auto& first = (*statuses)[0];
  json::Set(first, "restartCount", json::Value(4), pod.GetAllocator());
  json::Set(first, "ready", json::Value(false), pod.GetAllocator());
  auto after = stream::Project("Pod", pod);
  REQUIRE(after);
  REQUIRE(*after != *before);
  auto patch = CreateMergePatch(*before, *after);
  REQUIRE(patch);
  CHECK(RoundTrips(*before, *patch, *after));
  CHECK(patch->size() * 2 < after->size());
  // Keyed status lists: the patch names the one container that restarted.
  INFO(*patch);
  CHECK(patch->size() < 200);

  // A label change.
  auto* labels = json::FindMutable(pod, {"metadata", "labels"});
  REQUIRE(labels);
  json::SetString(*labels, "release", "canary", pod.GetAllocator());
  auto relabelled = stream::Project("Pod", pod);
  REQUIRE(relabelled);
  auto label_patch = CreateMergePatch(*after, *relabelled);
  REQUIRE(label_patch);
  CHECK(RoundTrips(*after, *label_patch, *relabelled));
  CHECK(label_patch->size() < 100);
}
