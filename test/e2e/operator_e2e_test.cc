// The real srexpert-operator process against the loopback API test server,
// driven with the real kubectl: CRD, namespace and AgentConfig applied like a
// user would, children checked, schema rejection, health/metrics endpoints,
// no-op reconciles, namespace deletion and clean shutdown.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "test/apiserver/api_server.h"
#include "test/apiserver/kubectl_runner.h"
#include "test/net/test_support.h"

using srexpert::testing::ApiServer;
using srexpert::testing::Kubectl;
using srexpert::testing::KubectlResult;
namespace json = srexpert::json;
using namespace std::chrono_literals;

namespace {

constexpr char kOperator[] = SRX_BINARY_DIR "/operator/cmd/srexpert-operator";
constexpr char kCrd[] = SRX_SOURCE_DIR "/crds/agentconfigs.agent.srexpert.io.yaml";
constexpr char kNs[] = "srexpert-system";
constexpr char kRegistrationToken[] = "e2e-registration-Zq81xK4vT0";

bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return pred();
}

struct HttpResult {
  int status = 0;  // 0: no connection
  std::string body;
};

// Plain HTTP/1.1 GET on 127.0.0.1 (the operator's probe and metrics ports).
HttpResult HttpGet(uint16_t port, const std::string& path) {
  HttpResult r;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return r;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return r;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return r;
  }
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
  close(fd);
  if (resp.rfind("HTTP/1.", 0) != 0 || resp.size() < 12) return r;
  r.status = std::atoi(resp.c_str() + 9);
  auto body = resp.find("\r\n\r\n");
  if (body != std::string::npos) r.body = resp.substr(body + 4);
  return r;
}

// The operator process: testing::ChildProcess kills and reaps it on every
// exit path; stdout and stderr go to one log file.
srexpert::testing::ChildProcess StartOperator(const std::vector<std::string>& args,
                                              const std::string& log_file) {
  std::vector<std::string> argv{kOperator};
  argv.insert(argv.end(), args.begin(), args.end());
  return srexpert::testing::ChildProcess(argv, log_file, log_file);
}

std::string AgentConfigYaml(const std::string& name, const std::string& cluster, const std::string& url) {
  return "apiVersion: agent.srexpert.io/v1alpha1\nkind: AgentConfig\nmetadata:\n  name: " + name +
         "\n  namespace: srexpert-system\nspec:\n  clusterName: " + cluster +
         "\n  backend:\n    url: " + url + "\n  token:\n    value: " + kRegistrationToken + "\n";
}

json::Document GetJson(Kubectl& kubectl, const std::vector<std::string>& args) {
  std::vector<std::string> full = args;
  full.push_back("-o");
  full.push_back("json");
  KubectlResult r = kubectl.Run(full);
  if (r.exit_code != 0) return json::Document();
  auto d = json::Parse(r.output);
  return d ? std::move(*d) : json::Document();
}

