#include "hub/state_store.h"

#include <sqlite3.h>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <mutex>

#include "common/json.h"

namespace srexpert::hub {

namespace {

constexpr int kSchemaVersion = 1;

// Clusters get a small integer id so that the big tables do not repeat the
// name in every row. `staging_*` describe an unfinished snapshot, whose
// objects wait in `staged` until the final part. Resource rows are large
// (about 1 KB of JSON), so they live in rowid tables with a separate key
// index: a WITHOUT ROWID table would keep the JSON inside its B-tree.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS clusters (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  last_ack INTEGER NOT NULL DEFAULT 0,
  kinds TEXT,
  metrics TEXT,
  staging_snapshot TEXT,
  staging_next_part INTEGER,
  staging_kinds TEXT
);
CREATE TABLE IF NOT EXISTS resources (
  id INTEGER PRIMARY KEY,
  cluster_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  object TEXT NOT NULL,
  UNIQUE (cluster_id, kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS staged (
  id INTEGER PRIMARY KEY,
  cluster_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  object TEXT NOT NULL,
  UNIQUE (cluster_id, kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  cluster_id INTEGER NOT NULL,
  uid TEXT NOT NULL,
  namespace TEXT NOT NULL,
  sort_time TEXT NOT NULL,
  event TEXT NOT NULL,
  UNIQUE (cluster_id, uid)
);
CREATE TABLE IF NOT EXISTS scans (
  cluster_id INTEGER PRIMARY KEY,
  latest TEXT NOT NULL,
  previous TEXT
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (cluster_id, sort_time, id);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY,
  cluster_id INTEGER NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_cluster ON audit (cluster_id, id);
)sql";

std::string ErrorOf(sqlite3* db, std::string_view what) {
  return fmt::format("{}: {}", what, db ? sqlite3_errmsg(db) : "out of memory");
}

// A prepared statement, reset after every use.
class Stmt {
 public:
  Stmt() = default;
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool Prepare(sqlite3* db, const char* sql, std::string* error) {
    db_ = db;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
      *error = ErrorOf(db, fmt::format("preparing \"{}\"", sql));
      return false;
    }
    return true;
  }

  // Binds by position (1-based); strings are bound without a copy, so they
  // must outlive the statement's step.
  Stmt& Bind(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& Bind(int i, const std::string& s) { return Bind(i, std::string_view(s)); }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, const std::optional<std::string>& s) {
    if (s) return Bind(i, std::string_view(*s));
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  // Runs a statement that returns no rows; false and `error` on failure.
  bool Run(std::string* error) {
    int rc = Step();
    Reset();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
      *error = ErrorOf(db_, sqlite3_sql(stmt_));
      return false;
    }
    return true;
  }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// One SQLite connection and its statements; `mu` serializes its use.
struct Connection {
  sqlite3* db = nullptr;
  std::mutex mu;
  ~Connection() { sqlite3_close_v2(db); }

  bool Exec(const char* sql, std::string* error) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      *error = fmt::format("{}: {}", sql, msg ? msg : "failed");
      sqlite3_free(msg);
      return false;
    }
    return true;
  }
};

// The reader is a read-write connection with query_only: a read-only
// connection could not maintain the WAL index (-shm) it shares.
bool OpenConnection(const std::string& path, bool query_only, Connection* c, std::string* error) {
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &c->db, flags, nullptr) != SQLITE_OK) {
    *error = ErrorOf(c->db, fmt::format("cannot open state store {}", path));
    return false;
  }
  sqlite3_extended_result_codes(c->db, 1);
  sqlite3_busy_timeout(c->db, 5000);
  return !query_only || c->Exec("PRAGMA query_only = 1", error);
}

struct Queries {
  Stmt resources, kinds, events, metrics, scans, clusters, last_ack, staging, audit;

