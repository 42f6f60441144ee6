// Stores the REST API's audit records (StateStore::AppendAudit) on a thread
// of its own, so that whoever produces a record never waits for SQLite: a
// request's outcome is audited on the hub's tunnel thread (Hub::SendRequest's
// `done`), which must not block, and a SQLite write may wait up to the
// store's busy timeout (5 s) or for a slow disk.
//
// Contract:
// - Records are stored one at a time, in the order Append() queued them.
// - At most `capacity` records wait. When the queue is full, Append with
//   WhenFull::kWait blocks until there is room (for API threads, which may
//   wait); with WhenFull::kDrop the record is dropped and counted, never
//   silently: the first drop of a run is logged at once, and the number
//   dropped when the writer has room again (log "audit records dropped").
// - Close() (also run by the destructor) stops queueing, stores every record
//   already queued and joins the thread. A record appended once Close() has
//   begun is stored on the caller's thread, so none is lost while the store
//   lives.
// - A record the store refuses is logged ("audit record not stored") and
//   not retried.
//
// Thread-safe. `store` must outlive the writer.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace srexpert::hub {

class StateStore;

class AuditWriter {
 public:
  // About 3 KiB a record at most (the message is cut at 1 KiB): a few MiB
  // queued before records are dropped.
  static constexpr size_t kDefaultCapacity = 1024;

  enum class WhenFull { kWait, kDrop };

  explicit AuditWriter(StateStore* store, size_t capacity = kDefaultCapacity);
  ~AuditWriter();
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;

  // Queues `record` (a JSON object text) for `cluster`. False only when the
  // queue was full and `when_full` is kDrop: the record was dropped.
  bool Append(std::string cluster, std::string record, WhenFull when_full);

  // Stores what is queued and joins the thread; idempotent.
  void Close();

  // Records dropped since the writer was made.
  uint64_t dropped() const;

 private:
  void Run();
  void Store(const std::string& cluster, const std::string& record);

  StateStore* const store_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable work_;                           // a record queued, or closing
  std::condition_variable room_;                           // a record taken, or closing
  std::deque<std::pair<std::string, std::string>> queue_;  // (cluster, record)
  bool closing_ = false;
  uint64_t dropped_ = 0;
  uint64_t unreported_drops_ = 0;  // since the last "audit records dropped"
  std::mutex close_mu_;            // one Close() joins
  std::thread thread_;
};

}  // namespace srexpert::hub
