// Explicit actions end to end (issue #13): the real srexpert-hub relays
// workload.scale / workload.restart through POST .../requests to a leader
// agent process on the loopback API test server; the result is checked with
// the real kubectl.
#include <fstream>

#include "test/apiserver/kubectl_runner.h"
#include "test/e2e/e2e_world.h"

using namespace srexpert::testing;
using namespace srexpert::testing::e2e;
using namespace std::chrono_literals;

namespace {

void Create(E2eWorld& w, const std::string& manifest) {
  auto doc = srexpert::json::Parse(manifest);
  REQUIRE(doc.has_value());
  auto r = w.client()->Create(*doc);
  INFO(manifest);
  REQUIRE(r.ok());
}

// A kubeconfig for kubectl built from the test client's own settings.
std::string WriteKubeconfig(E2eWorld& w) {
  const auto& cfg = w.client()->config();
  std::string ca = w.dir().File("api-ca.pem");
  std::ofstream(ca) << cfg.ca_pem;
  std::string path = w.dir().File("kubectl.kubeconfig");
  std::ofstream(path) << "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n"
                      << "    server: " << cfg.server << "\n    certificate-authority: " << ca
                      << "\nusers:\n- name: u\n  user:\n    token: " << cfg.bearer_token
                      << "\ncontexts:\n- name: c\n  context:\n    cluster: t\n    user: u\n"
                      << "current-context: c\n";
  return path;
}

}  // namespace

TEST_CASE("actions e2e: scale and restart through the hub's request API, seen by kubectl",
          "[e2e][actions]") {
  E2eWorld w;
  Create(w, R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})");
  Create(w, R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","namespace":"shop"},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"containers":[{"name":"web","image":"nginx:1.25"}]}}}})");
  w.StartHub("1m");
  w.WriteConfig();
  // Switch scale on, restart stays off.
  std::string config = ReadFile(w.dir().File("config.json"));
  auto at = config.find(R"("scale": false)");
  REQUIRE(at != std::string::npos);
  config.replace(at, std::string(R"("scale": false)").size(), R"("scale": true)");
  WriteFile(w.dir().File("config.json"), config);
  w.StartAgent("agent-0");
  INFO(w.Logs());
  REQUIRE_FALSE(w.WaitForConnectedLeader().empty());

  const std::string base = std::string("/api/v1/clusters/") + kCluster + "/requests";
  auto scaled = HttpCall(w.hub().api_port, "POST", base,
                         R"({"kind":"workload.scale","timeoutMs":30000,
                             "payload":{"kind":"Deployment","namespace":"shop","name":"web",
                                        "replicas":3,"expectedReplicas":1,"requestedBy":"e2e@test"}})");
  INFO(scaled.body);
  REQUIRE(scaled.status == 200);
  auto answer = srexpert::json::Parse(scaled.body);
  REQUIRE(answer.has_value());
  CHECK(srexpert::json::GetBool(*answer, {"ok"}));
  CHECK(srexpert::json::GetInt(*answer, {"payload", "result", "replicas"}) == 3);
  CHECK(srexpert::json::GetString(*answer, {"payload", "audit", "requestedBy"}) == "e2e@test");

  Kubectl kubectl(WriteKubeconfig(w));
  auto replicas = kubectl.Run({"get", "deployment", "web", "-n", "shop", "-o",
                               "jsonpath={.spec.replicas}"});
  INFO(replicas.output);
  CHECK(replicas.exit_code == 0);
  CHECK(replicas.output == "3");
  auto events = kubectl.Run({"get", "events", "-n", "shop", "--field-selector",
                             "reason=SRExpertAction", "-o", "jsonpath={.items[*].message}"});
  INFO(events.output);
  CHECK(events.exit_code == 0);
  CHECK(events.output.find("workload.scale requested by e2e@test") != std::string::npos);

  // restart is off in the AgentConfig: forbidden, nothing changed.
  auto restart = HttpCall(w.hub().api_port, "POST", base,
                          R"({"kind":"workload.restart",
                              "payload":{"kind":"Deployment","namespace":"shop","name":"web"}})");
  INFO(restart.body);
  CHECK(restart.body.find("forbidden") != std::string::npos);
  auto ann = kubectl.Run({"get", "deployment", "web", "-n", "shop", "-o",
                          "jsonpath={.spec.template.metadata.annotations}"});
  CHECK(ann.output.find("restartedAt") == std::string::npos);

  // The agent's own namespace is never a target.
  auto own = HttpCall(w.hub().api_port, "POST", base,
                      std::string(R"({"kind":"workload.scale","payload":{"kind":"Deployment","namespace":")") +
                          kNs + R"(","name":"srexpert-agent","replicas":0}})");
  INFO(own.body);
  CHECK(own.body.find("forbidden") != std::string::npos);
}
