// pipeline_bench: how many object changes per second the leader's stream
// pipeline carries once the API server is out of the way, and where each
// change's CPU goes.
//
// stream_bench drives changes through the loopback API test server, which
// takes only a few hundred writes/s on a small machine, so it cannot show
// whether the agent itself reaches issue 5's ">= 50k deltas/s". This program
// replays a recorded watch stream instead: realistic ~10 KB pod watch lines
// (test/stream/realistic_objects.h, as the API server serves them, with
// managedFields and a new label value per round) go through the same code
// the leader runs, in the same threads:
//
//   collector thread : kube::DecodeWatchEvent (JSON → DOM, skipping
//                      managedFields and last-applied as collectors do)
//                      → stream::Project("Pod", …) → Streamer::Upsert
//   streamer pump    : seals deltas (merge patches), hands them to the sender
//   "wire" thread    : protocol::Encode, net::MessageCompressor (the
//                      srexpert.v1.deflate subprotocol's stream), then the hub's
//                      side: protocol::Decode → hub::DecodeDeltaPayload →
//                      hub::StateStore::ApplyDelta (SQLite) → Streamer::OnAck
//
// Left out: TLS (AES-GCM runs at GB/s, noise next to ~200 B per change) and
// the socket. Each stage is timed per call (CPU figures are per thread,
// CLOCK_THREAD_CPUTIME_ID), and the whole run reports changes fed/s and
// changes the hub applied/s.
//
//   pipeline_bench [--pods N] [--rounds R] [--state-file PATH] [--full-parse] [--projected]
//                  [--pace-us N]
//
// --pace-us N sleeps N µs after each change (N of a few hundred gives one
// change per message, as in a quiet cluster: bytes per change then include
// each message's envelope).
//
// --projected decodes and projects the recorded changes before the clock
// starts and feeds only Streamer::Upsert: the tunnel's share (Streamer,
// protocol, deflate, hub store) without the Kubernetes side.
// --full-parse decodes whole events (managedFields included), as the agent
// did before ListOptions/WatcherOptions::skip_server_bookkeeping.
//
// Not a test: run it by hand from a Release build (docs/performance.md).
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/json.h"
#include "hub/state_store.h"
#include "hub/stream_payload.h"
#include "kube/watch.h"
#include "net/message_deflate.h"
#include "protocol/messages.h"
#include "stream/projection.h"
#include "stream/streamer.h"
#include "test/stream/realistic_objects.h"

using namespace srexpert;
using SteadyClock = std::chrono::steady_clock;

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "pipeline_bench: %s\n", what.c_str());
  std::exit(1);
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

double Since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// Accumulated wall and thread CPU time of one stage, timed per call (wall
// minus CPU is time spent waiting: locks, preemption).
struct Stage {
  double seconds = 0, cpu_seconds = 0;
  uint64_t calls = 0;
  double MicrosPerCall() const { return calls ? seconds * 1e6 / calls : 0; }
  double CpuMicrosPerCall() const { return calls ? cpu_seconds * 1e6 / calls : 0; }
};

template <typename F>
auto Timed(Stage& stage, F&& f) {
  struct Account {
    Stage& stage;
    SteadyClock::time_point t0 = SteadyClock::now();
    double cpu0 = ThreadCpuSeconds();
    ~Account() {
      stage.seconds += Since(t0);
      stage.cpu_seconds += ThreadCpuSeconds() - cpu0;
      ++stage.calls;
    }
  } account{stage};
  return f();
}

// The backend end: takes sealed messages off the pump without blocking it
// and applies them the way srexpert-hub does, then acknowledges.
class Wire {
 public:
  Wire(stream::Streamer* streamer, hub::StateStore* store) : streamer_(streamer), store_(store) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Wire() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  stream::StreamSender Sender() {
    return [this](const protocol::StreamMessage& m) {
      {
        std::lock_guard lock(mu_);
        queue_.push_back(m);
      }
      cv_.notify_all();
      return stream::SendResult::kSent;
    };
  }

  Stage encode, deflate, decode, payload, apply;
  std::atomic<uint64_t> wire_bytes{0};
  uint64_t messages = 0, applied_changes = 0, rejected = 0;

  // CPU of the wire thread so far (read from any thread).
  double CpuSeconds() {
    clockid_t id;
    timespec ts{};
    if (pthread_getcpuclockid(thread_.native_handle(), &id) != 0 || clock_gettime(id, &ts) != 0) {
      Die("wire thread CPU clock");
    }
    return ts.tv_sec + ts.tv_nsec / 1e9;
  }
  // Forgets the stage timings and counters (call only while idle: after
  // every message was acknowledged; mu_ orders them after the last update).
  void Reset() {
    std::lock_guard lock(mu_);
    encode = deflate = decode = payload = apply = Stage{};
    wire_bytes = 0;
    messages = applied_changes = rejected = 0;
    applied = 0;
  }
  std::atomic<uint64_t> applied{0};

