// stream_bench: the figures of docs/performance.md, "Streaming (issue 5)".
//
// Loads the loopback API test server (in-process) with a realistic cluster —
// 10,000 pods (~9.6 KB of JSON each, test/stream/realistic_objects.h) across
// 1,000 nodes, owned by ReplicaSets owned by Deployments, a Service per
// Deployment, spread over 50 namespaces — then starts one real srexpert-hub
// (with --state-file when the hub has it) and ONE real srexpert-agent (the
// leader). The agent dials the hub through a byte-counting TCP relay written
// here, so the bytes counted are the real ones on the wire (TLS records of
// permessage-deflate frames; --plain for ws:// without TLS).
//
// Reported:
//   (a) initial sync: agent start -> the hub serves the whole state (its
//       /resources equals the API's objects), and -> agent.info says
//       initialSyncDone;
//   (b) the leader's VmRSS/VmHWM (and RssAnon, Pss) after the initial sync
//       and at the end;
//   (c) snapshot bytes: raw (agent.info lastSnapshotBytes) and on the wire
//       (relay, agent -> hub, from connect until the snapshot is acked);
//   (d) bytes per delta: N realistic single-pod changes (label change,
//       container restart, ready flip) through the API: relay bytes / change
//       and raw payload bytes / change (bytesSealed / changesSealed);
//   (e) sustained deltas/s: writers drive as many changes as the API server
//       takes for ~10 s (changes acknowledged per second, catch-up after the
//       writers stop, CPU of each process); and a burst drain, where the
//       agent is SIGSTOPped while changes pile up in its watch streams and
//       then SIGCONTed, which measures the agent -> tunnel -> hub pipeline
//       without the API server's write rate in the way;
//   (f) latency from an API change to the hub serving it, p50/p99, polling
//       one small namespace of the hub's REST API every millisecond.
// Prints a table with the targets of issue 5 next to the figures, and last
// one JSON line. Every process it starts is killed by PID on every exit path
// (normal, error, watchdog, SIGINT/SIGTERM). Not a test: run it by hand, see
// docs/performance.md.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "common/log.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "stream/projection.h"
#include "test/apiserver/api_server.h"
#include "test/bench/bench_support.h"
#include "test/e2e/hub_cluster_view.h"
#include "test/net/test_support.h"
#include "test/stream/realistic_objects.h"

namespace json = srexpert::json;
namespace kube = srexpert::kube;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using srexpert::testing::ApiServer;
using srexpert::testing::TempDir;
using srexpert::testing::TestPki;
using srexpert::testing::WriteFile;
using namespace std::chrono_literals;
using namespace srexpert::bench;

namespace {

constexpr char kSystemNs[] = "srexpert-system";
constexpr char kLease[] = "srexpert-agent-leader";
constexpr char kCluster[] = "bench-cluster";
constexpr char kToken[] = "bench-stream-token-7hQ2xLp9";
constexpr char kLatencyNs[] = "bench-latency";
constexpr char kLatencyDeploy[] = "latency-probe";

// ---- /proc ------------------------------------------------------------------

std::string JsonMemory(const Memory& m) {
  return R"({"vmRssKiB":)" + std::to_string(m.rss_kb) + R"(,"vmHwmKiB":)" +
         std::to_string(m.hwm_kb) + R"(,"rssAnonKiB":)" + std::to_string(m.anon_kb) +
         R"(,"rssFileKiB":)" + std::to_string(m.file_kb) + R"(,"pssKiB":)" +
         std::to_string(m.pss_kb) + R"(,"threads":)" + std::to_string(m.threads) + "}";
}

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = all.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields after the command: state(3) ... utime(14) stime(15).
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU use of the processes of a phase, as a share of one core.
struct CpuMeter {
  std::vector<std::pair<std::string, pid_t>> procs;
  std::vector<double> start;
  Clock::time_point t0;
  void Begin() {
    start.clear();
    for (auto& p : procs) start.push_back(CpuSeconds(p.second));
    t0 = Clock::now();
  }
  // name -> percent of one core since Begin().
  std::vector<std::pair<std::string, double>> End() const {
    double wall = Sec(Clock::now() - t0);
    std::vector<std::pair<std::string, double>> out;
    for (size_t i = 0; i < procs.size(); ++i) {
      out.emplace_back(procs[i].first, 100.0 * (CpuSeconds(procs[i].second) - start[i]) / wall);
    }
    return out;
  }
};
std::string CpuText(const std::vector<std::pair<std::string, double>>& cpu) {
  std::string out;
  for (const auto& [name, pct] : cpu) out += (out.empty() ? "" : ", ") + name + " " + Fixed(pct) + "%";
  return out;
}
std::string CpuJson(const std::vector<std::pair<std::string, double>>& cpu) {
  std::string out = "{";
  for (size_t i = 0; i < cpu.size(); ++i) {
    out += (i ? "," : "") + std::string("\"") + cpu[i].first + "\":" + Fixed(cpu[i].second, 1);
  }
  return out + "}";
}

// ---- byte-counting TCP relay (agent -> relay -> hub) -------------------------

class Relay {
 public:
  explicit Relay(uint16_t target_port) : target_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    Check(listen_fd_ >= 0, "relay: socket");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    Check(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "relay: bind");
    Check(::listen(listen_fd_, 16) == 0, "relay: listen");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_ = std::thread([this] { AcceptLoop(); });
  }
  ~Relay() { Stop(); }
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  uint16_t port() const { return port_; }
  uint64_t up() const { return up_.load(); }      // agent -> hub
  uint64_t down() const { return down_.load(); }  // hub -> agent
  int connections() const { return connections_.load(); }