  bool Prepare(sqlite3* db, std::string* error) {
    return resources.Prepare(db,
                             "SELECT kind, namespace, name, object FROM resources WHERE "
                             "cluster_id = (SELECT id FROM clusters WHERE name = ?1) "
                             "AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR namespace = ?3) "
                             "ORDER BY kind, namespace, name",
                             error) &&
           kinds.Prepare(db, "SELECT kinds FROM clusters WHERE name = ?1", error) &&
           events.Prepare(db,
                          "SELECT event FROM events WHERE "
                          "cluster_id = (SELECT id FROM clusters WHERE name = ?1) "
                          "AND (?2 IS NULL OR namespace = ?2) "
                          "ORDER BY sort_time DESC, id DESC LIMIT ?3",
                          error) &&
           metrics.Prepare(db, "SELECT metrics FROM clusters WHERE name = ?1", error) &&
           scans.Prepare(db,
                         "SELECT latest, previous FROM scans WHERE "
                         "cluster_id = (SELECT id FROM clusters WHERE name = ?1)",
                         error) &&
           clusters.Prepare(db, "SELECT name, last_ack FROM clusters ORDER BY name", error) &&
           last_ack.Prepare(db, "SELECT last_ack FROM clusters WHERE name = ?1", error) &&
           staging.Prepare(db,
                           "SELECT staging_snapshot, staging_next_part FROM clusters "
                           "WHERE name = ?1 AND staging_snapshot IS NOT NULL",
                           error) &&
           audit.Prepare(db,
                         "SELECT record FROM audit WHERE "
                         "cluster_id = (SELECT id FROM clusters WHERE name = ?1) "
                         "ORDER BY id DESC LIMIT ?2",
                         error);
  }
};

}  // namespace

struct StateStore::Impl {
  StateStoreOptions options;
  Connection writer;
  std::unique_ptr<Connection> reader_conn;  // file stores only
  Connection* reader = nullptr;             // reader_conn or &writer

  // Writer statements.
  Stmt begin, commit, rollback;
  Stmt find_cluster, insert_cluster, set_ack;
  Stmt upsert_resource, delete_resource, clear_resources, move_staged, get_resource, set_object;
  Stmt upsert_staged, clear_staged, set_staging, finish_snapshot, set_kinds;
  Stmt upsert_event, count_events, trim_events, set_metrics, set_scan;
  Stmt insert_audit, trim_audit;
  Queries writer_queries;
  Queries reader_queries_storage;
  Queries* reader_queries = nullptr;

