// What the manifests.apply tests share, against the test API server
// (test/actions/manifests_test.cc) and a real one
// (test/real/manifests_real_test.cc): the request payload and the per-object
// entries of the result.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "common/json.h"
#include "test/actions/action_call.h"

namespace srexpert::actions::testing {

// The request payload with `manifests` escaped as a JSON string.
inline std::string ManifestsPayload(const std::string& manifests, bool dry_run = false,
                                    bool force = false) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("manifests", json::String(manifests, a), a);
  if (dry_run) d.AddMember("dryRun", true, a);
  if (force) d.AddMember("force", true, a);
  d.AddMember("requestedBy", "alice", a);
  return json::Dump(d);
}

inline protocol::Response CallApply(ActionRegistry& r, const std::string& id,
                                    const std::string& payload) {
  return CallAction(r, id, "manifests.apply", payload);
}

// Entry `i` of the result's "objects" (fails the test when there is none).
inline const json::Value& ObjectAt(const json::Document& result, size_t i) {
  const auto* objects = json::Find(result, {"objects"});
  REQUIRE(objects != nullptr);
  REQUIRE(objects->Size() > i);
  return (*objects)[static_cast<rapidjson::SizeType>(i)];
}

}  // namespace srexpert::actions::testing
