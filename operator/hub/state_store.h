// The hub's per-cluster state, rebuilt from the agent's snapshot + delta
// stream (docs/protocol.md, "State stream payloads") and kept in SQLite so
// that a restarted hub still serves the last known state and tells agents
// the right `welcome.lastAck`.
//
// Contract:
// - Every Apply*() is one transaction that both applies the message and
//   records its seq as the cluster's last accepted one: after a crash the
//   database holds either the message and its seq or neither.
// - Snapshot parts are staged (persisted, so a hub restart between parts
//   keeps them) and swapped into the live resources in one transaction at
//   the final part; readers never see a half-applied snapshot. Part 0
//   discards any unfinished staging. Events and metrics survive snapshots.
// - Events are keyed by (cluster, uid) and replaced on repeat; each cluster
//   keeps at most `max_events_per_cluster`, the oldest (by lastTimestamp,
//   else firstTimestamp) dropped first. Metrics: the latest sample only.
// - Sequencing policy (duplicates, gaps) is the caller's; the store only
//   refuses a seq that is not after the last accepted one.
//
// Thread-safe. A file store uses WAL with synchronous=NORMAL and a second,
// read-only connection, so REST reads do not wait for the stream writer; an
// in-memory store (path "" or ":memory:") shares one connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub/stream_payload.h"

namespace srexpert::hub {

struct StateStoreOptions {
  // "" or ":memory:": in memory, gone with the process.
  std::string path;
  int64_t max_events_per_cluster = 10000;
  // Audit records (REST API requests) kept per cluster, oldest dropped first.
  int64_t max_audit_per_cluster = 10000;
};

struct StoredCluster {
  std::string name;
  int64_t last_ack = 0;
};

// Where an unfinished snapshot stands.
struct SnapshotStaging {
  std::string snapshot;
  int64_t next_part = 0;
};

struct ApplyResult {
  enum class Status {
    kOk,
    kRejected,  // the message does not fit the stored state; nothing changed
    kFailed,    // SQLite failed (disk full, I/O); nothing changed
  };
  Status status = Status::kOk;
  std::string error;
  bool ok() const { return status == Status::kOk; }
};

struct ResourceFilter {
  std::optional<std::string> kind;  // exact match when set
  std::optional<std::string> ns;    // exact match when set ("" = cluster-scoped)
};

struct ResourcesView {
  std::string kinds_json = "[]";  // from the last complete snapshot
  std::vector<ResourceRecord> items;  // sorted by kind, namespace, name
};

class StateStore {
 public:
  // Opens or creates the database; nullptr and `error` when it cannot (bad
  // path, not a database, a schema of another version).
  static std::unique_ptr<StateStore> Open(const StateStoreOptions& options, std::string* error);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Every cluster the store knows, by name.
  bool Clusters(std::vector<StoredCluster>* out, std::string* error);
  // Records that the cluster exists (e.g. it connected), so it is known
  // after a restart even before it streamed anything.
  bool RememberCluster(const std::string& cluster, std::string* error);
  // The last accepted seq; 0 for an unknown cluster or on error.
  int64_t LastAck(const std::string& cluster);
  std::optional<SnapshotStaging> Staging(const std::string& cluster);

  // A snapshot part. Part 0 starts a new snapshot (discarding an unfinished
  // one); a later part must continue the staged one (same id, next part),
  // otherwise kRejected. `final`: the snapshot is complete and replaces the
  // cluster's resources and kinds.
  ApplyResult ApplySnapshot(const std::string& cluster, int64_t seq, const SnapshotPayload& part,
                            bool final);
  // A delta: changes in order (a `patch` is merged into the stored form,
  // RFC 7386), events upserted (then trimmed to the bound), metrics
  // replaced. kRejected while a snapshot is unfinished (the staged snapshot
  // would later overwrite the delta's changes) and for a patch of an object
  // the store does not hold.
  ApplyResult ApplyDelta(const std::string& cluster, int64_t seq, const DeltaPayload& delta);

  // Queries; false and `error` only when SQLite fails. An unknown cluster
  // yields empty answers.
  bool Resources(const std::string& cluster, const ResourceFilter& filter, ResourcesView* out,
                 std::string* error);
  // Event JSON texts, newest first (lastTimestamp, then arrival).
  bool Events(const std::string& cluster, const std::optional<std::string>& ns, int64_t limit,
              std::vector<std::string>* out, std::string* error);
  // The latest metrics JSON, nullopt when none was received.
  bool Metrics(const std::string& cluster, std::optional<std::string>* out, std::string* error);
  // The latest scan report and the one before it (JSON texts, nullopt when
  // none). A delta's `scan` moves the latest to previous; snapshots leave
  // both alone.
  bool Scans(const std::string& cluster, std::optional<std::string>* latest,
             std::optional<std::string>* previous, std::string* error);

  // The audit trail of requests made through the REST API: one JSON object
  // text per request, appended in one transaction (the cluster is
  // remembered if new) and trimmed to max_audit_per_cluster; read newest
  // first, at most `limit`.
  bool AppendAudit(const std::string& cluster, const std::string& record, std::string* error);
  bool Audit(const std::string& cluster, int64_t limit, std::vector<std::string>* out,
             std::string* error);

 private:
  struct Impl;
  explicit StateStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace srexpert::hub
