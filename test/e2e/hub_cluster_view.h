// What srexpert-hub's REST API says about one cluster, for e2e tests and the
// agent benchmark: GET /api/v1/clusters on the hub's API port.
#pragma once

#include <cstdint>
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

}  // namespace srexpert::testing
