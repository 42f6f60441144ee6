// soak_bench: the soak and chaos figures of docs/performance.md, "Soak and
// chaos (issue 15)". For --minutes (default 30) it runs, against the
// in-process loopback API test server, a real srexpert-hub (SQLite state
// file) and three real srexpert-agent processes that dial the hub through a
// ChaosRelay, while
//   - a churn thread creates, updates and deletes ConfigMaps, Services,
//     Pods (with status writes) and Secrets (the stream model shared with
//     stream_e2e_test, test/e2e/stream_model.h), with a bounded population;
//   - the chaos loop, one fault per round, each followed by the wait for the
//     tunnel to come back: relay RST of every connection, relay stall (the
//     agent's ping/pong timeout must notice; the new session supersedes the
//     black-holed one), hub SIGKILL and restart on the same state file and
//     ports, leader SIGTERM / SIGKILL / SIGSTOP (thawed with SIGCONT a few
//     rounds later; killed agents are restarted so standbys always exist),
//     API faults on the agents' lists and watches (410 Gone, 429, 5xx,
//     watch reset mid-stream) and a token rotation (hub tokens file first,
//     then the agents' token file);
//   - every --check-seconds a quiet period: churn and faults paused, the hub's
//     view must equal the API server's projection within a bound (no lost,
//     changed, phantom or duplicated object); again at the end;
//   - a sampler every 10 s: VmRSS, open file descriptors and threads of the
//     hub, every agent and this process (API server + harness).
// "Never two tunnels": from the hub logs, when a session opens no other
// session of the cluster may still be live (not superseded, not ended);
// superseded sessions still draining are counted separately, and the hub's
// own maxConcurrentSessions is reported per hub lifetime.
// Prints tables and, last, one JSON line; exits 1 when a correctness check
// failed (lost/phantom objects, two live tunnels, a process that died on its
// own, no tunnel within the bound). Every child is killed by PID on every
// exit path (normal, error, watchdog, SIGINT/SIGTERM). The seed is printed;
// --seed replays the same workload and fault schedule (timing still varies).
// --no-kills keeps every process alive (relay faults, API faults, churn and
// token rotations only), so each role is one process and its RSS slope is a
// trend of that process, not of a succession of restarts.
// Not a test: run it by hand, see docs/performance.md.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "test/apiserver/api_server.h"
#include "test/bench/bench_support.h"
#include "test/bench/chaos_relay.h"
#include "test/e2e/hub_cluster_view.h"
#include "test/e2e/stream_model.h"
#include "test/net/test_support.h"

namespace json = srexpert::json;
namespace e2e = srexpert::testing::e2e;
using srexpert::testing::ApiServer;
using srexpert::testing::Fault;
using srexpert::testing::TempDir;
using srexpert::testing::TestPki;
using srexpert::testing::WaitUntil;
using srexpert::testing::WriteFile;
using namespace std::chrono_literals;
using namespace srexpert::bench;

namespace {

constexpr char kNs[] = "srexpert-system";
constexpr char kLease[] = "srexpert-agent-leader";
constexpr char kCluster[] = "soak-cluster";
constexpr int kAgents = 3;

struct Options {
  double minutes = 30;
  bool fast = false;
  uint32_t seed = 0;
  bool seed_set = false;
  int check_seconds = 60;      // between quiet-period comparisons
  int rotate_seconds = 120;    // between token rotations
  int warmup_minutes = 5;      // memory trend is fitted after this
  bool no_kills = false;       // no hub or leader kills: one process per role
  int ops_per_second = 20;     // churn rate
  size_t max_live = 300;       // churn population cap
  int converge_seconds = 60;   // bound for the hub to equal the API after a quiet start
  std::string log_dir;         // copy every log here at the end
  std::string build_dir = SRX_BINARY_DIR;
};

// ---- figures ---------------------------------------------------------------------

struct Percentiles {
  int n = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};
Percentiles Pct(std::vector<double> v) {
  Percentiles p;
  p.n = static_cast<int>(v.size());
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
    return v[std::min(i, v.size() - 1)];
  };
  p.p50 = at(0.5);
  p.p90 = at(0.9);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}
std::string JsonPct(const Percentiles& p) {
  return R"({"n":)" + std::to_string(p.n) + R"(,"p50Ms":)" + Fixed(p.p50) + R"(,"p90Ms":)" +
         Fixed(p.p90) + R"(,"p99Ms":)" + Fixed(p.p99) + R"(,"maxMs":)" + Fixed(p.max) + "}";
}

int CountFds(pid_t pid) {
  DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.' ? 1 : 0;
  closedir(d);
  return n;
}

struct Sample {
  double t = 0;  // seconds since the start
  pid_t pid = 0;
  int64_t rss_kb = -1;
  int fds = -1;
  int threads = -1;
};

// Least-squares slope of rss over time, in MiB per hour.
double SlopeMiBPerHour(const std::vector<Sample>& s) {
  if (s.size() < 3) return 0;
  double n = static_cast<double>(s.size()), sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& x : s) {
    double h = x.t / 3600.0, y = static_cast<double>(x.rss_kb) / 1024.0;
    sx += h;
    sy += y;
    sxx += h * h;
    sxy += h * y;
  }
  double den = n * sxx - sx * sx;
  return den == 0 ? 0 : (n * sxy - sx * sy) / den;
}

// One hub process's own counters (GET /api/v1/clusters), read before it is
// killed and at the end.
struct HubLifetime {
  int64_t sessions = 0, superseded = 0, max_concurrent = 0;
};

// ---- the world --------------------------------------------------------------------

struct Agent {
  std::string name;
  std::unique_ptr<Process> process;
  std::atomic<pid_t> pid{0};
  int starts = 0;
  bool frozen = false;
  Clock::time_point frozen_at{};
};