  bool PrepareWriter(std::string* error) {
    sqlite3* db = writer.db;
    return begin.Prepare(db, "BEGIN IMMEDIATE", error) &&
           commit.Prepare(db, "COMMIT", error) && rollback.Prepare(db, "ROLLBACK", error) &&
           find_cluster.Prepare(db,
                                "SELECT id, last_ack, staging_snapshot, staging_next_part "
                                "FROM clusters WHERE name = ?1",
                                error) &&
           insert_cluster.Prepare(db, "INSERT INTO clusters (name) VALUES (?1) ON CONFLICT DO NOTHING",
                                  error) &&
           set_ack.Prepare(db, "UPDATE clusters SET last_ack = ?2 WHERE id = ?1", error) &&
           upsert_resource.Prepare(db,
                                   "INSERT INTO resources (cluster_id, kind, namespace, name, object) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5) "
                                   "ON CONFLICT (cluster_id, kind, namespace, name) DO UPDATE SET object = excluded.object",
                                   error) &&
           delete_resource.Prepare(db,
                                   "DELETE FROM resources WHERE cluster_id = ?1 AND kind = ?2 "
                                   "AND namespace = ?3 AND name = ?4",
                                   error) &&
           clear_resources.Prepare(db, "DELETE FROM resources WHERE cluster_id = ?1", error) &&
           get_resource.Prepare(db,
                                "SELECT id, object FROM resources WHERE cluster_id = ?1 AND kind = ?2 "
                                "AND namespace = ?3 AND name = ?4",
                                error) &&
           set_object.Prepare(db, "UPDATE resources SET object = ?2 WHERE id = ?1", error) &&
           move_staged.Prepare(db,
                               "INSERT INTO resources (cluster_id, kind, namespace, name, object) "
                               "SELECT cluster_id, kind, namespace, name, object FROM staged "
                               "WHERE cluster_id = ?1",
                               error) &&
           upsert_staged.Prepare(db,
                                 "INSERT INTO staged (cluster_id, kind, namespace, name, object) "
                                 "VALUES (?1, ?2, ?3, ?4, ?5) "
                                 "ON CONFLICT (cluster_id, kind, namespace, name) DO UPDATE SET object = excluded.object",
                                 error) &&
           clear_staged.Prepare(db, "DELETE FROM staged WHERE cluster_id = ?1", error) &&
           set_staging.Prepare(db,
                               "UPDATE clusters SET staging_snapshot = ?2, staging_next_part = ?3, "
                               "staging_kinds = coalesce(?4, staging_kinds) WHERE id = ?1",
                               error) &&
           finish_snapshot.Prepare(db,
                                   "UPDATE clusters SET kinds = staging_kinds, staging_snapshot = "
                                   "NULL, staging_next_part = NULL, staging_kinds = NULL WHERE id = ?1",
                                   error) &&
           set_kinds.Prepare(db,
                             "UPDATE clusters SET kinds = ?2, staging_snapshot = NULL, "
                             "staging_next_part = NULL, staging_kinds = NULL WHERE id = ?1",
                             error) &&
           upsert_event.Prepare(db,
                                "INSERT INTO events (cluster_id, uid, namespace, sort_time, event) "
                                "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (cluster_id, uid) DO UPDATE "
                                "SET namespace = excluded.namespace, sort_time = excluded.sort_time, "
                                "event = excluded.event",
                                error) &&
           count_events.Prepare(db, "SELECT count(*) FROM events WHERE cluster_id = ?1", error) &&
           trim_events.Prepare(db,
                               "DELETE FROM events WHERE id IN (SELECT id FROM events "
                               "WHERE cluster_id = ?1 ORDER BY sort_time, id LIMIT ?2)",
                               error) &&
           set_metrics.Prepare(db, "UPDATE clusters SET metrics = ?2 WHERE id = ?1", error) &&
           // The stored latest becomes previous (unqualified names in the
           // DO UPDATE are the existing row's).
           set_scan.Prepare(db,
                            "INSERT INTO scans (cluster_id, latest) VALUES (?1, ?2) "
                            "ON CONFLICT (cluster_id) DO UPDATE SET previous = latest, "
                            "latest = excluded.latest",
                            error) &&
           insert_audit.Prepare(db, "INSERT INTO audit (cluster_id, record) VALUES (?1, ?2)",
                                error) &&
           // Everything older than the newest ?2 records of the cluster.
           trim_audit.Prepare(db,
                              "DELETE FROM audit WHERE cluster_id = ?1 AND id <= (SELECT id FROM "
                              "audit WHERE cluster_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                              error);
  }

  struct ClusterRow {
    int64_t id = 0;
    int64_t last_ack = 0;
    std::optional<std::string> staging_snapshot;
    int64_t staging_next_part = 0;
  };

  // Inside a write transaction: the cluster's row, created when missing.
  bool LoadCluster(const std::string& name, ClusterRow* row, std::string* error) {
    insert_cluster.Bind(1, name);
    if (!insert_cluster.Run(error)) return false;
    find_cluster.Bind(1, name);
    int rc = find_cluster.Step();
    if (rc == SQLITE_ROW) {
      row->id = find_cluster.Int(0);
      row->last_ack = find_cluster.Int(1);
      if (!find_cluster.IsNull(2)) row->staging_snapshot = find_cluster.Text(2);
      row->staging_next_part = find_cluster.Int(3);
    } else {
      *error = ErrorOf(writer.db, "reading cluster row");
    }
    find_cluster.Reset();
    return rc == SQLITE_ROW;
  }

  // A modified object sent as a merge patch: replaces the stored form with
  // the patch applied. kRejected when the store holds no such object.
  ApplyResult Patch(int64_t cluster_id, size_t index, const Change& c) {
    const ResourceRecord& r = c.resource;
    get_resource.Bind(1, cluster_id).Bind(2, r.kind).Bind(3, r.ns).Bind(4, r.name);
    int rc = get_resource.Step();
    int64_t id = rc == SQLITE_ROW ? get_resource.Int(0) : 0;
    std::string stored = rc == SQLITE_ROW ? get_resource.Text(1) : std::string();
    get_resource.Reset();
    if (rc == SQLITE_DONE) {
      return {ApplyResult::Status::kRejected,
              fmt::format("changes[{}].patch: the hub holds no {} {}/{} to patch", index, r.kind,
                          r.ns, r.name)};
    }
    if (rc != SQLITE_ROW) return {ApplyResult::Status::kFailed, ErrorOf(writer.db, "reading resource")};
    // Both texts were produced by the strict decoder, so they parse.
    rapidjson::Document target, patch;
    target.ParseInsitu(stored.data());  // our own copy: parse in place
    patch.Parse(c.patch.data(), c.patch.size());
    if (target.HasParseError() || patch.HasParseError()) {
      return {ApplyResult::Status::kFailed, "stored object or patch is not JSON"};
    }
    json::MergePatch(target, patch, target.GetAllocator());
    patch_buffer.Clear();
    rapidjson::Writer<rapidjson::StringBuffer> w(patch_buffer);
    target.Accept(w);
    std::string error;
    set_object.Bind(1, id).Bind(2, std::string_view(patch_buffer.GetString(), patch_buffer.GetSize()));
    if (!set_object.Run(&error)) return {ApplyResult::Status::kFailed, error};
    return {};
  }
  rapidjson::StringBuffer patch_buffer;

  bool PutResource(Stmt& stmt, int64_t cluster_id, const ResourceRecord& r, std::string* error) {
    stmt.Bind(1, cluster_id).Bind(2, r.kind).Bind(3, r.ns).Bind(4, r.name).Bind(5, r.object);
    return stmt.Run(error);
  }

  // Runs `body` in one write transaction that also records `seq`. `body`
  // returns a result; anything but kOk rolls everything back.
  template <typename Body>
  ApplyResult Transaction(const std::string& cluster, int64_t seq, Body body) {
    std::lock_guard lock(writer.mu);
    std::string error;
    if (!begin.Run(&error)) return {ApplyResult::Status::kFailed, error};
    ClusterRow row;
    ApplyResult result;
    if (!LoadCluster(cluster, &row, &error)) {
      result = {ApplyResult::Status::kFailed, error};
    } else if (seq <= row.last_ack) {
      result = {ApplyResult::Status::kRejected,
                fmt::format("seq {} is not after the last accepted {}", seq, row.last_ack)};
    } else {
      result = body(row);
      if (result.ok()) {
        set_ack.Bind(1, row.id).Bind(2, seq);
        if (!set_ack.Run(&error)) result = {ApplyResult::Status::kFailed, error};
      }
    }
    if (result.ok() && !commit.Run(&error)) result = {ApplyResult::Status::kFailed, error};
    if (!result.ok()) {
      std::string ignored;
      // After some errors (e.g. SQLITE_FULL) SQLite has already rolled back.
      if (!sqlite3_get_autocommit(writer.db)) rollback.Run(&ignored);
    }
    return result;
  }
};

StateStore::StateStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StateStore::~StateStore() = default;

std::unique_ptr<StateStore> StateStore::Open(const StateStoreOptions& options, std::string* error) {
  std::string ignored;
  if (!error) error = &ignored;
  auto d = std::make_unique<Impl>();
  d->options = options;
  if (d->options.max_events_per_cluster < 1) d->options.max_events_per_cluster = 1;
  if (d->options.max_audit_per_cluster < 1) d->options.max_audit_per_cluster = 1;
  bool memory = options.path.empty() || options.path == ":memory:";
  std::string path = memory ? ":memory:" : options.path;
  if (!OpenConnection(path, false, &d->writer, error)) return nullptr;
  int version = -1;
  {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(d->writer.db, "PRAGMA user_version", -1, &s, nullptr) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
      // A file that is not a database fails here ("file is not a database").
      *error = ErrorOf(d->writer.db, fmt::format("cannot read state store {}", path));
      sqlite3_finalize(s);
      return nullptr;
    }
    version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
  }
  if (version != 0 && version != kSchemaVersion) {
    *error = fmt::format("state store {} has schema version {}, this hub reads {}", path, version,
                         kSchemaVersion);
    return nullptr;
  }
  if (!memory && !d->writer.Exec("PRAGMA journal_mode = WAL", error)) return nullptr;
  // synchronous=NORMAL in WAL mode: commits do not fsync, checkpoints do; a
  // power loss may drop the last commits but never tears one (the agent
  // re-sends from the older lastAck). Checkpointing every 64 MiB instead of
  // every 4 MiB keeps those fsyncs off the stream path (2.5x the apply rate
  // in srx_hub_store_bench); journal_size_limit trims the WAL afterwards.
  if (!d->writer.Exec("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384;"
                      "PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 16384;"
                      "PRAGMA journal_size_limit = 67108864",
                      error) ||
      !d->writer.Exec("BEGIN", error) || !d->writer.Exec(kSchema, error) ||
      !d->writer.Exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion).c_str(), error) ||
      !d->writer.Exec("COMMIT", error)) {
    return nullptr;
  }
  if (!d->PrepareWriter(error) || !d->writer_queries.Prepare(d->writer.db, error)) return nullptr;
  if (memory) {
    d->reader = &d->writer;
    d->reader_queries = &d->writer_queries;
  } else {
    d->reader_conn = std::make_unique<Connection>();
    if (!OpenConnection(path, true, d->reader_conn.get(), error) ||
        !d->reader_queries_storage.Prepare(d->reader_conn->db, error)) {
      return nullptr;
    }
    d->reader = d->reader_conn.get();
    d->reader_queries = &d->reader_queries_storage;
  }
  return std::unique_ptr<StateStore>(new StateStore(std::move(d)));
}

