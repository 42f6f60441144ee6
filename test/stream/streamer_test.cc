// Streamer: sequencing, the bounded window, resume vs snapshot, coalescing.
// A ModelBackend applies snapshot/delta payloads exactly as docs/protocol.md
// says the backend must, so every scenario ends by comparing the backend's
// view with the Streamer's state.
#include "stream/streamer.h"

#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "common/json.h"
#include "stream/projection.h"

using namespace srexpert;
using namespace srexpert::stream;
using namespace std::chrono_literals;

namespace {

JsonText J(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

// The backend's side of the stream, per docs/protocol.md "Sequence numbers,
// acks and resume" and "State stream payloads".
struct ModelBackend {
  std::mutex mu;
  int64_t last = 0;
  std::map<std::string, std::string> state;    // "kind/ns/name" → object JSON
  std::map<std::string, std::string> staging;  // snapshot in progress
  std::map<std::string, std::string> events;   // uid → event JSON
  std::string metrics;
  std::string scan;  // the latest delta `scan` member
  std::string snapshot_id;
  int64_t next_part = 0;
  int snapshots = 0, duplicates = 0, gaps = 0, messages = 0, patches = 0;
  std::vector<protocol::StreamMessage> received;
  bool ack = true;          // false: a backend that stops acknowledging
  bool accept = true;       // false: drop everything (a dead connection)
  Streamer* streamer = nullptr;

  static std::string Key(const json::Value& c) {
    return json::GetString(c, {"kind"}) + "/" + json::GetString(c, {"namespace"}) + "/" +
           json::GetString(c, {"name"});
  }

  SendResult Receive(const protocol::StreamMessage& m) {
    int64_t ack_seq = -1;
    protocol::Error error;
    {
      std::lock_guard lock(mu);
      if (!accept) return SendResult::kSent;  // lost on the wire
      ++messages;
      received.push_back(m);
      bool snap = m.kind == protocol::StreamMessage::Kind::kSnapshot;
      auto doc = json::Parse(m.payload);
      REQUIRE(doc);
      if (m.seq <= last) {
        ++duplicates;
        ack_seq = last;
      } else if (snap && json::GetInt(*doc, {"part"}, -1) == 0) {
        staging.clear();
        snapshot_id = json::GetString(*doc, {"snapshot"});
        next_part = 0;
      } else if (m.seq != last + 1) {
        ++gaps;
        error = protocol::MakeError("sequence_gap", "gap", std::to_string(m.seq));
      }
      if (ack_seq < 0 && error.code.empty()) {
        if (snap) {
          REQUIRE(json::GetString(*doc, {"snapshot"}) == snapshot_id);
          REQUIRE(json::GetInt(*doc, {"part"}, -1) == next_part);
          ++next_part;
          for (const auto& o : (*doc)["objects"].GetArray()) {
            staging[Key(o)] = json::Dump(o["object"]);
          }
          if (m.final) {
            state = std::move(staging);
            staging.clear();
            ++snapshots;
          }
        } else {
          if (auto* changes = json::Find(*doc, {"changes"})) {
            for (const auto& c : changes->GetArray()) {
              std::string op = json::GetString(c, {"op"});
              if (op == "deleted") {
                REQUIRE(state.erase(Key(c)) == 1);
              } else if (c.HasMember("patch")) {
                // A merge patch against the form the backend already has.
                REQUIRE(op == "modified");
                auto it = state.find(Key(c));
                REQUIRE(it != state.end());
                auto current = json::Parse(it->second);
                REQUIRE(current);
                json::MergePatch(*current, c["patch"], current->GetAllocator());
                it->second = json::Dump(*current);
                ++patches;
              } else {
                REQUIRE(state.count(Key(c)) == (op == "modified" ? 1u : 0u));
                state[Key(c)] = json::Dump(c["object"]);
              }
            }
          }
          if (doc->HasMember("events")) {
            for (const auto& e : (*doc)["events"].GetArray()) {
              events[json::GetString(e, {"uid"})] = json::Dump(e);
            }
          }
          if (doc->HasMember("metrics")) metrics = json::Dump((*doc)["metrics"]);
          if (doc->HasMember("scan")) scan = json::Dump((*doc)["scan"]);
        }
        last = m.seq;
        ack_seq = m.seq;
      }
      if (!ack) ack_seq = -1;
    }
    if (!error.code.empty()) streamer->OnError(error);
    if (ack_seq >= 0) streamer->OnAck(ack_seq);
    return SendResult::kSent;
  }

  StreamSender Sender() {
    return [this](const protocol::StreamMessage& m) { return Receive(m); };
  }
  protocol::Welcome Welcome(int64_t max_message_bytes = protocol::kDefaultMaxMessageBytes) {
    std::lock_guard lock(mu);
    protocol::Welcome w;
    w.session_id = "s";
    w.last_ack = last;
    w.limits.max_message_bytes = max_message_bytes;
    return w;
  }
  // Every received message as the tunnel would put it on the wire.
  std::vector<size_t> EncodedSizes() {
    std::lock_guard lock(mu);
    std::vector<size_t> sizes;
    for (const auto& m : received) {
      auto text = protocol::Encode(m);
      REQUIRE(text);
      sizes.push_back(text->size());
    }
    return sizes;
  }
  size_t Size() {
    std::lock_guard lock(mu);
    return state.size();
  }
  // The object, re-serialised in the agent's member order when it equals
  // `like` structurally (patched objects get members in another order).
  std::string Get(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = state.find(key);
    return it == state.end() ? "" : it->second;
  }
  bool Has(const std::string& key, const std::string& want) {
    auto have = json::Parse(Get(key));
    auto w = json::Parse(want);
    return have && w && json::Equal(*have, *w);
  }
};

std::vector<StreamKind> Kinds() { return {{"Pod", "v1"}, {"Node", "v1"}}; }

// Both kinds synced, the stream started and its first (empty) snapshot
// acknowledged: the state in which deltas flow.
void StartPastFirstSnapshot(Streamer& s, ModelBackend& hub) {
  hub.streamer = &s;
  s.Synced("Pod");
  s.Synced("Node");
  s.Start();
  s.SessionStarted(hub.Welcome(), hub.Sender());
  REQUIRE(s.WaitIdle(5s));
}

std::string PodJson(int i, int version = 0) {
  return "{\"metadata\":{\"name\":\"p" + std::to_string(i) + "\"},\"v\":" +
         std::to_string(version) + "}";
}

// A pod whose projection is `bytes` long.
std::string PodOfSize(const std::string& name, size_t bytes) {
  std::string head = "{\"metadata\":{\"name\":\"" + name + "\"},\"pad\":\"";
  std::string tail = "\"}";
  REQUIRE(bytes > head.size() + tail.size());
  return head + std::string(bytes - head.size() - tail.size(), 'x') + tail;
}

// Every kind the agent collects, as the agent passes them to its Streamer.
std::vector<StreamKind> AllKinds() {
  std::vector<StreamKind> kinds;
  for (const auto& k : CollectedKinds()) kinds.push_back({k.kind, k.api_version});
  return kinds;
}

}  // namespace

TEST_CASE("the first snapshot waits until every expected kind is synced or unavailable") {
  Streamer s({}, Kinds());
  ModelBackend hub;
  hub.streamer = &s;
  s.Start();
  s.SessionStarted(hub.Welcome(), hub.Sender());
  s.Upsert("Pod", "a", "p1", J(PodJson(1)));
  s.Synced("Pod");
  REQUIRE_FALSE(s.WaitIdle(100ms));
  CHECK(hub.messages == 0);
  s.Unavailable("Node", "forbidden: nodes is forbidden");
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.snapshots == 1);
  CHECK(hub.Has("Pod/a/p1", PodJson(1)));
  auto doc = json::Parse(hub.received.front().payload);
  REQUIRE(doc);
  const auto& kinds = (*doc)["kinds"];
  REQUIRE(kinds.Size() == 2);
  CHECK(json::GetString(kinds[0], {"kind"}) == "Node");
  CHECK_FALSE(json::GetBool(kinds[0], {"available"}, true));
  CHECK(json::GetString(kinds[0], {"reason"}) == "forbidden: nodes is forbidden");
  CHECK(json::GetBool(kinds[1], {"available"}));
}