class World {
 public:
  explicit World(const Options& o) : opt_(o) {
    hub_bin_ = o.build_dir + "/operator/cmd/srexpert-hub";
    agent_bin_ = o.build_dir + "/operator/cmd/srexpert-agent";
    Check(access(hub_bin_.c_str(), X_OK) == 0, "not executable: " + hub_bin_);
    Check(access(agent_bin_.c_str(), X_OK) == 0, "not executable: " + agent_bin_);
    api_.Start();
    client_ = NewClient();
    churn_client_ = NewClient(/*unlimited=*/true);
    auto ns = json::Parse(std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") +
                          kNs + R"("}})");
    Check(client_->Create(*ns).ok(), "create namespace");
    e2e::CreateStreamNamespaces(*client_);
    token_ = NewToken();
    WriteTokens({token_});
    WriteAtomically(dir_.File("token"), token_ + "\n");
  }

  // `unlimited`: no client-side rate limit (the churn paces itself).
  std::shared_ptr<srexpert::kube::RestClient> NewClient(bool unlimited = false) {
    auto cfg = srexpert::kube::LoadKubeconfig(api_.KubeconfigFile());
    Check(cfg.ok(), "kubeconfig");
    if (unlimited) cfg->qps = 0;
    auto client = srexpert::kube::RestClient::New(*cfg);
    Check(client.ok(), "rest client");
    return *client;
  }

  // Starts the hub on its state file (ports 0 the first time, then the same).
  void StartHub() {
    hub_.reset();
    hub_ = std::make_unique<Process>(
        hub_bin_,
        std::vector<std::string>{
            "--bind-address", "127.0.0.1", "--port", std::to_string(tunnel_port_), "--api-port",
            std::to_string(api_port_), "--tls-cert-file", pki_.server_cert, "--tls-key-file",
            pki_.server_key, "--tokens-file", dir_.File("tokens.json"), "--state-file",
            dir_.File("hub-state.db"), "--idle-timeout", "1m"},
        dir_.File("hub-" + std::to_string(++hub_starts_) + ".log"));
    std::optional<json::Document> line;
    Check(WaitUntil([&] { return (line = hub_->LogLine("hub listening")).has_value(); }, 30s),
          "hub did not start:\n" + hub_->Log());
    tunnel_port_ = static_cast<uint16_t>(json::GetInt(*line, {"tunnelPort"}));
    api_port_ = static_cast<uint16_t>(json::GetInt(*line, {"apiPort"}));
    hub_pid_ = hub_->pid();
    if (!relay_) relay_ = std::make_unique<ChaosRelay>(tunnel_port_);
  }
  Process& hub() { return *hub_; }
  void KillHub() {
    hub_pid_ = 0;
    hub_->KillNow();
  }
  std::atomic<pid_t>& hub_pid() { return hub_pid_; }
  int hub_starts() const { return hub_starts_; }
  ChaosRelay& relay() { return *relay_; }

  // Lease 3 s / renew 2 s / retry 0.5 s; ping 1 s, pong timeout 2 s; backoff
  // 0.1..1 s — the e2e timings, so a fault round takes seconds.
  void WriteConfig() {
    WriteFile(dir_.File("config.json"), std::string(R"({
      "version": 1,
      "clusterName": "soak",
      "backend": {"url": "wss://localhost:)") + std::to_string(relay_->port()) +
                                            R"(/api/v1/tunnel", "caFile": ")" + pki_.ca_cert +
                                            R"("},
      "tokenFile": ")" + dir_.File("token") + R"(",
      "logLevel": "info",
      "leaderElection": {"leaseName": ")" + kLease + R"(", "leaseNamespace": ")" + kNs + R"(",
                         "leaseDurationMs": 3000, "renewDeadlineMs": 2000, "retryPeriodMs": 500},
      "tunnel": {"pingIntervalMs": 1000, "pongTimeoutMs": 2000,
                 "backoff": {"initialMs": 100, "maxMs": 1000, "multiplier": 2.0}},
      "collection": {"events": true, "metrics": false, "excludedNamespaces": [")" +
                                            e2e::kStreamExcluded + R"("]}
    })");
  }

  void StartAgent(Agent& a) {
    a.pid = 0;
    a.process.reset();
    a.frozen = false;
    a.process = std::make_unique<Process>(
        agent_bin_,
        std::vector<std::string>{"--kubeconfig", api_.KubeconfigFile(), "--config",
                                 dir_.File("config.json"), "--health-probe-bind-address",
                                 "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
                                 "--pod-name", a.name, "--pod-namespace", kNs, "--node-name",
                                 "node-" + a.name},
        dir_.File(a.name + "-" + std::to_string(++a.starts) + ".log"));
    Check(WaitUntil([&] { return a.process->LogLine("serving probes and metrics").has_value(); },
                    30s),
          "agent " + a.name + " did not start:\n" + a.process->Log());
    a.pid = a.process->pid();
  }
  Agent* ByName(const std::string& name) {
    for (auto& a : agents_) {
      if (a.name == name) return &a;
    }
    return nullptr;
  }
  Agent* agents() { return agents_; }

  srexpert::testing::HubClusterView Cluster() {
    return srexpert::testing::ReadHubCluster(api_port_, kCluster);
  }
  uint16_t api_port() const { return api_port_; }

  // The hub's tokens file holds `tokens` (newest first) for the cluster.
  void WriteTokens(const std::vector<std::string>& tokens) {
    std::string body = R"({"clusters":[)";
    for (size_t i = 0; i < tokens.size(); ++i) {
      body += (i ? "," : "") + std::string(R"({"name":")") + kCluster + R"(","token":")" +
              tokens[i] + R"("})";
    }
    WriteAtomically(dir_.File("tokens.json"), body + "]}");
  }
  // A rotation as an operator does it: the hub accepts the new token (and
  // still the current one), then the agents' Secret gets the new one; the
  // token before the current one is revoked.
  void RotateToken() {
    std::string next = NewToken();
    WriteTokens({next, token_});
    std::this_thread::sleep_for(300ms);
    WriteAtomically(dir_.File("token"), next + "\n");
    token_ = next;
  }

  ApiServer& api() { return api_; }
  srexpert::kube::RestClient& client() { return *client_; }
  std::shared_ptr<srexpert::kube::RestClient> churn_client() { return churn_client_; }
  TempDir& dir() { return dir_; }

  std::string LogTails() {
    std::string out;
    auto tail = [](const std::string& s) {
      return s.size() > 3000 ? "..." + s.substr(s.size() - 3000) : s;
    };
    if (hub_) out += "--- hub\n" + tail(hub_->Log());
    for (auto& a : agents_) {
      if (a.process) out += "--- " + a.name + "\n" + tail(a.process->Log());
    }
    return out;
  }

  void StopAll() {
    for (auto& a : agents_) {
      if (a.process) a.process->Stop(20s);
      a.pid = 0;
    }
    hub_pid_ = 0;
    if (hub_) hub_->Stop(20s);
    if (relay_) relay_->Stop();
  }

 private:
  static void WriteAtomically(const std::string& path, const std::string& content) {
    WriteFile(path + ".tmp", content);
    Check(std::rename((path + ".tmp").c_str(), path.c_str()) == 0, "rename " + path);
  }
  std::string NewToken() {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string t = "soak-";
    for (int i = 0; i < 24; ++i) t += alphabet[token_rng_() % (sizeof alphabet - 1)];
    return t;
  }

  Options opt_;
  std::string hub_bin_, agent_bin_;
  TempDir dir_;
  TestPki pki_{dir_.path()};
  ApiServer api_;
  std::shared_ptr<srexpert::kube::RestClient> client_, churn_client_;
  std::unique_ptr<Process> hub_;
  std::atomic<pid_t> hub_pid_{0};
  std::unique_ptr<ChaosRelay> relay_;
  uint16_t tunnel_port_ = 0, api_port_ = 0;
  int hub_starts_ = 0;
  Agent agents_[kAgents];
  std::mt19937 token_rng_{std::random_device{}()};
  std::string token_;
};