bool StateStore::Clusters(std::vector<StoredCluster>* out, std::string* error) {
  std::lock_guard lock(impl_->reader->mu);
  Stmt& q = impl_->reader_queries->clusters;
  out->clear();
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out->push_back({q.Text(0), q.Int(1)});
  q.Reset();
  if (rc != SQLITE_DONE) {
    if (error) *error = ErrorOf(impl_->reader->db, "listing clusters");
    return false;
  }
  return true;
}

bool StateStore::RememberCluster(const std::string& cluster, std::string* error) {
  std::lock_guard lock(impl_->writer.mu);
  std::string ignored;
  impl_->insert_cluster.Bind(1, cluster);
  return impl_->insert_cluster.Run(error ? error : &ignored);
}

int64_t StateStore::LastAck(const std::string& cluster) {
  std::lock_guard lock(impl_->reader->mu);
  Stmt& q = impl_->reader_queries->last_ack;
  q.Bind(1, cluster);
  int64_t v = q.Step() == SQLITE_ROW ? q.Int(0) : 0;
  q.Reset();
  return v;
}

std::optional<SnapshotStaging> StateStore::Staging(const std::string& cluster) {
  std::lock_guard lock(impl_->reader->mu);
  Stmt& q = impl_->reader_queries->staging;
  q.Bind(1, cluster);
  std::optional<SnapshotStaging> out;
  if (q.Step() == SQLITE_ROW) out = SnapshotStaging{q.Text(0), q.Int(1)};
  q.Reset();
  return out;
}