TEST_CASE("after the snapshot every change reaches the backend as an ordered delta") {
  Streamer s({}, Kinds());
  ModelBackend hub;
  StartPastFirstSnapshot(s, hub);
  for (int i = 0; i < 100; ++i) s.Upsert("Pod", "a", "p" + std::to_string(i), J(PodJson(i)));
  REQUIRE(s.WaitIdle(5s));
  for (int i = 0; i < 100; i += 2) s.Upsert("Pod", "a", "p" + std::to_string(i), J(PodJson(i, 1)));
  for (int i = 0; i < 100; i += 3) s.Remove("Pod", "a", "p" + std::to_string(i));
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.gaps == 0);
  CHECK(hub.Size() == 100 - 34);
  CHECK(hub.Has("Pod/a/p2", PodJson(2, 1)));
  CHECK(hub.patches > 0);  // modified objects travel as merge patches
  CHECK(hub.Has("Pod/a/p1", PodJson(1, 0)));
  CHECK(hub.Get("Pod/a/p3").empty());
  // Sequence numbers are consecutive from 1.
  for (size_t i = 0; i < hub.received.size(); ++i) CHECK(hub.received[i].seq == int64_t(i) + 1);
}

TEST_CASE("an unchanged projection and an object created and deleted between batches send nothing") {
  Streamer s({}, Kinds());
  ModelBackend hub;
  hub.streamer = &s;
  s.Synced("Pod");
  s.Synced("Node");
  s.Upsert("Pod", "a", "p1", J(PodJson(1)));
  s.Start();
  s.SessionStarted(hub.Welcome(), hub.Sender());
  REQUIRE(s.WaitIdle(5s));
  int before = hub.messages;
  s.Upsert("Pod", "a", "p1", J(PodJson(1)));
  s.SessionEnded();
  s.Upsert("Pod", "a", "tmp", J(PodJson(9)));
  s.Remove("Pod", "a", "tmp");
  s.SessionStarted(hub.Welcome(), hub.Sender());
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.messages == before);
}

