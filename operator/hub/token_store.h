// The hub's registration tokens: a JSON file mapping tokens to cluster names.
//
//   {"clusters": [
//     {"name": "prod-eu", "token": "s3cr3t-token"},
//     {"name": "dev", "tokenSha256": "<hex sha256 of the token>"},
//     {"name": "old", "token": "...", "disabled": true}
//   ]}
//
// Plain tokens are hashed on load and only digests are kept in memory;
// lookups compare digests in constant time. The file is re-read when its
// modification time changes, so tokens can be added or revoked without a
// restart. Thread-safe.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/credentials.h"

namespace srexpert::hub {

struct TokenMatch {
  std::string cluster;
  bool disabled = false;
};

class TokenStore {
 public:
  explicit TokenStore(std::string path);
  // Loads the file; false and `error` when it cannot be read or parsed (the
  // previous contents stay in force).
  bool Load(std::string* error);
  // Re-reads the file if it changed, then looks the token up.
  std::optional<TokenMatch> Lookup(std::string_view token);
  size_t size() const;

 private:
  struct Entry {
    std::string cluster;
    std::string digest;  // 32 raw bytes
    bool disabled = false;
  };
  bool LoadLocked(std::string* error);
  mutable std::mutex mu_;
  WatchedJsonFile file_;
  std::vector<Entry> entries_;
};

}  // namespace srexpert::hub