ApplyResult StateStore::ApplySnapshot(const std::string& cluster, int64_t seq,
                                      const SnapshotPayload& part, bool final) {
  Impl& d = *impl_;
  using S = ApplyResult::Status;
  return d.Transaction(cluster, seq, [&](const Impl::ClusterRow& row) -> ApplyResult {
    std::string error;
    auto failed = [&] { return ApplyResult{S::kFailed, error}; };
    if (part.part > 0) {
      if (!row.staging_snapshot) {
        return {S::kRejected, fmt::format("part: snapshot {} part {} continues no unfinished snapshot",
                                          part.snapshot, part.part)};
      }
      if (*row.staging_snapshot != part.snapshot || row.staging_next_part != part.part) {
        return {S::kRejected,
                fmt::format("part: snapshot {} part {} does not continue snapshot {} (expected part {})",
                            part.snapshot, part.part, *row.staging_snapshot, row.staging_next_part)};
      }
    } else {
      d.clear_staged.Bind(1, row.id);
      if (!d.clear_staged.Run(&error)) return failed();
    }
    if (part.part == 0 && final) {
      // A one-part snapshot needs no staging.
      d.clear_resources.Bind(1, row.id);
      if (!d.clear_resources.Run(&error)) return failed();
      for (const auto& r : part.objects) {
        if (!d.PutResource(d.upsert_resource, row.id, r, &error)) return failed();
      }
      d.set_kinds.Bind(1, row.id).Bind(2, part.kinds_json);
      return d.set_kinds.Run(&error) ? ApplyResult{} : failed();
    }
    for (const auto& r : part.objects) {
      if (!d.PutResource(d.upsert_staged, row.id, r, &error)) return failed();
    }
    if (!final) {
      d.set_staging.Bind(1, row.id).Bind(2, part.snapshot).Bind(3, part.part + 1);
      if (part.part == 0) d.set_staging.Bind(4, part.kinds_json);
      else d.set_staging.BindNull(4);
      return d.set_staging.Run(&error) ? ApplyResult{} : failed();
    }
    d.clear_resources.Bind(1, row.id);
    if (!d.clear_resources.Run(&error)) return failed();
    d.move_staged.Bind(1, row.id);
    if (!d.move_staged.Run(&error)) return failed();
    d.clear_staged.Bind(1, row.id);
    if (!d.clear_staged.Run(&error)) return failed();
    d.finish_snapshot.Bind(1, row.id);
    return d.finish_snapshot.Run(&error) ? ApplyResult{} : failed();
  });
}