TEST_CASE("a snapshot larger than one message is cut into consecutive parts") {
  StreamerOptions o;
  o.max_message_bytes = 4096;
  Streamer s(o, Kinds());
  ModelBackend hub;
  hub.streamer = &s;
  for (int i = 0; i < 500; ++i) s.Upsert("Pod", "ns", "p" + std::to_string(i), J(PodJson(i)));
  s.Synced("Pod");
  s.Synced("Node");
  s.Start();
  s.SessionStarted(hub.Welcome(), hub.Sender());
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.snapshots == 1);
  CHECK(hub.Size() == 500);
  CHECK(hub.received.size() > 5);
  for (size_t i = 0; i < hub.received.size(); ++i) {
    CHECK(hub.received[i].payload.size() <= o.max_message_bytes);
    CHECK(hub.received[i].final == (i + 1 == hub.received.size()));
  }
  CHECK(s.Stats().last_snapshot_parts == hub.received.size());
}

TEST_CASE("after a reconnect the stream resumes from the backend's last ack without a snapshot") {
  Streamer s({}, Kinds());
  ModelBackend hub;
  StartPastFirstSnapshot(s, hub);
  // The connection dies silently: what is sent now is lost, nothing is acked.
  {
    std::lock_guard lock(hub.mu);
    hub.accept = false;
  }
  for (int i = 0; i < 50; ++i) s.Upsert("Pod", "a", "p" + std::to_string(i), J(PodJson(i)));
  REQUIRE_FALSE(s.WaitIdle(200ms));
  CHECK(s.Stats().window_messages > 0);
  s.SessionEnded();
  for (int i = 50; i < 60; ++i) s.Upsert("Pod", "a", "p" + std::to_string(i), J(PodJson(i)));
  {
    std::lock_guard lock(hub.mu);
    hub.accept = true;
  }
  s.SessionStarted(hub.Welcome(), hub.Sender());
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.snapshots == 1);
  CHECK(s.Stats().resumes == 1);
  CHECK(hub.Size() == 60);
  CHECK(hub.gaps == 0);
}