// ---- the hub logs: session overlap ----------------------------------------------

struct OverlapReport {
  int sessions = 0;
  int max_live = 0;     // sessions open, not superseded, not ended, at once
  int max_open = 0;     // including superseded ones still draining
  int violations = 0;   // a session opened while another was live and not superseded by it
  std::vector<std::string> examples;
};

// Walks every hub log in start order: "agent session open" (session),
// "session superseded" (old, new), "agent disconnected" (session).
OverlapReport CheckOverlap(const std::string& dir, int hub_starts) {
  OverlapReport r;
  for (int i = 1; i <= hub_starts; ++i) {
    std::string log = srexpert::testing::ReadFile(dir + "/hub-" + std::to_string(i) + ".log");
    std::set<std::string> live, draining;
    size_t pos = 0;
    while (pos < log.size()) {
      size_t end = log.find('\n', pos);
      if (end == std::string::npos) end = log.size();
      std::string line = log.substr(pos, end - pos);
      pos = end + 1;
      if (line.empty() || line[0] != '{') continue;
      auto doc = json::Parse(line);
      if (!doc) continue;
      std::string msg = json::GetString(*doc, {"msg"});
      if (msg == "session superseded") {
        std::string old = json::GetString(*doc, {"old"});
        if (live.erase(old)) draining.insert(old);
      } else if (msg == "agent session open") {
        std::string s = json::GetString(*doc, {"session"});
        ++r.sessions;
        if (!live.empty()) {
          ++r.violations;
          if (r.examples.size() < 5) {
            r.examples.push_back("hub-" + std::to_string(i) + ".log: session " + s +
                                 " opened while " + *live.begin() + " was live");
          }
        }
        live.insert(s);
      } else if (msg == "agent disconnected") {
        std::string s = json::GetString(*doc, {"session"});
        live.erase(s);
        draining.erase(s);
      }
      r.max_live = std::max(r.max_live, static_cast<int>(live.size()));
      r.max_open = std::max(r.max_open, static_cast<int>(live.size() + draining.size()));
    }
  }
  return r;
}

// ---- the run ------------------------------------------------------------------------

enum Action { kRelayReset, kRelayStall, kHubKill, kLeaderTerm, kLeaderKill, kLeaderStop };
const char* ActionName(int a) {
  switch (a) {
    case kRelayReset: return "relay RST";
    case kRelayStall: return "relay stall";
    case kHubKill: return "hub SIGKILL";
    case kLeaderTerm: return "leader SIGTERM";
    case kLeaderKill: return "leader SIGKILL";
    default: return "leader SIGSTOP";
  }
}
// Relative weights, sized so a 30-minute run passes 1,000 forced drops and
// 100 leader changes (docs/performance.md): RST rounds are the short ones.
constexpr int kWeights[] = {70, 6, 9, 7, 4, 4};

struct Comparison {
  double at_s = 0;
  bool converged = false;
  double ms = 0;
  size_t expected = 0, hub = 0;
  std::vector<std::string> diff;
  std::vector<std::string> duplicates;
};

struct Results {
  std::map<int, int> actions;             // per Action
  int drops = 0;                          // forced tunnel drops
  int leader_changes = 0;
  int token_rotations = 0;
  std::map<std::string, int> api_faults;  // per fault kind
  std::map<int, std::vector<double>> recover_ms;  // per Action: fault -> new session
  std::vector<double> hub_outage_ms;      // hub SIGKILL -> new session (includes the down time)
  std::vector<Comparison> checks;
  std::vector<HubLifetime> hubs;
  std::vector<std::string> failures;      // correctness failures
  std::vector<std::string> workload_errors;
  int churn_ops = 0;
  std::map<std::string, std::vector<Sample>> samples;  // per role
  OverlapReport overlap;
  double seconds = 0;
};

