// pod.delete, node.cordon, node.uncordon and node.drain against the test API
// server (its Eviction API follows kube-apiserver's: test/apiserver/eviction.h).
#include "actions/pods_nodes.h"

#include <catch2/catch.hpp>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "test/actions/action_call.h"
#include "test/kube/api_fixture.h"

using namespace srexpert;
using namespace srexpert::actions;
using srexpert::kube::testing::ApiFixture;
using srexpert::actions::testing::CallAction;
using srexpert::actions::testing::ResultOf;
using srexpert::kube::testing::Json;

namespace {

ActionPolicy Policy() {
  ActionPolicy p;
  p.switches = {{"deletePods", true}, {"nodes", true}};
  p.agent_namespace = "srexpert";
  return p;
}

void CreateNode(ApiFixture& f, const std::string& name) {
  auto r = f.client().Create(
      Json(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name + R"("}})"));
  REQUIRE(r.ok());
}

struct PodSpec {
  std::string ns, name, node;
  std::string owner_kind = "ReplicaSet";  // "" = no controller
  std::string labels = R"({"app":"web"})";
  std::string annotations = "{}";
  bool empty_dir = false;
};

// The pod's controller must exist: the garbage collector deletes pods whose
// owner is gone (on the test server as on a real cluster).
std::string EnsureOwner(ApiFixture& f, const std::string& ns, const std::string& kind) {
  std::string name = kind == "DaemonSet" ? "owner-ds" : "owner-rs";
  auto live = f.client().Get({"apps/v1", kind, ns, name});
  if (live) return json::GetString(*live, {"metadata", "uid"});
  std::string replicas = kind == "DaemonSet" ? "" : R"("replicas":0,)";
  auto r = f.client().Create(
      Json(R"({"apiVersion":"apps/v1","kind":")" + kind + R"(","metadata":{"name":")" + name +
           R"(","namespace":")" + ns + R"("},"spec":{)" + replicas +
           R"("selector":{"matchLabels":{"owner":")" + name +
           R"("}},"template":{"metadata":{"labels":{"owner":")" + name +
           R"("}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}})"));
  REQUIRE(r.ok());
  return json::GetString(*r, {"metadata", "uid"});
}

void CreatePod(ApiFixture& f, const PodSpec& s) {
  std::string owner;
  if (!s.owner_kind.empty()) {
    owner = R"(,"ownerReferences":[{"apiVersion":"apps/v1","kind":")" + s.owner_kind +
            R"(","name":")" + (s.owner_kind == "DaemonSet" ? "owner-ds" : "owner-rs") +
            R"(","uid":")" + EnsureOwner(f, s.ns, s.owner_kind) + R"(","controller":true}])";
  }
  std::string volumes = s.empty_dir ? R"(,"volumes":[{"name":"scratch","emptyDir":{}}])" : "";
  auto r = f.client().Create(
      Json(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + s.name +
           R"(","namespace":")" + s.ns + R"(","labels":)" + s.labels + R"(,"annotations":)" +
           s.annotations + owner + R"(},"spec":{"nodeName":")" + s.node +
           R"(","containers":[{"name":"c","image":"nginx"}])" + volumes + "}}"));
  REQUIRE(r.ok());
}

// What the kubelet would report for a started pod: the PDB only protects
// running, ready pods.
void MarkRunningReady(ApiFixture& f, const std::string& ns, const std::string& name) {
  kube::PatchOptions o;
  o.subresource = "status";
  auto r = f.client().Patch(
      {"v1", "Pod", ns, name}, kube::PatchType::kMerge,
      R"({"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}})", o);
  REQUIRE(r.ok());
}

// A PDB and the status kube-controller-manager's disruption controller would
// compute for it (the test server, like kube-apiserver, only reads it).
void CreatePdb(ApiFixture& f, const std::string& ns, const std::string& name, int min_available,
               int healthy) {
  auto c = f.client().Create(
      Json(R"({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":")" + name +
           R"(","namespace":")" + ns + R"("},"spec":{"minAvailable":)" +
           std::to_string(min_available) + R"(,"selector":{"matchLabels":{"app":"web"}}}})"));
  REQUIRE(c.ok());
  kube::PatchOptions o;
  o.subresource = "status";
  int allowed = std::max(0, healthy - min_available);
  auto r = f.client().Patch(
      {"policy/v1", "PodDisruptionBudget", ns, name}, kube::PatchType::kMerge,
      R"({"status":{"observedGeneration":1,"disruptionsAllowed":)" + std::to_string(allowed) +
          R"(,"currentHealthy":)" + std::to_string(healthy) + R"(,"desiredHealthy":)" +
          std::to_string(min_available) + R"(,"expectedPods":)" + std::to_string(healthy) + "}}",
      o);
  REQUIRE(r.ok());
}

