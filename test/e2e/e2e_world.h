// The e2e world shared by the agent and stream e2e tests: the in-process
// loopback API test server, a real srexpert-hub process and real
// srexpert-agent processes (one per "node"), with their logs. Every process
// is killed by PID on every exit path (testing::ChildProcess).
#pragma once

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
#include "test/e2e/json_log.h"
#include "test/net/test_support.h"

namespace srexpert::testing::e2e {

using namespace std::chrono_literals;

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
  std::string Log() const { return ReadFile(log_file_); }

  // The first JSON log line whose "msg" is `msg`.
  std::optional<json::Document> LogLine(const std::string& msg) const {
    return FirstJsonLogLine(Log(), msg);
  }

 private:
  static std::vector<std::string> Argv(const std::string& binary,
                                       const std::vector<std::string>& args) {
    std::vector<std::string> argv{binary};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  std::string log_file_;
  ChildProcess child_;
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


using ClusterView = HubClusterView;

// Optional parts of the agents' config.json.
struct ConfigExtras {
  std::string proxy_url;  // backend.proxy.url; empty = direct
  std::string collection = R"({"events": true, "metrics": true, "excludedNamespaces": []})";
  std::string actions = R"({"scale": false, "restart": false, "applyManifests": false, "helm": false})";
};

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
  // `extra_args` are appended (e.g. --state-file).
  void StartHub(const std::string& idle_timeout = "1m", uint16_t tunnel_port = 0,
                uint16_t api_port = 0, const std::vector<std::string>& extra_args = {}) {
    std::vector<std::string> args{"--bind-address", "127.0.0.1", "--port",
                                  std::to_string(tunnel_port), "--api-port",
                                  std::to_string(api_port), "--tls-cert-file", pki_.server_cert,
                                  "--tls-key-file", pki_.server_key, "--tokens-file",
                                  dir_.File("tokens.json"), "--idle-timeout", idle_timeout};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    hub_.process = std::make_unique<Process>(
        kHubBin, args, dir_.File("hub-" + std::to_string(++hub_starts_) + ".log"));
    std::optional<json::Document> line;
    REQUIRE(WaitUntil([&] { return (line = hub_.process->LogLine("hub listening")).has_value(); },
                      20s));
    hub_.tunnel_port = static_cast<uint16_t>(json::GetInt(*line, {"tunnelPort"}));
    hub_.api_port = static_cast<uint16_t>(json::GetInt(*line, {"apiPort"}));
    REQUIRE(hub_.tunnel_port != 0);
    REQUIRE(hub_.api_port != 0);
  }
  Hub& hub() { return hub_; }

  void WriteConfig(const ConfigExtras& extras = {}) {
    std::string proxy =
        extras.proxy_url.empty() ? "" : R"(, "proxy": {"url": ")" + extras.proxy_url + R"("})";
    WriteFile(dir_.File("config.json"), R"({
      "version": 1,
      "clusterName": "e2e",
      "backend": {"url": "wss://localhost:)" +
                                            std::to_string(hub_.tunnel_port) +
                                            R"(/api/v1/tunnel", "insecure": false,
                  "caFile": ")" + pki_.ca_cert +
                                            R"(")" + proxy + R"(},
      "tokenFile": ")" + dir_.File("token") +
                                            R"(",
      "logLevel": "info",
      "healthPort": 8081,
      "leaderElection": {"leaseName": ")" + std::string(kLease) +
                                            R"(", "leaseNamespace": ")" + kNs + R"(",
                         "leaseDurationMs": 3000, "renewDeadlineMs": 2000, "retryPeriodMs": 500},
      "tunnel": {"pingIntervalMs": 1000, "pongTimeoutMs": 2000, "maxMessageBytes": 16777216,
                 "backoff": {"initialMs": 100, "maxMs": 1000, "multiplier": 2.0}},
      "collection": )" + extras.collection + R"(,
      "scans": {"enabled": true, "intervalMs": 3600000},
      "actions": )" + extras.actions + R"(
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

  ClusterView Cluster() { return ReadHubCluster(hub_.api_port, kCluster); }

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
    return testing::WaitForConnectedLeader(
        hub_.api_port, kCluster, [this] { return LeaseHolder(); }, not_this, timeout);
  }

  int LeadersAmong(const std::vector<Agent*>& agents) {
    int n = 0;
    for (auto* a : agents) n += a->Leading() ? 1 : 0;
    return n;
  }

  ApiServer& api() { return api_; }
  const TestPki& pki() const { return pki_; }
  std::shared_ptr<srexpert::kube::RestClient> client() { return client_; }
  TempDir& dir() { return dir_; }

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


}  // namespace srexpert::testing::e2e
