#include "stream/streamer.h"

#include <fmt/format.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "common/log.h"
#include "stream/merge_patch.h"

namespace srexpert::stream {

namespace {

constexpr char kSep = '\x1f';
// Room left in every message for the envelope ({"v":1,"type":"snapshot",
// "seq":…,"final":false,"payload":…}, ~75 bytes) and the payload's own
// framing (a part's header and closing brackets, ~80 bytes).
constexpr size_t kEnvelopeSlack = 256;
// A kind's unavailable reason in a snapshot's `kinds` is cut to this, so the
// list stays a few KiB whatever the API server said (docs/protocol.md,
// "Limits": the first part must fit the smallest legal message).
constexpr size_t kMaxKindReason = 256;

// The longest prefix of `s` of at most `max` bytes that does not split a
// UTF-8 character.
std::string_view Utf8Prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string KeyOf(const std::string& kind, const std::string& ns, const std::string& name) {
  std::string key;
  key.reserve(kind.size() + ns.size() + name.size() + 2);
  key.append(kind).push_back(kSep);
  key.append(ns).push_back(kSep);
  key.append(name);
  return key;
}

struct KeyParts {
  std::string_view kind, ns, name;
};

KeyParts SplitKey(std::string_view key) {
  size_t a = key.find(kSep);
  size_t b = key.find(kSep, a + 1);
  return {key.substr(0, a), key.substr(a + 1, b - a - 1), key.substr(b + 1)};
}

// rapidjson output stream appending to a std::string.
struct StringOut {
  using Ch = char;
  std::string* s;
  void Put(char c) { s->push_back(c); }
  void Flush() {}
};
using JsonWriter = rapidjson::Writer<StringOut>;

void WriteStr(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void WriteRaw(JsonWriter& w, const std::string& json) {
  w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

// Upper bound of one change record's size in a payload.
// `object` is an ObjectCodec form; its header holds the text's length.
size_t ChangeRecordSize(std::string_view key, const JsonText& object) {
  return key.size() + 64 + (object ? ObjectCodec::DecodedSize(*object) : 0);
}

std::string NewSnapshotId(Clock& clock) {
  static std::atomic<uint64_t> counter{0};
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                clock.WallNow().time_since_epoch())
                .count();
  return fmt::format("{:x}-{}", ns, counter.fetch_add(1));
}

}  // namespace

Streamer::Streamer(StreamerOptions options, std::vector<StreamKind> expected_kinds, Clock& clock)
    : options_(std::move(options)), clock_(clock), created_(clock.Now()) {
  for (auto& k : expected_kinds) kinds_[k.kind].api_version = k.api_version;
}

Streamer::~Streamer() { Stop(); }

void Streamer::Start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  pump_ = std::thread([this] { Loop(); });
}

void Streamer::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (pump_.joinable()) pump_.join();
}

// ---- ChangeSink -------------------------------------------------------------

void Streamer::MarkPendingLocked(const std::string& key) {
  if (pending_.count(key)) return;
  auto obj = objects_.find(key);
  pending_.emplace(key, Pending{obj == objects_.end() ? nullptr : obj->second});
  if (pending_order_.empty()) oldest_pending_ = clock_.Now();
  pending_order_.push_back(key);
}

void Streamer::Upsert(const std::string& kind, const std::string& ns, const std::string& name,
                      JsonText object) {
  if (!object) return;
  std::string key = KeyOf(kind, ns, name);
  // Held deflated (ObjectCodec): a fraction of the text's size. Encoding is
  // deterministic, so comparing encoded forms tells "unchanged" apart.
  auto encoded = std::make_shared<const std::string>(codec_.Encode(kind, *object));
  object.reset();
  {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it != objects_.end() && *it->second == *encoded) return;  // nothing the backend sees changed
    MarkPendingLocked(key);
    if (it != objects_.end()) {
      Account(it->second, -1);
      it->second = std::move(encoded);
      Account(it->second, +1);
    } else {
      Account(encoded, +1);
      objects_.emplace(std::move(key), std::move(encoded));
    }
  }
  cv_.notify_all();
}

