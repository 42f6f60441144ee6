// agent_bench: the figures of docs/performance.md, "Agent: RSS, failover,
// reconnect". Starts the loopback API test server in-process, a real
// srexpert-hub and three real srexpert-agent processes (default timings
// 15/10/2 s, or 3/2/0.5 s with --fast) and measures
//   - VmRSS/VmHWM of the leader and the standbys once the tunnel is up and
//     after an idle period;
//   - failover after SIGTERM and after SIGKILL of the leader: from the
//     signal until the hub shows a connected session of another agent
//     (hub API polled every 10 ms; the Lease holder is polled alongside);
//   - reconnect after the hub is SIGKILLed and restarted on the same ports:
//     outage, time from the restart to the new session, and the agent's
//     backoff delays (its "tunnel disconnected" log lines, retryInMs).
// Prints a table and, last, one JSON line. Every process it starts is killed
// by PID on every exit path (normal, error, watchdog, SIGINT/SIGTERM).
// Not a test: run it by hand, see docs/performance.md.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "test/apiserver/api_server.h"
#include "test/bench/bench_support.h"
#include "test/e2e/hub_cluster_view.h"
#include "test/net/test_support.h"

namespace json = srexpert::json;
using srexpert::testing::ApiServer;
using srexpert::testing::HttpCall;
using srexpert::testing::TempDir;
using srexpert::testing::TestPki;
using srexpert::testing::WaitUntil;
using srexpert::testing::WriteFile;
using namespace std::chrono_literals;
using namespace srexpert::bench;

namespace {

constexpr char kNs[] = "srexpert-system";
constexpr char kLease[] = "srexpert-agent-leader";
constexpr char kCluster[] = "bench-cluster";
constexpr char kToken[] = "bench-tunnel-token-Qw81ZpK3";

struct Options {
  int repetitions = 5;       // SIGTERM failovers
  int kill_repetitions = 3;  // SIGKILL failovers
  int hub_repetitions = 3;   // hub kill + restart
  int idle_seconds = 30;
  int hub_down_seconds = 10;
  int timeout_seconds = 900;  // whole run
  bool fast = false;
  std::string build_dir = SRX_BINARY_DIR;
};

struct Agent {
  std::string name;
  std::unique_ptr<Process> process;
  uint16_t health_port = 0;
  uint16_t metrics_port = 0;
  int starts = 0;

