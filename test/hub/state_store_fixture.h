// The state store as the hub tests in this directory open and hold it: a
// store that must open, and a second connection that keeps the database's
// write lock, so that the store's next write waits (up to its 5 s busy
// timeout) as it would for a slow disk.
#pragma once

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "hub/state_store.h"

namespace srexpert::hub::testing {

// `path` "": in memory.
inline std::unique_ptr<StateStore> OpenStore(const std::string& path = "",
                                             int64_t max_events = 10000) {
  StateStoreOptions o;
  o.path = path;
  o.max_events_per_cluster = max_events;
  std::string error;
  auto store = StateStore::Open(o, &error);
  INFO(error);
  REQUIRE(store);
  return store;
}

class SqliteWriteLock {
 public:
  // Takes the write lock of the database file at `path` (which must exist).
  explicit SqliteWriteLock(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, &error);
    INFO((error ? error : ""));
    sqlite3_free(error);
    REQUIRE(rc == SQLITE_OK);
    held_ = true;
  }
  ~SqliteWriteLock() {
    Release();
    sqlite3_close(db_);
  }
  SqliteWriteLock(const SqliteWriteLock&) = delete;
  SqliteWriteLock& operator=(const SqliteWriteLock&) = delete;

  // Ends the transaction: the waiting writer goes on. May be called from
  // another thread than the constructor's, not from two at once.
  void Release() {
    if (!held_) return;
    held_ = false;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_ = nullptr;
  bool held_ = false;
};

}  // namespace srexpert::hub::testing