class Soak {
 public:
  Soak(const Options& o, World& w, Results& r) : opt_(o), w_(w), r_(r), rng_(o.seed) {}

  void Run() {
    for (int i = 0; i < kAgents; ++i) w_.agents()[i].name = "agent-" + std::to_string(i);
    w_.StartHub();
    w_.WriteConfig();
    for (int i = 0; i < kAgents; ++i) w_.StartAgent(w_.agents()[i]);
    auto c = WaitConnected("", "", 60s, "initial connect");
    progress("leader " + c.pod + " connected");

    start_ = Clock::now();
    sampler_ = std::thread([this] { SampleLoop(); });
    churn_ = std::thread([this] { ChurnLoop(); });
    const auto end = start_ + std::chrono::milliseconds(static_cast<int64_t>(opt_.minutes * 60000));
    auto next_check = start_ + std::chrono::seconds(opt_.check_seconds);
    auto next_rotation = start_ + std::chrono::seconds(opt_.rotate_seconds);
    auto next_progress = start_ + 30s;
    try {
      while (Clock::now() < end) {
        ThawExpired(false);
        CheckAlive();
        if (Clock::now() >= next_check) {
          QuietCheck();
          next_check = Clock::now() + std::chrono::seconds(opt_.check_seconds);
        }
        if (Clock::now() >= next_rotation) {
          w_.RotateToken();
          ++r_.token_rotations;
          next_rotation = Clock::now() + std::chrono::seconds(opt_.rotate_seconds);
        }
        MaybeInjectApiFault();
        Round();
        if (Clock::now() >= next_progress) {
          progress("drops " + std::to_string(r_.drops) + ", leader changes " +
                   std::to_string(r_.leader_changes) + ", checks " + std::to_string(r_.checks.size()) +
                   ", churn ops " + std::to_string(churn_ops_.load()) + ", failures " +
                   std::to_string(r_.failures.size()));
          next_progress = Clock::now() + 30s;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng_() % 200));
      }
      QuietCheck();  // the final comparison
    } catch (...) {
      StopThreads();
      ReadHubLifetime();
      throw;
    }
    StopThreads();
    ReadHubLifetime();
  }

  void StopThreads() {
    stop_ = true;
    if (churn_.joinable()) churn_.join();
    if (sampler_.joinable()) sampler_.join();
    r_.churn_ops = churn_ops_.load();
    r_.seconds = Sec(Clock::now() - start_);
    std::lock_guard l(samples_mu_);
    r_.samples = samples_;
  }

  void progress(const std::string& what) {
    auto since = start_ == Clock::time_point{} ? 0.0 : Sec(Clock::now() - start_);
    std::cout << "[" << Fixed(since, 1) << " s] " << what << "\n" << std::flush;
  }

 private:
  // Waits for a connected session on the hub whose id is not `old_session`
  // and whose pod is not `not_pod`; a correctness failure after `timeout`.
  srexpert::testing::HubClusterView WaitConnected(const std::string& old_session,
                                                  const std::string& not_pod,
                                                  std::chrono::milliseconds timeout,
                                                  const std::string& what) {
    auto t0 = Clock::now();
    while (Clock::now() - t0 < timeout) {
      auto c = w_.Cluster();
      if (c.connected && !c.pod.empty() && c.session_id != old_session &&
          (not_pod.empty() || c.pod != not_pod)) {
        return c;
      }
      std::this_thread::sleep_for(20ms);
    }
    throw Failure("no connected session within " + std::to_string(timeout.count()) +
                  " ms after " + what + "\n" + w_.LogTails());
  }

  void NoteLeader(const std::string& pod) {
    if (!last_pod_.empty() && pod != last_pod_) ++r_.leader_changes;
    last_pod_ = pod;
  }

  void ReadHubLifetime() {
    auto c = w_.Cluster();
    if (c.found) r_.hubs.push_back({c.sessions_total, c.superseded_total, c.max_concurrent});
  }

  // A process that exited without being told to is a crash.
  void CheckAlive() {
    if (!w_.hub().Running()) {
      std::string log = w_.hub().Log();
      r_.failures.push_back("hub exited on its own at " + Fixed(Sec(Clock::now() - start_)) +
                            " s:\n..." + log.substr(log.size() > 3000 ? log.size() - 3000 : 0));
      w_.StartHub();
    }
    for (int i = 0; i < kAgents; ++i) {
      Agent& a = w_.agents()[i];
      if (!a.process->Running()) {
        std::string log = a.process->Log();
        r_.failures.push_back(a.name + " exited on its own at " +
                              Fixed(Sec(Clock::now() - start_)) + " s:\n..." +
                              log.substr(log.size() > 3000 ? log.size() - 3000 : 0));
        w_.StartAgent(a);
      }
    }
  }

  void ThawExpired(bool all) {
    for (int i = 0; i < kAgents; ++i) {
      Agent& a = w_.agents()[i];
      if (a.frozen && (all || Clock::now() - a.frozen_at > 6s)) {
        a.process->Signal(SIGCONT);
        a.frozen = false;
      }
    }
  }

  void MaybeInjectApiFault() {
    if (rng_() % 100 >= 25) return;
    Fault f;
    f.times = 1 + static_cast<int>(rng_() % 3);
    std::string name;
    switch (rng_() % 5) {
      case 0:
        f.kind = Fault::Kind::kGone;
        f.verb = "watch";
        name = "410 on watch";
        break;
      case 1:
        f.kind = Fault::Kind::kResetWatch;
        f.verb = "watch";
        name = "watch reset mid-stream";
        break;
      case 2:
        f.kind = Fault::Kind::kStatus;
        f.code = 429;
        f.retry_after_seconds = 1;
        f.verb = rng_() % 2 ? "list" : "watch";
        name = "429 on " + f.verb;
        break;
      case 3:
        f.kind = Fault::Kind::kStatus;
        f.code = 500;
        f.verb = rng_() % 2 ? "list" : "watch";
        name = "500 on " + f.verb;
        break;
      default:
        f.kind = Fault::Kind::kStatus;
        f.code = 503;
        f.verb = rng_() % 2 ? "list" : "watch";
        name = "503 on " + f.verb;
        break;
    }
    w_.api().AddFault(f);
    r_.api_faults[name] += f.times;
  }

  int PickAction() {
    int weights[std::size(kWeights)];
    int total = 0;
    for (size_t a = 0; a < std::size(kWeights); ++a) {
      weights[a] = opt_.no_kills && a >= kHubKill ? 0 : kWeights[a];
      total += weights[a];
    }
    int x = static_cast<int>(rng_() % static_cast<uint32_t>(total));
    for (int a = 0; a < static_cast<int>(std::size(weights)); ++a) {
      if (x < weights[a]) return a;
      x -= weights[a];
    }
    return kRelayReset;
  }

  void Round() {
    auto c = w_.Cluster();
    if (!c.connected) c = WaitConnected("", "", 90s, "the previous round");
    NoteLeader(c.pod);
    int action = PickAction();
    Agent* leader = w_.ByName(c.pod);
    bool any_frozen = false;
    for (int i = 0; i < kAgents; ++i) any_frozen |= w_.agents()[i].frozen;
    if (action >= kLeaderTerm && (!leader || leader->frozen)) action = kRelayReset;
    if (action == kLeaderStop && any_frozen) action = kLeaderTerm;

    auto t0 = Clock::now();
    switch (action) {
      case kRelayReset: {
        if (w_.relay().ResetAll() == 0) return;  // nothing to break: not a drop
        auto n = WaitConnected(c.session_id, "", 90s, ActionName(action));
        Record(action, t0, n);
        break;
      }
      case kRelayStall: {
        if (w_.relay().StallAll() == 0) return;
        auto n = WaitConnected(c.session_id, "", 90s, ActionName(action));
        Record(action, t0, n);
        w_.relay().ResetStalled();
        break;
      }
      case kHubKill: {
        ReadHubLifetime();
        w_.KillHub();
        std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 1000));
        auto t1 = Clock::now();
        w_.StartHub();
        auto n = WaitConnected("", "", 90s, ActionName(action));
        Record(action, t1, n);
        r_.hub_outage_ms.push_back(Ms(Clock::now() - t0));
        break;
      }
      case kLeaderTerm:
      case kLeaderKill: {
        leader->process->Signal(action == kLeaderTerm ? SIGTERM : SIGKILL);
        auto n = WaitConnected(c.session_id, c.pod, 90s, ActionName(action));
        Record(action, t0, n);
        if (!WaitUntil([&] { return !leader->process->Running(); }, 20s)) {
          r_.failures.push_back(leader->name + " did not exit within 20 s of SIGTERM");
        }
        leader->pid = 0;
        w_.StartAgent(*leader);  // the rolled pod comes back as a standby
        break;
      }
      case kLeaderStop: {
        leader->process->Signal(SIGSTOP);
        leader->frozen = true;
        leader->frozen_at = Clock::now();
        auto n = WaitConnected(c.session_id, c.pod, 90s, ActionName(action));
        Record(action, t0, n);
        break;
      }
    }
  }

  void Record(int action, Clock::time_point t0, const srexpert::testing::HubClusterView& n) {
    ++r_.actions[action];
    ++r_.drops;
    r_.recover_ms[action].push_back(Ms(Clock::now() - t0));
    NoteLeader(n.pod);
  }

  // Churn and faults paused; the hub must come to equal the API server.
  void QuietCheck() {
    std::lock_guard pause(work_mu_);
    w_.api().ClearFaults();
    ThawExpired(true);
    w_.relay().ResetStalled();
    CheckAlive();
    auto c = WaitConnected("", "", 90s, "a quiet period began");
    NoteLeader(c.pod);
    Comparison k;
    k.at_s = Sec(Clock::now() - start_);
    // Both sides are read again on every poll: the agents themselves may
    // still write (a Lease, an Event) while the hub catches up.
    e2e::HubView hub;
    auto t0 = Clock::now();
    const auto bound = std::chrono::seconds(opt_.converge_seconds);
    std::string last_error;
    while (true) {
      try {
        e2e::View expected = e2e::ExpectedView(w_.client());
        k.expected = expected.size();
        hub = e2e::ReadHubView(w_.api_port(), kCluster);
        if (hub.ok) {
          k.diff = e2e::Diff(expected, hub.objects);
          if (k.diff.empty() && hub.duplicates.empty()) {
            k.converged = true;
            break;
          }
        }
      } catch (const std::exception& e) {
        last_error = e.what();  // the API server refused a list: retried within the bound
      }
      if (Clock::now() - t0 > bound) break;
      std::this_thread::sleep_for(250ms);
    }
    k.ms = Ms(Clock::now() - t0);
    k.hub = hub.objects.size();
    k.duplicates = hub.duplicates;
    if (!k.converged) {
      std::string lines;
      for (size_t i = 0; i < k.diff.size() && i < 20; ++i) lines += "  " + k.diff[i] + "\n";
      for (size_t i = 0; i < k.duplicates.size() && i < 5; ++i) {
        lines += "  duplicate " + k.duplicates[i] + "\n";
      }
      if (!hub.ok) lines += "  the hub did not serve the resource list\n";
      if (!last_error.empty()) lines += "  last API error: " + last_error + "\n";
      r_.failures.push_back("hub view != API projection " + Fixed(opt_.converge_seconds) +
                            " s into the quiet period at " + Fixed(k.at_s) + " s (expected " +
                            std::to_string(k.expected) + ", hub " + std::to_string(k.hub) +
                            ", " + std::to_string(k.diff.size()) + " differences):\n" + lines);
    }
    progress("quiet check: " + std::string(k.converged ? "equal" : "DIFFERENT") + " after " +
             Fixed(k.ms) + " ms (" + std::to_string(k.expected) + " objects)");
    r_.checks.push_back(std::move(k));
  }

  void ChurnLoop() {
    e2e::Workload work(w_.churn_client(), opt_.seed ^ 0x5eedu, opt_.max_live);
    const auto period = std::chrono::microseconds(1000000 / std::max(1, opt_.ops_per_second));
    auto next = Clock::now();
    while (!stop_) {
      {
        std::lock_guard l(work_mu_);
        try {
          work.Step();
        } catch (const std::exception& e) {
          std::lock_guard el(errors_mu_);
          if (r_.workload_errors.size() < 20) r_.workload_errors.push_back(e.what());
        }
      }
      churn_ops_ = work.operations();
      next += period;
      auto now = Clock::now();
      if (next < now) next = now;
      std::this_thread::sleep_until(next);
    }
  }

  void SampleLoop() {
    auto next = Clock::now();
    while (!stop_) {
      double t = Sec(Clock::now() - start_);
      auto sample = [&](const std::string& role, pid_t pid) {
        if (pid <= 0) return;
        Memory m = ReadMemory(pid);
        int fds = CountFds(pid);
        if (m.rss_kb < 0 || fds < 0) return;  // gone between the read of its pid and now
        std::lock_guard l(samples_mu_);
        samples_[role].push_back({t, pid, m.rss_kb, fds, m.threads});
      };
      sample("bench", getpid());
      sample("hub", w_.hub_pid().load());
      for (int i = 0; i < kAgents; ++i) sample(w_.agents()[i].name, w_.agents()[i].pid.load());
      next += 10s;
      while (!stop_ && Clock::now() < next) std::this_thread::sleep_for(100ms);
    }
  }

  const Options& opt_;
  World& w_;
  Results& r_;
  std::mt19937 rng_;
  Clock::time_point start_{};
  std::string last_pod_;
  std::atomic<bool> stop_{false};
  std::mutex work_mu_;  // held by a churn step, and for a whole quiet period
  std::mutex errors_mu_;
  std::atomic<int> churn_ops_{0};
  std::thread churn_, sampler_;
  std::mutex samples_mu_;
  std::map<std::string, std::vector<Sample>> samples_;
};

