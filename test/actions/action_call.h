// Runs one request through an ActionRegistry as the tunnel would and hands
// back its response: the shared set-up of the action tests against the test
// API server (test/actions/) and a real one (test/real/).
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>

#include "actions/action.h"
#include "common/json.h"

namespace srexpert::actions::testing {

// The response to {id, kind, timeout_ms, payload}; fails the test when none
// comes within `wait` (generous: a drain may run to its own deadline).
inline protocol::Response CallAction(ActionRegistry& r, const std::string& id,
                                     const std::string& kind, const std::string& payload,
                                     int64_t timeout_ms = 0,
                                     std::chrono::seconds wait = std::chrono::seconds(120)) {
  std::promise<protocol::Response> p;
  auto fut = p.get_future();
  r.Handle({id, kind, timeout_ms, payload},
           [&p](protocol::Response x) { p.set_value(std::move(x)); });
  REQUIRE(fut.wait_for(wait) == std::future_status::ready);
  return fut.get();
}

// The "result" member of a successful response (fails the test, showing the
// error, otherwise).
inline json::Document ResultOf(const protocol::Response& resp) {
  INFO(resp.error.code << ": " << resp.error.message);
  REQUIRE(resp.ok);
  auto doc = json::Parse(resp.payload);
  REQUIRE(doc);
  const auto* result = json::Find(*doc, {"result"});
  REQUIRE(result != nullptr);
  return json::Clone(*result);
}

}  // namespace srexpert::actions::testing
