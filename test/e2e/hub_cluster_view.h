// What srexpert-hub's REST API says about one cluster, for e2e tests and the
// agent benchmark: GET /api/v1/clusters on the hub's API port.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/json.h"
#include "test/net/test_support.h"

namespace srexpert::testing {

struct HubClusterView {
  bool found = false;
  bool connected = false;
  std::string pod;
  std::string session_id;
  int64_t sessions_total = 0;
  int64_t superseded_total = 0;
  int64_t max_concurrent = 0;
};

// `found` is false when the hub does not answer or does not know `cluster`.
inline HubClusterView ReadHubCluster(uint16_t api_port, const std::string& cluster) {
  HubClusterView v;
  auto r = HttpCall(api_port, "GET", "/api/v1/clusters");
  if (r.status != 200) return v;
  auto doc = json::Parse(r.body);
  if (!doc) return v;
  const json::Value* list = json::Find(*doc, {"clusters"});
  if (!list || !list->IsArray()) return v;
  for (const auto& c : list->GetArray()) {
    if (json::GetString(c, {"name"}) != cluster) continue;
    v.found = true;
    v.connected = json::GetBool(c, {"connected"});
    v.pod = json::GetString(c, {"pod"});
    v.session_id = json::GetString(c, {"sessionId"});
    v.sessions_total = json::GetInt(c, {"sessionsTotal"});
    v.superseded_total = json::GetInt(c, {"supersededTotal"});
    v.max_concurrent = json::GetInt(c, {"maxConcurrentSessions"});
  }
  return v;
}

// Waits until the hub has a connected session of `cluster` (hub API on
// `api_port`) whose pod is not `not_this` and which `lease_holder()` (the
// Lease's holderIdentity) names too: a leader that took over and got
// through. Returns its pod, "" after `timeout`.
inline std::string WaitForConnectedLeader(uint16_t api_port, const std::string& cluster,
                                          const std::function<std::string()>& lease_holder,
                                          const std::string& not_this,
                                          std::chrono::milliseconds timeout) {
  std::string pod;
  WaitUntil(
      [&] {
        auto c = ReadHubCluster(api_port, cluster);
        if (!c.connected || c.pod.empty() || c.pod == not_this) return false;
        if (lease_holder() != c.pod) return false;
        pod = c.pod;
        return true;
      },
      timeout);
  return pod;
}

}  // namespace srexpert::testing
