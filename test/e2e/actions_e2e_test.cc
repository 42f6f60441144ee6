// Explicit actions end to end (issue #13): the real srexpert-hub relays
// workload.scale / workload.restart through POST .../requests to a leader
// agent process on the loopback API test server; the result is checked with
// the real kubectl.
#include <fstream>
#include <future>

#include "test/apiserver/kubectl_runner.h"
#include "test/e2e/e2e_world.h"

using namespace srexpert::testing;
using namespace srexpert::testing::e2e;
using namespace std::chrono_literals;
namespace json = srexpert::json;

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
  // Scale and manifests on, restart stays off.
  ConfigExtras extras;
  extras.actions = R"({"scale": true, "restart": false, "applyManifests": true})";
  w.WriteConfig(extras);
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

TEST_CASE("actions e2e: manifests.apply through the hub, dry run first, seen by kubectl",
          "[e2e][actions]") {
  E2eWorld w;
  Create(w, R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})");
  w.StartHub("1m");
  ConfigExtras extras;
  extras.actions = R"({"applyManifests": true, "namespaces": ["shop"]})";
  w.WriteConfig(extras);
  w.StartAgent("agent-0");
  INFO(w.Logs());
  REQUIRE_FALSE(w.WaitForConnectedLeader().empty());
  const std::string base = std::string("/api/v1/clusters/") + kCluster + "/requests";
  auto apply = [&](bool dry_run, const std::string& greeting) {
    std::string yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
                       "  namespace: shop\ndata:\n  greeting: " +
                       greeting + "\n";
    json::Document body(rapidjson::kObjectType);
    auto& a = body.GetAllocator();
    json::SetString(body, "kind", "manifests.apply", a);
    json::Value payload(rapidjson::kObjectType);
    json::SetString(payload, "manifests", yaml, a);
    payload.AddMember("dryRun", dry_run, a);
    json::SetString(payload, "requestedBy", "e2e@test", a);
    json::Set(body, "payload", std::move(payload), a);
    auto r = HttpCall(w.hub().api_port, "POST", base, json::Dump(body));
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto answer = json::Parse(r.body);
    REQUIRE(answer.has_value());
    return std::move(*answer);
  };
  Kubectl kubectl(WriteKubeconfig(w));
  auto greeting = [&] {
    return kubectl.Run({"get", "configmap", "settings", "-n", "shop", "-o",
                        "jsonpath={.data.greeting}"});
  };

  // A dry run says what would happen and writes nothing.
  auto dry = apply(true, "hello");
  CHECK(json::GetBool(dry, {"ok"}));
  CHECK(json::GetString(dry["payload"]["result"]["objects"][0], {"action"}) == "created");
  CHECK(greeting().exit_code != 0);

  auto created = apply(false, "hello");
  CHECK(json::GetString(created["payload"]["result"]["objects"][0], {"action"}) == "created");
  CHECK(greeting().output == "hello");

  auto changed = apply(false, "bonjour");
  const auto& object = changed["payload"]["result"]["objects"][0];
  CHECK(json::GetString(object, {"action"}) == "configured");
  CHECK(json::GetString(object["diff"][0], {"path"}) == "/data/greeting");
  CHECK(greeting().output == "bonjour");
  auto managers = kubectl.Run({"get", "configmap", "settings", "-n", "shop", "-o",
                               "jsonpath={.metadata.managedFields[*].manager}"});
  CHECK(managers.output.find("srexpert-agent") != std::string::npos);

  // Outside the allow-list: refused by the agent, nothing written.
  auto outside = HttpCall(w.hub().api_port, "POST", base,
                          R"({"kind":"manifests.apply","payload":{"manifests":
                              "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\n"}})");
  INFO(outside.body);
  CHECK(outside.body.find("forbidden") != std::string::npos);
  CHECK(kubectl.Run({"get", "configmap", "x", "-n", "default"}).exit_code != 0);
}

TEST_CASE("actions e2e: a tunnel that drops mid-action cancels it, and the reconnected agent acts again",
          "[e2e][actions]") {
  E2eWorld w;
  Create(w, R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})");
  Create(w, R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","namespace":"shop"},
    "spec":{"containers":[{"name":"web","image":"nginx:1.25"}]}})");
  w.StartHub("1m");
  ConfigExtras extras;
  extras.actions = R"({"deletePods": true})";
  w.WriteConfig(extras);
  Agent& agent = w.StartAgent("agent-0");
  INFO(w.Logs());
  REQUIRE_FALSE(w.WaitForConnectedLeader().empty());

  // The API server throttles the delete for as long as the test wants: the
  // action retries it within its 60 s timeout.
  Fault throttled;
  throttled.verb = "delete";
  throttled.path_prefix = "/api/v1/namespaces/shop/pods/web-0";
  throttled.code = 429;
  throttled.retry_after_seconds = 1;
  throttled.times = -1;
  w.api().AddFault(throttled);
  const std::string base = std::string("/api/v1/clusters/") + kCluster + "/requests";
  auto pending = std::async(std::launch::async, [&] {
    return HttpCall(w.hub().api_port, "POST", base,
                    R"({"kind":"pod.delete","timeoutMs":60000,
                        "payload":{"namespace":"shop","name":"web-0","requestedBy":"e2e@test"}})");
  });
  REQUIRE(WaitUntil([&] { return w.api().RequestCount("delete") >= 2; }, 20s));

  // The hub goes away: the agent stops the action instead of finishing it
  // unseen, long before its timeout.
  uint16_t tunnel_port = w.hub().tunnel_port, api_port = w.hub().api_port;
  CHECK(w.hub().process->Terminate(20s) == 0);
  pending.wait();
  std::optional<json::Document> executed;
  REQUIRE(WaitUntil([&] { return (executed = agent.process->LogLine("action executed")).has_value(); }, 15s));
  CHECK(json::GetString(*executed, {"action"}) == "pod.delete");
  CHECK(json::GetString(*executed, {"code"}) == "cancelled");
  w.api().ClearFaults();
  CHECK(w.client()->Get({"v1", "Pod", "shop", "web-0"}).ok());

  // Reconnected, the same agent (same leadership, same action registry)
  // takes new requests.
  w.StartHub("1m", tunnel_port, api_port);
  REQUIRE(WaitUntil([&] { return agent.Probe("/readyz") == 200; }, 30s));
  auto deleted = HttpCall(w.hub().api_port, "POST", base,
                          R"({"kind":"pod.delete","timeoutMs":30000,
                              "payload":{"namespace":"shop","name":"web-0","requestedBy":"e2e@test"}})");
  INFO(deleted.body);
  CHECK(deleted.body.find(R"("ok":true)") != std::string::npos);
}