  std::string Metrics() const { return HttpCall(metrics_port, "GET", "/metrics").body; }
  int Ready() const { return HttpCall(health_port, "GET", "/readyz").status; }
};


using ClusterView = srexpert::testing::HubClusterView;

class World {
 public:
  explicit World(const Options& o) : opt_(o) {
    hub_bin_ = o.build_dir + "/operator/cmd/srexpert-hub";
    agent_bin_ = o.build_dir + "/operator/cmd/srexpert-agent";
    Check(access(hub_bin_.c_str(), X_OK) == 0, "not executable: " + hub_bin_);
    Check(access(agent_bin_.c_str(), X_OK) == 0, "not executable: " + agent_bin_);
    api_.Start();
    auto cfg = srexpert::kube::LoadKubeconfig(api_.KubeconfigFile());
    Check(cfg.ok(), "kubeconfig");
    auto client = srexpert::kube::RestClient::New(*cfg);
    Check(client.ok(), "rest client");
    client_ = *client;
    auto ns = json::Parse(std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") +
                          kNs + R"("}})");
    Check(client_->Create(*ns).ok(), "create namespace");
    WriteFile(dir_.File("tokens.json"), std::string(R"({"clusters":[{"name":")") + kCluster +
                                            R"(","token":")" + kToken + R"("}]})");
    WriteFile(dir_.File("token"), std::string(kToken) + "\n");
  }

  void StartHub(uint16_t tunnel_port = 0, uint16_t api_port = 0) {
    hub_.reset();
    hub_ = std::make_unique<Process>(
        hub_bin_,
        std::vector<std::string>{"--bind-address", "127.0.0.1", "--port",
                                 std::to_string(tunnel_port), "--api-port",
                                 std::to_string(api_port), "--tls-cert-file", pki_.server_cert,
                                 "--tls-key-file", pki_.server_key, "--tokens-file",
                                 dir_.File("tokens.json")},
        dir_.File("hub-" + std::to_string(++hub_starts_) + ".log"));
    std::optional<json::Document> line;
    Check(WaitUntil([&] { return (line = hub_->LogLine("hub listening")).has_value(); }, 20s),
          "hub did not start:\n" + hub_->Log());
    tunnel_port_ = static_cast<uint16_t>(json::GetInt(*line, {"tunnelPort"}));
    api_port_ = static_cast<uint16_t>(json::GetInt(*line, {"apiPort"}));
  }
  Process& hub() { return *hub_; }
  uint16_t tunnel_port() const { return tunnel_port_; }
  uint16_t api_port() const { return api_port_; }

  void WriteConfig() {
    const char* le = opt_.fast
                         ? R"("leaseDurationMs": 3000, "renewDeadlineMs": 2000, "retryPeriodMs": 500)"
                         : R"("leaseDurationMs": 15000, "renewDeadlineMs": 10000, "retryPeriodMs": 2000)";
    // Tunnel settings: the defaults (ping 20 s, pong 10 s, backoff 1 s..60 s x2).
    WriteFile(dir_.File("config.json"), std::string(R"({
      "version": 1,
      "clusterName": "bench",
      "backend": {"url": "wss://localhost:)") + std::to_string(tunnel_port_) +
                                            R"(/api/v1/tunnel", "caFile": ")" + pki_.ca_cert +
                                            R"("},
      "tokenFile": ")" + dir_.File("token") + R"(",
      "logLevel": "info",
      "leaderElection": {"leaseName": ")" + kLease +
                                            R"(", "leaseNamespace": ")" + kNs + R"(", )" + le +
                                            R"(}
    })");
  }

  Agent& AddAgent(const std::string& name) {
    agents_.push_back(std::make_unique<Agent>());
    agents_.back()->name = name;
    StartAgent(*agents_.back());
    return *agents_.back();
  }
  void StartAgent(Agent& a) {
    a.process.reset();
    a.process = std::make_unique<Process>(
        agent_bin_,
        std::vector<std::string>{"--kubeconfig", api_.KubeconfigFile(), "--config",
                                 dir_.File("config.json"), "--health-probe-bind-address",
                                 "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
                                 "--pod-name", a.name, "--pod-namespace", kNs, "--node-name",
                                 "node-" + a.name},
        dir_.File(a.name + "-" + std::to_string(++a.starts) + ".log"));
    std::optional<json::Document> line;
    Check(WaitUntil(
              [&] {
                return (line = a.process->LogLine("serving probes and metrics")).has_value();
              },
              20s),
          "agent " + a.name + " did not start:\n" + a.process->Log());
    a.health_port = static_cast<uint16_t>(json::GetInt(*line, {"healthPort"}));
    a.metrics_port = static_cast<uint16_t>(json::GetInt(*line, {"metricsPort"}));
  }
  std::vector<std::unique_ptr<Agent>>& agents() { return agents_; }
  Agent* ByName(const std::string& name) {
    for (auto& a : agents_) {
      if (a->name == name) return a.get();
    }
    return nullptr;
  }

  ClusterView Cluster() { return srexpert::testing::ReadHubCluster(api_port_, kCluster); }

  std::string LeaseHolder() {
    auto l = client_->Get({"coordination.k8s.io/v1", "Lease", kNs, kLease});
    if (!l.ok()) return "";
    return json::GetString(*l, {"spec", "holderIdentity"});
  }

  // A connected session whose pod holds the Lease and is not `not_this`.
  std::string WaitForConnectedLeader(const std::string& not_this = "",
                                     std::chrono::milliseconds timeout = 60s) {
    std::string pod = srexpert::testing::WaitForConnectedLeader(
        api_port_, kCluster, [this] { return LeaseHolder(); }, not_this, timeout);
    Check(!pod.empty(), "no connected leader within " + std::to_string(timeout.count()) + " ms");
    return pod;
  }
  // Every agent other than the leader answers /readyz 200 (has read the Lease).
  void WaitForStandbysReady(const std::string& leader) {
    for (auto& a : agents_) {
      if (a->name == leader) continue;
      Check(WaitUntil([&] { return a->Ready() == 200; }, 60s), a->name + " not ready");
    }
  }

  std::string LogTails() {
    std::string out;
    auto tail = [](const std::string& s) {
      return s.size() > 3000 ? "..." + s.substr(s.size() - 3000) : s;
    };
    if (hub_) out += "--- hub\n" + tail(hub_->Log());
    for (auto& a : agents_) {
      if (a->process) out += "--- " + a->name + "\n" + tail(a->process->Log());
    }
    return out;
  }

  void StopAll() {
    for (auto& a : agents_) {
      if (a->process) a->process->Stop(20s);
    }
    if (hub_) hub_->Stop(20s);
  }

 private:
  Options opt_;
  std::string hub_bin_, agent_bin_;
  TempDir dir_;
  TestPki pki_{dir_.path()};
  ApiServer api_;
  std::shared_ptr<srexpert::kube::RestClient> client_;
  std::unique_ptr<Process> hub_;
  uint16_t tunnel_port_ = 0, api_port_ = 0;
  int hub_starts_ = 0;
  std::vector<std::unique_ptr<Agent>> agents_;
};

