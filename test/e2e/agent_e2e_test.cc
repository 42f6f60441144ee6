// The real srexpert-hub process and three real srexpert-agent processes (one
// per "node") against the loopback API test server: exactly one leader and
// one tunnel, failover on SIGTERM and on a crash, fencing of a frozen
// (SIGSTOP) leader, and the probes. Every process is killed by PID on every
// exit path.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "test/apiserver/api_server.h"
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


namespace {

constexpr char kAgentBin[] = SRX_BINARY_DIR "/operator/cmd/srexpert-agent";
constexpr char kHubBin[] = SRX_BINARY_DIR "/operator/cmd/srexpert-hub";
constexpr char kNs[] = "srexpert-system";
constexpr char kLease[] = "srexpert-agent-leader";
constexpr char kCluster[] = "e2e-cluster";
constexpr char kToken[] = "e2e-tunnel-token-7Gq2LmX9";

// A srexpert process (testing::ChildProcess: scrubbed environment, killed
// and reaped on every path) with its stdout and stderr in `log_file`.
class Process {
 public:
  Process(const std::string& binary, const std::vector<std::string>& args,
          const std::string& log_file)
      : log_file_(log_file), child_(Argv(binary, args), log_file, log_file) {}

  pid_t pid() const { return child_.pid(); }
  void Signal(int sig) { child_.Signal(sig); }
  bool Running() { return child_.Running(); }
  int Terminate(std::chrono::milliseconds timeout) { return child_.Terminate(timeout); }
  void KillNow() { child_.Kill(); }
  std::string Log() const { return srexpert::testing::ReadFile(log_file_); }

  // The first JSON log line whose "msg" is `msg`.
  std::optional<json::Document> LogLine(const std::string& msg) const {
    std::istringstream lines(Log());
    std::string line;
    while (std::getline(lines, line)) {
      auto doc = json::Parse(line);
      if (doc && doc->IsObject() && json::GetString(*doc, {"msg"}) == msg) return std::move(*doc);
    }
    return std::nullopt;
  }

 private:
  static std::vector<std::string> Argv(const std::string& binary,
                                       const std::vector<std::string>& args) {
    std::vector<std::string> argv{binary};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  std::string log_file_;
  srexpert::testing::ChildProcess child_;
};

struct Hub {
  std::unique_ptr<Process> process;
  uint16_t tunnel_port = 0;
  uint16_t api_port = 0;
};

struct Agent {
  std::string name;
  std::unique_ptr<Process> process;
  uint16_t health_port = 0;
  uint16_t metrics_port = 0;