void Streamer::Remove(const std::string& kind, const std::string& ns, const std::string& name) {
  std::string key = KeyOf(kind, ns, name);
  {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return;
    MarkPendingLocked(key);
    Account(it->second, -1);
    objects_.erase(it);
  }
  cv_.notify_all();
}

void Streamer::Synced(const std::string& kind) {
  {
    std::lock_guard lock(mu_);
    auto& k = kinds_[kind];
    k.synced = true;
    k.unavailable_reason.clear();
  }
  cv_.notify_all();
}

void Streamer::Unavailable(const std::string& kind, const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    auto& k = kinds_[kind];
    k.synced = false;
    k.unavailable_reason = reason.empty() ? "unavailable" : reason;
  }
  cv_.notify_all();
}

void Streamer::Event(const std::string& uid, JsonText event) {
  if (!event) return;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = pending_events_.try_emplace(uid, event);
    if (!inserted) {
      it->second = std::move(event);  // a newer state of the same series
    } else {
      pending_event_order_.push_back(uid);
      while (pending_events_.size() > options_.max_pending_events) {
        pending_events_.erase(pending_event_order_.front());
        pending_event_order_.pop_front();
        if (++stats_.events_dropped == 1 || stats_.events_dropped % 1000 == 0) {
          log::Warn("event backlog full; dropping the oldest events",
                    {{"dropped_total", static_cast<int64_t>(stats_.events_dropped)},
                     {"max_pending_events", static_cast<int64_t>(options_.max_pending_events)}});
        }
      }
    }
  }
  cv_.notify_all();
}

void Streamer::Metrics(JsonText metrics) {
  if (!metrics) return;
  {
    std::lock_guard lock(mu_);
    pending_metrics_ = std::move(metrics);
  }
  cv_.notify_all();
}

void Streamer::ScanReport(JsonText report) {
  if (!report) return;
  {
    std::lock_guard lock(mu_);
    pending_scan_ = std::move(report);
  }
  cv_.notify_all();
}

bool Streamer::CacheReady() const {
  std::lock_guard lock(mu_);
  return ReadyForSnapshotLocked();
}

size_t Streamer::MessageLimit() const {
  std::lock_guard lock(mu_);
  return MessageLimitLocked();
}

void Streamer::ForEachObject(
    const std::function<void(const std::string&, const std::string&, const std::string&,
                             const std::string&)>& visit) {
  std::vector<std::pair<std::string, JsonText>> held;
  {
    std::lock_guard lock(mu_);
    held.reserve(objects_.size());
    for (const auto& [key, form] : objects_) held.emplace_back(key, form);
  }
  for (const auto& [key, form] : held) {
    auto parts = SplitKey(key);
    std::string kind(parts.kind);
    auto text = codec_.Decode(kind, *form);
    if (!text) {
      log::Error("cannot decode a held object; left out of the scan", {{"kind", kind}});
      continue;
    }
    visit(kind, std::string(parts.ns), std::string(parts.name), *text);
  }
}

// ---- Session ----------------------------------------------------------------

void Streamer::SessionStarted(const protocol::Welcome& welcome, StreamSender send) {
  {
    std::lock_guard lock(mu_);
    send_ = std::move(send);
    ++stream_gen_;
    session_limit_ = welcome.limits.max_message_bytes > 0
                         ? static_cast<size_t>(welcome.limits.max_message_bytes)
                         : options_.max_message_bytes;
    retry_later_ = false;
    const int64_t last = welcome.last_ack;
    const int64_t first_unacked = window_.empty() ? next_seq_ : window_.front()->seq;
    // Resume only when the backend holds everything before our window and
    // nothing we never sent.
    bool can_resume = !snapshot_requested_ && last >= first_unacked - 1 && last <= next_seq_ - 1;
    if (can_resume) {
      while (!window_.empty() && window_.front()->seq <= last) {
        window_bytes_ -= window_.front()->payload.size();
        window_.pop_front();
      }
      acked_seq_ = std::max(acked_seq_, last);
      next_to_send_ = last + 1;
      ++stats_.resumes;
      log::Info("stream resumes", {{"lastAck", last}, {"resend", static_cast<int64_t>(window_.size())}});
    } else {
      if (!snapshot_requested_) {
        log::Info("stream cannot resume; sending a snapshot",
                  {{"lastAck", last}, {"windowFirst", first_unacked}, {"nextSeq", next_seq_}});
      }
      RequestSnapshotLocked(last + 1);
    }
  }
  cv_.notify_all();
}