// ---- statistics and output ----------------------------------------------------

struct Stats {
  double min = 0, median = 0, max = 0;
  int n = 0;
};
Stats Summarize(std::vector<double> v) {
  Stats s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return s;
}

std::string JsonList(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + Fixed(v[i]);
  return out + "]";
}
std::string JsonStats(const Stats& s) {
  return R"({"n":)" + std::to_string(s.n) + R"(,"minMs":)" + Fixed(s.min) + R"(,"medianMs":)" +
         Fixed(s.median) + R"(,"maxMs":)" + Fixed(s.max) + "}";
}
std::string JsonMemory(const Memory& m) {
  return R"({"vmRssKiB":)" + std::to_string(m.rss_kb) + R"(,"vmHwmKiB":)" +
         std::to_string(m.hwm_kb) + R"(,"rssAnonKiB":)" + std::to_string(m.anon_kb) +
         R"(,"rssFileKiB":)" + std::to_string(m.file_kb) + R"(,"pssKiB":)" +
         std::to_string(m.pss_kb) + R"(,"threads":)" +
         std::to_string(m.threads) + "}";
}
struct MemoryRow {
  std::string phase, role, name;
  Memory mem;
};

struct FailoverSample {
  double lease_ms = -1;    // signal -> Lease held by another agent
  double session_ms = -1;  // signal -> hub shows the other agent's connected session
  double exit_ms = -1;     // signal -> old process exited
  std::string from, to;
};

int64_t MetricValue(const std::string& metrics, const std::string& name) {
  auto pos = metrics.find("\n" + name + " ");
  if (pos == std::string::npos) return -1;
  return std::atoll(metrics.c_str() + pos + name.size() + 2);
}

// Signals the leader and polls every 10 ms until another agent's session is
// connected on the hub.
FailoverSample Failover(World& w, int sig, std::chrono::milliseconds timeout) {
  FailoverSample s;
  s.from = w.WaitForConnectedLeader();
  w.WaitForStandbysReady(s.from);
  // A short settle so the standbys' retry phase is arbitrary, not aligned
  // with the previous failover.
  std::this_thread::sleep_for(std::chrono::milliseconds(500 + std::rand() % 1500));
  Agent* old = w.ByName(s.from);
  Check(old != nullptr, "leader is not one of ours: " + s.from);
  auto t0 = Clock::now();
  old->process->Signal(sig);
  while (Clock::now() - t0 < timeout) {
    auto now = Clock::now();
    if (s.exit_ms < 0 && !old->process->Running()) s.exit_ms = Ms(now - t0);
    if (s.lease_ms < 0) {
      std::string h = w.LeaseHolder();
      if (!h.empty() && h != s.from) s.lease_ms = Ms(Clock::now() - t0);
    }
    auto c = w.Cluster();
    if (c.connected && !c.pod.empty() && c.pod != s.from) {
      s.session_ms = Ms(Clock::now() - t0);
      s.to = c.pod;
      if (s.lease_ms < 0) s.lease_ms = s.session_ms;
      break;
    }
    std::this_thread::sleep_until(now + 10ms);
  }
  Check(s.session_ms >= 0, "no failover within " + std::to_string(timeout.count()) + " ms");
  if (s.exit_ms < 0) {
    WaitUntil([&] { return !old->process->Running(); }, 20s);
    if (s.exit_ms < 0) s.exit_ms = Ms(Clock::now() - t0);
  }
  // Bring the signalled agent back (as a standby) for the next round.
  w.StartAgent(*old);
  return s;
}

