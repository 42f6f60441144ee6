// Bearer-token handling shared by the hub's two credential files: the
// agents' registration tokens (token_store.h) and the REST API's users
// (api_users.h). Only SHA-256 digests are kept in memory and compared, in
// constant time; the files are re-read when their modification time changes.
#pragma once

#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/json.h"

namespace srexpert::hub {

// Raw SHA-256 digest (32 bytes) of `data`.
std::string Sha256(std::string_view data);

// Equal raw digests, compared in constant time (CRYPTO_memcmp).
bool SameDigest(std::string_view a, std::string_view b);

// From an entry holding exactly one of "token" (hashed here) and
// "tokenSha256" (64 hex digits): the raw digest. False and `error` naming
// `where` (e.g. "users[3]") otherwise.
bool ReadTokenDigest(const json::Value& entry, std::string_view where, std::string* digest,
                     std::string* error);

// A JSON file read whole and re-read when its modification time changes.
// Not thread-safe: the owning store locks around it.
class WatchedJsonFile {
 public:
  // `what` names the file in errors ("token file", "users file").
  WatchedJsonFile(std::string path, std::string what);
  // Reads and parses the file, remembering its modification time. nullopt
  // and `error` (naming the path) when it cannot be read or parsed.
  std::optional<json::Document> Read(std::string* error);
  // Read(), then requires the top-level member `key` to be an array (the
  // list of entries of a credential file): nullopt and `error`
  // ("<what> <path>: \"<key>\" must be an array") otherwise.
  std::optional<json::Document> ReadArrayMember(std::string_view key, std::string* error);
  // True when the file's modification time differs from the last Read() or
  // Skip() (a missing file counts as unchanged: the last contents stay).
  bool Changed() const;
  // Remembers the current modification time without reading, so a file
  // that failed to load is not retried on every lookup until it changes.
  void Skip();
  const std::string& path() const { return path_; }
  const std::string& what() const { return what_; }

 private:
  std::string path_;
  std::string what_;
  timespec mtime_{};
};

// Re-reads `file` through `load` (which reads, validates and swaps in the
// new contents, or leaves the old ones and sets its error) when it changed.
// A failed reload keeps the previous contents, is logged, and is not
// retried until the file changes again. Call with the store's lock held.
void ReloadIfChanged(WatchedJsonFile& file, const std::function<bool(std::string*)>& load);

}  // namespace srexpert::hub