TEST_CASE("a backend that lost its state gets a fresh snapshot") {
  Streamer s({}, Kinds());
  auto hub = std::make_unique<ModelBackend>();
  hub->streamer = &s;
  s.Synced("Pod");
  s.Synced("Node");
  for (int i = 0; i < 10; ++i) s.Upsert("Pod", "a", "p" + std::to_string(i), J(PodJson(i)));
  s.Start();
  s.SessionStarted(hub->Welcome(), hub->Sender());
  REQUIRE(s.WaitIdle(5s));
  s.Upsert("Pod", "a", "p1", J(PodJson(1, 5)));
  REQUIRE(s.WaitIdle(5s));
  s.SessionEnded();
  ModelBackend fresh;  // lastAck 0, outside the (empty) window that ends at seq 2
  fresh.streamer = &s;
  s.SessionStarted(fresh.Welcome(), fresh.Sender());
  REQUIRE(s.WaitIdle(5s));
  CHECK(fresh.snapshots == 1);
  CHECK(fresh.Size() == 10);
  CHECK(fresh.Has("Pod/a/p1", PodJson(1, 5)));
  CHECK(fresh.received.front().seq == 1);
}

TEST_CASE("a backend ahead of the agent's stream gets a snapshot numbered after its last ack") {
  Streamer s({}, Kinds());
  ModelBackend hub;
  hub.streamer = &s;
  hub.last = 1000;  // another leader streamed before
  s.Synced("Pod");
  s.Synced("Node");
  s.Upsert("Pod", "a", "p1", J(PodJson(1)));
  s.Start();
  s.SessionStarted(hub.Welcome(), hub.Sender());
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.received.front().seq == 1001);
  CHECK(hub.Has("Pod/a/p1", PodJson(1)));
}

TEST_CASE("the window of unacknowledged messages is bounded and changes coalesce while it is full") {
  StreamerOptions o;
  o.max_unacked_messages = 4;
  o.max_message_bytes = 2048;
  o.batch_interval = 1ms;
  Streamer s(o, Kinds());
  ModelBackend hub;
  StartPastFirstSnapshot(s, hub);
  {
    std::lock_guard lock(hub.mu);
    hub.ack = false;
  }
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 100; ++i) {
      s.Upsert("Pod", "a", "p" + std::to_string(i), J(PodJson(i, round)));
    }
  }
  REQUIRE_FALSE(s.WaitIdle(200ms));
  auto st = s.Stats();
  CHECK(st.window_messages == 4);
  CHECK(st.pending_changes <= 100);  // one entry per object, never per change
  {
    std::lock_guard lock(hub.mu);
    hub.ack = true;
  }
  s.OnAck(hub.last);
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.Size() == 100);
  CHECK(hub.Has("Pod/a/p7", PodJson(7, 19)));
}

TEST_CASE("a sequence gap reported by the backend restarts the stream with a snapshot once") {
  Streamer s({}, Kinds());
  ModelBackend hub;
  StartPastFirstSnapshot(s, hub);
  s.Upsert("Pod", "a", "p1", J(PodJson(1)));
  REQUIRE(s.WaitIdle(5s));
  s.OnError(protocol::MakeError("sequence_gap", "expected 7", std::to_string(hub.last)));
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.snapshots == 2);
  // An error about a message from before the new snapshot is stale.
  s.OnError(protocol::MakeError("sequence_gap", "late", "1"));
  s.OnError(protocol::MakeError("busy", "not a stream error", ""));
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.snapshots == 2);
  CHECK(hub.Has("Pod/a/p1", PodJson(1)));
}

TEST_CASE("events are coalesced per uid and the pending backlog is bounded and counted") {
  StreamerOptions o;
  o.max_pending_events = 3;
  Streamer s(o, Kinds());
  ModelBackend hub;
  hub.streamer = &s;
  s.Synced("Pod");
  s.Synced("Node");
  // No session yet: events wait.
  for (int i = 0; i < 5; ++i) {
    s.Event("e" + std::to_string(i), J("{\"uid\":\"e" + std::to_string(i) + "\",\"count\":1}"));
  }
  s.Event("e4", J("{\"uid\":\"e4\",\"count\":2}"));
  CHECK(s.Stats().events_dropped == 2);
  s.Metrics(J("{\"available\":false,\"reason\":\"old\"}"));
  s.Metrics(J("{\"available\":true,\"nodes\":[],\"pods\":[]}"));
  s.Start();
  s.SessionStarted(hub.Welcome(), hub.Sender());
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.events.size() == 3);
  CHECK(hub.events.count("e0") == 0);
  CHECK(hub.events["e4"] == "{\"uid\":\"e4\",\"count\":2}");
  CHECK(hub.metrics == "{\"available\":true,\"nodes\":[],\"pods\":[]}");
}