// ---- report -------------------------------------------------------------------------

void Report(const Options& opt, Results& r) {
  int64_t sessions = 0, superseded = 0, max_concurrent = 0;
  for (const auto& h : r.hubs) {
    sessions += h.sessions;
    superseded += h.superseded;
    max_concurrent = std::max(max_concurrent, h.max_concurrent);
  }
  std::cout << "\n== Soak: " << Fixed(r.seconds / 60.0, 1) << " min, seed " << opt.seed << " ==\n";
  std::printf("%-34s %10s\n", "forced tunnel drops", std::to_string(r.drops).c_str());
  std::printf("%-34s %10s\n", "leader changes", std::to_string(r.leader_changes).c_str());
  std::printf("%-34s %10s\n", "hub sessions (all hub lifetimes)", std::to_string(sessions).c_str());
  std::printf("%-34s %10s\n", "hub supersedes", std::to_string(superseded).c_str());
  std::printf("%-34s %10s\n", "hub maxConcurrentSessions (max)",
              std::to_string(max_concurrent).c_str());
  std::printf("%-34s %10s\n", "live sessions at once (hub logs)",
              std::to_string(r.overlap.max_live).c_str());
  std::printf("%-34s %10s\n", "open incl. draining (hub logs)",
              std::to_string(r.overlap.max_open).c_str());
  std::printf("%-34s %10s\n", "token rotations", std::to_string(r.token_rotations).c_str());
  std::printf("%-34s %10s\n", "churn operations", std::to_string(r.churn_ops).c_str());
  int api_faults = 0;
  for (const auto& [k, n] : r.api_faults) api_faults += n;
  std::printf("%-34s %10s\n", "API faults injected", std::to_string(api_faults).c_str());
  for (const auto& [k, n] : r.api_faults) std::printf("  %-32s %10d\n", k.c_str(), n);

  std::cout << "\n== Recovery: fault -> hub shows a new connected session (ms) ==\n";
  std::printf("%-16s %6s %8s %8s %8s %8s\n", "fault", "n", "p50", "p90", "p99", "max");
  auto row = [](const std::string& name, const Percentiles& p) {
    std::printf("%-16s %6d %8.0f %8.0f %8.0f %8.0f\n", name.c_str(), p.n, p.p50, p.p90, p.p99, p.max);
  };
  std::vector<double> reconnect, failover;
  for (const auto& [a, v] : r.recover_ms) {
    row(ActionName(a), Pct(v));
    auto& into = a >= kLeaderTerm ? failover : reconnect;
    into.insert(into.end(), v.begin(), v.end());
  }
  row("hub outage", Pct(r.hub_outage_ms));
  row("all reconnects", Pct(reconnect));
  row("all failovers", Pct(failover));
  std::cout << "(hub SIGKILL: from the restart; hub outage: from the kill, down 0-1 s)\n";

  std::cout << "\n== Quiet-period checks (hub view vs API projection) ==\n";
  int bad = 0;
  std::vector<double> converge;
  for (const auto& k : r.checks) {
    bad += k.converged ? 0 : 1;
    converge.push_back(k.ms);
  }
  auto cp = Pct(converge);
  std::printf("%d checks, %d different; converged in p50 %.0f ms, max %.0f ms\n",
              static_cast<int>(r.checks.size()), bad, cp.p50, cp.max);

  std::cout << "\n== Processes, sampled every 10 s ==\n";
  std::printf("%-8s %5s %9s %9s %9s %10s %11s %11s\n", "role", "pids", "RSS start", "RSS warm",
              "RSS end", "MiB/hour", "fds min-max", "thr min-max");
  const double warm = opt.warmup_minutes * 60.0;
  std::string jproc = "[";
  bool first_role = true;
  for (const auto& [role, s] : r.samples) {
    if (s.empty()) continue;
    std::vector<Sample> after;
    for (const auto& x : s) {
      if (x.t >= warm) after.push_back(x);
    }
    const auto& basis = after.empty() ? s : after;
    int fmin = 1 << 30, fmax = 0, tmin = 1 << 30, tmax = 0;
    std::set<pid_t> pids;
    for (const auto& x : s) pids.insert(x.pid);
    for (const auto& x : basis) {
      fmin = std::min(fmin, x.fds);
      fmax = std::max(fmax, x.fds);
      tmin = std::min(tmin, x.threads);
      tmax = std::max(tmax, x.threads);
    }
    double slope = SlopeMiBPerHour(basis);
    std::printf("%-8s %5zu %9s %9s %9s %10s %5d-%-5d %5d-%-5d\n", role.c_str(), pids.size(),
                MiB(s.front().rss_kb).c_str(), MiB(basis.front().rss_kb).c_str(),
                MiB(s.back().rss_kb).c_str(), Fixed(slope, 1).c_str(), fmin, fmax, tmin, tmax);
    jproc += std::string(first_role ? "" : ",") + R"({"role":")" + role + R"(","pids":)" +
             std::to_string(pids.size()) + R"(,"samples":)" + std::to_string(s.size()) +
             R"(,"rssStartKiB":)" + std::to_string(s.front().rss_kb) + R"(,"rssWarmKiB":)" +
             std::to_string(basis.front().rss_kb) + R"(,"rssEndKiB":)" +
             std::to_string(s.back().rss_kb) + R"(,"slopeMiBPerHour":)" + Fixed(slope, 2) +
             R"(,"fds":[)" + std::to_string(fmin) + "," + std::to_string(fmax) +
             R"(],"threads":[)" + std::to_string(tmin) + "," + std::to_string(tmax) + "]}";
    first_role = false;
  }
  jproc += "]";
  std::cout << "(warm-up " << opt.warmup_minutes << " min; slope: least squares over the samples "
            << "after warm-up, of whatever process holds the role)\n";

  if (!r.workload_errors.empty()) {
    std::cout << "\n== Workload errors (API refused a churn step) ==\n";
    for (const auto& e : r.workload_errors) std::cout << "  " << e << "\n";
  }
  if (r.overlap.violations) {
    std::cout << "\n== Two live tunnels ==\n";
    for (const auto& e : r.overlap.examples) std::cout << "  " << e << "\n";
  }
  if (!r.failures.empty()) {
    std::cout << "\n== FAILURES ==\n";
    for (const auto& f : r.failures) std::cout << f << "\n";
  }
  const bool drops_met = r.drops >= 1000, changes_met = r.leader_changes >= 100;
  std::cout << "\ntargets: forced drops " << r.drops << (drops_met ? " >= 1000 met" : " < 1000 NOT met")
            << "; leader changes " << r.leader_changes
            << (opt.no_kills      ? " (no kills: not a target of this mode)"
                : changes_met ? " >= 100 met"
                              : " < 100 NOT met")
            << "\n";

  std::string j = R"({"bench":"soak","minutes":)" + Fixed(r.seconds / 60.0, 2) + R"(,"seed":)" +
                  std::to_string(opt.seed) + R"(,"drops":)" + std::to_string(r.drops) +
                  R"(,"leaderChanges":)" + std::to_string(r.leader_changes) + R"(,"actions":{)";
  bool first = true;
  for (const auto& [a, n] : r.actions) {
    j += std::string(first ? "" : ",") + "\"" + ActionName(a) + "\":" + std::to_string(n);
    first = false;
  }
  j += R"(},"apiFaults":)" + std::to_string(api_faults) + R"(,"tokenRotations":)" +
       std::to_string(r.token_rotations) + R"(,"churnOps":)" + std::to_string(r.churn_ops) +
       R"(,"hub":{"lifetimes":)" + std::to_string(r.hubs.size()) + R"(,"sessions":)" +
       std::to_string(sessions) + R"(,"superseded":)" + std::to_string(superseded) +
       R"(,"maxConcurrentSessions":)" + std::to_string(max_concurrent) + R"(,"maxLiveFromLogs":)" +
       std::to_string(r.overlap.max_live) + R"(,"maxOpenFromLogs":)" +
       std::to_string(r.overlap.max_open) + R"(,"twoLiveViolations":)" +
       std::to_string(r.overlap.violations) + R"(},"recovery":{)";
  first = true;
  for (const auto& [a, v] : r.recover_ms) {
    j += std::string(first ? "" : ",") + "\"" + ActionName(a) + "\":" + JsonPct(Pct(v));
    first = false;
  }
  j += std::string(first ? "" : ",") + R"("hub outage":)" + JsonPct(Pct(r.hub_outage_ms)) + R"(,"reconnect":)" +
       JsonPct(Pct(reconnect)) + R"(,"failover":)" + JsonPct(Pct(failover)) + "}";
  j += R"(,"checks":{"n":)" + std::to_string(r.checks.size()) + R"(,"different":)" +
       std::to_string(bad) + R"(,"convergeMs":)" + JsonPct(cp) + R"(},"processes":)" + jproc +
       R"(,"workloadErrors":)" + std::to_string(r.workload_errors.size()) + R"(,"failures":)" +
       std::to_string(r.failures.size()) + "}";
  std::cout << "\n" << j << "\n";
}