  void Stop() {
    if (stopped_.exchange(true)) return;
    if (accept_.joinable()) accept_.join();
    std::vector<std::thread> pumps;
    {
      std::lock_guard l(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
      pumps.swap(pumps_);
    }
    for (auto& t : pumps) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }

 private:
  void AcceptLoop() {
    while (!stopped_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      int u = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(target_);
      if (u < 0 || ::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        if (u >= 0) ::close(u);
        ::close(c);
        continue;
      }
      // No Nagle on the relay's legs: it must not add latency of its own.
      int one = 1;
      ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard l(mu_);
      fds_.push_back(c);
      fds_.push_back(u);
      ++connections_;
      pumps_.emplace_back([c, u, this] { Pump(c, u, &up_); });
      pumps_.emplace_back([c, u, this] { Pump(u, c, &down_); });
    }
  }
  static void Pump(int from, int to, std::atomic<uint64_t>* counter) {
    std::vector<char> buf(256 * 1024);
    for (;;) {
      ssize_t n = ::read(from, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      counter->fetch_add(static_cast<uint64_t>(n));
      ssize_t off = 0;
      while (off < n) {
        ssize_t w = ::write(to, buf.data() + off, static_cast<size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          ::shutdown(from, SHUT_RD);
          ::shutdown(to, SHUT_WR);
          return;
        }
        off += w;
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  uint16_t target_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> up_{0}, down_{0};
  std::atomic<int> connections_{0};
  std::thread accept_;
  std::mutex mu_;
  std::vector<std::thread> pumps_;
  std::vector<int> fds_;
};

// ---- HTTP to the hub's REST API: keep-alive, no body limit ----------------------

struct Reply {
  int status = 0;
  std::string body;
  std::string error;
};

class HubHttp {
 public:
  explicit HubHttp(uint16_t port) : port_(port) {}
  Reply Call(const std::string& method, const std::string& target, const std::string& body = "",
             int timeout_seconds = 30) {
    std::string last_error;
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        if (!socket_) {
          socket_ = std::make_unique<asio::ip::tcp::socket>(io_);
          socket_->connect({asio::ip::make_address("127.0.0.1"), port_});
          socket_->set_option(asio::ip::tcp::no_delay(true));
        }
        timeval tv{timeout_seconds, 0};
        ::setsockopt(socket_->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        http::request<http::string_body> req{http::string_to_verb(method), target, 11};
        req.set(http::field::host, "localhost");
        req.keep_alive(true);
        if (!body.empty()) {
          req.set(http::field::content_type, "application/json");
          req.body() = body;
        }
        req.prepare_payload();
        http::write(*socket_, req);
        http::response_parser<http::string_body> parser;
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        http::read(*socket_, buffer_, parser);
        auto res = parser.release();
        Reply r{static_cast<int>(res.result_int()), std::move(res.body()), ""};
        if (!res.keep_alive()) Reset();
        return r;
      } catch (const std::exception& e) {
        last_error = e.what();
        Reset();
      }
    }
    return {0, "", last_error};
  }

 private:
  void Reset() {
    boost::system::error_code ec;
    if (socket_) socket_->close(ec);
    socket_.reset();
    buffer_.clear();
  }
  uint16_t port_;
  asio::io_context io_;
  std::unique_ptr<asio::ip::tcp::socket> socket_;
  beast::flat_buffer buffer_;
};

// agent.info's "stream" object.
struct StreamInfo {
  bool ok = false;
  int64_t objects = 0, object_bytes = 0, next_seq = 0, acked_seq = 0, snapshots = 0;
  int64_t last_snapshot_bytes = 0, last_snapshot_parts = 0, changes_sealed = 0;
  int64_t bytes_sealed = 0, messages_sealed = 0, pending_changes = 0, window_messages = 0;
  int64_t events_sealed = 0;
  bool initial_sync_done = false;
  // Everything sealed is acknowledged and nothing waits to be sealed.
  bool Idle() const { return ok && pending_changes == 0 && acked_seq == next_seq - 1; }
};

StreamInfo AgentInfo(HubHttp& hub) {
  StreamInfo s;
  auto r = hub.Call("POST", std::string("/api/v1/clusters/") + kCluster + "/requests",
                    R"({"kind":"agent.info","timeoutMs":20000})", 25);
  if (r.status != 200) return s;
  auto doc = json::Parse(r.body);
  if (!doc || !json::GetBool(*doc, {"ok"})) return s;
  const json::Value* st = json::Find(*doc, {"payload", "stream"});
  if (!st || !st->IsObject()) return s;
  auto n = [&](const char* k) { return json::GetInt(*st, {k}); };
  s.ok = true;
  s.objects = n("objects");
  s.object_bytes = n("objectBytes");
  s.next_seq = n("nextSeq");
  s.acked_seq = n("ackedSeq");
  s.snapshots = n("snapshots");
  s.last_snapshot_bytes = n("lastSnapshotBytes");
  s.last_snapshot_parts = n("lastSnapshotParts");
  s.changes_sealed = n("changesSealed");
  s.bytes_sealed = n("bytesSealed");
  s.messages_sealed = n("messagesSealed");
  s.pending_changes = n("pendingChanges");
  s.window_messages = n("windowMessages");
  s.events_sealed = n("eventsSealed");
  s.initial_sync_done = json::GetBool(*st, {"initialSyncDone"});
  return s;
}

// Items of the hub's /resources (optionally filtered); -1 when it does not
// answer 200. `per_kind` receives the counts by kind.
int64_t HubResourceCount(HubHttp& hub, const std::string& query,
                         std::map<std::string, int64_t>* per_kind = nullptr,
                         std::string* error = nullptr) {
  auto r = hub.Call("GET", std::string("/api/v1/clusters/") + kCluster + "/resources" + query, "",
                    60);
  if (r.status != 200) {
    if (error) *error = std::to_string(r.status) + " " + r.error + " " + r.body.substr(0, 200);
    return -1;
  }
  auto doc = json::Parse(r.body);
  const json::Value* items = doc ? json::Find(*doc, {"items"}) : nullptr;
  if (!items || !items->IsArray()) return -1;
  if (per_kind) {
    per_kind->clear();
    for (const auto& it : items->GetArray()) ++(*per_kind)[json::GetString(it, {"kind"})];
  }
  return static_cast<int64_t>(items->Size());
}

// ---- the cluster ------------------------------------------------------------------

std::shared_ptr<kube::RestClient> NewClient(const ApiServer& api) {
  auto cfg = kube::LoadKubeconfig(api.KubeconfigFile());
  Check(cfg.ok(), "kubeconfig");
  cfg->qps = 0;  // no client-side rate limit: the bench drives the server
  auto client = kube::RestClient::New(*cfg);
  Check(client.ok(), "rest client");
  return *client;
}

// One pod the change drivers modify: its identity and the status fields a
// kubelet rewrites on a restart or a readiness flip.
struct PodSlot {
  std::string ns, name;
  std::string status;  // {"conditions":[...],"containerStatuses":[...]} of the fixture
  int restarts = 0;
  bool ready = true;
  uint64_t label_rev = 0;
};

// Creates `text` (a fixture) as the API client would: server-owned metadata
// removed, the owner's uid (when given) set on the first ownerReference;
// then writes the fixture's status through /status, as the controllers and
// the kubelet would. Returns the server's uid.
std::string CreateWithStatus(kube::RestClient& client, const std::string& text,
                             const std::string& owner_uid) {
  auto doc = srexpert::testing::ParseFixture(text);
  auto& a = doc.GetAllocator();
  if (auto* meta = json::FindMutable(doc, {"metadata"})) {
    json::Remove(*meta, "uid");
    json::Remove(*meta, "resourceVersion");
    json::Remove(*meta, "creationTimestamp");
    if (!owner_uid.empty()) {
      if (auto* refs = json::FindMutable(*meta, {"ownerReferences"}); refs && refs->IsArray() &&
                                                                      !refs->Empty()) {
        json::SetString((*refs)[0], "uid", owner_uid, a);
      }
    }
  }
  std::optional<json::Document> status;
  if (const json::Value* s = json::Find(doc, {"status"}); s && s->IsObject() && !s->ObjectEmpty()) {
    status = json::Clone(*s);
  }
  kube::Result<kube::Document> created = kube::Error();
  for (int attempt = 0; attempt < 5; ++attempt) {
    created = client.Create(doc);
    if (created.ok() || created.error().IsAlreadyExists() || !created.error().retryable()) break;
    std::this_thread::sleep_for(100ms * (attempt + 1));
  }
  if (!created.ok()) {
    throw Failure("create " + json::GetString(doc, {"kind"}) + " " +
                  json::GetString(doc, {"metadata", "name"}) + ": " + created.error().ToString());
  }
  std::string uid = json::GetString(*created, {"metadata", "uid"});
  if (status) {
    auto& obj = *created;
    json::Set(obj, "status", json::Value(*status, obj.GetAllocator()), obj.GetAllocator());
    auto updated = client.UpdateStatus(obj);
    if (!updated.ok()) {
      throw Failure("status of " + json::GetString(doc, {"metadata", "name"}) + ": " +
                    updated.error().ToString());
    }
  }
  return uid;
}

struct Loaded {
  int64_t objects_created = 0;
  double seconds = 0;
  std::vector<PodSlot> pods;  // the 10k pods (not the latency probe)
  PodSlot latency_pod;
};

// Creates the cluster with `workers` threads, each with its own RestClient.
Loaded LoadCluster(ApiServer& api, const srexpert::testing::ClusterLayout& layout, int workers,
                   const std::function<void(const std::string&)>& progress) {
  using namespace srexpert::testing;
  Loaded out;
  auto t0 = Clock::now();
  auto client = NewClient(api);
  std::atomic<int64_t> created{0};
  // Namespaces first (sequentially: few).
  for (int i = 0; i < layout.namespaces; ++i) {
    CreateWithStatus(*client, RealisticNamespaceJson(NamespaceName(i), i), "");
    ++created;
  }
  CreateWithStatus(*client, RealisticNamespaceJson(kLatencyNs, layout.namespaces), "");
  ++created;

  out.pods.resize(static_cast<size_t>(layout.pods));
  const int deployments = layout.Deployments();
  std::atomic<int> next_node{0}, next_deploy{0};
  std::mutex error_mu;
  std::string first_error;
  auto pod_status = [](const std::string& pod_json) {
    auto doc = ParseFixture(pod_json);
    json::Document st(rapidjson::kObjectType);
    auto& a = st.GetAllocator();
    for (const char* k : {"conditions", "containerStatuses"}) {
      if (const json::Value* v = json::Find(doc, {"status", k})) {
        json::Set(st, k, json::Value(*v, a), a);
      }
    }
    return json::Dump(st);
  };
  auto worker = [&] {
    try {
      auto c = NewClient(api);
      for (int n; (n = next_node.fetch_add(1)) < layout.nodes;) {
        CreateWithStatus(*c, RealisticNodeJson(NodeName(n), n), "");
        ++created;
      }
      for (int d; (d = next_deploy.fetch_add(1)) < deployments;) {
        std::string ns = DeploymentNamespace(layout, d);
        std::string deploy = DeploymentName(d);
        int first = d * layout.pods_per_deployment;
        int replicas = std::min(layout.pods_per_deployment, layout.pods - first);
        std::string duid = CreateWithStatus(*c, RealisticDeploymentJson(ns, deploy, replicas, d), "");
        std::string ruid =
            CreateWithStatus(*c, RealisticReplicaSetJson(ns, deploy, replicas, d), duid);
        CreateWithStatus(*c, RealisticServiceJson(ns, deploy, d), "");
        created += 3;
        for (int i = first; i < first + replicas; ++i) {
          PodPlacement p = PlacePod(layout, i);
          std::string text = RealisticPodJson(p.ns, p.deployment, p.name, p.node, i);
          CreateWithStatus(*c, text, ruid);
          ++created;
          PodSlot& slot = out.pods[static_cast<size_t>(i)];
          slot.ns = p.ns;
          slot.name = p.name;
          slot.status = pod_status(text);
        }
      }
    } catch (const std::exception& e) {
      std::lock_guard l(error_mu);
      if (first_error.empty()) first_error = e.what();
      next_node = layout.nodes;
      next_deploy = deployments;
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) threads.emplace_back(worker);
  std::atomic<bool> done{false};
  std::thread reporter([&] {
    auto last = Clock::now();
    while (!done) {
      std::this_thread::sleep_for(100ms);
      if (Clock::now() - last >= 5s) {
        last = Clock::now();
        progress("loading: " + std::to_string(created.load()) + " objects");
      }
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reporter.join();
  Check(first_error.empty(), "load: " + first_error);

  // The latency probe: one realistic Deployment/ReplicaSet/pod/Service in a
  // namespace of its own, so polling the hub for it stays cheap.
  {
    std::string duid = CreateWithStatus(*client, RealisticDeploymentJson(kLatencyNs, kLatencyDeploy, 1, 0), "");
    std::string ruid = CreateWithStatus(*client, RealisticReplicaSetJson(kLatencyNs, kLatencyDeploy, 1, 0), duid);
    CreateWithStatus(*client, RealisticServiceJson(kLatencyNs, kLatencyDeploy, 0), "");
    std::string name = PodName(kLatencyDeploy, 0);
    std::string text = RealisticPodJson(kLatencyNs, kLatencyDeploy, name, NodeName(0), 0);
    CreateWithStatus(*client, text, ruid);
    created += 4;
    out.latency_pod.ns = kLatencyNs;
    out.latency_pod.name = name;
    out.latency_pod.status = pod_status(text);
  }
  out.objects_created = created.load();
  out.seconds = Sec(Clock::now() - t0);
  return out;
}

// Objects of every collected kind in the API (what the hub must end up with).
std::map<std::string, int64_t> CountApi(kube::RestClient& client) {
  std::map<std::string, int64_t> out;
  for (const auto& k : srexpert::stream::CollectedKinds()) {
    kube::ListOptions lo;
    lo.limit = 1000;
    auto list = client.ListAll({k.api_version, k.kind, "", ""}, lo);
    if (!list.ok()) continue;  // not served: the agent reports it unavailable
    const json::Value* items = json::Find(*list, {"items"});
    int64_t n = items && items->IsArray() ? static_cast<int64_t>(items->Size()) : 0;
    if (n > 0) out[k.kind] = n;
  }
  return out;
}
int64_t Total(const std::map<std::string, int64_t>& m) {
  int64_t n = 0;
  for (const auto& [k, v] : m) n += v;
  return n;
}

// ---- changes ------------------------------------------------------------------------

std::string NowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

enum class ChangeKind { kLabel, kRestart, kReady };

// One realistic change of one pod through the API:
//   kLabel:   a label's value (metadata), merge patch;
//   kRestart: the app container restarted as a kubelet reports it —
//             restartCount+1, lastState.terminated, new containerID and
//             startedAt, ready false, pod conditions Ready/ContainersReady
//             False (status subresource, merge patch);
//   kReady:   ready again: container ready, conditions True.
bool ApplyChange(kube::RestClient& client, PodSlot& pod, ChangeKind kind, uint64_t tag,
                 std::string* error = nullptr) {
  kube::ObjectRef ref{"v1", "Pod", pod.ns, pod.name};
  kube::PatchOptions po;
  std::string body;
  if (kind == ChangeKind::kLabel) {
    pod.label_rev = tag;
    body = R"({"metadata":{"labels":{"bench.srexpert.io/rev":"r)" + std::to_string(tag) + R"("}}})";
  } else {
    po.subresource = "status";
    auto st = json::Parse(pod.status);
    if (!st) return false;
    auto& a = st->GetAllocator();
    std::string now = NowRfc3339();
    bool ready = kind == ChangeKind::kReady;
    if (kind == ChangeKind::kRestart) ++pod.restarts;
    pod.ready = ready;
    if (json::Value* cs = json::FindMutable(*st, {"containerStatuses"}); cs && cs->IsArray()) {
      for (auto& c : cs->GetArray()) {
        if (json::GetString(c, {"name"}) != "app") continue;
        c["restartCount"].SetInt(pod.restarts);
        c["ready"].SetBool(ready);
        if (kind == ChangeKind::kRestart) {
          std::string id = "containerd://" + std::to_string(tag) + "c0ffee" + pod.name;
          std::string prev = json::GetString(c, {"containerID"});
          json::SetString(c, "containerID", id, a);
          json::Value term(rapidjson::kObjectType);
          json::SetString(term, "containerID", prev, a);
          json::Set(term, "exitCode", json::Value(137), a);
          json::SetString(term, "finishedAt", now, a);
          json::SetString(term, "reason", "OOMKilled", a);
          json::SetString(term, "startedAt", now, a);
          json::Value last(rapidjson::kObjectType);
          json::Set(last, "terminated", std::move(term), a);
          json::Set(c, "lastState", std::move(last), a);
          json::Value running(rapidjson::kObjectType);
          json::SetString(running, "startedAt", now, a);
          json::Value state(rapidjson::kObjectType);
          json::Set(state, "running", std::move(running), a);
          json::Set(c, "state", std::move(state), a);
        }
      }
    }
    if (json::Value* conds = json::FindMutable(*st, {"conditions"}); conds && conds->IsArray()) {
      for (auto& c : conds->GetArray()) {
        std::string type = json::GetString(c, {"type"});
        if (type != "Ready" && type != "ContainersReady") continue;
        json::SetString(c, "status", ready ? "True" : "False", a);
        json::SetString(c, "lastTransitionTime", now, a);
      }
    }
    pod.status = json::Dump(*st);
    body = R"({"status":)" + pod.status + "}";
  }
  auto r = client.Patch(ref, kube::PatchType::kMerge, body, po);
  if (!r.ok() && error) *error = r.error().ToString();
  return r.ok();
}

// The n-th change of a pod: label, restart, ready, label, restart, ...
ChangeKind KindOf(uint64_t n) {
  switch (n % 3) {
    case 0: return ChangeKind::kLabel;
    case 1: return ChangeKind::kRestart;
    default: return ChangeKind::kReady;
  }
}

// Drives changes from `writers` threads, each with its own RestClient and
// its own slice of the pods, visiting them round-robin (so one pod changes
// again only after the writer went through its whole slice: no coalescing).
class Driver {
 public:
  Driver(ApiServer& api, std::vector<PodSlot>& pods, int writers) : pods_(pods) {
    for (int i = 0; i < writers; ++i) clients_.push_back(NewClient(api));
    cursor_.assign(static_cast<size_t>(writers), 0);
  }
  struct Result {
    uint64_t applied = 0, failed = 0;
    double seconds = 0;
    std::string first_error;
  };
  // Until `max_changes` are applied or `max_time` passes (whichever first).
  // `only` restricts the change kind (nullopt = the label/restart/ready
  // rotation).
  Result Run(uint64_t max_changes, Clock::duration max_time,
             std::optional<ChangeKind> only = std::nullopt) {
    std::atomic<uint64_t> budget{0}, applied{0}, failed{0};
    std::mutex mu;
    std::string first_error;
    auto t0 = Clock::now();
    auto deadline = t0 + max_time;
    std::vector<std::thread> threads;
    const size_t writers = clients_.size();
    for (size_t w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        auto& client = *clients_[w];
        while (Clock::now() < deadline && budget.fetch_add(1) < max_changes) {
          // Writer w owns pods w, w + writers, w + 2 * writers, ...
          size_t slice = (pods_.size() - w + writers - 1) / writers;
          size_t k = cursor_[w] % slice;
          uint64_t visit = cursor_[w] / slice;
          ++cursor_[w];
          PodSlot& pod = pods_[w + k * writers];
          ChangeKind kind = only ? *only : KindOf(visit + k);
          std::string err;
          uint64_t tag = (static_cast<uint64_t>(w) << 40) | cursor_[w];
          if (ApplyChange(client, pod, kind, tag, &err)) {
            ++applied;
          } else {
            ++failed;
            std::lock_guard l(mu);
            if (first_error.empty()) first_error = err;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    Result r;
    r.applied = applied;
    r.failed = failed;
    r.seconds = Sec(Clock::now() - t0);
    r.first_error = first_error;
    return r;
  }

 private:
  std::vector<PodSlot>& pods_;
  std::vector<std::shared_ptr<kube::RestClient>> clients_;
  std::vector<uint64_t> cursor_;
};

// ---- statistics ---------------------------------------------------------------------

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(rank);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

// ---- options --------------------------------------------------------------------------

struct Options {
  int pods = 10000;
  int nodes = 1000;
  int namespaces = 50;
  int pods_per_deployment = 10;
  int load_workers = 8;
  int writers = 6;
  int delta_changes = 20000;
  int sustain_seconds = 10;
  int burst_changes = 10000;
  int latency_samples = 500;
  int hold_seconds = 0;  // after the initial sync, for attaching perf/heaptrack
  bool plain = false;
  bool metrics = false;
  // The test server's garbage collector rescans every object under the
  // store lock each period (O(objects), ~60% of the bench process's CPU at
  // 100 ms with 23k objects); the real one is driven by informer events and
  // costs nothing while nothing is deleted. Nothing here deletes.
  int gc_interval_ms = 10000;
  int timeout_seconds = 1800;
  std::vector<std::string> agent_prefix;  // e.g. heaptrack -o FILE (investigation only)
  std::string log_dir;  // keep the hub's and agent's logs here (default: the temp dir)
  std::string build_dir = SRX_BINARY_DIR;
};

int ParseInt(const std::string& flag, const char* v) {
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (!*v || *end || n < 0 || n > 10000000) {
    std::cerr << "stream_bench: " << flag << " wants a non-negative integer\n";
    std::exit(2);
  }
  return static_cast<int>(n);
}

void Usage() {
  std::cout
      << "usage: stream_bench [flags]\n"
         "  --pods N             pods (default 10000)\n"
         "  --nodes N            nodes (default 1000)\n"
         "  --namespaces N       namespaces (default 50)\n"
         "  --load-workers N     parallel API clients while loading (default 8)\n"
         "  --writers N          parallel API clients driving changes (default 6)\n"
         "  --delta-changes N    changes for the bytes-per-delta phase (default 20000)\n"
         "  --sustain-seconds S  length of the sustained phase (default 10)\n"
         "  --burst-changes N    changes piled up while the agent is stopped (default 10000)\n"
         "  --latency-samples N  single changes timed API -> hub (default 500)\n"
         "  --hold-seconds S     pause after the initial sync (attach perf/heaptrack)\n"
         "  --plain              ws:// between agent and hub instead of wss:// (TLS)\n"
         "  --metrics            collection.metrics on (the test API serves no\n"
         "                       metrics.k8s.io: the agent reports it unavailable)\n"
         "  --api-gc-interval-ms N  the test API server's garbage collector period (default 10000)\n"
         "  --timeout-seconds S  watchdog for the whole run (default 1800)\n"
         "  --build-dir DIR      where operator/cmd/srexpert-{agent,hub} are\n"
         "  --log-dir DIR        keep hub.log and agent.log there (default: removed temp dir)\n"
         "  --agent-prefix CMD   run the agent under CMD (e.g. \"heaptrack -o /tmp/agent\");\n"
         "                       for investigation: the figures then include CMD's overhead,\n"
         "                       and the watchdog kills CMD, not the agent under it\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::cerr << "stream_bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--pods") opt.pods = ParseInt(a, next());
    else if (a == "--nodes") opt.nodes = ParseInt(a, next());
    else if (a == "--namespaces") opt.namespaces = ParseInt(a, next());
    else if (a == "--load-workers") opt.load_workers = std::max(1, ParseInt(a, next()));
    else if (a == "--writers") opt.writers = std::max(1, ParseInt(a, next()));
    else if (a == "--delta-changes") opt.delta_changes = ParseInt(a, next());
    else if (a == "--sustain-seconds") opt.sustain_seconds = ParseInt(a, next());
    else if (a == "--burst-changes") opt.burst_changes = ParseInt(a, next());
    else if (a == "--latency-samples") opt.latency_samples = ParseInt(a, next());
    else if (a == "--hold-seconds") opt.hold_seconds = ParseInt(a, next());
    else if (a == "--plain") opt.plain = true;
    else if (a == "--metrics") opt.metrics = true;
    else if (a == "--api-gc-interval-ms") opt.gc_interval_ms = std::max(1, ParseInt(a, next()));
    else if (a == "--timeout-seconds") opt.timeout_seconds = ParseInt(a, next());
    else if (a == "--build-dir") opt.build_dir = next();
    else if (a == "--log-dir") opt.log_dir = next();
    else if (a == "--agent-prefix") {
      std::istringstream words(next());
      for (std::string w; words >> w;) opt.agent_prefix.push_back(w);
    }
    else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else {
      std::cerr << "stream_bench: unknown flag " << a << "\n";
      Usage();
      return 2;
    }
  }
  if (opt.pods < 1 || opt.nodes < 1 || opt.namespaces < 1) {
    std::cerr << "stream_bench: --pods, --nodes and --namespaces must be positive\n";
    return 2;
  }

  GuardChildren("stream_bench", opt.timeout_seconds);

  // The in-process API server and the bench's clients log warnings only.
  srexpert::log::SetLevel(srexpert::log::Level::kWarn);
  auto started = Clock::now();
  auto progress = [&](const std::string& what) {
    std::cout << "[" << Fixed(Sec(Clock::now() - started), 1) << " s] " << what << "\n"
              << std::flush;
  };
  const std::string hub_bin = opt.build_dir + "/operator/cmd/srexpert-hub";
  const std::string agent_bin = opt.build_dir + "/operator/cmd/srexpert-agent";
  if (access(hub_bin.c_str(), X_OK) != 0 || access(agent_bin.c_str(), X_OK) != 0) {
    std::cerr << "stream_bench: srexpert-hub/srexpert-agent not executable under " << opt.build_dir
              << "/operator/cmd\n";
    return 2;
  }
  std::cout << "stream_bench: " << opt.pods << " pods, " << opt.nodes << " nodes, "
            << opt.namespaces << " namespaces; tunnel " << (opt.plain ? "ws:// (plain)" : "wss:// (TLS)")
            << "; events on, metrics " << (opt.metrics ? "on" : "off") << "; build dir "
            << opt.build_dir << "\n"
            << std::flush;

  // Everything below is destroyed (children SIGKILLed) on every exit path.
  TempDir dir;
  TestPki pki(dir.path());
  srexpert::testing::ApiServerOptions api_opt;
  // etcd keeps about 5 minutes of history; the default 10,000 events of the
  // test server would expire within the bench's own write phases.
  api_opt.watch_history = 200000;
  api_opt.gc_interval = std::chrono::milliseconds(opt.gc_interval_ms);
  ApiServer api(api_opt);
  std::unique_ptr<Process> hub, agent;
  std::unique_ptr<Relay> relay;
  std::string out_json;
  auto log_file = [&](const std::string& name) {
    return opt.log_dir.empty() ? dir.File(name) : opt.log_dir + "/" + name;
  };

  try {
    api.Start();
    // ---- load ---------------------------------------------------------------------------
    srexpert::testing::ClusterLayout layout;
    layout.pods = opt.pods;
    layout.nodes = opt.nodes;
    layout.namespaces = opt.namespaces;
    layout.pods_per_deployment = opt.pods_per_deployment;
    auto admin = NewClient(api);
    {
      auto ns = json::Parse(std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") +
                            kSystemNs + R"("}})");
      Check(admin->Create(*ns).ok(), "create namespace " + std::string(kSystemNs));
    }
    progress("loading the API server (" + std::to_string(opt.load_workers) + " clients)");
    Loaded cluster = LoadCluster(api, layout, opt.load_workers, progress);
    double load_rate = static_cast<double>(cluster.objects_created) / cluster.seconds;
    progress("loaded " + std::to_string(cluster.objects_created) + " objects in " +
             Fixed(cluster.seconds, 1) + " s (" + Fixed(load_rate) + " objects/s, each with its status write)");
    size_t served_pod_bytes = 0;
    {
      auto p = admin->Get({"v1", "Pod", cluster.pods[0].ns, cluster.pods[0].name});
      Check(p.ok(), "get pod");
      served_pod_bytes = json::Dump(*p).size();
    }
    auto api_counts = CountApi(*admin);
    const int64_t api_total = Total(api_counts);
    {
      std::string s;
      for (const auto& [k, v] : api_counts) s += k + " " + std::to_string(v) + ", ";
      progress("API objects of collected kinds: " + std::to_string(api_total) + " (" + s +
               "one pod as served: " + std::to_string(served_pod_bytes) + " B)");
    }

    // ---- hub, relay, agent ----------------------------------------------------------------
    WriteFile(dir.File("tokens.json"), std::string(R"({"clusters":[{"name":")") + kCluster +
                                           R"(","token":")" + kToken + R"("}]})");
    WriteFile(dir.File("token"), std::string(kToken) + "\n");
    std::string help;
    srexpert::testing::RunShell(hub_bin + " --help 2>&1", &help);
    const bool hub_has_state_file = help.find("--state-file") != std::string::npos;
    std::vector<std::string> hub_args{"--bind-address", "127.0.0.1", "--port", "0", "--api-port",
                                      "0", "--tokens-file", dir.File("tokens.json")};
    if (opt.plain) {
      hub_args.push_back("--insecure-plain");
    } else {
      for (const auto& s : {std::string("--tls-cert-file"), pki.server_cert,
                            std::string("--tls-key-file"), pki.server_key}) {
        hub_args.push_back(s);
      }
    }
    if (hub_has_state_file) {
      hub_args.push_back("--state-file");
      hub_args.push_back(dir.File("hub-state.db"));
    }
    hub = std::make_unique<Process>(hub_bin, hub_args, log_file("hub.log"));
    std::optional<json::Document> listening;
    Check(srexpert::testing::WaitUntil(
              [&] { return (listening = hub->LogLine("hub listening")).has_value(); }, 20s),
          "hub did not start:\n" + hub->Log());
    const auto tunnel_port = static_cast<uint16_t>(json::GetInt(*listening, {"tunnelPort"}));
    const auto hub_api_port = static_cast<uint16_t>(json::GetInt(*listening, {"apiPort"}));
    relay = std::make_unique<Relay>(tunnel_port);
    progress(std::string("hub up (state file: ") +
             (hub_has_state_file ? "SQLite in the temp dir" : "none: this hub has no --state-file") +
             "); relay 127.0.0.1:" + std::to_string(relay->port()) + " -> " + std::to_string(tunnel_port));

    // Lease 60 s / renew 45 s: the burst phase SIGSTOPs the leader for a few
    // seconds, which must not cost it the Lease. Everything else default.
    std::string url = std::string(opt.plain ? "ws" : "wss") + "://localhost:" +
                      std::to_string(relay->port()) + "/api/v1/tunnel";
    WriteFile(dir.File("config.json"),
              std::string(R"({"version":1,"clusterName":"bench","backend":{"url":")") + url + "\"" +
                  (opt.plain ? R"(,"insecure":true)" : R"(,"caFile":")" + pki.ca_cert + "\"") +
                  R"(},"tokenFile":")" + dir.File("token") +
                  R"(","logLevel":"info","leaderElection":{"leaseName":")" + kLease +
                  R"(","leaseNamespace":")" + kSystemNs +
                  R"(","leaseDurationMs":60000,"renewDeadlineMs":45000,"retryPeriodMs":2000},)" +
                  R"("collection":{"events":true,"metrics":)" + (opt.metrics ? "true" : "false") +
                  "}}");

    HubHttp hub_http(hub_api_port);
    auto t_agent_start = Clock::now();
    std::vector<std::string> own_args{"--kubeconfig", api.KubeconfigFile(), "--config",
                                 dir.File("config.json"), "--health-probe-bind-address",
                                 "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
                                 "--pod-name", "agent-0", "--pod-namespace", kSystemNs,
                                 "--node-name", "node-0000"};
    std::string agent_exe = agent_bin;
    if (!opt.agent_prefix.empty()) {
      agent_exe = opt.agent_prefix[0];
      std::vector<std::string> args(opt.agent_prefix.begin() + 1, opt.agent_prefix.end());
      args.push_back(agent_bin);
      args.insert(args.end(), own_args.begin(), own_args.end());
      own_args = std::move(args);
    }
    agent = std::make_unique<Process>(agent_exe, own_args, log_file("agent.log"));
    const pid_t agent_pid = agent->pid();
    progress("agent started (pid " + std::to_string(agent_pid) + "), hub pid " +
             std::to_string(hub->pid()) + ", bench (API server + drivers) pid " +
             std::to_string(getpid()));

    // ---- (a) initial sync -----------------------------------------------------------------
    // Snapshots are applied atomically at their final part, so the first time
    // the hub serves any Namespace it serves the whole snapshot; the full
    // count is then checked (and re-polled while it differs).
    std::optional<double> t_connected_ms, t_hub_first_ms, t_hub_full_ms, t_sync_done_ms,
        t_acked_ms;
    uint64_t snapshot_wire_up = 0, snapshot_wire_down = 0;
    Memory peak_during_sync;
    StreamInfo info;
    std::map<std::string, int64_t> hub_counts;
    int64_t hub_total = -1;
    {
      auto deadline = t_agent_start + 300s;
      auto next_info = Clock::now();
      while (Clock::now() < deadline) {
        auto now = Clock::now();
        Check(agent->Running(), "the agent exited:\n" + agent->Log());
        Memory m = ReadMemory(agent_pid);
        if (m.rss_kb > peak_during_sync.rss_kb) peak_during_sync = m;
        if (!t_connected_ms) {
          auto c = srexpert::testing::ReadHubCluster(hub_api_port, kCluster);
          if (c.connected) t_connected_ms = Ms(Clock::now() - t_agent_start);
        }
        if (t_connected_ms && !t_hub_first_ms) {
          int64_t n = HubResourceCount(hub_http, "?kind=Namespace");
          if (n > 0) t_hub_first_ms = Ms(Clock::now() - t_agent_start);
        }
        if (t_connected_ms && now >= next_info && (!t_sync_done_ms || !t_acked_ms)) {
          next_info = now + 100ms;
          StreamInfo s = AgentInfo(hub_http);
          if (s.ok) {
            info = s;
            if (s.initial_sync_done && !t_sync_done_ms) t_sync_done_ms = Ms(Clock::now() - t_agent_start);
            if (s.snapshots >= 1 && s.Idle() && !t_acked_ms) {
              t_acked_ms = Ms(Clock::now() - t_agent_start);
              snapshot_wire_up = relay->up();
              snapshot_wire_down = relay->down();
            }
          }
        }
        if (t_hub_first_ms && !t_hub_full_ms) {
          hub_total = HubResourceCount(hub_http, "", &hub_counts);
          if (hub_total == api_total) {
            // Snapshots apply atomically: the poll that first saw data saw
            // this complete state (after a mismatch, the re-poll's time).
            t_hub_full_ms = *t_hub_first_ms;
          } else {
            t_hub_first_ms.reset();  // not complete yet: poll again
          }
        }
        if (t_hub_full_ms && t_sync_done_ms && t_acked_ms) break;
        std::this_thread::sleep_until(now + 20ms);
      }
      if (!t_hub_full_ms) {
        std::string s;
        for (const auto& [k, v] : hub_counts) {
          s += k + " " + std::to_string(v) + "/" + std::to_string(api_counts[k]) + ", ";
        }
        throw Failure("initial sync not complete within 300 s: hub has " + std::to_string(hub_total) +
                      " of " + std::to_string(api_total) + " (" + s + ")\nagent log:\n" +
                      agent->Log().substr(0, 4000));
      }
    }
    progress("initial sync: hub complete at " + Fixed(*t_hub_full_ms) + " ms, agent initialSyncDone at " +
             (t_sync_done_ms ? Fixed(*t_sync_done_ms) : std::string("?")) + " ms, snapshot acked at " +
             (t_acked_ms ? Fixed(*t_acked_ms) : std::string("?")) + " ms");
    std::this_thread::sleep_for(2s);
    Memory mem_after_sync = ReadMemory(agent_pid);
    Memory hub_mem_after_sync = ReadMemory(hub->pid());
    StreamInfo after_sync = AgentInfo(hub_http);
    progress("leader VmRSS " + MiB(mem_after_sync.rss_kb) + " MiB, VmHWM " + MiB(mem_after_sync.hwm_kb) +
             " MiB, RssAnon " + MiB(mem_after_sync.anon_kb) + " MiB; objects " +
             std::to_string(after_sync.objects) + ", projected bytes " + std::to_string(after_sync.object_bytes));
    if (opt.hold_seconds > 0) {
      progress("holding " + std::to_string(opt.hold_seconds) + " s (agent pid " + std::to_string(agent_pid) + ")");
      std::this_thread::sleep_for(std::chrono::seconds(opt.hold_seconds));
    }

    CpuMeter cpu;
    cpu.procs = {{"agent", agent_pid}, {"hub", hub->pid()}, {"bench(API server+writers)", getpid()}};
    Driver driver(api, cluster.pods, opt.writers);

    // Waits until the agent has sealed and the hub acknowledged everything
    // (and changesSealed stopped moving), returns the final info.
    // `min_changes` is a floor, not the expected count: a change that leaves
    // the projection as it was (a "ready" flip of a ready pod changes only
    // dropped timestamps) is rightly never sent. `wire_up`, when given,
    // receives the relay's agent->hub count when the last change was seen,
    // so the agent.info polling of the idle check is not counted.
    auto wait_idle = [&](int64_t min_changes, std::chrono::seconds timeout,
                         double* idle_ms = nullptr, uint64_t* wire_up = nullptr) {
      auto t0 = Clock::now();
      StreamInfo s;
      int64_t last_changes = -1;
      int stable = 0;
      if (wire_up) *wire_up = relay->up();
      while (Clock::now() - t0 < timeout) {
        uint64_t up_before = relay->up();
        s = AgentInfo(hub_http);
        if (s.ok && s.changes_sealed != last_changes) {
          stable = 0;
          last_changes = s.changes_sealed;
          if (idle_ms) *idle_ms = Ms(Clock::now() - t0);
          if (wire_up) *wire_up = up_before;
        } else if (s.ok && s.Idle() && s.changes_sealed >= min_changes) {
          if (++stable >= 4) break;
        }
        std::this_thread::sleep_for(50ms);
      }
      return s;
    };

    // ---- (d) bytes per delta ----------------------------------------------------------------
    progress("bytes per delta: " + std::to_string(opt.delta_changes) + " changes from " +
             std::to_string(opt.writers) + " writers");
    StreamInfo d0 = AgentInfo(hub_http);
    uint64_t d_up0 = relay->up(), d_down0 = relay->down();
    cpu.Begin();
    Driver::Result d_run = driver.Run(static_cast<uint64_t>(opt.delta_changes), 600s);
    double d_tail_ms = 0;
    uint64_t d_up_end = 0;
    StreamInfo d1 = wait_idle(d0.changes_sealed + static_cast<int64_t>(d_run.applied) / 2, 120s,
                              &d_tail_ms, &d_up_end);
    auto d_cpu = cpu.End();
    uint64_t d_up = d_up_end - d_up0, d_down = relay->down() - d_down0;
    int64_t d_changes = d1.changes_sealed - d0.changes_sealed;
    int64_t d_bytes = d1.bytes_sealed - d0.bytes_sealed;
    int64_t d_msgs = d1.messages_sealed - d0.messages_sealed;
    progress("  applied " + std::to_string(d_run.applied) + " (failed " + std::to_string(d_run.failed) +
             (d_run.first_error.empty() ? "" : ": " + d_run.first_error) + ") in " +
             Fixed(d_run.seconds, 1) + " s; sealed " + std::to_string(d_changes) + " changes in " +
             std::to_string(d_msgs) + " messages, " + std::to_string(d_bytes) + " B raw, " +
             std::to_string(d_up) + " B on the wire; CPU " + CpuText(d_cpu));

    // ---- (e1) sustained, driven through the API ---------------------------------------------
    progress("sustained: " + std::to_string(opt.writers) + " writers for " +
             std::to_string(opt.sustain_seconds) + " s");
    StreamInfo e0 = AgentInfo(hub_http);
    uint64_t e_up0 = relay->up();
    std::vector<std::pair<double, StreamInfo>> e_samples;
    std::atomic<bool> e_sampling{true};
    auto e_t0 = Clock::now();
    cpu.Begin();
    std::thread sampler([&] {
      HubHttp h(hub_api_port);
      while (e_sampling) {
        auto t = Clock::now();
        StreamInfo s = AgentInfo(h);
        if (s.ok) e_samples.emplace_back(Sec(t - e_t0), s);
        std::this_thread::sleep_until(t + 1s);
      }
    });
    Driver::Result e_run = driver.Run(std::numeric_limits<uint64_t>::max(),
                                      std::chrono::seconds(opt.sustain_seconds));
    auto e_cpu = cpu.End();
    auto e_writers_done = Clock::now();
    double e_tail_ms = 0;
    StreamInfo e1 = wait_idle(e0.changes_sealed + static_cast<int64_t>(e_run.applied) / 2, 120s, &e_tail_ms);
    auto e_all_done = Clock::now();
    e_sampling = false;
    sampler.join();
    int64_t e_changes = e1.changes_sealed - e0.changes_sealed;
    double e_api_rate = static_cast<double>(e_run.applied) / e_run.seconds;
    // Until the last change was seen sealed (not until the idle check ended).
    double e_catchup_ms = e_tail_ms;
    double e_hub_rate = static_cast<double>(e_changes) /
                        (Sec(e_writers_done - e_t0) + e_catchup_ms / 1000.0);
    (void)e_all_done;
    progress("  API took " + std::to_string(e_run.applied) + " changes (" + Fixed(e_api_rate) +
             "/s, failed " + std::to_string(e_run.failed) + "); sealed+acked " + std::to_string(e_changes) +
             ", all acked " + Fixed(e_catchup_ms) + " ms after the writers stopped; CPU " + CpuText(e_cpu));
    uint64_t e_up = relay->up() - e_up0;

    // ---- (e2) burst drain: changes pile up while the agent is stopped ------------------------
    progress("burst: SIGSTOP the agent, " + std::to_string(opt.burst_changes) + " label changes, SIGCONT");
    StreamInfo b0 = AgentInfo(hub_http);
    uint64_t b_up0 = relay->up();
    agent->Signal(SIGSTOP);
    Driver::Result b_run;
    try {
      // At most 8 s stopped: keepalive (pong 10 s) and the Lease must survive.
      b_run = driver.Run(static_cast<uint64_t>(opt.burst_changes), 8s, ChangeKind::kLabel);
    } catch (...) {
      agent->Signal(SIGCONT);
      throw;
    }
    cpu.Begin();
    auto b_t0 = Clock::now();
    agent->Signal(SIGCONT);
    StreamInfo b1;
    double b_sealed_ms = -1;
    {
      auto deadline = b_t0 + 120s;
      int64_t target = b0.changes_sealed + static_cast<int64_t>(b_run.applied);
      while (Clock::now() < deadline) {
        b1 = AgentInfo(hub_http);
        if (b1.ok && b1.changes_sealed >= target && b1.Idle()) break;
        std::this_thread::sleep_for(20ms);
      }
      b_sealed_ms = Ms(Clock::now() - b_t0);
    }
    auto b_cpu = cpu.End();
    int64_t b_changes = b1.changes_sealed - b0.changes_sealed;
    uint64_t b_up = relay->up() - b_up0;
    double b_rate = static_cast<double>(b_changes) / (b_sealed_ms / 1000.0);
    progress("  " + std::to_string(b_run.applied) + " changes applied while stopped (" +
             Fixed(b_run.seconds, 1) + " s); after SIGCONT " + std::to_string(b_changes) +
             " sealed and acked in " + Fixed(b_sealed_ms) + " ms = " + Fixed(b_rate) + "/s; CPU " +
             CpuText(b_cpu));

    // ---- (f) latency ------------------------------------------------------------------------------
    progress("latency: " + std::to_string(opt.latency_samples) + " single label changes");
    std::vector<double> lat_ms, lat_from_reply_ms, patch_ms;
    int lat_timeouts = 0;
    StreamInfo l0 = AgentInfo(hub_http);
    uint64_t l_up0 = relay->up();
    int64_t polls = 0;
    {
      auto client = NewClient(api);
      HubHttp poller(hub_api_port);
      const std::string query =
          std::string("?kind=Pod&namespace=") + kLatencyNs;
      for (int i = 0; i < opt.latency_samples; ++i) {
        uint64_t tag = 900000000ull + static_cast<uint64_t>(i);
        std::string needle = "\"r" + std::to_string(tag) + "\"";
        auto t0 = Clock::now();
        std::string err;
        Check(ApplyChange(*client, cluster.latency_pod, ChangeKind::kLabel, tag, &err),
              "latency change: " + err);
        auto t_reply = Clock::now();
        patch_ms.push_back(Ms(t_reply - t0));
        bool seen = false;
        while (Clock::now() - t0 < 10s) {
          auto r = poller.Call("GET", std::string("/api/v1/clusters/") + kCluster + "/resources" + query);
          ++polls;
          if (r.status == 200 && r.body.find(needle) != std::string::npos) {
            auto t1 = Clock::now();
            lat_ms.push_back(Ms(t1 - t0));
            lat_from_reply_ms.push_back(Ms(t1 - t_reply));
            seen = true;
            break;
          }
          std::this_thread::sleep_for(1ms);
        }
        if (!seen) ++lat_timeouts;
        // Idle between samples, as single changes in a quiet cluster are.
        std::this_thread::sleep_for(std::chrono::milliseconds(20 + std::rand() % 30));
      }
    }
    uint64_t l_up_end = 0;
    StreamInfo l1 = wait_idle(0, 30s, nullptr, &l_up_end);
    const int64_t snapshots_total = l1.snapshots;
    uint64_t l_up = l_up_end - l_up0;
    int64_t l_changes = l1.changes_sealed - l0.changes_sealed;
    int64_t l_bytes = l1.bytes_sealed - l0.bytes_sealed;
    progress("  p50 " + Fixed(Percentile(lat_ms, 50), 1) + " ms, p99 " + Fixed(Percentile(lat_ms, 99), 1) +
             " ms, max " + Fixed(Percentile(lat_ms, 100), 1) + " ms (" + std::to_string(lat_timeouts) +
             " timeouts, " + std::to_string(polls) + " polls)");

    // ---- final state ------------------------------------------------------------------------------
    Memory mem_end = ReadMemory(agent_pid);
    Memory hub_mem_end = ReadMemory(hub->pid());
    std::map<std::string, int64_t> hub_counts_end;
    int64_t hub_total_end = HubResourceCount(hub_http, "", &hub_counts_end);
    auto api_counts_end = CountApi(*admin);
    bool agent_alive = agent->Running();
    agent->Stop(20s);
    hub->Stop(20s);
    relay->Stop();

    // ---- report -------------------------------------------------------------------------------------
    auto verdict = [](bool met) { return met ? "met" : "MISSED"; };
    const double sync_s = *t_hub_full_ms / 1000.0;
    const double rss_mib = static_cast<double>(mem_after_sync.rss_kb) / 1024.0;
    const double raw_per_delta = d_changes > 0 ? static_cast<double>(d_bytes) / static_cast<double>(d_changes) : -1;
    const double wire_per_delta = d_changes > 0 ? static_cast<double>(d_up) / static_cast<double>(d_changes) : -1;
    const double wire_per_single = l_changes > 0 ? static_cast<double>(l_up) / static_cast<double>(l_changes) : -1;
    const double raw_per_single = l_changes > 0 ? static_cast<double>(l_bytes) / static_cast<double>(l_changes) : -1;
    const double best_rate = std::max(e_hub_rate, b_rate);

    std::cout << "\n== stream_bench: " << opt.pods << " pods, " << opt.nodes << " nodes, "
              << api_total << " objects of collected kinds; tunnel "
              << (opt.plain ? "ws://" : "wss:// (TLS)") << " via relay ==\n";
    std::printf("%-58s %22s %16s %s\n", "figure", "measured", "target", "");
    auto row = [](const std::string& what, const std::string& measured, const std::string& target,
                  const std::string& verdict_text) {
      std::printf("%-58s %22s %16s %s\n", what.c_str(), measured.c_str(), target.c_str(),
                  verdict_text.c_str());
    };
    row("(a) initial sync: agent start -> hub serves all objects", Fixed(sync_s, 2) + " s", "<= 7.5 s",
        verdict(sync_s <= 7.5));
    row("    agent start -> tunnel connected", t_connected_ms ? Fixed(*t_connected_ms) + " ms" : "?", "", "");
    row("    agent start -> agent initialSyncDone",
        t_sync_done_ms ? Fixed(*t_sync_done_ms) + " ms" : "?", "", "");
    row("    agent start -> snapshot acked (agent.info)", t_acked_ms ? Fixed(*t_acked_ms) + " ms" : "?", "", "");
    row("(b) leader VmRSS after the initial sync", MiB(mem_after_sync.rss_kb) + " MiB", "<= 44 MiB",
        verdict(rss_mib <= 44.0));
    row("    leader VmHWM after the initial sync", MiB(mem_after_sync.hwm_kb) + " MiB", "", "");
    row("    leader RssAnon / RssFile / Pss", MiB(mem_after_sync.anon_kb) + "/" + MiB(mem_after_sync.file_kb) +
        "/" + MiB(mem_after_sync.pss_kb) + " MiB", "", "");
    row("    leader VmRSS / VmHWM at the end", MiB(mem_end.rss_kb) + "/" + MiB(mem_end.hwm_kb) + " MiB", "", "");
    row("    hub VmRSS after sync / at the end", MiB(hub_mem_after_sync.rss_kb) + "/" + MiB(hub_mem_end.rss_kb) + " MiB", "", "");
    row("    cached objects / projected JSON bytes", std::to_string(after_sync.objects) + " / " +
        std::to_string(after_sync.object_bytes), "", "");
    row("(c) snapshot, raw payload bytes (lastSnapshotBytes)", std::to_string(info.last_snapshot_bytes) +
        " B", "", "");
    row("    snapshot parts", std::to_string(info.last_snapshot_parts), "", "");
    row("    on the wire, agent->hub until acked (incl. handshake)", std::to_string(snapshot_wire_up) + " B",
        "<= 2 MB", verdict(snapshot_wire_up > 0 && snapshot_wire_up <= 2000000));
    row("    on the wire, hub->agent meanwhile", std::to_string(snapshot_wire_down) + " B", "", "");
    row("(d) bytes per delta on the wire (busy: " + std::to_string(opt.writers) + " writers)",
        Fixed(wire_per_delta, 1) + " B", "<= 200 B", verdict(wire_per_delta > 0 && wire_per_delta <= 200));
    row("    raw payload bytes per delta (busy)", Fixed(raw_per_delta, 1) + " B", "", "");
    row("    changes per delta message (busy)",
        d_msgs > 0 ? Fixed(static_cast<double>(d_changes) / static_cast<double>(d_msgs), 1) : "?", "", "");
    row("    bytes per delta on the wire (single changes, idle)", Fixed(wire_per_single, 1) + " B", "", "");
    row("    raw payload bytes per delta (single changes, idle)", Fixed(raw_per_single, 1) + " B", "", "");
    row("(e) sustained: API writes/s (" + std::to_string(opt.writers) + " writers)", Fixed(e_api_rate), "", "");
    row("    sustained: changes acked by the hub / s", Fixed(e_hub_rate), ">= 50000/s",
        verdict(e_hub_rate >= 50000));
    row("    sustained: catch-up after the writers stopped", Fixed(e_catchup_ms) + " ms", "", "");
    row("    burst drain: changes sealed+acked / s (agent alone)", Fixed(b_rate), ">= 50000/s",
        verdict(b_rate >= 50000));
    row("(f) latency API change -> hub serves it, p50", Fixed(Percentile(lat_ms, 50), 1) + " ms", "", "");
    row("    p99", Fixed(Percentile(lat_ms, 99), 1) + " ms", "", "");
    row("    max", Fixed(Percentile(lat_ms, 100), 1) + " ms", "", "");
    row("    p50/p99 from the API's reply", Fixed(Percentile(lat_from_reply_ms, 50), 1) + "/" +
        Fixed(Percentile(lat_from_reply_ms, 99), 1) + " ms", "", "");
    row("    API patch round trip p50", Fixed(Percentile(patch_ms, 50), 1) + " ms", "", "");
    std::cout << "\nCPU (share of one core) — bytes-per-delta phase: " << CpuText(d_cpu)
              << "\n                          sustained phase: " << CpuText(e_cpu)
              << "\n                          burst drain: " << CpuText(b_cpu) << "\n";
    std::cout << "sustained samples (t s: changesSealed, ackedSeq):";
    for (const auto& [t, s] : e_samples) {
      std::cout << " " << Fixed(t, 1) << ":" << (s.changes_sealed - e0.changes_sealed) << "," << s.acked_seq;
    }
    std::cout << "\nload: " << cluster.objects_created << " objects in " << Fixed(cluster.seconds, 1)
              << " s; one pod as served by the API: " << served_pod_bytes << " B\n";
    std::cout << "snapshots sent during the run: " << snapshots_total
              << " (1 = only the initial one)\n";
    if (snapshots_total > 1) {
      std::cout << "WARNING: the agent re-sent snapshots; warnings and errors of the logs:\n";
      for (Process* p : {hub.get(), agent.get()}) {
        std::istringstream lines(p->Log());
        std::string line;
        int shown = 0;
        while (std::getline(lines, line) && shown < 20) {
          if (line.find("\"level\":\"warn\"") == std::string::npos &&
              line.find("\"level\":\"error\"") == std::string::npos) {
            continue;
          }
          if (line.find("collector kind unavailable") != std::string::npos) continue;
          std::cout << "  " << line.substr(0, 400) << "\n";
          ++shown;
        }
      }
    }
    std::string counts_ok = (hub_total_end == Total(api_counts_end)) ? "equal" : "DIFFERENT";
    std::cout << "end: hub " << hub_total_end << " objects, API " << Total(api_counts_end) << " (" << counts_ok
              << "); agent still running at the end: " << (agent_alive ? "yes" : "NO") << "\n";
    if (best_rate < 50000) {
      std::cout << "note: see docs/performance.md for where the time goes.\n";
    }

    // ---- JSON -------------------------------------------------------------------------------------
    auto opt_ms = [](const std::optional<double>& v) { return v ? Fixed(*v) : std::string("null"); };
    out_json = std::string(R"({"bench":"stream","pods":)") + std::to_string(opt.pods) +
               R"(,"nodes":)" + std::to_string(opt.nodes) + R"(,"objects":)" + std::to_string(api_total) +
               R"(,"tls":)" + (opt.plain ? "false" : "true") + R"(,"metrics":)" + (opt.metrics ? "true" : "false") +
               R"(,"load":{"objects":)" + std::to_string(cluster.objects_created) + R"(,"seconds":)" +
               Fixed(cluster.seconds, 2) + R"(,"podBytes":)" + std::to_string(served_pod_bytes) + "}" +
               R"(,"initialSync":{"hubCompleteMs":)" + opt_ms(t_hub_full_ms) + R"(,"connectedMs":)" +
               opt_ms(t_connected_ms) + R"(,"initialSyncDoneMs":)" + opt_ms(t_sync_done_ms) +
               R"(,"snapshotAckedMs":)" + opt_ms(t_acked_ms) + "}" +
               R"(,"leaderAfterSync":)" + JsonMemory(mem_after_sync) + R"(,"leaderEnd":)" + JsonMemory(mem_end) +
               R"(,"hubAfterSync":)" + JsonMemory(hub_mem_after_sync) +
               R"(,"stream":{"objects":)" + std::to_string(after_sync.objects) + R"(,"objectBytes":)" +
               std::to_string(after_sync.object_bytes) + "}" +
               R"(,"snapshot":{"rawBytes":)" + std::to_string(info.last_snapshot_bytes) + R"(,"parts":)" +
               std::to_string(info.last_snapshot_parts) + R"(,"wireUpBytes":)" + std::to_string(snapshot_wire_up) +
               R"(,"wireDownBytes":)" + std::to_string(snapshot_wire_down) + "}" +
               R"(,"deltas":{"applied":)" + std::to_string(d_run.applied) + R"(,"sealed":)" +
               std::to_string(d_changes) + R"(,"messages":)" + std::to_string(d_msgs) + R"(,"rawBytes":)" +
               std::to_string(d_bytes) + R"(,"wireUpBytes":)" + std::to_string(d_up) + R"(,"wireDownBytes":)" +
               std::to_string(d_down) + R"(,"rawPerChange":)" + Fixed(raw_per_delta, 1) + R"(,"wirePerChange":)" +
               Fixed(wire_per_delta, 1) + R"(,"singleWirePerChange":)" + Fixed(wire_per_single, 1) +
               R"(,"singleRawPerChange":)" + Fixed(raw_per_single, 1) + R"(,"cpu":)" + CpuJson(d_cpu) + "}" +
               R"(,"sustained":{"seconds":)" + Fixed(e_run.seconds, 2) + R"(,"apiChanges":)" +
               std::to_string(e_run.applied) + R"(,"apiPerSecond":)" + Fixed(e_api_rate) +
               R"(,"ackedChanges":)" + std::to_string(e_changes) + R"(,"ackedPerSecond":)" + Fixed(e_hub_rate) +
               R"(,"catchUpMs":)" + Fixed(e_catchup_ms) + R"(,"wireUpBytes":)" + std::to_string(e_up) +
               R"(,"cpu":)" + CpuJson(e_cpu) + "}" +
               R"(,"burst":{"applied":)" + std::to_string(b_run.applied) + R"(,"sealed":)" +
               std::to_string(b_changes) + R"(,"drainMs":)" + Fixed(b_sealed_ms) + R"(,"perSecond":)" +
               Fixed(b_rate) + R"(,"wireUpBytes":)" + std::to_string(b_up) + R"(,"cpu":)" + CpuJson(b_cpu) + "}" +
               R"(,"latency":{"n":)" + std::to_string(lat_ms.size()) + R"(,"timeouts":)" +
               std::to_string(lat_timeouts) + R"(,"p50Ms":)" + Fixed(Percentile(lat_ms, 50), 1) +
               R"(,"p99Ms":)" + Fixed(Percentile(lat_ms, 99), 1) + R"(,"maxMs":)" +
               Fixed(Percentile(lat_ms, 100), 1) + R"(,"patchP50Ms":)" + Fixed(Percentile(patch_ms, 50), 1) + "}" +
               R"(,"snapshots":)" + std::to_string(snapshots_total) + R"(,"endEqual":)" + (counts_ok == "equal" ? "true" : "false") + "}";
    std::cout << "\n" << out_json << "\n";
  } catch (const std::exception& e) {
    std::cerr << "stream_bench: FAILED: " << e.what() << "\n";
    auto tail = [](const std::string& s) { return s.size() > 3000 ? "..." + s.substr(s.size() - 3000) : s; };
    if (hub) std::cerr << "--- hub\n" << tail(hub->Log());
    if (agent) std::cerr << "--- agent\n" << tail(agent->Log());
    if (agent) agent->Signal(SIGCONT);
    agent.reset();
    hub.reset();
    relay.reset();
    return 1;
  }
  return 0;
}
