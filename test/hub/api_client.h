// A client's view of the hub's REST API for the tests in this directory: a
// bearer header, a GET read as JSON, and a hub with a users file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "hub/hub.h"
#include "test/net/test_support.h"

namespace srexpert::hub::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

inline Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

// GET `target` on the API; the body as JSON (nullopt when it is not JSON)
// and, when `status` is given, the HTTP status there.
inline std::optional<json::Document> GetJson(uint16_t port, const std::string& target,
                                             const Headers& headers = {}, int* status = nullptr) {
  auto r = srexpert::testing::HttpCall(port, "GET", target, "", "", headers);
  if (status) *status = r.status;
  return json::Parse(r.body);
}

// GET /api/v1/clusters/<cluster>/audit once it holds at least `count`
// records: the hub stores them on its audit writer's thread, shortly after
// the answers (rest_api.h). The last answer read, which has fewer records
// when 10 s passed first.
inline std::optional<json::Document> GetAudit(uint16_t port, const std::string& cluster,
                                              size_t count, const Headers& headers = {}) {
  std::optional<json::Document> doc;
  srexpert::testing::WaitUntil(
      [&] {
        doc = GetJson(port, "/api/v1/clusters/" + cluster + "/audit", headers);
        const json::Value* items = doc ? json::Find(*doc, {"items"}) : nullptr;
        return items && items->IsArray() && items->Size() >= count;
      },
      std::chrono::seconds(10));
  return doc;
}

// For a HubFixture tweak: writes `users_json` as the users file beside the
// tokens file (the fixture's directory exists before the tweak runs) and
// makes the hub use it.
inline void UseUsersFile(HubOptions& o, const std::string& users_json) {
  o.users_file = o.tokens_file.substr(0, o.tokens_file.rfind('/')) + "/users.json";
  srexpert::testing::WriteFile(o.users_file, users_json);
}

}  // namespace srexpert::hub::testing