void Streamer::SessionEnded() {
  std::lock_guard lock(mu_);
  send_ = nullptr;
  ++stream_gen_;
}

void Streamer::OnAck(int64_t seq) {
  bool trim = false;
  {
    std::lock_guard lock(mu_);
    if (seq <= acked_seq_) return;
    acked_seq_ = seq;
    while (!window_.empty() && window_.front()->seq <= seq) {
      window_bytes_ -= window_.front()->payload.size();
      window_.pop_front();
    }
    if (trim_after_seq_ > 0 && seq >= trim_after_seq_) {
      trim_after_seq_ = 0;
      trim = true;
    }
  }
  cv_.notify_all();
#ifdef __GLIBC__
  // A snapshot is done: the initial sync freed far more than the state it
  // kept (list pages, watch events, the snapshot's own parts). Hand the free
  // pages back instead of carrying them as RSS for the whole leadership.
  if (trim) malloc_trim(0);
#else
  (void)trim;
#endif
}

void Streamer::OnError(const protocol::Error& error) {
  if (error.code != "sequence_gap" && error.code != "invalid_payload") return;
  {
    std::lock_guard lock(mu_);
    int64_t ref = 0;
    try {
      ref = std::stoll(error.ref);
    } catch (...) {
      ref = next_seq_;  // no usable ref: assume it concerns the current stream
    }
    // Errors about messages of an earlier epoch arrive after we already
    // restarted: the snapshot in flight heals them too.
    if (ref < epoch_seq_) return;
    log::Warn("backend rejected the stream; sending a snapshot",
              {{"code", error.code}, {"message", error.message}, {"seq", ref}});
    RequestSnapshotLocked(next_seq_);
  }
  cv_.notify_all();
}

void Streamer::RequestSnapshotLocked(int64_t first_seq) {
  ++stream_gen_;
  window_.clear();
  window_bytes_ = 0;
  next_seq_ = first_seq;
  next_to_send_ = first_seq;
  acked_seq_ = first_seq - 1;
  epoch_seq_ = first_seq;
  snapshot_requested_ = true;
  snapshot_active_ = false;
  snapshot_items_.clear();
  snapshot_items_.shrink_to_fit();
}

// ---- Sealing ------------------------------------------------------------------

size_t Streamer::MessageLimitLocked() const {
  size_t limit = options_.max_message_bytes;
  if (session_limit_ > 0) limit = std::min(limit, session_limit_);
  return limit > kEnvelopeSlack * 2 ? limit - kEnvelopeSlack : limit / 2;
}

bool Streamer::WindowHasRoomLocked() const {
  return window_.size() < options_.max_unacked_messages &&
         window_bytes_ < options_.max_unacked_bytes;
}

bool Streamer::ReadyForSnapshotLocked() const {
  if (stats_.initial_sync_done) return true;
  if (clock_.Now() - created_ >= options_.initial_sync_timeout) return true;
  for (const auto& [kind, k] : kinds_) {
    if (!k.synced && k.unavailable_reason.empty()) return false;
  }
  return true;
}

void Streamer::PushLocked(std::shared_ptr<const protocol::StreamMessage> m) {
  ++stats_.messages_sealed;
  stats_.bytes_sealed += m->payload.size();
  window_bytes_ += m->payload.size();
  window_.push_back(std::move(m));
}