struct ReconnectSample {
  double outage_ms = -1;   // hub SIGKILL -> new session
  double restart_ms = -1;  // hub restarted (listening) -> new session
  std::vector<double> delays_ms;  // the leader's retryInMs while the hub was down
  int64_t reconnects_delta = 0;   // srexpert_tunnel_reconnects_total
};

ReconnectSample HubRestart(World& w, std::chrono::seconds down) {
  ReconnectSample s;
  std::string leader = w.WaitForConnectedLeader();
  Agent* a = w.ByName(leader);
  Check(a != nullptr, "leader is not one of ours");
  size_t seen = a->process->LogLines("tunnel disconnected").size();
  int64_t reconnects_before = MetricValue(a->Metrics(), "srexpert_tunnel_reconnects_total");
  uint16_t tport = w.tunnel_port(), aport = w.api_port();
  auto t0 = Clock::now();
  w.hub().KillNow();
  std::this_thread::sleep_for(down);
  w.StartHub(tport, aport);
  auto t1 = Clock::now();
  while (Clock::now() - t1 < 180s) {
    auto now = Clock::now();
    auto c = w.Cluster();
    if (c.connected && !c.pod.empty()) {
      s.outage_ms = Ms(Clock::now() - t0);
      s.restart_ms = Ms(Clock::now() - t1);
      break;
    }
    std::this_thread::sleep_until(now + 10ms);
  }
  Check(s.outage_ms >= 0, "no reconnect within 180 s of the hub restart");
  auto lines = a->process->LogLines("tunnel disconnected");
  for (size_t i = seen; i < lines.size(); ++i) {
    s.delays_ms.push_back(static_cast<double>(json::GetInt(lines[i], {"retryInMs"})));
  }
  int64_t after = MetricValue(a->Metrics(), "srexpert_tunnel_reconnects_total");
  if (reconnects_before >= 0 && after >= 0) s.reconnects_delta = after - reconnects_before;
  return s;
}

int ParseInt(const char* flag, const char* v) {
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (!*v || *end || n < 0 || n > 100000) {
    std::cerr << "agent_bench: " << flag << " wants a non-negative integer\n";
    std::exit(2);
  }
  return static_cast<int>(n);
}