  int Probe(const std::string& path) const { return HttpCall(health_port, "GET", path).status; }
  std::string ReadyBody() const { return HttpCall(health_port, "GET", "/readyz").body; }
  std::string Metrics() const { return HttpCall(metrics_port, "GET", "/metrics").body; }
  bool Leading() const { return Metrics().find("\nsrexpert_agent_leader 1") != std::string::npos; }
};


using ClusterView = srexpert::testing::HubClusterView;

class E2eWorld {
 public:
  E2eWorld() {
    api_.Start();
    auto ns =
        json::Parse(std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") +
                    kNs + R"("}})");
    auto cfg = srexpert::kube::LoadKubeconfig(api_.KubeconfigFile());
    REQUIRE(cfg.ok());
    auto client = srexpert::kube::RestClient::New(*cfg);
    REQUIRE(client.ok());
    client_ = *client;
    REQUIRE(client_->Create(*ns).ok());
    WriteFile(dir_.File("tokens.json"), std::string(R"({"clusters":[{"name":")") + kCluster +
                                            R"(","token":")" + kToken + R"("}]})");
    WriteFile(dir_.File("token"), std::string(kToken) + "\n");
  }

  // Starts srexpert-hub; port 0 = pick one (read back from its log).
  void StartHub(const std::string& idle_timeout = "1m", uint16_t tunnel_port = 0,
                uint16_t api_port = 0) {
    hub_.process = std::make_unique<Process>(
        kHubBin,
        std::vector<std::string>{"--bind-address", "127.0.0.1", "--port",
                                 std::to_string(tunnel_port), "--api-port",
                                 std::to_string(api_port), "--tls-cert-file", pki_.server_cert,
                                 "--tls-key-file", pki_.server_key, "--tokens-file",
                                 dir_.File("tokens.json"), "--idle-timeout", idle_timeout},
        dir_.File("hub-" + std::to_string(++hub_starts_) + ".log"));
    std::optional<json::Document> line;
    REQUIRE(WaitUntil([&] { return (line = hub_.process->LogLine("hub listening")).has_value(); },
                      20s));
    hub_.tunnel_port = static_cast<uint16_t>(json::GetInt(*line, {"tunnelPort"}));
    hub_.api_port = static_cast<uint16_t>(json::GetInt(*line, {"apiPort"}));
    REQUIRE(hub_.tunnel_port != 0);
    REQUIRE(hub_.api_port != 0);
  }
  Hub& hub() { return hub_; }

  void WriteConfig() {
    WriteFile(dir_.File("config.json"), R"({
      "version": 1,
      "clusterName": "e2e",
      "backend": {"url": "wss://localhost:)" +
                                            std::to_string(hub_.tunnel_port) +
                                            R"(/api/v1/tunnel", "insecure": false,
                  "caFile": ")" + pki_.ca_cert +
                                            R"("},
      "tokenFile": ")" + dir_.File("token") +
                                            R"(",
      "logLevel": "info",
      "healthPort": 8081,
      "leaderElection": {"leaseName": ")" + std::string(kLease) +
                                            R"(", "leaseNamespace": ")" + kNs + R"(",
                         "leaseDurationMs": 3000, "renewDeadlineMs": 2000, "retryPeriodMs": 500},
      "tunnel": {"pingIntervalMs": 1000, "pongTimeoutMs": 2000, "maxMessageBytes": 16777216,
                 "backoff": {"initialMs": 100, "maxMs": 1000, "multiplier": 2.0}},
      "collection": {"events": true, "metrics": true, "excludedNamespaces": []},
      "scans": {"enabled": true, "intervalMs": 3600000},
      "actions": {"scale": false, "restart": false, "applyManifests": false, "helm": false}
    })");
  }

  Agent& StartAgent(const std::string& name) {
    auto a = std::make_unique<Agent>();
    a->name = name;
    a->process = std::make_unique<Process>(
        kAgentBin,
        std::vector<std::string>{
            "--kubeconfig", api_.KubeconfigFile(), "--config", dir_.File("config.json"),
            "--health-probe-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
            "--pod-name", name, "--pod-namespace", kNs, "--node-name", "node-" + name},
        dir_.File(name + ".log"));
    std::optional<json::Document> line;
    INFO(a->process->Log());
    REQUIRE(WaitUntil(
        [&] { return (line = a->process->LogLine("serving probes and metrics")).has_value(); },
        20s));
    a->health_port = static_cast<uint16_t>(json::GetInt(*line, {"healthPort"}));
    a->metrics_port = static_cast<uint16_t>(json::GetInt(*line, {"metricsPort"}));
    agents_.push_back(std::move(a));
    return *agents_.back();
  }
  std::vector<std::unique_ptr<Agent>>& agents() { return agents_; }
  Agent* ByName(const std::string& name) {
    for (auto& a : agents_) {
      if (a->name == name) return a.get();
    }
    return nullptr;
  }

  ClusterView Cluster() { return srexpert::testing::ReadHubCluster(hub_.api_port, kCluster); }

  std::string LeaseHolder() {
    auto l = client_->Get({"coordination.k8s.io/v1", "Lease", kNs, kLease});
    if (!l.ok()) return "";
    return json::GetString(*l, {"spec", "holderIdentity"});
  }
  std::string LeaseAnnotation(const std::string& key) {
    auto l = client_->Get({"coordination.k8s.io/v1", "Lease", kNs, kLease});
    if (!l.ok()) return "";
    const json::Value* a = json::Find(*l, {"metadata", "annotations"});
    if (!a || !a->IsObject()) return "";
    auto it = a->FindMember(key.c_str());
    return it != a->MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
  }

  // Waits until the hub has a live session whose pod is a running agent
  // other than `not_this` and the Lease names the same pod; returns it.
  std::string WaitForConnectedLeader(const std::string& not_this = "",
                                     std::chrono::milliseconds timeout = 30s) {
    std::string pod;
    WaitUntil(
        [&] {
          auto c = Cluster();
          if (!c.connected || c.pod.empty() || c.pod == not_this) return false;
          if (LeaseHolder() != c.pod) return false;
          pod = c.pod;
          return true;
        },
        timeout);
    return pod;
  }

  int LeadersAmong(const std::vector<Agent*>& agents) {
    int n = 0;
    for (auto* a : agents) n += a->Leading() ? 1 : 0;
    return n;
  }

  std::string Logs() {
    std::string out = hub_.process ? "--- hub\n" + hub_.process->Log() : "";
    for (auto& a : agents_) out += "--- " + a->name + "\n" + a->process->Log();
    return out;
  }

 private:
  TempDir dir_;
  TestPki pki_{dir_.path()};
  ApiServer api_;
  std::shared_ptr<srexpert::kube::RestClient> client_;
  Hub hub_;
  int hub_starts_ = 0;
  std::vector<std::unique_ptr<Agent>> agents_;
};

}  // namespace