void Streamer::BeginSnapshotLocked() {
  if (!stats_.initial_sync_done) {
    stats_.initial_sync_done = true;
    for (const auto& [kind, k] : kinds_) {
      if (!k.synced && k.unavailable_reason.empty()) {
        log::Warn("initial sync timed out; snapshot without the kind", {{"kind", kind}});
      }
    }
  }
  // The snapshot carries the state as of now; every later change becomes a
  // delta relative to it.
  pending_.clear();
  pending_order_.clear();
  snapshot_items_.clear();
  snapshot_items_.reserve(objects_.size());
  for (const auto& [key, obj] : objects_) snapshot_items_.emplace_back(key, obj);
  std::sort(snapshot_items_.begin(), snapshot_items_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  snapshot_cursor_ = 0;
  snapshot_part_ = 0;
  snapshot_bytes_ = 0;
  snapshot_id_ = NewSnapshotId(clock_);
  snapshot_requested_ = false;
  snapshot_active_ = true;
  // The snapshot replaces the backend's whole state: what was left out
  // before is decided afresh, object by object.
  left_out_.clear();
}

std::string Streamer::KindsJsonLocked(bool with_reasons) const {
  std::string text;
  StringOut out{&text};
  JsonWriter w(out);
  w.StartArray();
  for (const auto& [kind, k] : kinds_) {
    w.StartObject();
    if (!k.api_version.empty()) {
      w.Key("apiVersion");
      WriteStr(w, k.api_version);
    }
    w.Key("kind");
    WriteStr(w, kind);
    w.Key("available");
    w.Bool(k.synced);
    if (!k.synced && with_reasons) {
      w.Key("reason");
      WriteStr(w, Utf8Prefix(k.unavailable_reason.empty() ? "not synced yet" : k.unavailable_reason,
                             kMaxKindReason));
    }
    w.EndObject();
  }
  w.EndArray();
  return text;
}

void Streamer::SealSnapshotPartLocked() {
  const size_t limit = MessageLimitLocked();
  std::string payload;
  payload.reserve(std::min<size_t>(limit, 64 * 1024));
  StringOut out{&payload};
  JsonWriter w(out);
  w.StartObject();
  w.Key("snapshot");
  WriteStr(w, snapshot_id_);
  w.Key("part");
  w.Int(snapshot_part_);
  if (snapshot_part_ == 0) {
    // `reason` is optional: a list too long for the message goes without
    // (cannot happen with the agent's kinds at the protocol's smallest
    // limit, but a part that does not fit would end the session).
    std::string kinds = KindsJsonLocked(true);
    if (payload.size() + kinds.size() > limit) {
      kinds = KindsJsonLocked(false);
      log::Warn("snapshot kinds list too long for a message; sent without reasons",
                {{"limit", static_cast<int64_t>(limit)}});
    }
    if (payload.size() + kinds.size() > limit) {
      log::Error("snapshot kinds list larger than a message",
                 {{"bytes", static_cast<int64_t>(kinds.size())},
                  {"limit", static_cast<int64_t>(limit)}});
    }
    w.Key("kinds");
    w.RawValue(kinds.data(), kinds.size(), rapidjson::kArrayType);
  }
  w.Key("objects");
  w.StartArray();
  size_t count = 0;
  while (snapshot_cursor_ < snapshot_items_.size()) {
    const auto& [key, obj] = snapshot_items_[snapshot_cursor_];
    size_t need = ChangeRecordSize(key, obj);
    if (need > limit) {
      LeaveOutLocked(key, /*held=*/false, need, limit);
      ++snapshot_cursor_;
      continue;
    }
    // The first part also carries `kinds`: when the first object does not
    // fit beside them, the part goes with the kinds alone and the object
    // opens the next part (a later part always holds one object: need ≤
    // limit, and the part's own framing is inside kEnvelopeSlack).
    if ((count > 0 || snapshot_part_ == 0) && payload.size() + need > limit) break;
    auto parts = SplitKey(key);
    auto text = DecodeLocked(parts.kind, obj);
    if (!text) {
      ++snapshot_cursor_;
      continue;
    }
    w.StartObject();
    w.Key("kind");
    WriteStr(w, parts.kind);
    w.Key("namespace");
    WriteStr(w, parts.ns);
    w.Key("name");
    WriteStr(w, parts.name);
    w.Key("object");
    WriteRaw(w, *text);
    w.EndObject();
    ++count;
    ++snapshot_cursor_;
  }
  w.EndArray();
  w.EndObject();

  auto m = std::make_shared<protocol::StreamMessage>();
  m->kind = protocol::StreamMessage::Kind::kSnapshot;
  m->seq = next_seq_++;
  m->final = snapshot_cursor_ >= snapshot_items_.size();
  m->payload = std::move(payload);
  snapshot_bytes_ += m->payload.size();
  ++snapshot_part_;
  if (m->final) {
    ++stats_.snapshots;
    stats_.last_snapshot_bytes = snapshot_bytes_;
    stats_.last_snapshot_parts = static_cast<uint64_t>(snapshot_part_);
    stats_.last_snapshot_objects = snapshot_items_.size();
    log::Info("snapshot sealed", {{"objects", static_cast<int64_t>(snapshot_items_.size())},
                                  {"parts", snapshot_part_},
                                  {"bytes", static_cast<int64_t>(snapshot_bytes_)},
                                  {"firstSeq", epoch_seq_}});
    snapshot_active_ = false;
    snapshot_items_.clear();
    snapshot_items_.shrink_to_fit();
    trim_after_seq_ = m->seq;
  }
  PushLocked(std::move(m));
}

void Streamer::SealDeltaLocked(std::unique_lock<std::mutex>& lock) {
  const size_t limit = MessageLimitLocked();
  std::string payload;
  StringOut out{&payload};
  JsonWriter w(out);
  w.StartObject();
  size_t changes = 0;
  if (!pending_order_.empty()) {
    w.Key("changes");
    w.StartArray();
    while (!pending_order_.empty()) {
      const std::string& key = pending_order_.front();
      auto pit = pending_.find(key);
      auto oit = objects_.find(key);
      const bool exists = oit != objects_.end();
      const JsonText before = pit != pending_.end() ? pit->second.before : nullptr;
      // An object left out earlier (too large): the backend holds an older
      // form than `before`, or none, so this change goes whole — a merge
      // patch against `before` would be applied to the wrong form.
      auto lit = left_out_.find(key);
      const bool whole = lit != left_out_.end();
      const bool existed = whole ? lit->second : before != nullptr;
      if (!exists && !existed) {  // created and deleted, or never held by the backend
        if (whole) left_out_.erase(lit);
        pending_.erase(pit);
        pending_order_.pop_front();
        continue;
      }
      size_t need = ChangeRecordSize(key, exists ? oit->second : nullptr);
      if (need > limit) {
        // The backend keeps the form it had (if any) until the object fits
        // again; the change that then fits goes whole.
        LeaveOutLocked(key, existed, need, limit);
        pending_.erase(pit);
        pending_order_.pop_front();
        continue;
      }
      if (changes > 0 && payload.size() + need > limit) break;
      if (whole) left_out_.erase(lit);
      // Take the change, then inflate and diff it without the lock: that is
      // most of a change's cost, and collectors must not wait behind it.
      // Taking it is safe: a newer Upsert/Remove of the same key marks a new
      // pending change whose `before` is the form this message carries.
      std::string taken = std::move(pending_order_.front());
      const JsonText current = exists ? oit->second : nullptr;
      if (pit != pending_.end()) pending_.erase(pit);
      pending_order_.pop_front();
      sealing_ = true;
      lock.unlock();
      auto parts = SplitKey(taken);
      const std::string kind(parts.kind);
      std::optional<std::string> text, patch;
      int codec_errors = 0;
      if (current) {
        text = codec_.Decode(kind, *current);
        if (!text) {
          ++codec_errors;
        } else if (existed && options_.merge_patches && !whole) {
          auto base = codec_.Decode(kind, *before);
          if (base) {
            patch = CreateMergePatch(*base, *text);
          } else {
            ++codec_errors;
          }
        }
      }
      lock.lock();
      sealing_ = false;
      // A snapshot requested meanwhile (new session, backend error) carries
      // every object as it is now: this delta is superseded, not lost.
      if (snapshot_requested_) return;
      if (codec_errors > 0) {
        // Cannot happen for forms this codec wrote; never send a guess.
        stats_.codec_errors += codec_errors;
        log::Error("cannot decode a held object; left out of the message", {{"kind", kind}});
        if (current && !text) continue;
      }
      w.StartObject();
      w.Key("op");
      w.String(!current ? "deleted" : existed ? "modified" : "added");
      w.Key("kind");
      WriteStr(w, parts.kind);
      w.Key("namespace");
      WriteStr(w, parts.ns);
      w.Key("name");
      WriteStr(w, parts.name);
      if (current) {
        if (patch && patch->size() < text->size()) {
          w.Key("patch");
          WriteRaw(w, *patch);
          ++stats_.patches_sealed;
        } else {
          w.Key("object");
          WriteRaw(w, *text);
        }
      }
      w.EndObject();
      ++changes;
    }
    w.EndArray();
    if (!pending_order_.empty()) oldest_pending_ = clock_.Now();
  }
  size_t events = 0;
  if (!pending_event_order_.empty() && payload.size() < limit) {
    w.Key("events");
    w.StartArray();
    while (!pending_event_order_.empty()) {
      auto it = pending_events_.find(pending_event_order_.front());
      if (it == pending_events_.end()) {
        pending_event_order_.pop_front();
        continue;
      }
      size_t need = it->second->size() + 8;
      if (need > limit) {
        ++stats_.oversized_dropped;
        pending_events_.erase(it);
        pending_event_order_.pop_front();
        continue;
      }
      if (events + changes > 0 && payload.size() + need > limit) break;
      WriteRaw(w, *it->second);
      ++events;
      pending_events_.erase(it);
      pending_event_order_.pop_front();
    }
    w.EndArray();
  }
  bool metrics = false;
  if (pending_metrics_ && (changes + events == 0 || payload.size() + pending_metrics_->size() < limit)) {
    if (pending_metrics_->size() + 32 > limit) {
      ++stats_.oversized_dropped;
      log::Error("metrics sample larger than a message; dropped",
                 {{"bytes", static_cast<int64_t>(pending_metrics_->size())}});
    } else {
      w.Key("metrics");
      WriteRaw(w, *pending_metrics_);
      metrics = true;
    }
    pending_metrics_.reset();
  }
  bool scan = false;
  if (pending_scan_ &&
      ((changes + events == 0 && !metrics) || payload.size() + pending_scan_->size() < limit)) {
    if (pending_scan_->size() + 32 > limit) {
      // The scan runner cuts its report below the message limit; this is a bug.
      ++stats_.oversized_dropped;
      log::Error("scan report larger than a message; dropped",
                 {{"bytes", static_cast<int64_t>(pending_scan_->size())}});
    } else {
      w.Key("scan");
      WriteRaw(w, *pending_scan_);
      scan = true;
    }
    pending_scan_.reset();
  }
  w.EndObject();
  if (changes + events == 0 && !metrics && !scan) return;  // everything coalesced away

  auto m = std::make_shared<protocol::StreamMessage>();
  m->kind = protocol::StreamMessage::Kind::kDelta;
  m->seq = next_seq_++;
  m->payload = std::move(payload);
  stats_.changes_sealed += changes;
  stats_.events_sealed += events;
  PushLocked(std::move(m));
}

void Streamer::LeaveOutLocked(const std::string& key, bool held, size_t bytes, size_t limit) {
  ++stats_.oversized_dropped;
  left_out_[key] = held;
  auto parts = SplitKey(key);
  log::Error("object larger than a message; left out of the stream",
             {{"kind", std::string(parts.kind)}, {"namespace", std::string(parts.ns)},
              {"name", std::string(parts.name)}, {"bytes", static_cast<int64_t>(bytes)},
              {"limit", static_cast<int64_t>(limit)}});
}

void Streamer::SealLocked(std::unique_lock<std::mutex>& lock,
                          std::vector<std::shared_ptr<const protocol::StreamMessage>>* out) {
  if (!send_) return;
  if (snapshot_requested_ && ReadyForSnapshotLocked()) BeginSnapshotLocked();
  while (WindowHasRoomLocked()) {
    if (snapshot_requested_) break;  // waiting for the initial sync
    if (snapshot_active_) {
      SealSnapshotPartLocked();
      continue;
    }
    bool have_work = !pending_order_.empty() || !pending_event_order_.empty() ||
                     pending_metrics_ != nullptr || pending_scan_ != nullptr;
    if (!have_work) break;
    bool eager = window_.size() < options_.eager_in_flight;
    bool old_enough = !pending_order_.empty() &&
                      clock_.Now() - oldest_pending_ >= options_.batch_interval;
    bool full = pending_order_.size() >= 512;
    bool only_events = pending_order_.empty();
    if (!(eager || old_enough || full || only_events)) break;
    size_t before = stats_.messages_sealed;
    SealDeltaLocked(lock);
    if (stats_.messages_sealed == before) break;
  }
  // Hand out everything not yet sent in this session, in order.
  for (const auto& m : window_) {
    if (m->seq >= next_to_send_) out->push_back(m);
  }
}

void Streamer::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    std::vector<std::shared_ptr<const protocol::StreamMessage>> to_send;
    SealLocked(lock, &to_send);
    StreamSender send = send_;
    const uint64_t gen = stream_gen_;
    if (!to_send.empty() && send) {
      lock.unlock();
      size_t sent = 0;
      SendResult result = SendResult::kSent;
      for (const auto& m : to_send) {
        result = send(*m);
        if (result != SendResult::kSent) break;
        ++sent;
      }
      lock.lock();
      // A new session or a restarted stream renumbered what is to be sent
      // while we were unlocked; only then is our progress stale.
      if (sent > 0 && gen == stream_gen_) next_to_send_ = to_send[sent - 1]->seq + 1;
      if (result == SendResult::kNoSession && gen == stream_gen_) send_ = nullptr;
      retry_later_ = result == SendResult::kRetryLater;
      if (sent > 0) continue;  // more may be sealable now
    }
    // Sleep until something changes; with pending changes held back for
    // batching, or a send to retry, or the initial sync timeout, wake up
    // on a timer too.
    auto wait = std::chrono::milliseconds(1000);
    if (retry_later_) wait = std::chrono::milliseconds(5);
    if (!pending_order_.empty()) wait = std::min<std::chrono::milliseconds>(wait, options_.batch_interval);
    cv_.wait_for(lock, wait);
  }
}