 private:
  void Loop() {
    net::MessageCompressor z;
    for (;;) {
      protocol::StreamMessage m;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) break;
        m = std::move(queue_.front());
        queue_.pop_front();
      }
      auto text = Timed(encode, [&] { return protocol::Encode(protocol::Message(m)); });
      if (!text) Die("protocol::Encode failed");
      auto frame = Timed(deflate, [&] { return z.Compress(*text); });
      if (!frame) Die("MessageCompressor failed");
      wire_bytes += frame->size();
      auto decoded = Timed(decode, [&] { return protocol::Decode(*text); });
      if (!decoded.ok()) Die("protocol::Decode: " + decoded.error.message);
      const auto& got = std::get<protocol::StreamMessage>(*decoded.message);
      std::string why;
      hub::ApplyResult r;
      if (got.kind == protocol::StreamMessage::Kind::kSnapshot) {
        auto part = Timed(payload, [&] { return hub::DecodeSnapshotPayload(got.payload, &why); });
        if (!part) Die("snapshot payload: " + why);
        r = Timed(apply, [&] { return store_->ApplySnapshot("bench", got.seq, *part, got.final); });
      } else {
        auto delta = Timed(payload, [&] { return hub::DecodeDeltaPayload(got.payload, &why); });
        if (!delta) Die("delta payload: " + why);
        r = Timed(apply, [&] { return store_->ApplyDelta("bench", got.seq, *delta); });
        applied_changes += delta->changes.size();
      }
      if (!r.ok()) {
        ++rejected;
        std::fprintf(stderr, "hub rejected seq %ld: %s\n", static_cast<long>(got.seq), r.error.c_str());
      }
      ++messages;
      applied.store(applied_changes);
      streamer_->OnAck(got.seq);
    }
  }

  stream::Streamer* streamer_;
  hub::StateStore* store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<protocol::StreamMessage> queue_;
  bool stop_ = false;
  std::thread thread_;
};