TEST_CASE("srexpert-agent e2e: three agents, one leader, one tunnel, failover on SIGTERM",
          "[e2e][agent]") {
  E2eWorld w;
  w.StartHub();
  w.WriteConfig();
  w.StartAgent("agent-0");
  w.StartAgent("agent-1");
  w.StartAgent("agent-2");
  INFO(w.Logs());

  std::string leader = w.WaitForConnectedLeader();
  REQUIRE_FALSE(leader.empty());
  std::vector<Agent*> all{w.ByName("agent-0"), w.ByName("agent-1"), w.ByName("agent-2")};
  REQUIRE(w.ByName(leader));
  CHECK(w.ByName(leader)->Leading());
  CHECK(w.LeadersAmong(all) == 1);

  // Probes: every agent is alive and ready — the leader because its tunnel
  // is up, the standbys because they can read the Lease.
  for (auto* a : all) {
    CHECK(a->Probe("/healthz") == 200);
    CHECK(WaitUntil([&] { return a->Probe("/readyz") == 200; }, 20s));
  }
  REQUIRE(WaitUntil(
      [&] { return w.LeaseAnnotation("agent.srexpert.io/tunnel-state") == "Connected"; }, 20s));
  CHECK(w.LeaseAnnotation("agent.srexpert.io/node") == "node-" + leader);
  CHECK(w.ByName(leader)->Metrics().find("srexpert_tunnel_connected 1") != std::string::npos);

  // The standbys never open a tunnel: one session so far.
  std::this_thread::sleep_for(2s);
  auto c = w.Cluster();
  CHECK(c.sessions_total == 1);
  CHECK(c.max_concurrent == 1);
  CHECK(w.LeadersAmong(all) == 1);

  // SIGTERM: the leader closes its tunnel, releases the Lease and exits 0;
  // a standby takes over.
  Agent* old = w.ByName(leader);
  CHECK(old->process->Terminate(20s) == 0);
  CHECK(old->process->LogLine("released lease").has_value());
  std::string next = w.WaitForConnectedLeader(leader);
  REQUIRE_FALSE(next.empty());
  CHECK(next != leader);
  std::vector<Agent*> rest;
  for (auto* a : all) {
    if (a != old) rest.push_back(a);
  }
  CHECK(w.LeadersAmong(rest) == 1);
  CHECK(w.ByName(next)->Leading());
  c = w.Cluster();
  CHECK(c.sessions_total == 2);
  CHECK(c.max_concurrent == 1);  // the hub never saw two tunnels at once
  CHECK(c.superseded_total == 0);

  // The leader is ready only while its tunnel is up: stop the hub.
  Agent* leader_agent = w.ByName(next);
  uint16_t tunnel_port = w.hub().tunnel_port, api_port = w.hub().api_port;
  CHECK(w.hub().process->Terminate(20s) == 0);
  REQUIRE(WaitUntil([&] { return leader_agent->Probe("/readyz") == 503; }, 20s));
  CHECK(leader_agent->ReadyBody().find("leader, tunnel") != std::string::npos);
  for (auto* a : rest) {
    if (a != leader_agent) CHECK(a->Probe("/readyz") == 200);
  }
  // Back on the same ports, the leader reconnects and is ready again.
  w.StartHub("1m", tunnel_port, api_port);
  REQUIRE(WaitUntil([&] { return leader_agent->Probe("/readyz") == 200; }, 30s));
  c = w.Cluster();
  CHECK(c.connected);
  CHECK(c.pod == next);

  for (auto* a : rest) CHECK(a->process->Terminate(20s) == 0);
}

