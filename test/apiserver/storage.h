// In-memory object storage with etcd's observable behaviour: one global,
// strictly increasing resourceVersion, a bounded history of change events
// (the "watch cache"), consistent snapshots at a past resourceVersion (for
// paginated lists) and 410 Expired once that history has been compacted.
//
// Objects are immutable snapshots (shared_ptr<const Document>) so readers can
// serialise them without holding the store lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace srexpert::testing {

using ObjectPtr = std::shared_ptr<const json::Document>;

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted };
  Type type = Type::kAdded;
  uint64_t rv = 0;
  std::string storage_key;  // "apps/deployments"
  std::string ns;
  std::string name;
  ObjectPtr object;    // state after the change (DELETED: last state, deletion RV)
  ObjectPtr previous;  // state before (null for ADDED)
};

const char* EventTypeName(WatchEvent::Type t);

// Receives the events of one watch. Filled by the store, drained by the
// connection serving the watch.
class WatchSubscription {
 public:
  WatchSubscription(std::string storage_key, std::string ns)
      : storage_key_(std::move(storage_key)), ns_(std::move(ns)) {}
  // Waits up to `timeout` for at least one event; returns what is queued.
  std::vector<WatchEvent> Wait(std::chrono::milliseconds timeout);
  bool Matches(const WatchEvent& e) const {
    return e.storage_key == storage_key_ && (ns_.empty() || e.ns == ns_);
  }
  void Push(WatchEvent e);
  bool Idle();  // nothing queued

 private:
  std::string storage_key_;
  std::string ns_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> queue_;
};

class Store {
 public:
  explicit Store(size_t history_size);

  // All reads and writes happen in a transaction holding the store lock, so a
  // read-check-write sequence (optimistic concurrency, admission) is atomic.
  class Txn {
   public:
    ObjectPtr Get(const std::string& key, const std::string& ns, const std::string& name) const;
    // Sorted by namespace then name, like etcd's key order. ns "" = all.
    std::vector<ObjectPtr> List(const std::string& key, const std::string& ns) const;
    // Every storage key holding at least one object.
    std::vector<std::string> Keys() const;
    // Stores `obj` under a new resourceVersion (written into
    // metadata.resourceVersion) and emits ADDED or MODIFIED.
    ObjectPtr Put(const std::string& key, const std::string& ns, const std::string& name,
                  json::Document obj);
    // Removes the object and emits DELETED carrying the deletion's
    // resourceVersion. `final_state`, when given, is the object's last state
    // (an update that removed the last finalizer deletes in the same step,
    // so watchers see one DELETED with that state). Returns the final state
    // (null if absent).
    ObjectPtr Delete(const std::string& key, const std::string& ns, const std::string& name,
                     const json::Value* final_state = nullptr);
    uint64_t CurrentRv() const { return store_->rv_; }

   private:
    friend class Store;
    explicit Txn(Store* store) : store_(store), lock_(store->mu_) {}
    Store* store_;
    std::unique_lock<std::mutex> lock_;
  };
  Txn Begin() { return Txn(this); }

  struct Snapshot {
    std::vector<ObjectPtr> items;
    uint64_t rv = 0;
  };
  // The objects of `key` in `ns` as they were at resourceVersion `rv`
  // (0 = now). nullopt when `rv` predates the kept history (etcd compaction).
  std::optional<Snapshot> ListAt(const std::string& key, const std::string& ns, uint64_t rv);

  struct WatchStart {
    std::shared_ptr<WatchSubscription> subscription;  // null when expired
    std::vector<WatchEvent> initial;  // replayed history or synthetic ADDED
    uint64_t oldest_rv = 0;           // for the "too old resource version" message
  };
  // from_rv nullopt: synthetic ADDED events for the current state, then live
  // changes. from_rv N: every change after N (expired when compacted).
  WatchStart Watch(const std::string& key, const std::string& ns, std::optional<uint64_t> from_rv);
  void Unwatch(const std::shared_ptr<WatchSubscription>& sub);
  // The resourceVersion a BOOKMARK may carry: the current one, provided the
  // subscriber has consumed every event up to it.
  std::optional<uint64_t> BookmarkRv(const std::shared_ptr<WatchSubscription>& sub);
  uint64_t CurrentRv();

 private:
  void Record(WatchEvent e);

  std::mutex mu_;
  uint64_t rv_ = 1;  // etcd revisions start at 1 for an empty store
  size_t history_size_;
  uint64_t compacted_rv_ = 0;  // highest RV whose event was dropped
  std::map<std::string, std::map<std::string, ObjectPtr>> objects_;  // key -> "ns/name" -> obj
  std::deque<WatchEvent> history_;
  std::vector<std::shared_ptr<WatchSubscription>> watchers_;
};

}  // namespace srexpert::testing
