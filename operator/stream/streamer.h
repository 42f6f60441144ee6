// The agent's state stream (docs/protocol.md, "State stream payloads"): turns
// what the collectors report through ChangeSink into sequenced `snapshot` and
// `delta` messages, keeps every unacknowledged message in a bounded window,
// and decides per session whether to resume or to start over with a snapshot.
//
// Memory is bounded by design, however long the backend is away:
//  - the current projected state: one shared JSON text per object;
//  - the window of sent-but-unacknowledged messages (bytes and count
//    limits); when it is full no new message is sealed;
//  - changes that are not yet sealed, coalesced per object (latest state
//    wins), so at most one entry per object;
//  - pending events, coalesced per uid and bounded (oldest dropped and
//    counted, never silently), and only the latest metrics sample.
//
// Sessions: SessionStarted() with the backend's welcome. If every message
// after welcome.lastAck is still in the window the stream resumes from
// lastAck + 1; otherwise (first session of this Streamer, i.e. a new
// leadership; lastAck outside the window) a fresh snapshot starts at
// lastAck + 1. The first snapshot waits until every expected kind is Synced()
// or Unavailable() (or `initial_sync_timeout` passed). A `sequence_gap` or
// `invalid_payload` error from the backend restarts with a snapshot.
//
// Threading: ChangeSink calls, OnAck/OnError and the session calls may come
// from any thread. A pump thread of its own seals and sends messages; it
// never calls `send` while holding the Streamer's lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "protocol/messages.h"
#include "stream/change_sink.h"
#include "stream/object_codec.h"

namespace srexpert::stream {

struct StreamerOptions {
  // Window of sent, unacknowledged messages.
  size_t max_unacked_bytes = 4 * 1024 * 1024;
  size_t max_unacked_messages = 256;
  // A sealed message stays below this many bytes (and below the backend's
  // welcome.limits.maxMessageBytes); snapshot parts are cut at it.
  size_t max_message_bytes = 256 * 1024;
  // A delta is sealed as soon as fewer than `eager_in_flight` messages are
  // unacknowledged: with 1, an idle stream sends a change at once, and under
  // load the changes that arrive while a message waits for its ack gather
  // into the next one (self-clocking, like Nagle's algorithm), so batches
  // grow with the change rate instead of the message rate capping it. The
  // oldest pending change waits at most `batch_interval`, and a batch is
  // sealed early when full.
  size_t eager_in_flight = 1;
  std::chrono::milliseconds batch_interval{50};
  size_t max_pending_events = 10000;
  // A modified object travels as an RFC 7386 merge patch against its
  // previous form when that is smaller (docs/protocol.md, `patch`).
  bool merge_patches = true;
  std::chrono::milliseconds initial_sync_timeout{120000};
};

// Hands a sealed message to the tunnel. Must not block.
enum class SendResult { kSent, kRetryLater, kNoSession };
using StreamSender = std::function<SendResult(const protocol::StreamMessage&)>;

struct StreamKind {
  std::string kind;
  std::string api_version;
};

struct StreamerStats {
  uint64_t objects = 0;             // objects in the current state
  uint64_t object_bytes = 0;        // bytes held for them (deflated, ObjectCodec)
  uint64_t object_raw_bytes = 0;    // sum of their projected JSON sizes
  uint64_t pending_changes = 0;
  uint64_t pending_events = 0;
  uint64_t window_messages = 0;
  uint64_t window_bytes = 0;
  int64_t next_seq = 1;
  int64_t acked_seq = 0;
  uint64_t snapshots = 0;           // snapshots completed (final part sealed)
  uint64_t resumes = 0;             // sessions that resumed from the window
  uint64_t messages_sealed = 0;
  uint64_t bytes_sealed = 0;        // payload bytes of sealed messages
  uint64_t changes_sealed = 0;      // object changes in sealed deltas
  uint64_t patches_sealed = 0;      // of which sent as merge patches
  uint64_t events_sealed = 0;
  uint64_t events_dropped = 0;      // pending events dropped at the bound
  uint64_t oversized_dropped = 0;   // objects, events, metrics samples larger than a message
  uint64_t codec_errors = 0;        // held objects that failed to decode (a bug)
  uint64_t last_snapshot_bytes = 0;  // payload bytes of the last snapshot
  uint64_t last_snapshot_parts = 0;
  uint64_t last_snapshot_objects = 0;
  bool session = false;
  bool initial_sync_done = false;
};

class Streamer final : public ChangeSink {
 public:
  // `expected_kinds`: the kinds whose Synced()/Unavailable() the first
  // snapshot waits for. `clock` must outlive the Streamer.
  Streamer(StreamerOptions options, std::vector<StreamKind> expected_kinds,
           Clock& clock = SystemClock());
  ~Streamer() override;  // Stop()s
  Streamer(const Streamer&) = delete;
  Streamer& operator=(const Streamer&) = delete;

  void Start();
  void Stop();  // joins the pump; idempotent

  // ChangeSink
  void Upsert(const std::string& kind, const std::string& ns, const std::string& name,
              JsonText object) override;
  void Remove(const std::string& kind, const std::string& ns, const std::string& name) override;
  void Synced(const std::string& kind) override;
  void Unavailable(const std::string& kind, const std::string& reason) override;
  void Event(const std::string& uid, JsonText event) override;
  void Metrics(JsonText metrics) override;

