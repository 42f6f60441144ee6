// Who may use the hub's REST API (issue #14): a JSON file of users, each
// with a bearer token (or its SHA-256), a role and optionally the clusters
// they may see.
//
//   {"users": [
//     {"name": "alice", "tokenSha256": "<64 hex>", "role": "operator"},
//     {"name": "ci",    "token": "...",            "role": "viewer",
//      "clusters": ["prod-eu", "dev"]}
//   ]}
//
// Roles: `viewer` reads clusters, state, scans and the audit trail;
// `operator` may also send requests (actions, scans) to agents. Without
// "clusters" a user sees every cluster. Names are 1..128 printable ASCII
// characters and unique; tokens are hashed on load and compared in constant
// time; the file is re-read when it changes (a broken edit keeps the
// previous users and is logged). Tokens never appear in errors or logs.
// Thread-safe.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/credentials.h"

namespace srexpert::hub {

enum class ApiRole { kViewer, kOperator };
std::string_view RoleName(ApiRole role);

struct ApiUser {
  std::string name;
  ApiRole role = ApiRole::kViewer;
  std::vector<std::string> clusters;  // empty: every cluster
  bool MaySee(std::string_view cluster) const;
};

class ApiUserStore {
 public:
  explicit ApiUserStore(std::string path);
  // Loads the file; false and `error` when it cannot be read or is invalid
  // (then the previous users stay in force).
  bool Load(std::string* error);
  // Re-reads the file if it changed, then finds the user of this token.
  std::optional<ApiUser> Authenticate(std::string_view token);
  size_t size() const;

 private:
  struct Entry {
    ApiUser user;
    std::string digest;
  };
  bool LoadLocked(std::string* error);
  mutable std::mutex mu_;
  WatchedJsonFile file_;
  std::vector<Entry> entries_;
};

// The bearer token of an Authorization header value ("Bearer <token>",
// scheme case-insensitive); empty when there is none.
std::string_view BearerToken(std::string_view authorization);

}  // namespace srexpert::hub
