#include "actions/workloads.h"

#include <catch2/catch.hpp>

#include "test/actions/action_call.h"
#include "test/kube/api_fixture.h"

using namespace srexpert;
using namespace srexpert::actions;
using srexpert::actions::testing::CallAction;
using srexpert::kube::testing::ApiFixture;
using srexpert::kube::testing::Json;

namespace {

void CreateDeployment(ApiFixture& f, const std::string& ns, const std::string& name, int replicas) {
  auto r = f.client().Create(Json(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" +
                                  name + R"(","namespace":")" + ns +
                                  R"("},"spec":{"replicas":)" + std::to_string(replicas) +
                                  R"(,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}})"));
  REQUIRE(r.ok());
}

int64_t Replicas(ApiFixture& f, const std::string& ns, const std::string& name) {
  auto d = f.client().Get({"apps/v1", "Deployment", ns, name});
  REQUIRE(d.ok());
  return json::GetInt(*d, {"spec", "replicas"}, -1);
}

ActionPolicy Policy() {
  ActionPolicy p;
  p.switches = {{"scale", true}, {"restart", true}};
  p.agent_namespace = "srexpert";
  return p;
}

}  // namespace

TEST_CASE("workload.scale writes spec.replicas through /scale and records an Event",
          "[actions][workloads]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  CreateDeployment(f, "team-a", "web", 2);
  ActionRegistry r(Policy(), f.shared_client());
  r.Register(WorkloadScaleKind(f.shared_client()));
  f.server().ResetRequestCounts();
  auto resp = CallAction(r, "s1", "workload.scale",
                   R"({"kind":"Deployment","namespace":"team-a","name":"web","replicas":5,"requestedBy":"alice"})");
  REQUIRE(resp.ok);
  auto doc = json::Parse(resp.payload);
  REQUIRE(doc);
  CHECK(json::GetInt(*doc, {"result", "previousReplicas"}) == 2);
  CHECK(json::GetInt(*doc, {"result", "replicas"}) == 5);
  CHECK(Replicas(f, "team-a", "web") == 5);
  CHECK(f.server().RequestCount("update") == 0);  // a patch of /scale, never a PUT

  auto events = f.client().List({"v1", "Event", "team-a", ""});
  REQUIRE(events.ok());
  bool found = false;
  for (const auto& e : (*events)["items"].GetArray()) {
    if (json::GetString(e, {"reason"}) == "SRExpertAction" &&
        json::GetString(e, {"involvedObject", "name"}) == "web") {
      found = true;
      auto message = json::GetString(e, {"message"});
      CHECK(message.find("workload.scale") != std::string::npos);
      CHECK(message.find("alice") != std::string::npos);
      CHECK(message.find("succeeded") != std::string::npos);
    }
  }
  CHECK(found);

  // The same request id again: the stored answer, no second write.
  f.server().ResetRequestCounts();
  auto again = CallAction(r, "s1", "workload.scale",
                    R"({"kind":"Deployment","namespace":"team-a","name":"web","replicas":5})");
  CHECK(again.ok);
  CHECK(again.payload == resp.payload);
  CHECK(f.server().RequestCount("patch") == 0);
}

TEST_CASE("workload.scale with a stale expectedReplicas is a conflict and changes nothing",
          "[actions][workloads]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  CreateDeployment(f, "team-a", "web", 3);
  ActionRegistry r(Policy(), f.shared_client());
  r.Register(WorkloadScaleKind(f.shared_client()));
  auto stale = CallAction(r, "s1", "workload.scale",
                    R"({"kind":"Deployment","namespace":"team-a","name":"web","replicas":1,"expectedReplicas":2})");
  CHECK_FALSE(stale.ok);
  CHECK(stale.error.code == "conflict");
  CHECK(Replicas(f, "team-a", "web") == 3);
  auto fresh = CallAction(r, "s2", "workload.scale",
                    R"({"kind":"Deployment","namespace":"team-a","name":"web","replicas":1,"expectedReplicas":3})");
  CHECK(fresh.ok);
  CHECK(Replicas(f, "team-a", "web") == 1);
}

TEST_CASE("workload.scale refusals happen before any API call", "[actions][workloads]") {
  ApiFixture f;
  auto policy = Policy();
  policy.namespaces = {"team-a"};
  policy.switches["restart"] = false;
  ActionRegistry r(policy, f.shared_client());
  r.Register(WorkloadScaleKind(f.shared_client()));
  r.Register(WorkloadRestartKind(f.shared_client()));
  f.server().ResetRequestCounts();
  CHECK(CallAction(r, "a", "workload.scale",
             R"({"kind":"Deployment","namespace":"team-b","name":"web","replicas":1})")
            .error.code == "forbidden");
  CHECK(CallAction(r, "b", "workload.scale",
             R"({"kind":"Deployment","namespace":"kube-system","name":"coredns","replicas":0})")
            .error.code == "forbidden");
  CHECK(CallAction(r, "c", "workload.scale",
             R"({"kind":"Pod","namespace":"team-a","name":"web","replicas":1})")
            .error.code == "invalid");
  CHECK(CallAction(r, "d", "workload.scale",
             R"({"kind":"Deployment","namespace":"team-a","name":"web","replicas":-1})")
            .error.code == "invalid");
  CHECK(CallAction(r, "e", "workload.scale",
             R"({"kind":"Deployment","namespace":"team-a","name":"web","replica":1})")
            .error.code == "invalid");
  CHECK(CallAction(r, "f", "workload.restart",
             R"({"kind":"Deployment","namespace":"team-a","name":"web"})")
            .error.code == "forbidden");
  CHECK(f.server().RequestCount("get") == 0);
  CHECK(f.server().RequestCount("patch") == 0);
  CHECK(f.server().RequestCount("create") == 0);
}

TEST_CASE("workload.scale of a missing workload is not_found", "[actions][workloads]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  ActionRegistry r(Policy(), f.shared_client());
  r.Register(WorkloadScaleKind(f.shared_client()));
  auto resp = CallAction(r, "m", "workload.scale",
                   R"({"kind":"StatefulSet","namespace":"team-a","name":"db","replicas":1})");
  CHECK_FALSE(resp.ok);
  CHECK(resp.error.code == "not_found");
}

TEST_CASE("workload.restart sets kubectl's restartedAt template annotation",
          "[actions][workloads]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  CreateDeployment(f, "team-a", "web", 1);
  ActionRegistry r(Policy(), f.shared_client());
  r.Register(WorkloadRestartKind(f.shared_client()));
  auto resp = CallAction(r, "r1", "workload.restart",
                   R"({"kind":"Deployment","namespace":"team-a","name":"web"})");
  REQUIRE(resp.ok);
  auto doc = json::Parse(resp.payload);
  REQUIRE(doc);
  auto at = json::GetString(*doc, {"result", "restartedAt"});
  CHECK_FALSE(at.empty());
  auto d = f.client().Get({"apps/v1", "Deployment", "team-a", "web"});
  REQUIRE(d.ok());
  const auto* ann = json::Find(*d, {"spec", "template", "metadata", "annotations"});
  REQUIRE(ann);
  CHECK(json::GetString(*ann, {"kubectl.kubernetes.io/restartedAt"}) == at);
  // Labels of the template are kept (a patch, not a replacement).
  CHECK(json::GetString(*d, {"spec", "template", "metadata", "labels", "app"}) == "web");
}
