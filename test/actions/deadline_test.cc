// Every action kind that calls the Kubernetes API keeps to its deadline and
// to the tunnel's end (CancelToken::Bounds, action.h): a throttling API
// server (429 with a Retry-After longer than the request's timeoutMs), a
// request that hangs past the deadline, and a tunnel that ends mid-call all
// end the action at once, with `timeout` or `cancelled`, instead of holding
// it for as long as the server asks.
#include <catch2/catch.hpp>

#include <future>
#include <string>
#include <vector>

#include "actions/manifests.h"
#include "actions/pods_nodes.h"
#include "actions/workloads.h"
#include "test/actions/action_call.h"
#include "test/actions/manifests_fixture.h"
#include "test/kube/api_fixture.h"

using namespace srexpert;
using namespace srexpert::actions;
using srexpert::actions::testing::CallAction;
using srexpert::actions::testing::ManifestsPayload;
using srexpert::kube::testing::ApiFixture;
using srexpert::kube::testing::Json;
using srexpert::testing::Fault;

namespace {

ActionPolicy Policy() {
  ActionPolicy p;
  p.switches = {{"scale", true},
                {"restart", true},
                {"deletePods", true},
                {"nodes", true},
                {"applyManifests", true}};
  p.agent_namespace = "srexpert";
  return p;
}

// A Deployment team-a/web, a Node n1 and a pod team-a/p1 on it (owned by
// nothing, so the drain would need force: it never gets that far).
void Seed(ApiFixture& f) {
  f.CreateNamespace("team-a");
  REQUIRE(f.client()
              .Create(Json(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"team-a"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}})"))
              .ok());
  REQUIRE(f.client().Create(Json(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}})")).ok());
  REQUIRE(f.client()
              .Create(Json(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1","namespace":"team-a"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"nginx"}]}})"))
              .ok());
}

void RegisterAll(ActionRegistry& r, ApiFixture& f) {
  r.Register(WorkloadScaleKind(f.shared_client()));
  r.Register(WorkloadRestartKind(f.shared_client()));
  r.Register(PodDeleteKind(f.shared_client()));
  r.Register(NodeCordonKind(f.shared_client()));
  r.Register(NodeDrainKind(f.shared_client(), Policy()));
  r.Register(ManifestsApplyKind(f.shared_client()));
}

// One API call of one kind, and the request that reaches it.
struct Throttled {
  const char* kind;
  std::string payload;
  const char* verb;  // the throttled call
  const char* path;  // its path prefix
};

std::vector<Throttled> EveryApiCall() {
  const std::string manifest =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team-a\n"
      "data:\n  greeting: hello\n";
  return {
      {"workload.scale",
       R"({"kind":"Deployment","namespace":"team-a","name":"web","replicas":5})", "get",
       "/apis/apps/v1/namespaces/team-a/deployments/web/scale"},
      {"workload.scale",
       R"({"kind":"Deployment","namespace":"team-a","name":"web","replicas":5})", "patch",
       "/apis/apps/v1/namespaces/team-a/deployments/web/scale"},
      {"workload.restart", R"({"kind":"Deployment","namespace":"team-a","name":"web"})", "patch",
       "/apis/apps/v1/namespaces/team-a/deployments/web"},
      {"pod.delete", R"({"namespace":"team-a","name":"p1"})", "delete",
       "/api/v1/namespaces/team-a/pods/p1"},
      {"node.cordon", R"({"name":"n1"})", "get", "/api/v1/nodes/n1"},
      {"node.cordon", R"({"name":"n1"})", "patch", "/api/v1/nodes/n1"},
      {"node.drain", R"({"name":"n1"})", "list", "/api/v1/pods"},
      {"manifests.apply", ManifestsPayload(manifest), "get",
       "/api/v1/namespaces/team-a/configmaps/settings"},
      {"manifests.apply", ManifestsPayload(manifest), "patch",
       "/api/v1/namespaces/team-a/configmaps/settings"},
  };
}

}  // namespace