ApplyResult StateStore::ApplyDelta(const std::string& cluster, int64_t seq, const DeltaPayload& delta) {
  Impl& d = *impl_;
  using S = ApplyResult::Status;
  return d.Transaction(cluster, seq, [&](const Impl::ClusterRow& row) -> ApplyResult {
    std::string error;
    auto failed = [&] { return ApplyResult{S::kFailed, error}; };
    if (row.staging_snapshot) {
      return {S::kRejected, fmt::format("payload: a delta while snapshot {} is unfinished (expected part {})",
                                        *row.staging_snapshot, row.staging_next_part)};
    }
    for (size_t i = 0; i < delta.changes.size(); ++i) {
      const Change& c = delta.changes[i];
      if (c.op == ChangeOp::kDeleted) {
        d.delete_resource.Bind(1, row.id).Bind(2, c.resource.kind).Bind(3, c.resource.ns)
            .Bind(4, c.resource.name);
        if (!d.delete_resource.Run(&error)) return failed();
      } else if (!c.patch.empty()) {
        if (ApplyResult r = d.Patch(row.id, i, c); !r.ok()) return r;
      } else if (!d.PutResource(d.upsert_resource, row.id, c.resource, &error)) {
        return failed();
      }
    }
    if (!delta.events.empty()) {
      for (const EventRecord& e : delta.events) {
        d.upsert_event.Bind(1, row.id).Bind(2, e.uid).Bind(3, e.ns).Bind(4, e.sort_time)
            .Bind(5, e.json);
        if (!d.upsert_event.Run(&error)) return failed();
      }
      d.count_events.Bind(1, row.id);
      int rc = d.count_events.Step();
      int64_t count = rc == SQLITE_ROW ? d.count_events.Int(0) : -1;
      d.count_events.Reset();
      if (count < 0) {
        error = ErrorOf(d.writer.db, "counting events");
        return failed();
      }
      if (count > d.options.max_events_per_cluster) {
        d.trim_events.Bind(1, row.id).Bind(2, count - d.options.max_events_per_cluster);
        if (!d.trim_events.Run(&error)) return failed();
      }
    }
    if (delta.metrics) {
      d.set_metrics.Bind(1, row.id).Bind(2, *delta.metrics);
      if (!d.set_metrics.Run(&error)) return failed();
    }
    if (delta.scan) {
      d.set_scan.Bind(1, row.id).Bind(2, *delta.scan);
      if (!d.set_scan.Run(&error)) return failed();
    }
    return ApplyResult{};
  });
}