std::optional<std::string> Streamer::DecodeLocked(std::string_view kind, const JsonText& encoded) {
  auto text = codec_.Decode(std::string(kind), *encoded);
  if (!text) {
    // Cannot happen for forms this codec wrote; never send a guess.
    ++stats_.codec_errors;
    log::Error("cannot decode a held object; left out of the message", {{"kind", std::string(kind)}});
  }
  return text;
}

void Streamer::Account(const JsonText& encoded, int sign) {
  const int64_t held = static_cast<int64_t>(encoded->size());
  const int64_t raw = static_cast<int64_t>(ObjectCodec::DecodedSize(*encoded));
  object_bytes_ = static_cast<uint64_t>(static_cast<int64_t>(object_bytes_) + sign * held);
  object_raw_bytes_ = static_cast<uint64_t>(static_cast<int64_t>(object_raw_bytes_) + sign * raw);
}

// ---- Introspection ----------------------------------------------------------

StreamerStats Streamer::Stats() const {
  std::lock_guard lock(mu_);
  StreamerStats s = stats_;
  s.objects = objects_.size();
  s.object_bytes = object_bytes_;
  s.object_raw_bytes = object_raw_bytes_;
  s.pending_changes = pending_order_.size();
  s.pending_events = pending_event_order_.size();
  s.window_messages = window_.size();
  s.window_bytes = window_bytes_;
  s.next_seq = next_seq_;
  s.acked_seq = acked_seq_;
  s.session = send_ != nullptr;
  return s;
}

bool Streamer::WaitIdle(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    bool idle = window_.empty() && pending_order_.empty() && pending_event_order_.empty() &&
                !pending_metrics_ && !pending_scan_ && !snapshot_requested_ && !snapshot_active_ && !sealing_;
    if (idle) return true;
    if (cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                    std::chrono::milliseconds(20))) ==
            std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
  }
}

}  // namespace srexpert::stream