// kubectl's table output as column -> cell for the row named `name`; cells
// are cut at the header's column offsets (an empty string prints as blanks).
std::map<std::string, std::string> Row(const std::string& table, const std::string& name) {
  std::istringstream lines(table);
  std::string header, line;
  std::vector<std::pair<std::string, size_t>> cols;
  std::map<std::string, std::string> out;
  while (std::getline(lines, line)) {
    if (line.rfind("NAME ", 0) == 0) {
      header = line;
      cols.clear();
      for (size_t i = 0; i < header.size();) {
        size_t end = header.find(' ', i);
        if (end == std::string::npos) end = header.size();
        cols.emplace_back(header.substr(i, end - i), i);
        i = header.find_first_not_of(' ', end);
        if (i == std::string::npos) break;
      }
      continue;
    }
    if (cols.empty() || line.rfind(name + " ", 0) != 0) continue;
    for (size_t c = 0; c < cols.size(); ++c) {
      size_t from = cols[c].second;
      size_t to = c + 1 < cols.size() ? cols[c + 1].second : line.size();
      std::string cell = from < line.size() ? line.substr(from, to - from) : "";
      cell.erase(cell.find_last_not_of(' ') + 1);
      out[cols[c].first] = cell;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("srexpert-operator end to end with kubectl", "[e2e][operator]") {
  ApiServer server;
  server.Start();
  Kubectl kubectl(server.KubeconfigFile());
  std::string log_file = kubectl.home() + "/operator.log";
  uint16_t metrics_port = srexpert::testing::FreePort();
  uint16_t probe_port = srexpert::testing::FreePort();
  auto op = StartOperator({"--kubeconfig", server.KubeconfigFile(), "--namespace", kNs,
                      "--metrics-bind-address", "127.0.0.1:" + std::to_string(metrics_port),
                      "--health-probe-bind-address", "127.0.0.1:" + std::to_string(probe_port)},
                     log_file);
  auto log = [&] { return Kubectl::Slurp(log_file); };

  // What an install does: the CRD, the namespace, an AgentConfig.
  KubectlResult r = kubectl.Run({"apply", "--server-side", "-f", kCrd});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  r = kubectl.Run({"create", "-f", kubectl.Write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: srexpert-system\n")});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  r = kubectl.Run({"apply", "--server-side", "-f",
                   kubectl.Write("ac.yaml", AgentConfigYaml("agent", "prod-eu-1", "wss://connect.example.com/agent"))});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);

  SECTION("children, columns, schema, endpoints, no-op, uninstall, shutdown") {
    // Every child exists, owned as the design says.
    REQUIRE(Eventually([&] { return GetJson(kubectl, {"get", "daemonset", "agent", "-n", kNs}).IsObject(); }));
    for (const auto& [kind, name] : std::vector<std::pair<std::string, std::string>>{
             {"serviceaccount", "agent"}, {"secret", "agent-secret"}, {"configmap", "agent-config"},
             {"daemonset", "agent"}, {"role", "agent-leader-election"}, {"rolebinding", "agent-leader-election"}}) {
      INFO(kind << "/" << name);
      json::Document obj;
      REQUIRE(Eventually([&] { return (obj = GetJson(kubectl, {"get", kind, name, "-n", kNs})).IsObject(); }));
      const json::Value* owners = json::Find(obj, {"metadata", "ownerReferences"});
      REQUIRE(owners != nullptr);
      REQUIRE(owners->Size() == 1);
      CHECK(json::GetString((*owners)[0], {"kind"}) == "AgentConfig");
      CHECK(json::GetBool((*owners)[0], {"controller"}));
      CHECK(json::GetString(obj, {"metadata", "labels", "app.kubernetes.io/managed-by"}) == "srexpert-operator");
    }
    for (const std::string kind : {"clusterrole", "clusterrolebinding"}) {
      INFO(kind);
      json::Document obj;
      REQUIRE(Eventually([&] { return (obj = GetJson(kubectl, {"get", kind, "agent"})).IsObject(); }));
      const json::Value* owners = json::Find(obj, {"metadata", "ownerReferences"});
      REQUIRE(owners != nullptr);
      CHECK(json::GetString((*owners)[0], {"kind"}) == "Namespace");
      CHECK(json::GetString((*owners)[0], {"name"}) == kNs);
    }
    // The token lives only in the Secret.
    auto cm = GetJson(kubectl, {"get", "configmap", "agent-config", "-n", kNs});
    CHECK(json::Dump(cm).find(kRegistrationToken) == std::string::npos);

    // Printer columns with values, from the real kubectl.
    std::map<std::string, std::string> row;
    bool shown = Eventually([&] {
      r = kubectl.Run({"get", "agentconfig", "-n", kNs});
      row = Row(r.output, "agent");
      return row["READY"] == "False";
    });
    INFO(r.output);
    REQUIRE(shown);
    CHECK(row.size() == 7);  // NAME CLUSTER READY LEADER TUNNEL SCORE AGE
    CHECK(row["CLUSTER"] == "prod-eu-1");
    CHECK(row.count("SCORE") == 1);  // empty until the leader's first scan
    CHECK(row.count("LEADER") == 1);
    CHECK(row["TUNNEL"] == "Unknown");  // no agent has reported yet
    CHECK(row.count("AGENTS") == 0);    // priority 1: -o wide only
    CHECK(!row["AGE"].empty());
    // The DaemonSet controller (not modelled by the test server) reports two
    // ready agents: READY flips and -o wide shows AGENTS.
    r = kubectl.Run({"patch", "daemonset", "agent", "-n", kNs, "--subresource=status", "--type=merge", "-p",
                     R"({"status":{"desiredNumberScheduled":2,"currentNumberScheduled":2,"numberReady":2,)"
                     R"("updatedNumberScheduled":2,"numberAvailable":2,"numberMisscheduled":0,"observedGeneration":1}})"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    shown = Eventually([&] {
      r = kubectl.Run({"get", "agentconfig", "-n", kNs, "-o", "wide"});
      row = Row(r.output, "agent");
      return row["READY"] == "True";
    });
    INFO(r.output);
    REQUIRE(shown);
    CHECK(row["AGENTS"] == "2/2");

    // An invalid AgentConfig is refused by the CRD schema, clearly.
    r = kubectl.Run({"apply", "--server-side", "-f",
                     kubectl.Write("bad.yaml", AgentConfigYaml("bad", "prod", "http://connect.example.com/agent"))});
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("is invalid") != std::string::npos);
    CHECK(r.output.find("spec.backend.url") != std::string::npos);
    CHECK(r.output.find("should match") != std::string::npos);
    CHECK(kubectl.Run({"get", "agentconfig", "bad", "-n", kNs}).exit_code != 0);

    // Endpoints.
    CHECK(HttpGet(probe_port, "/healthz").status == 200);
    CHECK(Eventually([&] { return HttpGet(probe_port, "/readyz").status == 200; }));
    auto metrics = HttpGet(metrics_port, "/metrics");
    CHECK(metrics.status == 200);
    CHECK(metrics.body.find("srexpert_operator_reconcile_total") != std::string::npos);

    // Settled: no writes at all while nothing changes. Wait for the status
    // to reflect the DaemonSet first, then for a quiet period.
    auto writes = [&] {
      uint64_t n = 0;
      for (const char* verb : {"create", "update", "patch", "delete", "deletecollection"}) n += server.RequestCount(verb);
      return n;
    };
    REQUIRE(Eventually([&] {
      server.ResetRequestCounts();
      std::this_thread::sleep_for(1500ms);
      return writes() == 0;
    }));
    server.ResetRequestCounts();
    std::this_thread::sleep_for(4s);
    CHECK(writes() == 0);

    // Uninstall: nothing of ours is left anywhere.
    r = kubectl.Run({"delete", "namespace", kNs, "--wait=false"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(Eventually([&] { return kubectl.Run({"get", "namespace", kNs}).exit_code != 0; }, 60s));
    CHECK(Eventually([&] {
      r = kubectl.Run({"get", "clusterrole,clusterrolebinding", "-l", "app.kubernetes.io/managed-by=srexpert-operator",
                       "-o", "name"});
      return r.exit_code == 0 && r.output.empty();
    }, 60s));
    INFO(r.output);
    r = kubectl.Run({"get", "all,configmaps,secrets,serviceaccounts,roles,rolebindings", "-A", "-l",
                     "app.kubernetes.io/managed-by=srexpert-operator", "-o", "name"});
    CHECK(r.output.find("srexpert") == std::string::npos);
    CHECK(r.output.find("agent") == std::string::npos);

    // Clean shutdown, and no secret ever logged.
    CHECK(op.Terminate(20s) == 0);
    std::string text = log();
    CHECK_FALSE(text.empty());
    CHECK(text.find(kRegistrationToken) == std::string::npos);
    CHECK(text.find(server.Token()) == std::string::npos);
  }
}