  // The latest scan report summary (docs/protocol.md, delta payload
  // `scan`): sent in the next delta, replacing any unsent earlier one, like
  // a metrics sample. Not part of the ChangeSink: the scan runner, not a
  // collector, produces it.
  void ScanReport(JsonText report);
  // Every expected kind is synced or unavailable (or the initial sync timed
  // out): the current state is the whole cluster, as the first snapshot
  // needs it.
  bool CacheReady() const;
  // The largest payload a message may carry now (the session's limit when
  // one is up): a scan report must stay some way below it.
  size_t MessageLimit() const;

  // Visits every object of the current state (the leader's cache) decoded:
  // kind, namespace, name and projected JSON. Takes the held forms under
  // the lock and decodes outside it, so collectors and the pump are not held
  // up; objects changed meanwhile are seen in either form.
  void ForEachObject(const std::function<void(const std::string& kind, const std::string& ns,
                                              const std::string& name,
                                              const std::string& json)>& visit);

  // Tunnel session lifecycle.
  void SessionStarted(const protocol::Welcome& welcome, StreamSender send);
  void SessionEnded();
  void OnAck(int64_t seq);
  // Reacts to sequence_gap / invalid_payload; other codes are ignored.
  void OnError(const protocol::Error& error);

  StreamerStats Stats() const;
  // Blocks until every sealed message is acknowledged and nothing is pending
  // (tests and the benchmark), or the timeout passes.
  bool WaitIdle(std::chrono::milliseconds timeout) const;

 private:
  struct Pending {
    // The object as the backend has it (as of the last sealed message);
    // null when the backend does not have it.
    JsonText before;
  };
  struct KindState {
    bool synced = false;
    std::string unavailable_reason;  // non-empty while unavailable
    std::string api_version;
  };

  void Loop();
  // Under mu_ (held by `lock`): seals what may be sealed now; returns
  // messages to send. Delta sealing drops the lock while it inflates and
  // diffs each change (see SealDeltaLocked).
  void SealLocked(std::unique_lock<std::mutex>& lock,
                  std::vector<std::shared_ptr<const protocol::StreamMessage>>* out);
  bool ReadyForSnapshotLocked() const;
  void BeginSnapshotLocked();
  void SealSnapshotPartLocked();
  void SealDeltaLocked(std::unique_lock<std::mutex>& lock);
  void RequestSnapshotLocked(int64_t first_seq);
  void PushLocked(std::shared_ptr<const protocol::StreamMessage> m);
  bool WindowHasRoomLocked() const;
  size_t MessageLimitLocked() const;
  void MarkPendingLocked(const std::string& key);
  // The `kinds` array of a snapshot's first part.
  std::string KindsJsonLocked(bool with_reasons) const;
  // An object whose record alone exceeds `limit`: counted, logged, and
  // remembered (with whether the backend holds some form of it) so that its
  // next change that fits goes whole.
  void LeaveOutLocked(const std::string& key, bool held, size_t bytes, size_t limit);
  std::optional<std::string> DecodeLocked(std::string_view kind, const JsonText& encoded);
  void Account(const JsonText& encoded, int sign);  // object_bytes_ bookkeeping

  StreamerOptions options_;
  Clock& clock_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::thread pump_;
  bool stop_ = false;
  bool started_ = false;

  ObjectCodec codec_;
  // The current state: key (kind \x1f namespace \x1f name) → projected
  // JSON, held as ObjectCodec forms. Pending.before points at the same forms.
  std::unordered_map<std::string, JsonText> objects_;
  uint64_t object_bytes_ = 0, object_raw_bytes_ = 0;
  std::map<std::string, KindState> kinds_;
  Clock::Steady created_;

  // Changes not yet sealed, in first-change order.
  std::unordered_map<std::string, Pending> pending_;
  std::deque<std::string> pending_order_;
  Clock::Steady oldest_pending_{};
  // Events not yet sealed, coalesced per uid, in first-report order.
  std::unordered_map<std::string, JsonText> pending_events_;
  std::deque<std::string> pending_event_order_;
  JsonText pending_metrics_;
  JsonText pending_scan_;

  // Sequencing and the window.
  int64_t next_seq_ = 1;
  int64_t acked_seq_ = 0;
  int64_t epoch_seq_ = 1;  // first seq of the current snapshot
  std::deque<std::shared_ptr<const protocol::StreamMessage>> window_;
  size_t window_bytes_ = 0;
  int64_t next_to_send_ = 1;

  // Snapshot in progress.
  bool snapshot_requested_ = true;  // a new Streamer starts with a snapshot
  bool snapshot_active_ = false;
  std::vector<std::pair<std::string, JsonText>> snapshot_items_;
  size_t snapshot_cursor_ = 0;
  int snapshot_part_ = 0;
  std::string snapshot_id_;
  uint64_t snapshot_bytes_ = 0;
  int64_t trim_after_seq_ = 0;  // the last snapshot's final part, until acked
  // Objects left out of the stream because they exceed a message: key →
  // whether the backend holds an older form of it (else none).
  std::unordered_map<std::string, bool> left_out_;

  // Session.
  StreamSender send_;
  // Bumped whenever what is to be sent is renumbered or the session changes.
  uint64_t stream_gen_ = 0;
  // The pump has taken a change out of pending_ and is sealing it unlocked.
  bool sealing_ = false;
  size_t session_limit_ = 0;
  bool retry_later_ = false;

  StreamerStats stats_;
};

}  // namespace srexpert::stream