bool PodExists(ApiFixture& f, const std::string& ns, const std::string& name) {
  auto r = f.client().Get({"v1", "Pod", ns, name});
  if (!r) REQUIRE(r.error().IsNotFound());
  return r.ok();
}

bool Unschedulable(ApiFixture& f, const std::string& node) {
  auto n = f.client().Get({"v1", "Node", "", node});
  REQUIRE(n.ok());
  return json::GetBool(*n, {"spec", "unschedulable"});
}

// "ns/name:reason" of every entry of result[key], for readable checks.
std::vector<std::string> Entries(const json::Value& result, const char* key) {
  std::vector<std::string> out;
  for (const auto& e : result[key].GetArray()) {
    std::string s = json::GetString(e, {"namespace"}) + "/" + json::GetString(e, {"name"});
    if (e.HasMember("reason")) s += ":" + json::GetString(e, {"reason"});
    out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("pod.delete deletes one pod with its grace period, and a retry is not a second delete",
          "[actions][pods]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  CreatePod(f, {"team-a", "web-1", "n1"});
  auto uid =
      json::GetString(*f.client().Get({"v1", "Pod", "team-a", "web-1"}), {"metadata", "uid"});
  ActionRegistry r(Policy(), f.shared_client());
  r.Register(PodDeleteKind(f.shared_client()));
  auto resp =
      CallAction(r, "d1", "pod.delete",
           R"({"namespace":"team-a","name":"web-1","gracePeriodSeconds":0,"requestedBy":"alice"})");
  auto res = ResultOf(resp);
  CHECK(json::GetBool(res, {"deleted"}));
  CHECK(json::GetString(res, {"uid"}) == uid);
  CHECK_FALSE(PodExists(f, "team-a", "web-1"));

  f.server().ResetRequestCounts();
  auto again = CallAction(r, "d1", "pod.delete", R"({"namespace":"team-a","name":"web-1"})");
  CHECK(again.payload == resp.payload);
  CHECK(f.server().RequestCount("delete") == 0);
  CHECK(r.executions() == 1);

  auto missing = CallAction(r, "d2", "pod.delete", R"({"namespace":"team-a","name":"web-1"})");
  CHECK_FALSE(missing.ok);
  CHECK(missing.error.code == "not_found");
}

TEST_CASE("pod and node refusals happen before any API call", "[actions][pods][nodes]") {
  ApiFixture f;
  auto policy = Policy();
  policy.namespaces = {"team-a"};
  ActionRegistry r(policy, f.shared_client());
  r.Register(PodDeleteKind(f.shared_client()));
  r.Register(NodeCordonKind(f.shared_client()));
  r.Register(NodeUncordonKind(f.shared_client()));
  r.Register(NodeDrainKind(f.shared_client(), policy));
  auto off = Policy();
  off.switches = {{"deletePods", false}, {"nodes", false}};
  ActionRegistry disabled(off, f.shared_client());
  disabled.Register(PodDeleteKind(f.shared_client()));
  disabled.Register(NodeCordonKind(f.shared_client()));
  disabled.Register(NodeDrainKind(f.shared_client(), off));
  f.server().ResetRequestCounts();

  // Switches.
  CHECK(CallAction(disabled, "s1", "pod.delete", R"({"namespace":"team-a","name":"p"})").error.code ==
        "forbidden");
  CHECK(CallAction(disabled, "s2", "node.cordon", R"({"name":"n1"})").error.code == "forbidden");
  CHECK(CallAction(disabled, "s3", "node.drain", R"({"name":"n1"})").error.code == "forbidden");
  // Namespaces: outside the allow-list, system, the agent's own.
  CHECK(CallAction(r, "n1", "pod.delete", R"({"namespace":"team-b","name":"p"})").error.code ==
        "forbidden");
  CHECK(
      CallAction(r, "n2", "pod.delete", R"({"namespace":"kube-system","name":"coredns-1"})").error.code ==
      "forbidden");
  CHECK(CallAction(r, "n3", "pod.delete", R"({"namespace":"kube-node-lease","name":"p"})").error.code ==
        "forbidden");
  CHECK(CallAction(r, "n4", "pod.delete", R"({"namespace":"srexpert","name":"agent-1"})").error.code ==
        "forbidden");
  // Bad payloads.
  for (const char* bad :
       {R"({"namespace":"team-a"})", R"({"name":"p"})",
        R"({"namespace":"team-a","name":"p","gracePeriodSeconds":-1})",
        R"({"namespace":"team-a","name":"p","gracePeriodSeconds":"5"})",
        R"({"namespace":"team-a","name":"p","grace":5})", R"({"namespace":"Team_A","name":"p"})",
        R"({"namespace":"team-a","name":"P Q"})"}) {
    auto resp = CallAction(r, std::string("b-pod-") + bad, "pod.delete", bad);
    CHECK(resp.error.code == "invalid");
    CHECK_FALSE(resp.error.message.empty());
  }
  for (const char* kind : {"node.cordon", "node.uncordon", "node.drain"}) {
    for (const char* bad :
         {R"({})", R"({"name":""})", R"({"name":"n1","namespace":"x"})", R"({"name":"N_1"})"}) {
      CHECK(CallAction(r, std::string("b-") + kind + bad, kind, bad).error.code == "invalid");
    }
  }
  for (const char* bad :
       {R"({"name":"n1","force":"yes"})", R"({"name":"n1","deleteEmptyDirData":1})",
        R"({"name":"n1","gracePeriodSeconds":-5})", R"({"name":"n1","ignoreDaemonsets":false})"}) {
    CHECK(CallAction(r, std::string("b-drain-") + bad, "node.drain", bad).error.code == "invalid");
  }
  CHECK(f.server().RequestCount("get") == 0);
  CHECK(f.server().RequestCount("list") == 0);
  CHECK(f.server().RequestCount("delete") == 0);
  CHECK(f.server().RequestCount("patch") == 0);
  CHECK(f.server().RequestCount("create") == 0);  // no eviction, and refusals record no Event
}

TEST_CASE("node.cordon and node.uncordon patch spec.unschedulable as kubectl does",
          "[actions][nodes]") {
  ApiFixture f;
  CreateNode(f, "n1");
  ActionRegistry r(Policy(), f.shared_client());
  r.Register(NodeCordonKind(f.shared_client()));
  r.Register(NodeUncordonKind(f.shared_client()));

  auto c1 = CallAction(r, "c1", "node.cordon", R"({"name":"n1","requestedBy":"bob"})");
  auto res = ResultOf(c1);
  CHECK(json::GetBool(res, {"unschedulable"}));
  CHECK(json::GetBool(res, {"changed"}));
  CHECK(Unschedulable(f, "n1"));

  // The same id: the stored result, no second read or write.
  f.server().ResetRequestCounts();
  CHECK(CallAction(r, "c1", "node.cordon", R"({"name":"n1"})").payload == c1.payload);
  CHECK(f.server().RequestCount("get") == 0);
  CHECK(f.server().RequestCount("patch") == 0);

  // A new request on a cordoned node: nothing to change, no write.
  auto c2 = ResultOf(CallAction(r, "c2", "node.cordon", R"({"name":"n1"})"));
  CHECK(json::GetBool(c2, {"unschedulable"}));
  CHECK_FALSE(json::GetBool(c2, {"changed"}));
  CHECK(f.server().RequestCount("patch") == 0);

  auto u1 = ResultOf(CallAction(r, "u1", "node.uncordon", R"({"name":"n1"})"));
  CHECK_FALSE(json::GetBool(u1, {"unschedulable"}));
  CHECK(json::GetBool(u1, {"changed"}));
  auto node = f.client().Get({"v1", "Node", "", "n1"});
  REQUIRE(node.ok());
  CHECK(json::Find(*node, {"spec", "unschedulable"}) == nullptr);  // removed, like kubectl
  auto u2 = ResultOf(CallAction(r, "u2", "node.uncordon", R"({"name":"n1"})"));
  CHECK_FALSE(json::GetBool(u2, {"changed"}));

  // The audit Event of a Node goes to the default namespace.
  auto events = f.client().List({"v1", "Event", "default", ""});
  REQUIRE(events.ok());
  bool found = false;
  for (const auto& e : (*events)["items"].GetArray()) {
    found |= json::GetString(e, {"involvedObject", "kind"}) == "Node" &&
             json::GetString(e, {"message"}).find("node.cordon") != std::string::npos &&
             json::GetString(e, {"message"}).find("bob") != std::string::npos;
  }
  CHECK(found);

  auto missing = CallAction(r, "m1", "node.cordon", R"({"name":"n9"})");
  CHECK(missing.error.code == "not_found");
}

TEST_CASE(
    "node.drain evicts through the Eviction API and skips what kubectl --ignore-daemonsets skips",
    "[actions][nodes][drain]") {
  ApiFixture f;
  for (const char* ns : {"team-a", "team-b", "kube-system", "srexpert"}) f.CreateNamespace(ns);
  CreateNode(f, "n1");
  CreateNode(f, "n2");
  CreatePod(f, {"team-a", "web-1", "n1"});
  CreatePod(f, {"team-a", "web-2", "n1"});
  CreatePod(f, {"team-a", "other-node", "n2"});
  PodSpec ds{"team-a", "agent-ds", "n1", "DaemonSet"};
  CreatePod(f, ds);
  PodSpec mirror{"team-a", "static-n1", "n1", ""};
  mirror.annotations = R"({"kubernetes.io/config.mirror":"abc"})";
  CreatePod(f, mirror);
  CreatePod(f, {"kube-system", "coredns-1", "n1"});
  CreatePod(f, {"srexpert", "agent-1", "n1"});
  CreatePod(f, {"team-b", "api-1", "n1"});
  PodSpec bare{"team-a", "bare", "n1", ""};
  CreatePod(f, bare);
  PodSpec scratch{"team-a", "cache", "n1"};
  scratch.empty_dir = true;
  CreatePod(f, scratch);

  auto policy = Policy();
  policy.namespaces = {"team-a"};
  ActionRegistry r(policy, f.shared_client());
  r.Register(NodeDrainKind(f.shared_client(), policy));
  f.server().ResetRequestCounts();
  auto res = ResultOf(CallAction(r, "d1", "node.drain", R"({"name":"n1"})", 10000));
  CHECK(Unschedulable(f, "n1"));
  CHECK(json::GetBool(res, {"cordoned"}));
  CHECK(Entries(res, "evicted") == std::vector<std::string>{"team-a/web-1", "team-a/web-2"});
  CHECK(Entries(res, "skipped") ==
        std::vector<std::string>{
            "kube-system/coredns-1:namespace kube-system is protected: actions never touch it",
            "srexpert/agent-1:namespace srexpert is protected: actions never touch it",
            "team-a/agent-ds:DaemonSet-managed",
            "team-a/bare:not managed by a controller; set force",
            "team-a/cache:has local storage (emptyDir); set deleteEmptyDirData",
            "team-a/static-n1:mirror pod",
            "team-b/api-1:namespace team-b is not in spec.actions.namespaces"});
  CHECK(Entries(res, "failed").empty());
  CHECK_FALSE(json::GetBool(res, {"complete"}));
  CHECK(f.server().RequestCount("create") == 2 + 1);  // two evictions and the audit Event
  CHECK(f.server().RequestCount("delete") == 0);      // evictions, never plain deletes
  for (const char* gone : {"web-1", "web-2"}) CHECK_FALSE(PodExists(f, "team-a", gone));
  for (const char* kept : {"agent-ds", "static-n1", "bare", "cache", "other-node"}) {
    CHECK(PodExists(f, "team-a", kept));
  }
  CHECK(PodExists(f, "kube-system", "coredns-1"));
  CHECK(PodExists(f, "srexpert", "agent-1"));
  CHECK(PodExists(f, "team-b", "api-1"));

  // force and deleteEmptyDirData take the unmanaged and emptyDir pods too;
  // with only DaemonSet and mirror pods (and the out-of-policy ones) left...
  auto second = ResultOf(CallAction(
      r, "d2", "node.drain",
      R"({"name":"n1","force":true,"deleteEmptyDirData":true,"gracePeriodSeconds":0})", 10000));
  CHECK(Entries(second, "evicted") == std::vector<std::string>{"team-a/bare", "team-a/cache"});
  CHECK_FALSE(json::GetBool(second, {"complete"}));  // ...kube-system etc. still block completion

  // A node holding only what kubectl drain --ignore-daemonsets leaves is complete.
  CreatePod(f, {"team-a", "web-3", "n2"});
  PodSpec ds2{"team-a", "agent-ds-2", "n2", "DaemonSet"};
  CreatePod(f, ds2);
  auto third = ResultOf(CallAction(r, "d3", "node.drain", R"({"name":"n2"})", 10000));
  CHECK(Entries(third, "evicted") == std::vector<std::string>{"team-a/other-node", "team-a/web-3"});
  CHECK(json::GetBool(third, {"complete"}));

  CHECK(CallAction(r, "d4", "node.drain", R"({"name":"n9"})").error.code == "not_found");
}

TEST_CASE("node.drain reports its progress: the listing, then each pod as its outcome is known",
          "[actions][nodes][drain][progress]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  CreateNode(f, "n1");
  CreatePod(f, {"team-a", "web-1", "n1"});
  CreatePod(f, {"team-a", "web-2", "n1"});
  PodSpec ds{"team-a", "agent-ds", "n1", "DaemonSet"};
  CreatePod(f, ds);
  ActionRegistry r(Policy(), f.shared_client());
  r.Register(NodeDrainKind(f.shared_client(), Policy()));

  std::mutex mu;
  std::vector<json::Document> reports;
  std::promise<protocol::Response> done;
  r.Handle({"p1", "node.drain", 10000, R"({"name":"n1"})"},
           [&](protocol::Response resp) { done.set_value(std::move(resp)); },
           [&](std::string report) {
             auto doc = json::Parse(report);
             REQUIRE(doc);
             std::lock_guard lock(mu);
             reports.push_back(std::move(*doc));
           });
  auto res = ResultOf(done.get_future().get());
  CHECK(Entries(res, "evicted") == std::vector<std::string>{"team-a/web-1", "team-a/web-2"});

  std::lock_guard lock(mu);
  REQUIRE(reports.size() == 4);  // listed, one skip, two evictions
  CHECK(json::GetString(reports[0], {"node"}) == "n1");
  CHECK(json::Find(reports[0], {"pod"}) == nullptr);
  CHECK(json::GetInt(reports[0], {"remaining"}) == 2);
  CHECK(json::GetInt(reports[0], {"skipped"}) == 1);
  CHECK(json::GetString(reports[1], {"outcome"}) == "skipped");
  CHECK(json::GetString(reports[1], {"pod", "name"}) == "agent-ds");
  CHECK(json::GetString(reports[1], {"reason"}) == "DaemonSet-managed");
  std::set<std::string> evicted;
  for (size_t i = 2; i < 4; ++i) {
    CHECK(json::GetString(reports[i], {"outcome"}) == "evicted");
    evicted.insert(json::GetString(reports[i], {"pod", "name"}));
    CHECK(json::GetInt(reports[i], {"evicted"}) == static_cast<int64_t>(i - 1));
    CHECK(json::GetInt(reports[i], {"remaining"}) == static_cast<int64_t>(3 - i));
  }
  CHECK(evicted == std::set<std::string>{"web-1", "web-2"});
}

TEST_CASE("node.drain honours a PodDisruptionBudget: 429 retried until the deadline, then reported",
          "[actions][nodes][drain][pdb]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  CreateNode(f, "n1");
  for (const char* name : {"web-1", "web-2"}) {
    CreatePod(f, {"team-a", name, "n1"});
    MarkRunningReady(f, "team-a", name);
  }
  // Two healthy pods, minAvailable 1: one disruption allowed.
  CreatePdb(f, "team-a", "web", 1, 2);
  ActionRegistry r(Policy(), f.shared_client());
  r.Register(NodeDrainKind(f.shared_client(), Policy()));
  r.Register(NodeCordonKind(f.shared_client()));
  f.server().ResetRequestCounts();

  // The second eviction is refused (no controller lowers the budget's use
  // here), so the drain retries until its next wait would pass its 5 s
  // deadline (the client's backoff: 0.2, 0.4, 0.8, 1.6 s, then a 3.2 s wait
  // it does not start); meanwhile a cordon and an uncordon of the same node
  // wait for it and time out. The margin is for sanitizer builds: with a 2 s
  // deadline the drain gave up after 1.4 s, before the uncordon's wait ended.
  std::promise<protocol::Response> drained;
  auto fut = drained.get_future();
  r.Handle({"d1", "node.drain", 5000, R"({"name":"n1"})"},
           [&drained](protocol::Response x) { drained.set_value(std::move(x)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto waited = CallAction(r, "c1", "node.cordon", R"({"name":"n1"})", 300);
  CHECK(waited.error.code == "timeout");
  r.Register(NodeUncordonKind(f.shared_client()));
  CHECK(CallAction(r, "u1", "node.uncordon", R"({"name":"n1"})", 300).error.code == "timeout");
  REQUIRE(fut.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  auto res = ResultOf(fut.get());
  auto evicted = Entries(res, "evicted");
  auto failed = Entries(res, "failed");
  REQUIRE(evicted.size() == 1);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].find("still refused at the deadline: Cannot evict pod as it would violate the "
                       "pod's disruption budget. (The disruption budget web needs 1 healthy pods "
                       "and has 2 currently)") != std::string::npos);
  CHECK_FALSE(json::GetBool(res, {"complete"}));
  CHECK(f.server().RequestCount("create") >= 1 + 3);  // retried, not given up at once

  // The budget's status records the disruption, as kube-apiserver writes it.
  auto pdb = f.client().Get({"policy/v1", "PodDisruptionBudget", "team-a", "web"});
  REQUIRE(pdb.ok());
  CHECK(json::GetInt(*pdb, {"status", "disruptionsAllowed"}, -1) == 0);
  const auto* disrupted = json::Find(*pdb, {"status", "disruptedPods"});
  REQUIRE(disrupted);
  CHECK(disrupted->MemberCount() == 1);

  // The same request id again: the stored per-pod report, no new eviction.
  f.server().ResetRequestCounts();
  auto again = CallAction(r, "d1", "node.drain", R"({"name":"n1"})");
  CHECK(ResultOf(again)["failed"].Size() == 1);
  CHECK(f.server().RequestCount("create") == 0);
  CHECK(f.server().RequestCount("list") == 0);
}

TEST_CASE("node.drain stops when the tunnel session ends and says how far it got",
          "[actions][nodes][drain]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  CreateNode(f, "n1");
  CreatePod(f, {"team-a", "web-1", "n1"});
  MarkRunningReady(f, "team-a", "web-1");
  CreatePdb(f, "team-a", "web", 1, 1);
  std::promise<protocol::Response> drained;
  auto fut = drained.get_future();
  auto start = std::chrono::steady_clock::now();
  {
    ActionRegistry r(Policy(), f.shared_client());
    r.Register(NodeDrainKind(f.shared_client(), Policy()));
    f.server().ResetRequestCounts();
    r.Handle({"d1", "node.drain", 60000, R"({"name":"n1"})"},
             [&drained](protocol::Response x) { drained.set_value(std::move(x)); });
    REQUIRE(kube::testing::Eventually([&] { return f.server().RequestCount("create") >= 2; }));
  }  // the registry ends with its tunnel session: running actions are cancelled
  REQUIRE(fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
  auto resp = fut.get();
  CHECK(resp.error.code == "cancelled");
  CHECK(resp.error.message.find(R"("failed":[{"namespace":"team-a","name":"web-1")") !=
        std::string::npos);
  CHECK(PodExists(f, "team-a", "web-1"));
}

TEST_CASE("pod.delete waits for another action on the same pod only until its timeout",
          "[actions][pods]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  CreatePod(f, {"team-a", "web-1", "n1"});
  ActionRegistry r(Policy(), f.shared_client());
  r.Register(PodDeleteKind(f.shared_client()));
  srexpert::testing::Fault slow;
  slow.kind = srexpert::testing::Fault::Kind::kLatency;
  slow.verb = "delete";
  slow.delay = std::chrono::milliseconds(1500);
  f.server().AddFault(slow);
  std::promise<protocol::Response> first;
  auto fut = first.get_future();
  r.Handle({"p1", "pod.delete", 0, R"({"namespace":"team-a","name":"web-1"})"},
           [&first](protocol::Response x) { first.set_value(std::move(x)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto second = CallAction(r, "p2", "pod.delete", R"({"namespace":"team-a","name":"web-1"})", 300);
  CHECK(second.error.code == "timeout");
  REQUIRE(fut.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK(fut.get().ok);
  CHECK(f.server().RequestCount("delete") == 1);
}

TEST_CASE("node.drain: a budget the controller frees while the drain retries lets it finish",
          "[actions][nodes][drain][pdb]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  CreateNode(f, "n1");
  CreatePod(f, {"team-a", "web-1", "n1"});
  MarkRunningReady(f, "team-a", "web-1");
  CreatePdb(f, "team-a", "web", 1, 1);  // no disruption allowed yet
  ActionRegistry r(Policy(), f.shared_client());
  r.Register(NodeDrainKind(f.shared_client(), Policy()));
  std::promise<protocol::Response> drained;
  auto fut = drained.get_future();
  f.server().ResetRequestCounts();
  r.Handle({"d1", "node.drain", 20000, R"({"name":"n1"})"},
           [&drained](protocol::Response x) { drained.set_value(std::move(x)); });
  // A replacement became healthy elsewhere: the disruption controller allows one.
  REQUIRE(kube::testing::Eventually([&] { return f.server().RequestCount("create") >= 2; }));
  kube::PatchOptions o;
  o.subresource = "status";
  REQUIRE(f.client()
              .Patch({"policy/v1", "PodDisruptionBudget", "team-a", "web"}, kube::PatchType::kMerge,
                     R"({"status":{"disruptionsAllowed":1,"currentHealthy":2,"expectedPods":2}})",
                     o)
              .ok());
  REQUIRE(fut.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  auto res = ResultOf(fut.get());
  CHECK(Entries(res, "evicted") == std::vector<std::string>{"team-a/web-1"});
  CHECK(json::GetBool(res, {"complete"}));
  CHECK_FALSE(PodExists(f, "team-a", "web-1"));
}

TEST_CASE("the test server's Eviction API answers as kube-apiserver", "[apiserver][eviction]") {
  ApiFixture f;
  f.CreateNamespace("team-a");
  CreatePod(f, {"team-a", "web-1", "n1"});
  MarkRunningReady(f, "team-a", "web-1");
  // Discovery lists the subresource and the PDB resource.
  auto core = f.client().GetPath("/api/v1");
  REQUIRE(core.ok());
  bool listed = false;
  for (const auto& res : (*core)["resources"].GetArray()) {
    if (json::GetString(res, {"name"}) == "pods/eviction") {
      listed = json::GetString(res, {"kind"}) == "Eviction" &&
               json::GetString(res, {"group"}) == "policy" &&
               json::GetString(res, {"version"}) == "v1";
    }
  }
  CHECK(listed);
  CHECK(f.client().Resolve("policy/v1", "PodDisruptionBudget").ok());

  // A fresh PDB (no status yet: the controller has not observed it) refuses.
  auto c = f.client().Create(Json(
      R"({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":"team-a"},"spec":{"maxUnavailable":1,"selector":{"matchLabels":{"app":"web"}}}})"));
  REQUIRE(c.ok());
  kube::RestConfig cfg = f.client().config();
  auto transport = kube::HttpTransport::New(cfg);
  REQUIRE(transport.ok());
  auto evict = [&](const std::string& name) {
    auto r = (*transport)
                 ->Send({"POST", "/api/v1/namespaces/team-a/pods/" + name + "/eviction",
                         R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":")" +
                             name + R"("}})",
                         "application/json", cfg.bearer_token});
    REQUIRE(r.ok());
    return *r;
  };
  auto pending = evict("web-1");
  CHECK(pending.status == 429);
  CHECK(pending.retry_after == std::chrono::seconds(10));
  CHECK(pending.body.find("The disruption budget web is still being processed by the server.") !=
        std::string::npos);
  auto missing = evict("web-9");
  CHECK(missing.status == 404);
  CHECK(missing.body.find(R"(pods \"web-9\" not found)") != std::string::npos);
  auto mismatch =
      (*transport)
          ->Send({"POST", "/api/v1/namespaces/team-a/pods/web-1/eviction",
                  R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"other"}})",
                  "application/json", cfg.bearer_token});
  REQUIRE(mismatch.ok());
  CHECK(mismatch->status == 400);
  CHECK(mismatch->body.find("name in URL does not match name in Eviction object") !=
        std::string::npos);

  kube::PatchOptions o;
  o.subresource = "status";
  REQUIRE(
      f.client()
          .Patch(
              {"policy/v1", "PodDisruptionBudget", "team-a", "web"}, kube::PatchType::kMerge,
              R"({"status":{"observedGeneration":1,"disruptionsAllowed":0,"currentHealthy":1,"desiredHealthy":1,"expectedPods":1}})",
              o)
          .ok());
  auto blocked = evict("web-1");
  CHECK(blocked.status == 429);
  auto status = json::Parse(blocked.body);
  REQUIRE(status);
  CHECK(json::GetString(*status, {"reason"}) == "TooManyRequests");
  CHECK(json::GetString(*status, {"message"}) ==
        "Cannot evict pod as it would violate the pod's disruption budget.");
  CHECK(json::GetString((*status)["details"]["causes"][0], {"reason"}) == "DisruptionBudget");
  CHECK(json::GetString((*status)["details"]["causes"][0], {"message"}) ==
        "The disruption budget web needs 1 healthy pods and has 1 currently");

  // A pod that is not running is not protected (canIgnorePDB): evicted.
  CreatePod(f, {"team-a", "web-2", "n1"});
  auto pending_pod = evict("web-2");
  CHECK(pending_pod.status == 201);
  auto ok = json::Parse(pending_pod.body);
  REQUIRE(ok);
  CHECK(json::GetString(*ok, {"status"}) == "Success");
  CHECK_FALSE(PodExists(f, "team-a", "web-2"));

  // An empty selector selects nothing (kube-apiserver v1.26.0): still web's 429.
  auto c2 = f.client().Create(Json(
      R"({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"all","namespace":"team-a"},"spec":{"maxUnavailable":1,"selector":{}}})"));
  REQUIRE(c2.ok());
  auto empty = evict("web-1");
  CHECK(empty.status == 429);
  CHECK(empty.body.find("The disruption budget web needs 1 healthy pods") != std::string::npos);

  // An unready pod while the budget has its healthy pods: not counted, so
  // evicted, but (as v1.26.0 does) only on the second try: the first one
  // sets the DisruptionTarget condition and answers "still being processed".
  kube::PatchOptions unready;
  unready.subresource = "status";
  REQUIRE(f.client()
              .Patch({"v1", "Pod", "team-a", "web-1"}, kube::PatchType::kMerge,
                     R"({"status":{"conditions":[{"type":"Ready","status":"False"}]}})", unready)
              .ok());
  auto first = evict("web-1");
  CHECK(first.status == 429);
  CHECK(first.retry_after == std::chrono::seconds(10));
  CHECK(first.body.find("The disruption budget web is still being processed by the server.") !=
        std::string::npos);
  auto marked = f.client().Get({"v1", "Pod", "team-a", "web-1"});
  REQUIRE(marked.ok());
  CHECK(json::Dump(*marked).find(R"("reason":"EvictionByEvictionAPI")") != std::string::npos);
  CHECK(evict("web-1").status == 201);
  CHECK_FALSE(PodExists(f, "team-a", "web-1"));

  // Two budgets over one pod: the real server's 500.
  CreatePod(f, {"team-a", "web-3", "n1"});
  MarkRunningReady(f, "team-a", "web-3");
  auto c3 = f.client().Create(Json(
      R"({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web2","namespace":"team-a"},"spec":{"maxUnavailable":1,"selector":{"matchLabels":{"app":"web"}}}})"));
  REQUIRE(c3.ok());
  auto two = evict("web-3");
  CHECK(two.status == 500);
  CHECK(two.body.find(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource "
            "does not support.") != std::string::npos);
  CHECK(PodExists(f, "team-a", "web-3"));
}