TEST_CASE("srexpert-agent e2e: a frozen leader is fenced and does not come back", "[e2e][agent]") {
  E2eWorld w;
  // A short idle timeout lets the hub drop the frozen agent's session itself.
  w.StartHub("2s");
  w.WriteConfig();
  w.StartAgent("agent-0");
  w.StartAgent("agent-1");
  w.StartAgent("agent-2");
  INFO(w.Logs());

  std::string frozen = w.WaitForConnectedLeader();
  REQUIRE_FALSE(frozen.empty());
  Agent* old = w.ByName(frozen);
  REQUIRE(old);
  std::vector<Agent*> others;
  for (auto& a : w.agents()) {
    if (a.get() != old) others.push_back(a.get());
  }

  old->process->Signal(SIGSTOP);
  // After the Lease expires another agent leads and holds the tunnel.
  std::string next = w.WaitForConnectedLeader(frozen, 60s);
  REQUIRE_FALSE(next.empty());
  CHECK(w.LeadersAmong(others) == 1);
  auto before = w.Cluster();

  // Thawed, the old leader finds its renew deadline long passed: it stops
  // leading at once and stays standby — no reconnect, no supersede.
  old->process->Signal(SIGCONT);
  REQUIRE(WaitUntil([&] { return !old->Leading(); }, 20s));
  REQUIRE(WaitUntil([&] { return old->Probe("/readyz") == 200; }, 20s));
  std::this_thread::sleep_for(5s);
  auto after = w.Cluster();
  CHECK(after.connected);
  CHECK(after.pod == next);
  CHECK(after.session_id == before.session_id);
  CHECK(after.sessions_total == before.sessions_total);
  CHECK(after.superseded_total == before.superseded_total);
  CHECK(w.LeaseHolder() == next);
  CHECK_FALSE(old->Leading());
  CHECK(old->Metrics().find("srexpert_tunnel_connected 0") != std::string::npos);
  // Two sessions were only ever open at once if the hub superseded the
  // frozen one (it could not close its socket itself).
  CHECK((after.max_concurrent == 1 || after.superseded_total >= 1));
  for (auto& a : w.agents()) CHECK(a->process->Terminate(20s) == 0);
}

TEST_CASE("srexpert-agent e2e: a crashed leader (SIGKILL) is replaced after the Lease expires",
          "[e2e][agent]") {
  E2eWorld w;
  w.StartHub("2s");
  w.WriteConfig();
  w.StartAgent("agent-0");
  w.StartAgent("agent-1");
  w.StartAgent("agent-2");
  INFO(w.Logs());

  std::string crashed = w.WaitForConnectedLeader();
  REQUIRE_FALSE(crashed.empty());
  Agent* old = w.ByName(crashed);
  REQUIRE(old);
  old->process->KillNow();
  // Nothing released the Lease: the standbys wait for its expiry.
  CHECK(w.LeaseHolder() == crashed);
  std::string next = w.WaitForConnectedLeader(crashed, 60s);
  REQUIRE_FALSE(next.empty());
  std::vector<Agent*> rest;
  for (auto& a : w.agents()) {
    if (a.get() != old) rest.push_back(a.get());
  }
  CHECK(w.LeadersAmong(rest) == 1);
  REQUIRE(WaitUntil(
      [&] { return w.LeaseAnnotation("agent.srexpert.io/tunnel-state") == "Connected"; }, 20s));
  for (auto* a : rest) CHECK(a->process->Terminate(20s) == 0);
}