TEST_CASE("changes made while the pump seals and snapshots restarting the stream all reach the backend") {
  // The pump seals each change without holding the lock; collectors keep
  // changing the same objects meanwhile, and backend errors restart the
  // stream with snapshots at random moments. The backend must end with
  // exactly the last state of every object.
  Streamer s({}, Kinds());
  ModelBackend hub;
  StartPastFirstSnapshot(s, hub);
  auto object = [](int i, int v) {
    return "{\"metadata\":{\"name\":\"p" + std::to_string(i) + "\",\"labels\":{\"l\":\"" +
           std::to_string(v % 3) + "\"}},\"spec\":{\"v\":" + std::to_string(v) +
           "},\"status\":{\"phase\":\"" + (v % 2 ? "Running" : "Pending") + "\"}}";
  };
  constexpr int kPerWriter = 20;
  std::map<std::string, std::string> want[2];
  auto writer = [&](int w) {
    std::mt19937 rng(w + 1);
    for (int op = 0; op < 3000; ++op) {
      int i = w * kPerWriter + static_cast<int>(rng() % kPerWriter);
      std::string key = "Pod/a/p" + std::to_string(i);
      if (rng() % 5 == 0) {
        s.Remove("Pod", "a", "p" + std::to_string(i));
        want[w].erase(key);
      } else {
        auto text = object(i, op);
        s.Upsert("Pod", "a", "p" + std::to_string(i), J(text));
        want[w][key] = text;
      }
      if (op % 500 == 0) std::this_thread::sleep_for(1ms);
    }
  };
  std::thread restarts([&] {
    for (int k = 0; k < 10; ++k) {
      std::this_thread::sleep_for(2ms);
      s.OnError(protocol::MakeError("sequence_gap", "chaos", "999999999"));
    }
  });
  std::thread w0(writer, 0), w1(writer, 1);
  w0.join();
  w1.join();
  restarts.join();
  REQUIRE(s.WaitIdle(10s));
  CHECK(hub.gaps == 0);
  CHECK(hub.Size() == want[0].size() + want[1].size());
  for (const auto& per_writer : want) {
    for (const auto& [key, text] : per_writer) CHECK(hub.Has(key, text));
  }
  CHECK(s.Stats().codec_errors == 0);
}

TEST_CASE("stopping the streamer with a backend away returns promptly") {
  Streamer s({}, Kinds());
  s.Start();
  s.Upsert("Pod", "a", "p1", J(PodJson(1)));
  s.Stop();
  CHECK(s.Stats().objects == 1);
}

TEST_CASE("at the smallest legal message limit every message fits, even the first part with every kind") {
  // docs/protocol.md, "Limits": 64 KiB is the floor of maxMessageBytes. The
  // first part carries `kinds` (here every kind unavailable, with reasons far
  // longer than the 256 bytes the agent keeps); objects that fit alone but
  // not beside the kinds must open the next part instead of overflowing it.
  const int64_t limit = protocol::kMinMaxMessageBytes;
  Streamer s({}, AllKinds());
  ModelBackend hub;
  hub.streamer = &s;
  for (const auto& k : AllKinds()) s.Unavailable(k.kind, "forbidden: " + std::string(2000, 'r'));
  const size_t big = static_cast<size_t>(limit) - 1024;  // fits a message alone
  for (int i = 0; i < 3; ++i) s.Upsert("Pod", "a", "big" + std::to_string(i), J(PodOfSize("big" + std::to_string(i), big)));
  s.Upsert("Pod", "a", "small", J(PodJson(1)));
  s.Start();
  s.SessionStarted(hub.Welcome(limit), hub.Sender());
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.snapshots == 1);
  CHECK(hub.Size() == 4);
  for (size_t size : hub.EncodedSizes()) CHECK(size <= static_cast<size_t>(limit));
  auto first = json::Parse(hub.received.front().payload);
  REQUIRE(first);
  const auto& kinds = (*first)["kinds"];
  REQUIRE(kinds.Size() == AllKinds().size());
  for (const auto& k : kinds.GetArray()) CHECK(json::GetString(k, {"reason"}).size() <= 256);

  // The stream goes on: a new object reaches the backend as a delta.
  s.Upsert("Pod", "a", "later", J(PodJson(2)));
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.Has("Pod/a/later", PodJson(2)));
  for (size_t size : hub.EncodedSizes()) CHECK(size <= static_cast<size_t>(limit));
  CHECK(s.Stats().oversized_dropped == 0);
}