TEST_CASE("an action throttled by the API server past its deadline ends at once with timeout",
          "[actions][deadline]") {
  ApiFixture f;
  Seed(f);
  ActionRegistry r(Policy(), f.shared_client());
  RegisterAll(r, f);
  int n = 0;
  for (const auto& c : EveryApiCall()) {
    INFO(c.kind << " " << c.verb << " " << c.path);
    // Retry-After 60 s against a 2 s deadline: without the deadline on the
    // call, the client would wait out 60 s up to four times.
    f.server().AddFault({Fault::Kind::kStatus, c.verb, c.path, 429, 60, {}, -1});
    uint64_t throttled = f.client().metrics().Count(c.verb, 429);
    auto resp = CallAction(r, "t" + std::to_string(++n), c.kind, c.payload, 2000,
                           std::chrono::seconds(30));
    f.server().ClearFaults();
    REQUIRE_FALSE(resp.ok);
    CHECK(resp.error.code == "timeout");
    CHECK(resp.error.message.find("still throttling requests (429) at the deadline") !=
          std::string::npos);
    // Refused once, and not asked again: the wait would have passed the deadline.
    CHECK(f.client().metrics().Count(c.verb, 429) - throttled == 1);
  }
  // Nothing changed but the drain's cordon, which comes before its listing
  // (as with kubectl drain).
  auto web = f.client().Get({"apps/v1", "Deployment", "team-a", "web"});
  REQUIRE(web.ok());
  CHECK(json::GetInt(*web, {"spec", "replicas"}) == 2);
  CHECK(json::Find(*web, {"spec", "template", "metadata", "annotations"}) == nullptr);
  CHECK(f.client().Get({"v1", "Pod", "team-a", "p1"}).ok());
  auto node = f.client().Get({"v1", "Node", "", "n1"});
  REQUIRE(node.ok());
  CHECK(json::GetBool(*node, {"spec", "unschedulable"}));
  CHECK(f.client().Get({"v1", "ConfigMap", "team-a", "settings"}).error().IsNotFound());
}

TEST_CASE("an action whose API request hangs past its deadline ends with timeout",
          "[actions][deadline]") {
  ApiFixture f;
  Seed(f);
  ActionRegistry r(Policy(), f.shared_client());
  RegisterAll(r, f);
  f.server().AddFault({Fault::Kind::kLatency, "patch",
                       "/apis/apps/v1/namespaces/team-a/deployments/web", 0, 0,
                       std::chrono::seconds(5), 1});
  auto resp = CallAction(r, "h1", "workload.restart",
                         R"({"kind":"Deployment","namespace":"team-a","name":"web"})", 1000,
                         std::chrono::seconds(4));
  REQUIRE_FALSE(resp.ok);
  CHECK(resp.error.code == "timeout");
  // The server may have applied it: the message says so rather than
  // claiming nothing happened.
  CHECK(resp.error.message.find("may still have applied it") != std::string::npos);
}

TEST_CASE("an action's API request in flight is abandoned when the tunnel session ends",
          "[actions][deadline]") {
  ApiFixture f;
  Seed(f);
  f.server().AddFault({Fault::Kind::kLatency, "delete", "/api/v1/namespaces/team-a/pods/p1", 0, 0,
                       std::chrono::seconds(5), 1});
  std::promise<protocol::Response> answered;
  auto fut = answered.get_future();
  std::chrono::steady_clock::time_point ended;
  {
    ActionRegistry r(Policy(), f.shared_client());
    RegisterAll(r, f);
    f.server().ResetRequestCounts();
    r.Handle({"c1", "pod.delete", 60000, R"({"namespace":"team-a","name":"p1"})"},
             [&answered](protocol::Response x) { answered.set_value(std::move(x)); });
    REQUIRE(kube::testing::Eventually([&] { return f.server().RequestCount("delete") >= 1; }));
    ended = std::chrono::steady_clock::now();
  }  // the registry ends with its tunnel session, and waits for its actions
  // Answered without waiting out the server's 5 s.
  REQUIRE(fut.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - ended < std::chrono::seconds(4));
  auto resp = fut.get();
  REQUIRE_FALSE(resp.ok);
  CHECK(resp.error.code == "cancelled");
}
