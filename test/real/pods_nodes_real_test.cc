// node.cordon, node.uncordon, node.drain and pod.delete
// (operator/actions/pods_nodes.h) against a real kube-apiserver and
// kube-controller-manager, and the same scenario against the loopback test
// API server: the results must be the same. On the real cluster the
// disruption controller computes the PodDisruptionBudget's status and the
// Eviction API (pods/eviction) enforces it; on the test server the test
// writes the status the controller would compute (test/apiserver/eviction.h).
//
// No kubelet runs: Nodes are created by hand, pods are bound with
// spec.nodeName and their Running/Ready status is written through
// pods/status as a kubelet would. Owners are ConfigMaps (a controller
// ownerReference the garbage collector accepts and no controller acts on).
// DaemonSet pods are not part of this scenario: the real DaemonSet
// controller deletes or releases hand-made pods of its DaemonSets; the
// DaemonSet skip is covered by test/actions/pods_nodes_test.cc.
#include <catch2/catch.hpp>
#include <future>
#include <string>
#include <thread>

#include "actions/pods_nodes.h"
#include "common/json.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "test/apiserver/api_server.h"
#include "test/actions/action_call.h"
#include "test/kube/api_fixture.h"
#include "test/real/real_cluster.h"

using namespace srexpert;
using namespace srexpert::actions;
using srexpert::actions::testing::CallAction;
using srexpert::actions::testing::ResultOf;
using srexpert::kube::testing::Eventually;
using srexpert::kube::testing::Json;

namespace {

constexpr const char* kNs = "srx-drain-real";
constexpr const char* kNode = "srx-drain-real-n1";
constexpr const char* kSystemPod = "srx-drain-real-sys";

// The handler's result, with what only the disruption controller decides
// cut off: the "(The disruption budget web needs N healthy pods and has M
// currently)" cause counts pods as the controller last saw them.
std::string Normalised(const protocol::Response& resp) {
  json::Document result = ResultOf(resp);
  // The drain evicts its pods concurrently (as kubectl): which of web-1 and
  // web-2 takes the budget's one disruption is a race on either server.
  for (const char* list : {"evicted", "failed"}) {
    if (auto* pods = json::FindMutable(result, {list}); pods && pods->IsArray()) {
      for (auto& p : pods->GetArray()) {
        if (json::GetString(p, {"name"}).rfind("web-", 0) == 0) {
          json::SetString(p, "name", "web-N", result.GetAllocator());
        }
      }
    }
  }
  if (auto* failed = json::FindMutable(result, {"failed"}); failed && failed->IsArray()) {
    for (auto& f : failed->GetArray()) {
      std::string reason = json::GetString(f, {"reason"});
      auto cut = reason.find(" (The disruption budget ");
      if (cut != std::string::npos) reason = reason.substr(0, cut) + " (<budget counts>)";
      json::SetString(f, "reason", reason, result.GetAllocator());
    }
  }
  return json::Dump(result);
}

// One API server (real or test) with the scenario's objects.
struct World {
  std::shared_ptr<kube::RestClient> client;
  bool real = false;

  void Create(const std::string& text) {
    auto doc = Json(text);
    // The ServiceAccount admission needs the namespace's "default"
    // ServiceAccount, which the real controller creates shortly after the
    // namespace: retry that one error.
    kube::Result<json::Document> r = kube::Error();
    Eventually(
        [&] {
          r = client->Create(doc);
          return r.ok() || r.error().message().find("serviceaccount") == std::string::npos;
        },
        std::chrono::seconds(30));
    INFO(text);
    INFO((r ? std::string() : r.error().ToString()));
    REQUIRE(r.ok());
  }

  void Status(const kube::ObjectRef& ref, const std::string& body) {
    kube::PatchOptions o;
    o.subresource = "status";
    auto r = client->Patch(ref, kube::PatchType::kMerge, body, o);
    INFO((r ? std::string() : r.error().ToString()));
    REQUIRE(r.ok());
  }