bool StateStore::Resources(const std::string& cluster, const ResourceFilter& filter,
                           ResourcesView* out, std::string* error) {
  Connection& c = *impl_->reader;
  Queries& q = *impl_->reader_queries;
  std::lock_guard lock(c.mu);
  *out = ResourcesView{};
  // One read transaction: kinds and items of the same snapshot.
  std::string ignored;
  if (!error) error = &ignored;
  if (!c.Exec("BEGIN", error)) return false;
  bool ok = true;
  q.kinds.Bind(1, cluster);
  int rc = q.kinds.Step();
  if (rc == SQLITE_ROW && !q.kinds.IsNull(0)) out->kinds_json = q.kinds.Text(0);
  q.kinds.Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    *error = ErrorOf(c.db, "reading kinds");
    ok = false;
  }
  if (ok) {
    q.resources.Bind(1, cluster).Bind(2, filter.kind).Bind(3, filter.ns);
    while ((rc = q.resources.Step()) == SQLITE_ROW) {
      out->items.push_back(
          {q.resources.Text(0), q.resources.Text(1), q.resources.Text(2), q.resources.Text(3)});
    }
    q.resources.Reset();
    if (rc != SQLITE_DONE) {
      *error = ErrorOf(c.db, "reading resources");
      ok = false;
    }
  }
  c.Exec("COMMIT", &ignored);
  return ok;
}

bool StateStore::Events(const std::string& cluster, const std::optional<std::string>& ns,
                        int64_t limit, std::vector<std::string>* out, std::string* error) {
  Connection& c = *impl_->reader;
  Stmt& q = impl_->reader_queries->events;
  std::lock_guard lock(c.mu);
  out->clear();
  q.Bind(1, cluster).Bind(2, ns).Bind(3, limit);
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out->push_back(q.Text(0));
  q.Reset();
  if (rc != SQLITE_DONE) {
    if (error) *error = ErrorOf(c.db, "reading events");
    return false;
  }
  return true;
}

bool StateStore::Metrics(const std::string& cluster, std::optional<std::string>* out,
                         std::string* error) {
  Connection& c = *impl_->reader;
  Stmt& q = impl_->reader_queries->metrics;
  std::lock_guard lock(c.mu);
  out->reset();
  q.Bind(1, cluster);
  int rc = q.Step();
  if (rc == SQLITE_ROW && !q.IsNull(0)) *out = q.Text(0);
  q.Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    if (error) *error = ErrorOf(c.db, "reading metrics");
    return false;
  }
  return true;
}

bool StateStore::Scans(const std::string& cluster, std::optional<std::string>* latest,
                       std::optional<std::string>* previous, std::string* error) {
  Connection& c = *impl_->reader;
  Stmt& q = impl_->reader_queries->scans;
  std::lock_guard lock(c.mu);
  latest->reset();
  previous->reset();
  q.Bind(1, cluster);
  int rc = q.Step();
  if (rc == SQLITE_ROW) {
    *latest = q.Text(0);
    if (!q.IsNull(1)) *previous = q.Text(1);
  }
  q.Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    if (error) *error = ErrorOf(c.db, "reading scans");
    return false;
  }
  return true;
}

bool StateStore::AppendAudit(const std::string& cluster, const std::string& record,
                             std::string* error) {
  Impl& d = *impl_;
  std::lock_guard lock(d.writer.mu);
  std::string ignored;
  if (!error) error = &ignored;
  if (!d.begin.Run(error)) return false;
  Impl::ClusterRow row;
  bool ok = d.LoadCluster(cluster, &row, error);
  if (ok) {
    d.insert_audit.Bind(1, row.id).Bind(2, record);
    ok = d.insert_audit.Run(error);
  }
  if (ok) {
    d.trim_audit.Bind(1, row.id).Bind(2, d.options.max_audit_per_cluster);
    ok = d.trim_audit.Run(error);
  }
  if (ok) ok = d.commit.Run(error);
  if (!ok && !sqlite3_get_autocommit(d.writer.db)) d.rollback.Run(&ignored);
  return ok;
}

bool StateStore::Audit(const std::string& cluster, int64_t limit, std::vector<std::string>* out,
                       std::string* error) {
  Connection& c = *impl_->reader;
  Stmt& q = impl_->reader_queries->audit;
  std::lock_guard lock(c.mu);
  out->clear();
  q.Bind(1, cluster).Bind(2, limit);
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out->push_back(q.Text(0));
  q.Reset();
  if (rc != SQLITE_DONE) {
    if (error) *error = ErrorOf(c.db, "reading the audit trail");
    return false;
  }
  return true;
}

}  // namespace srexpert::hub