// One recorded watch line per pod and round: round 0 ADDED, later rounds
// MODIFIED with a new value of one label (the commonest real change).
std::vector<std::string> RecordLines(int pods, int round, int64_t* rv) {
  testing::ClusterLayout layout;
  layout.pods = pods;
  layout.nodes = std::max(1, pods / 10);
  layout.namespaces = std::max(1, pods / 200);
  std::vector<std::string> lines;
  lines.reserve(pods);
  for (int i = 0; i < pods; ++i) {
    auto p = testing::PlacePod(layout, i);
    auto doc = testing::RealisticPod(p.ns, p.deployment, p.name, p.node, i);
    auto& a = doc.GetAllocator();
    auto& meta = doc["metadata"];
    json::SetString(meta, "resourceVersion", std::to_string(++*rv), a);
    json::SetString(meta["labels"], "bench-round", fmt::format("r{}", round), a);
    lines.push_back(fmt::format(R"({{"type":"{}","object":{}}})", round == 0 ? "ADDED" : "MODIFIED",
                                json::Dump(doc)));
  }
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  int pods = 5000, rounds = 4;
  bool skip_bookkeeping = true, projected_only = false;
  int pace_us = 0;
  std::string state_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--pods") pods = std::stoi(next());
    else if (a == "--rounds") rounds = std::stoi(next());
    else if (a == "--state-file") state_file = next();
    else if (a == "--full-parse") skip_bookkeeping = false;
    else if (a == "--projected") projected_only = true;
    else if (a == "--pace-us") pace_us = std::stoi(next());
    else Die("unknown flag " + a + " (flags: --pods N --rounds R --state-file PATH --full-parse --projected --pace-us N)");
  }
  if (pods < 1 || rounds < 1) Die("--pods and --rounds must be positive");

  std::fprintf(stderr, "recording %d pods x %d change rounds...\n", pods, rounds);
  int64_t rv = 1000;
  std::vector<std::vector<std::string>> recorded;
  for (int r = 0; r <= rounds; ++r) recorded.push_back(RecordLines(pods, r, &rv));
  size_t line_bytes = 0;
  for (const auto& l : recorded[1]) line_bytes += l.size();

  std::string why;
  hub::StateStoreOptions so;
  so.path = state_file;
  auto store = hub::StateStore::Open(so, &why);
  if (!store) Die("state store: " + why);

  stream::StreamerOptions opts;  // the agent's defaults
  stream::Streamer streamer(opts, {{"Pod", "v1"}});
  streamer.Start();
  auto wire_owner = std::make_unique<Wire>(&streamer, store.get());
  Wire& wire = *wire_owner;
  protocol::Welcome welcome;
  welcome.session_id = "bench";
  streamer.SessionStarted(welcome, wire.Sender());

  Stage parse, project, upsert;
  struct Projected {
    std::string ns, name;
    stream::JsonText object;
  };
  auto project_line = [&](const std::string& line) {
    auto event = Timed(parse, [&] { return kube::DecodeWatchEvent(line, skip_bookkeeping); });
    if (!event) Die("decode: " + event.error().ToString());
    auto projected = Timed(project, [&] { return stream::Project("Pod", *event->object); });
    if (!projected) Die("projection dropped a pod");
    const auto& meta = (*event->object)["metadata"];
    return Projected{meta["namespace"].GetString(), meta["name"].GetString(),
                     std::make_shared<const std::string>(std::move(*projected))};
  };
  auto upsert_one = [&](Projected p) {
    Timed(upsert, [&] { streamer.Upsert("Pod", p.ns, p.name, std::move(p.object)); });
    if (pace_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pace_us));
  };
  auto feed = [&](const std::vector<std::string>& lines) {
    for (const auto& line : lines) upsert_one(project_line(line));
  };

  // Initial state and its snapshot, not measured.
  feed(recorded[0]);
  streamer.Synced("Pod");
  if (!streamer.WaitIdle(std::chrono::minutes(5))) Die("the snapshot was not acknowledged");
  auto base = streamer.Stats();
  wire.Reset();
  parse = project = upsert = Stage{};
  double wire_cpu0 = wire.CpuSeconds();

  std::vector<Projected> preprojected;
  if (projected_only) {
    for (int r = 1; r <= rounds; ++r) {
      for (const auto& line : recorded[r]) preprojected.push_back(project_line(line));
      recorded[r] = {};
    }
  }
  std::fprintf(stderr, "replaying %d changes...\n", pods * rounds);
  auto t0 = SteadyClock::now();
  double cpu0 = ThreadCpuSeconds();
  double process_cpu0 = ProcessCpuSeconds();
  if (projected_only) {
    for (auto& p : preprojected) upsert_one(std::move(p));
  } else {
    for (int r = 1; r <= rounds; ++r) feed(recorded[r]);
  }
  double feed_seconds = Since(t0);
  double feed_cpu = ThreadCpuSeconds() - cpu0;
  if (!streamer.WaitIdle(std::chrono::minutes(5))) Die("the changes were not acknowledged");
  double total_seconds = Since(t0);
  double process_cpu = ProcessCpuSeconds() - process_cpu0;
  double wire_cpu = wire.CpuSeconds() - wire_cpu0;
  auto st = streamer.Stats();
  streamer.Stop();
  uint64_t fed = static_cast<uint64_t>(pods) * rounds;
  uint64_t sealed = st.changes_sealed - base.changes_sealed;
  uint64_t applied = wire.applied.load();

  std::printf("pipeline_bench: %d pods, %d rounds, %.0f B per watch line, %s\n", pods, rounds,
              static_cast<double>(line_bytes) / pods,
              projected_only ? "pre-projected (Streamer and hub only)"
              : skip_bookkeeping ? "managedFields skipped" : "full parse");
  std::printf("  changes fed %lu, sealed %lu (%lu as merge patches), applied by the hub %lu\n",
              static_cast<unsigned long>(fed), static_cast<unsigned long>(sealed),
              static_cast<unsigned long>(st.patches_sealed - base.patches_sealed),
              static_cast<unsigned long>(applied));
  std::printf("  messages %lu, rejected %lu\n", static_cast<unsigned long>(wire.messages),
              static_cast<unsigned long>(wire.rejected));
  std::printf("  collector: %.0f changes/s fed (%.2f s, CPU %.2f s)\n", fed / feed_seconds,
              feed_seconds, feed_cpu);
  std::printf("  end to end: %.0f changes/s applied by the hub (%.2f s until all acked)\n",
              applied / total_seconds, total_seconds);
  auto stage = [](const char* name, const Stage& s) {
    std::printf("    %-34s %8.2f us/call (CPU %6.2f)  %8lu calls\n", name, s.MicrosPerCall(),
                s.CpuMicrosPerCall(), static_cast<unsigned long>(s.calls));
  };
  std::printf("  CPU: %.2f s in all (collector %.2f s, wire %.2f s, pump and the rest %.2f s)\n",
              process_cpu, feed_cpu, wire_cpu, process_cpu - feed_cpu - wire_cpu);
  std::printf("  state held: %lu objects in %lu B (%.0f B per object; raw %.0f B)\n",
              static_cast<unsigned long>(st.objects), static_cast<unsigned long>(st.object_bytes),
              static_cast<double>(st.object_bytes) / std::max<uint64_t>(1, st.objects),
              static_cast<double>(st.object_raw_bytes) / std::max<uint64_t>(1, st.objects));
  std::printf("  per change, collector thread:\n");
  stage("DecodeWatchEvent (JSON -> DOM)", parse);
  stage("Project(Pod)", project);
  stage("Streamer::Upsert (codec, compare)", upsert);
  std::printf("  per message, wire thread:\n");
  stage("protocol::Encode", wire.encode);
  stage("srexpert.v1.deflate compression", wire.deflate);
  stage("hub: protocol::Decode", wire.decode);
  stage("hub: Decode*Payload", wire.payload);
  stage("hub: StateStore::Apply*", wire.apply);
  std::printf("  wire bytes per change (deflated, excl. TLS and framing): %.1f\n",
              static_cast<double>(wire.wire_bytes.load()) / std::max<uint64_t>(1, applied));
  wire_owner.reset();
  return 0;
}