  bool Exists(const std::string& ns, const std::string& name) {
    auto r = client->Get({"v1", "Pod", ns, name});
    if (!r) REQUIRE(r.error().IsNotFound());
    return r.ok();
  }

  void Cleanup() {
    kube::DeleteOptions now;
    now.grace_period_seconds = 0;
    (void)client->Delete({"v1", "Pod", "kube-system", kSystemPod}, now);
    // Bound pods would wait for a kubelet to confirm a graceful stop (and
    // hold the namespace in Terminating): delete them at once.
    if (auto pods = client->List({"v1", "Pod", kNs, ""}); pods.ok()) {
      for (const auto& p : (*pods)["items"].GetArray()) {
        (void)client->Delete({"v1", "Pod", kNs, json::GetString(p, {"metadata", "name"})}, now);
      }
    }
    (void)client->Delete({"v1", "Node", "", kNode});
    (void)client->Delete({"v1", "Namespace", "", kNs});
    if (real) {
      // The namespace controller empties it; wait so a rerun starts clean.
      Eventually(
          [&] {
            return !client->Get({"v1", "Namespace", "", kNs}).ok();
          },
          std::chrono::seconds(60));
    }
  }

  // Node, owners, pods, PDB. Returns once the PDB's status is what the
  // disruption controller computes for two ready pods and minAvailable 1.
  void Build() {
    Cleanup();
    Create(std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") + kNs +
           R"("}})");
    if (!real) {
      (void)client->Create(
          Json(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system"}})"));
    }
    Create(std::string(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")") + kNode +
           R"("}})");
    auto owner = client->Create(Json(
        std::string(
            R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner","namespace":")") +
        kNs + R"("}})"));
    REQUIRE(owner.ok());
    std::string owner_ref =
        R"(,"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":")" +
        json::GetString(*owner, {"metadata", "uid"}) + R"(","controller":true}])";
    auto pod = [&](const std::string& ns, const std::string& name, const std::string& meta_extra) {
      Create(
          R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name + R"(","namespace":")" +
          ns + R"(","labels":{"app":"web"})" + meta_extra + R"(},"spec":{"nodeName":")" + kNode +
          R"(","terminationGracePeriodSeconds":30,"containers":[{"name":"c","image":"nginx"}]}})");
    };
    for (const char* name : {"web-1", "web-2"}) {
      pod(kNs, name, owner_ref);
      Status(
          {"v1", "Pod", kNs, name},
          R"({"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-01-01T00:00:00Z"}]}})");
    }
    pod(kNs, "bare", "");
    pod(kNs, "static", R"(,"annotations":{"kubernetes.io/config.mirror":"0123456789abcdef"})");
    pod("kube-system", kSystemPod, "");
    Create(
        std::string(
            R"({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":")") +
        kNs + R"("},"spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"web"}}}})");
    if (!real) {
      Status(
          {"policy/v1", "PodDisruptionBudget", kNs, "web"},
          R"({"status":{"observedGeneration":1,"disruptionsAllowed":1,"currentHealthy":2,"desiredHealthy":1,"expectedPods":2}})");
    }
    bool computed = Eventually(
        [&] {
          auto p = client->Get({"policy/v1", "PodDisruptionBudget", kNs, "web"});
          return p.ok() && json::GetInt(*p, {"status", "observedGeneration"}) == 1 &&
                 json::GetInt(*p, {"status", "disruptionsAllowed"}) == 1 &&
                 json::GetInt(*p, {"status", "currentHealthy"}) == 2 &&
                 json::GetInt(*p, {"status", "desiredHealthy"}) == 1;
        },
        std::chrono::seconds(60));
    REQUIRE(computed);
  }
};