void Usage() {
  std::cout << "usage: agent_bench [--repetitions N] [--kill-repetitions N] [--hub-repetitions N]\n"
               "                   [--idle-seconds S] [--hub-down-seconds S] [--timeout-seconds S]\n"
               "                   [--fast] [--build-dir DIR]\n"
               "  --repetitions       SIGTERM failovers (default 5)\n"
               "  --kill-repetitions  SIGKILL failovers (default 3)\n"
               "  --hub-repetitions   hub kill + restart rounds (default 3)\n"
               "  --idle-seconds      idle time before the second RSS reading (default 30)\n"
               "  --hub-down-seconds  how long the hub stays down (default 10, --fast 3)\n"
               "  --timeout-seconds   watchdog for the whole run (default 900)\n"
               "  --fast              Lease timings 3/2/0.5 s instead of 15/10/2 s\n"
               "  --build-dir         where operator/cmd/srexpert-{agent,hub} are\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool down_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::cerr << "agent_bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--repetitions") opt.repetitions = ParseInt("--repetitions", next());
    else if (a == "--kill-repetitions") opt.kill_repetitions = ParseInt("--kill-repetitions", next());
    else if (a == "--hub-repetitions") opt.hub_repetitions = ParseInt("--hub-repetitions", next());
    else if (a == "--idle-seconds") opt.idle_seconds = ParseInt("--idle-seconds", next());
    else if (a == "--hub-down-seconds") {
      opt.hub_down_seconds = ParseInt("--hub-down-seconds", next());
      down_set = true;
    } else if (a == "--timeout-seconds") opt.timeout_seconds = ParseInt("--timeout-seconds", next());
    else if (a == "--fast") opt.fast = true;
    else if (a == "--build-dir") opt.build_dir = next();
    else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else {
      std::cerr << "agent_bench: unknown flag " << a << "\n";
      Usage();
      return 2;
    }
  }
  if (opt.fast && !down_set) opt.hub_down_seconds = 3;

  GuardChildren("agent_bench", opt.timeout_seconds);
  std::srand(static_cast<unsigned>(getpid()));

  const char* profile = opt.fast ? "fast (lease 3 s, renew 2 s, retry 0.5 s)"
                                 : "default (lease 15 s, renew 10 s, retry 2 s)";
  std::cout << "agent_bench: profile " << profile << "; build dir " << opt.build_dir << "\n"
            << std::flush;

  std::vector<MemoryRow> memory;
  Memory hub_mem;
  std::vector<FailoverSample> term, crash;
  std::vector<ReconnectSample> hub;
  auto started = Clock::now();
  auto progress = [&](const std::string& what) {
    std::cout << "[" << Fixed(Ms(Clock::now() - started) / 1000.0, 1) << " s] " << what << "\n"
              << std::flush;
  };

  std::unique_ptr<World> world;
  try {
    world = std::make_unique<World>(opt);
    World& w = *world;
    w.StartHub();
    w.WriteConfig();
    for (const char* n : {"agent-0", "agent-1", "agent-2"}) w.AddAgent(n);

    // ---- RSS ------------------------------------------------------------------
    std::string leader = w.WaitForConnectedLeader();
    w.WaitForStandbysReady(leader);
    progress("leader " + leader + " connected; standbys ready");
    auto snapshot = [&](const std::string& phase) {
      for (auto& a : w.agents()) {
        bool lead = a->name == leader;
        memory.push_back({phase, lead ? "leader" : "standby", a->name, ReadMemory(a->process->pid())});
      }
    };
    std::this_thread::sleep_for(1s);
    snapshot("connected");
    progress("idle " + std::to_string(opt.idle_seconds) + " s");
    std::this_thread::sleep_for(std::chrono::seconds(opt.idle_seconds));
    Check(w.WaitForConnectedLeader() == leader, "leadership changed while idle");
    snapshot("idle " + std::to_string(opt.idle_seconds) + " s");
    hub_mem = ReadMemory(w.hub().pid());

    // ---- failover ---------------------------------------------------------------
    auto lease = opt.fast ? 3s : 15s;
    for (int i = 0; i < opt.repetitions; ++i) {
      term.push_back(Failover(w, SIGTERM, 60s));
      progress("SIGTERM " + std::to_string(i + 1) + ": " + term.back().from + " -> " +
               term.back().to + " " + Fixed(term.back().session_ms) + " ms");
    }
    for (int i = 0; i < opt.kill_repetitions; ++i) {
      crash.push_back(Failover(w, SIGKILL, 4 * lease + 60s));
      progress("SIGKILL " + std::to_string(i + 1) + ": " + crash.back().from + " -> " +
               crash.back().to + " " + Fixed(crash.back().session_ms) + " ms");
    }
    auto c = w.Cluster();
    std::cout << "hub: sessionsTotal " << c.sessions_total << ", supersededTotal "
              << c.superseded_total << ", maxConcurrentSessions " << c.max_concurrent << "\n";

    // ---- hub restart ------------------------------------------------------------
    for (int i = 0; i < opt.hub_repetitions; ++i) {
      hub.push_back(HubRestart(w, std::chrono::seconds(opt.hub_down_seconds)));
      progress("hub restart " + std::to_string(i + 1) + ": outage " + Fixed(hub.back().outage_ms) +
               " ms, after restart " + Fixed(hub.back().restart_ms) + " ms");
    }
    w.StopAll();
  } catch (const std::exception& e) {
    std::cerr << "agent_bench: FAILED: " << e.what() << "\n";
    if (world) std::cerr << world->LogTails();
    world.reset();  // kills every process
    return 1;
  }
  world.reset();

  // ---- report -------------------------------------------------------------------
  std::cout << "\n== RSS (from /proc/<pid>/status) ==\n";
  std::printf("%-12s %-8s %-8s %9s %9s %9s %9s %8s %7s\n", "phase", "role", "agent", "VmRSS MiB",
              "VmHWM MiB", "anon MiB", "file MiB", "PSS MiB", "threads");
  auto mem_row = [](const std::string& phase, const std::string& role, const std::string& name,
                    const Memory& m) {
    std::printf("%-12s %-8s %-8s %9s %9s %9s %9s %8s %7d\n", phase.c_str(), role.c_str(),
                name.c_str(), MiB(m.rss_kb).c_str(), MiB(m.hwm_kb).c_str(), MiB(m.anon_kb).c_str(),
                MiB(m.file_kb).c_str(), MiB(m.pss_kb).c_str(), m.threads);
  };
  for (const auto& r : memory) mem_row(r.phase, r.role, r.name, r.mem);
  mem_row("idle", "hub", "-", hub_mem);

  auto column = [](const std::vector<FailoverSample>& v, double FailoverSample::*f) {
    std::vector<double> out;
    for (const auto& s : v) out.push_back(s.*f);
    return out;
  };
  std::cout << "\n== Failover (signal -> hub shows the new leader's connected session) ==\n";
  std::printf("%-8s %3s %-14s %9s %9s %9s\n", "signal", "n", "measure", "min ms", "median ms",
              "max ms");
  auto row = [](const char* sig, const char* what, const Stats& s) {
    std::printf("%-8s %3d %-14s %9.0f %9.0f %9.0f\n", sig, s.n, what, s.min, s.median, s.max);
  };
  Stats term_session = Summarize(column(term, &FailoverSample::session_ms));
  Stats term_lease = Summarize(column(term, &FailoverSample::lease_ms));
  Stats term_exit = Summarize(column(term, &FailoverSample::exit_ms));
  Stats crash_session = Summarize(column(crash, &FailoverSample::session_ms));
  Stats crash_lease = Summarize(column(crash, &FailoverSample::lease_ms));
  row("SIGTERM", "session", term_session);
  row("SIGTERM", "lease acquired", term_lease);
  row("SIGTERM", "old exited", term_exit);
  row("SIGKILL", "session", crash_session);
  row("SIGKILL", "lease acquired", crash_lease);
  std::cout << "SIGTERM samples (session ms): ";
  for (const auto& s : term) std::cout << Fixed(s.session_ms) << " ";
  std::cout << "\nSIGKILL samples (session ms): ";
  for (const auto& s : crash) std::cout << Fixed(s.session_ms) << " ";

  std::cout << "\n\n== Hub SIGKILLed, down " << opt.hub_down_seconds
            << " s, restarted on the same ports ==\n";
  std::printf("%3s %10s %18s %11s  %s\n", "run", "outage ms", "after restart ms", "reconnects",
              "backoff delays ms (retryInMs)");
  std::vector<double> restart_ms;
  for (size_t i = 0; i < hub.size(); ++i) {
    std::string delays;
    for (double d : hub[i].delays_ms) delays += Fixed(d) + " ";
    std::printf("%3zu %10.0f %18.0f %11lld  %s\n", i + 1, hub[i].outage_ms, hub[i].restart_ms,
                static_cast<long long>(hub[i].reconnects_delta), delays.c_str());
    restart_ms.push_back(hub[i].restart_ms);
  }
  Stats restart = Summarize(restart_ms);

  // ---- JSON -------------------------------------------------------------------------
  std::string j = R"({"bench":"agent","profile":")" + std::string(opt.fast ? "fast" : "default") +
                  R"(","rss":[)";
  for (size_t i = 0; i < memory.size(); ++i) {
    j += (i ? "," : "") + std::string(R"({"phase":")") + memory[i].phase + R"(","role":")" +
         memory[i].role + R"(","agent":")" + memory[i].name + R"(","memory":)" +
         JsonMemory(memory[i].mem) + "}";
  }
  j += R"(],"hubRss":)" + JsonMemory(hub_mem);
  j += R"(,"sigterm":{"session":)" + JsonStats(term_session) + R"(,"lease":)" +
       JsonStats(term_lease) + R"(,"exit":)" + JsonStats(term_exit) + R"(,"samplesMs":)" +
       JsonList(column(term, &FailoverSample::session_ms)) + "}";
  j += R"(,"sigkill":{"session":)" + JsonStats(crash_session) + R"(,"lease":)" +
       JsonStats(crash_lease) + R"(,"samplesMs":)" +
       JsonList(column(crash, &FailoverSample::session_ms)) + "}";
  j += R"(,"hubRestart":{"downSeconds":)" + std::to_string(opt.hub_down_seconds) +
       R"(,"afterRestart":)" + JsonStats(restart) + R"(,"runs":[)";
  for (size_t i = 0; i < hub.size(); ++i) {
    j += (i ? "," : "") + std::string(R"({"outageMs":)") + Fixed(hub[i].outage_ms) +
         R"(,"afterRestartMs":)" + Fixed(hub[i].restart_ms) + R"(,"reconnects":)" +
         std::to_string(hub[i].reconnects_delta) + R"(,"delaysMs":)" +
         JsonList(hub[i].delays_ms) + "}";
  }
  j += "]}}";
  std::cout << "\n" << j << "\n";
  return 0;
}