TEST_CASE("an object larger than a message is left out and counted, the stream goes on, and it is sent whole once it fits") {
  const int64_t limit = protocol::kMinMaxMessageBytes;
  Streamer s({}, Kinds());
  ModelBackend hub;
  hub.streamer = &s;
  s.Synced("Pod");
  s.Synced("Node");
  s.Upsert("Pod", "a", "huge", J(PodOfSize("huge", 2 * static_cast<size_t>(limit))));
  s.Upsert("Pod", "a", "p1", J(PodJson(1)));
  s.Start();
  s.SessionStarted(hub.Welcome(limit), hub.Sender());
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.snapshots == 1);
  CHECK(hub.Has("Pod/a/p1", PodJson(1)));
  CHECK(hub.Get("Pod/a/huge").empty());
  CHECK(s.Stats().oversized_dropped == 1);

  // Later changes still flow.
  s.Upsert("Pod", "a", "p2", J(PodJson(2)));
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.Has("Pod/a/p2", PodJson(2)));

  // The backend never held "huge": once it fits it is added, whole (the
  // model backend refuses a "modified" or a patch for an object it lacks).
  s.Upsert("Pod", "a", "huge", J(PodJson(7)));
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.Has("Pod/a/huge", PodJson(7)));

  // An object the backend holds that grows too large keeps its old form
  // there; when it shrinks again it travels whole, not as a patch against a
  // form the backend never got.
  s.Upsert("Pod", "a", "p1", J(PodOfSize("p1", 2 * static_cast<size_t>(limit))));
  REQUIRE(s.WaitIdle(5s));
  CHECK(s.Stats().oversized_dropped == 2);
  CHECK(hub.Has("Pod/a/p1", PodJson(1)));
  const int patches_before = hub.patches;
  s.Upsert("Pod", "a", "p1", J(PodJson(1, 3)));
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.Has("Pod/a/p1", PodJson(1, 3)));
  CHECK(hub.patches == patches_before);
  CHECK(hub.gaps == 0);
  for (size_t size : hub.EncodedSizes()) CHECK(size <= static_cast<size_t>(limit));
}

TEST_CASE("the latest scan report goes upstream in a delta, the cache can be read back") {
  Streamer s({}, Kinds());
  ModelBackend hub;
  hub.streamer = &s;
  CHECK_FALSE(s.CacheReady());
  s.Upsert("Pod", "a", "p1", J(PodJson(1)));
  s.Synced("Pod");
  s.Synced("Node");
  CHECK(s.CacheReady());
  // No session yet: an older report is replaced by the newer one.
  s.ScanReport(J("{\"scannedAt\":\"t1\"}"));
  s.ScanReport(J("{\"scannedAt\":\"t2\"}"));
  s.Start();
  s.SessionStarted(hub.Welcome(), hub.Sender());
  REQUIRE(s.WaitIdle(5s));
  CHECK(hub.scan == "{\"scannedAt\":\"t2\"}");
  CHECK(s.MessageLimit() > 0);
  std::vector<std::string> seen;
  s.ForEachObject([&](const std::string& kind, const std::string& ns, const std::string& name,
                      const std::string& json) {
    seen.push_back(kind + "/" + ns + "/" + name);
    CHECK(json == PodJson(1));
  });
  CHECK(seen == std::vector<std::string>{"Pod/a/p1"});
}