// The scenario; returns the normalised results in order.
std::vector<std::string> Run(World& w) {
  w.Build();
  ActionPolicy policy;
  policy.switches = {{"deletePods", true}, {"nodes", true}};
  policy.agent_namespace = "srexpert-system";
  ActionRegistry r(policy, w.client);
  r.Register(NodeCordonKind(w.client));
  r.Register(NodeUncordonKind(w.client));
  r.Register(NodeDrainKind(w.client, policy));
  r.Register(PodDeleteKind(w.client));
  std::vector<std::string> out;
  std::string node = std::string(R"({"name":")") + kNode + R"("})";
  out.push_back(Normalised(CallAction(r, "c1", "node.cordon", node)));
  out.push_back(Normalised(CallAction(r, "c2", "node.cordon", node)));
  out.push_back(Normalised(CallAction(r, "u1", "node.uncordon", node)));
  // Evictions with grace 0: with no kubelet to confirm a graceful stop a
  // bound pod would otherwise stay Terminating.
  out.push_back(
      Normalised(CallAction(r, "d1", "node.drain",
                      std::string(R"({"name":")") + kNode + R"(","gracePeriodSeconds":0})", 4000)));
  // The budget held: one pod evicted, the other still there.
  CHECK(w.Exists(kNs, "web-1") != w.Exists(kNs, "web-2"));
  CHECK(w.Exists(kNs, "bare"));
  CHECK(w.Exists(kNs, "static"));
  CHECK(w.Exists("kube-system", kSystemPod));
  auto n = w.client->Get({"v1", "Node", "", kNode});
  REQUIRE(n.ok());
  CHECK(json::GetBool(*n, {"spec", "unschedulable"}));
  auto del =
      CallAction(r, "p1", "pod.delete",
           std::string(R"({"namespace":")") + kNs + R"(","name":"bare","gracePeriodSeconds":0})");
  REQUIRE(del.ok);
  CHECK_FALSE(w.Exists(kNs, "bare"));
  auto again =
      CallAction(r, "p2", "pod.delete", std::string(R"({"namespace":")") + kNs + R"(","name":"bare"})");
  CHECK(again.error.code == "not_found");
  out.push_back(Normalised(CallAction(r, "u2", "node.uncordon", node)));
  w.Cleanup();
  return out;
}

}  // namespace

TEST_CASE(
    "cordon, uncordon and a drain held by a PodDisruptionBudget: the real server and the "
    "test server agree",
    "[real][actions][nodes]") {
  World real;
  auto c = srexpert::testing::real::AdminClient();
  REQUIRE(c.ok());
  real.client = *c;
  real.real = true;
  auto on_real = Run(real);

  srexpert::testing::ApiServer server;
  server.Start();
  auto cfg = kube::LoadKubeconfig(server.KubeconfigFile());
  REQUIRE(cfg.ok());
  cfg->qps = 0;
  auto tc = kube::RestClient::New(*cfg);
  REQUIRE(tc.ok());
  World test;
  test.client = *tc;
  auto on_test = Run(test);

  REQUIRE(on_real.size() == 5);
  CHECK(on_real[0] == R"({"unschedulable":true,"changed":true})");
  CHECK(on_real[1] == R"({"unschedulable":true,"changed":false})");
  CHECK(on_real[2] == R"({"unschedulable":false,"changed":true})");
  CHECK(
      on_real[3] ==
      std::string(
          R"({"cordoned":true,"evicted":[{"namespace":"srx-drain-real","name":"web-N"}],)") +
          R"("skipped":[{"namespace":"kube-system","name":"srx-drain-real-sys","reason":"namespace kube-system is protected: actions never touch it"},)" +
          R"({"namespace":"srx-drain-real","name":"bare","reason":"not managed by a controller; set force"},)" +
          R"({"namespace":"srx-drain-real","name":"static","reason":"mirror pod"}],)" +
          R"x("failed":[{"namespace":"srx-drain-real","name":"web-N","reason":"still refused at the deadline: Cannot evict pod as it would violate the pod's disruption budget. (<budget counts>)"}],)x" +
          R"("complete":false})");
  CHECK(on_real[4] == R"({"unschedulable":false,"changed":true})");
  CHECK(on_test == on_real);
}