int ParseInt(const char* flag, const char* v, long max = 1000000) {
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (!*v || *end || n < 0 || n > max) {
    std::cerr << "soak_bench: " << flag << " wants an integer 0.." << max << "\n";
    std::exit(2);
  }
  return static_cast<int>(n);
}

void Usage() {
  std::cout
      << "usage: soak_bench [--minutes N] [--fast] [--seed N] [--check-seconds S]\n"
         "                  [--rotate-seconds S] [--warmup-minutes M] [--ops-per-second N]\n"
         "                  [--max-live N] [--converge-seconds S] [--log-dir DIR] [--build-dir DIR]\n"
         "                  [--no-kills]\n"
         "  --minutes          length of the chaos phase (default 30; --fast 3)\n"
         "  --fast             a smoke run: 3 min, checks every 20 s, rotation every 30 s,\n"
         "                     warm-up 1 min\n"
         "  --seed             workload and fault schedule (default: random, printed)\n"
         "  --check-seconds    between quiet-period comparisons (default 60)\n"
         "  --rotate-seconds   between token rotations (default 120)\n"
         "  --warmup-minutes   memory trend fitted after this (default 5)\n"
         "  --ops-per-second   churn rate (default 20)\n"
         "  --max-live         churn population cap (default 300)\n"
         "  --converge-seconds bound for the hub to equal the API in a quiet period (default 60)\n"
         "  --log-dir          copy every process log there at the end\n"
         "  --build-dir        where operator/cmd/srexpert-{agent,hub} are\n"
         "  --no-kills         relay and API faults only: every process lives the whole run,\n"
         "                     so each role's RSS slope is one process's trend\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool minutes_set = false, check_set = false, rotate_set = false, warm_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::cerr << "soak_bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--minutes") {
      opt.minutes = ParseInt("--minutes", next(), 24 * 60);
      minutes_set = true;
    } else if (a == "--fast") opt.fast = true;
    else if (a == "--seed") {
      opt.seed = static_cast<uint32_t>(std::strtoul(next(), nullptr, 10));
      opt.seed_set = true;
    } else if (a == "--check-seconds") {
      opt.check_seconds = std::max(1, ParseInt("--check-seconds", next()));
      check_set = true;
    } else if (a == "--rotate-seconds") {
      opt.rotate_seconds = std::max(1, ParseInt("--rotate-seconds", next()));
      rotate_set = true;
    } else if (a == "--warmup-minutes") {
      opt.warmup_minutes = ParseInt("--warmup-minutes", next());
      warm_set = true;
    } else if (a == "--ops-per-second") opt.ops_per_second = ParseInt("--ops-per-second", next(), 1000);
    else if (a == "--max-live") opt.max_live = static_cast<size_t>(ParseInt("--max-live", next()));
    else if (a == "--converge-seconds") opt.converge_seconds = ParseInt("--converge-seconds", next());
    else if (a == "--log-dir") opt.log_dir = next();
    else if (a == "--build-dir") opt.build_dir = next();
    else if (a == "--no-kills") opt.no_kills = true;
    else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else {
      std::cerr << "soak_bench: unknown flag " << a << "\n";
      Usage();
      return 2;
    }
  }
  if (opt.fast) {
    if (!minutes_set) opt.minutes = 3;
    if (!check_set) opt.check_seconds = 20;
    if (!rotate_set) opt.rotate_seconds = 30;
    if (!warm_set) opt.warmup_minutes = 1;
  }
  if (!opt.seed_set) opt.seed = std::random_device{}();

  // Bounded whatever happens: the run, plus quiet periods and shutdown.
  GuardChildren("soak_bench", static_cast<int>(opt.minutes * 60 * 1.5) + 600);
  std::cout << "soak_bench: " << opt.minutes << " min, seed " << opt.seed << " (replay with --seed "
            << opt.seed << "), checks every " << opt.check_seconds << " s, churn "
            << opt.ops_per_second << " ops/s up to " << opt.max_live << " objects"
            << (opt.no_kills ? "; no process kills (--no-kills)" : "") << "\n"
            << std::flush;

  Results results;
  std::unique_ptr<World> world;
  int rc = 0;
  std::string log_dir;
  try {
    world = std::make_unique<World>(opt);
    Soak soak(opt, *world, results);
    try {
      soak.Run();
    } catch (const Failure& f) {
      results.failures.push_back(f.what());
      rc = 1;
    }
    world->StopAll();
    results.overlap = CheckOverlap(world->dir().path(), world->hub_starts());
    if (results.overlap.violations) rc = 1;
    if (!results.failures.empty()) rc = 1;
    log_dir = opt.log_dir;
    if (log_dir.empty() && rc != 0) log_dir = "/tmp/soak-bench-" + std::to_string(opt.seed);
    if (!log_dir.empty()) {
      srexpert::testing::RunShell("mkdir -p '" + log_dir + "' && cp " + world->dir().path() +
                                  "/*.log '" + log_dir + "/'");
    }
  } catch (const std::exception& e) {
    std::cerr << "soak_bench: FAILED: " << e.what() << "\n";
    if (world) std::cerr << world->LogTails();
    world.reset();  // kills every process
    return 1;
  }
  world.reset();
  Report(opt, results);
  if (!log_dir.empty()) std::cout << "logs: " << log_dir << "\n";
  return rc;
}
