// The Agent end to end in one process: the loopback API server holds the
// Lease, an in-process hub is the backend, and several Agents play pods.
#include "agent/agent.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/names.h"
#include "common/json.h"
#include "common/time_format.h"
#include "hub/hub.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "leaderelection/kube_lease_lock.h"
#include "protocol/messages.h"
#include "stream/projection.h"
#include "test/apiserver/api_server.h"
#include "test/net/test_support.h"

using namespace srexpert;
using agent::Agent;
using agent::TunnelState;
using srexpert::testing::WaitUntil;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr const char* kNs = "srexpert-system";
constexpr const char* kLease = "srexpert-agent-leader";
constexpr const char* kCluster = "cluster-a";

struct World {
  srexpert::testing::TempDir dir;
  srexpert::testing::TestPki pki{dir.path()};
  srexpert::testing::ApiServer api;
  std::shared_ptr<kube::RestClient> client;
  std::unique_ptr<hub::Hub> hub;
  std::string token_file = dir.File("token");

  explicit World(std::function<void(hub::HubOptions&)> tweak_hub = {}) {
    srexpert::testing::WriteFile(dir.File("tokens.json"),
                                 R"({"clusters":[{"name":"cluster-a","token":"tok-a"}]})");
    srexpert::testing::WriteFile(token_file, "tok-a\n");
    api.Start();
    client = NewClient();
    auto ns =
        json::Parse(std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") +
                    kNs + R"("}})");
    REQUIRE(client->Create(*ns).ok());
    hub::HubOptions o;
    o.bind_address = "127.0.0.1";
    o.port = 0;
    o.api_port = 0;
    o.tls_cert_file = pki.server_cert;
    o.tls_key_file = pki.server_key;
    o.tokens_file = dir.File("tokens.json");
    if (tweak_hub) tweak_hub(o);
    hub = std::make_unique<hub::Hub>(o);
    std::string error;
    INFO(error);
    REQUIRE(hub->Start(&error));
  }

  std::shared_ptr<kube::RestClient> NewClient() {
    auto cfg = kube::LoadKubeconfig(api.KubeconfigFile());
    REQUIRE(cfg.ok());
    cfg->qps = 0;
    cfg->request_timeout = seconds(2);
    auto c = kube::RestClient::New(*cfg);
    REQUIRE(c.ok());
    return *c;
  }

  agent::AgentOptions Options(const std::string& pod) const {
    agent::AgentOptions o;
    auto& s = o.settings;
    s.cluster_name = "test-cluster";
    s.backend.url = "wss://localhost:" + std::to_string(hub->tunnel_port()) + "/api/v1/tunnel";
    s.backend.ca_file = pki.ca_cert;
    s.token_file = token_file;
    s.leader_election.lease_name = kLease;
    s.leader_election.lease_namespace = kNs;
    s.leader_election.lease_duration = milliseconds(3000);
    s.leader_election.renew_deadline = milliseconds(2000);
    s.leader_election.retry_period = milliseconds(500);
    s.tunnel.ping_interval = milliseconds(1000);
    s.tunnel.pong_timeout = milliseconds(2000);
    s.tunnel.backoff.initial = milliseconds(100);
    s.tunnel.backoff.max = milliseconds(1000);
    o.pod_name = pod;
    o.pod_namespace = kNs;
    o.node_name = "node-of-" + pod;
    o.version = "0.1.0-test";
    o.use_system_cas = false;
    o.use_proxy_environment = false;
    return o;
  }

  struct Pod {
    std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
    std::unique_ptr<Agent> agent;
    std::string name;
    std::string Metrics() {
      agent->RefreshMetrics();
      return prometheus::TextSerializer().Serialize(registry->Collect());
    }
  };

  std::unique_ptr<Pod> StartPod(const std::string& name) {
    auto pod = std::make_unique<Pod>();
    pod->name = name;
    pod->agent = std::make_unique<Agent>(Options(name), NewClient(), pod->registry);
    std::string error;
    INFO(error);
    REQUIRE(pod->agent->Start(&error));
    return pod;
  }

  std::optional<hub::ClusterStatus> Cluster() const {
    for (auto& c : hub->Clusters()) {
      if (c.name == kCluster) return c;
    }
    return std::nullopt;
  }
  bool HubConnectedTo(const std::string& pod) const {
    auto c = Cluster();
    return c && c->connected && c->hello.pod == pod;
  }

  leaderelection::LeaderElectionRecord Lease() const {
    auto l = client->Get({"coordination.k8s.io/v1", "Lease", kNs, kLease});
    if (!l.ok()) return {};
    return leaderelection::RecordFromLease(*l);
  }
  std::string LeaseAnnotation(const std::string& key) const {
    auto r = Lease();
    auto it = r.annotations.find(key);
    return it == r.annotations.end() ? "" : it->second;
  }

  std::string LeasePath() const {
    return std::string("/apis/coordination.k8s.io/v1/namespaces/") + kNs + "/leases";
  }
};

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

int Leaders(const std::vector<World::Pod*>& pods) {
  int n = 0;
  for (auto* p : pods) n += p->agent->leading() ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("agent: the operator reads the tunnel state from the annotation the agent writes",
          "[agent]") {
  CHECK(std::string(agent::kTunnelStateAnnotation) == api::kLeaseTunnelStateAnnotation);
  CHECK(std::string(agent::TunnelStateName(TunnelState::kConnected)) == "Connected");
  CHECK(std::string(agent::TunnelStateName(TunnelState::kRejected)) == "Rejected");
}

TEST_CASE("agent: two agents on one Lease keep exactly one tunnel session", "[agent]") {
  World w;
  auto a = w.StartPod("agent-a");
  auto b = w.StartPod("agent-b");
  std::vector<World::Pod*> pods{a.get(), b.get()};

  REQUIRE(WaitUntil([&] { return Leaders(pods) == 1 && w.Cluster() && w.Cluster()->connected; },
                    seconds(30)));
  World::Pod* leader = a->agent->leading() ? a.get() : b.get();
  World::Pod* standby = leader == a.get() ? b.get() : a.get();
  CHECK(w.HubConnectedTo(leader->name));

  // The Lease tells the operator who leads and that the tunnel is up.
  REQUIRE(WaitUntil([&] { return w.LeaseAnnotation(agent::kTunnelStateAnnotation) == "Connected"; },
                    seconds(30)));
  auto lease = w.Lease();
  CHECK(lease.holder_identity == leader->name);
  CHECK(w.LeaseAnnotation(agent::kNodeAnnotation) == "node-of-" + leader->name);
  CHECK(w.LeaseAnnotation(agent::kAgentVersionAnnotation) == "0.1.0-test");
  CHECK(ParseRfc3339(w.LeaseAnnotation(agent::kTunnelSinceAnnotation)).has_value());

  // The hello carried the cluster identity read by the new leader.
  auto c = w.Cluster();
  REQUIRE(c);
  auto kube_system = w.client->Get({"v1", "Namespace", "", "kube-system"});
  REQUIRE(kube_system.ok());
  CHECK(c->hello.cluster.uid == json::GetString(*kube_system, {"metadata", "uid"}));
  CHECK(c->hello.cluster.name == "test-cluster");
  CHECK(c->hello.cluster.kubernetes_version == "v1.32.0");
  CHECK(c->hello.node == "node-of-" + leader->name);
  CHECK(c->hello.agent_version == "0.1.0-test");

  // Both ready: the leader with its tunnel up, the standby following the Lease.
  std::string why;
  CHECK(leader->agent->Ready(&why));
  INFO(why);
  REQUIRE(WaitUntil([&] { return standby->agent->Ready(&why); }, seconds(10)));
  CHECK(standby->agent->Status().tunnel_state == TunnelState::kNone);
  CHECK(WaitUntil([&] { return standby->agent->Status().observed_leader == leader->name; },
                  seconds(10)));

  CHECK(Contains(leader->Metrics(), "srexpert_agent_leader 1"));
  CHECK(Contains(leader->Metrics(), "srexpert_tunnel_connected 1"));
  CHECK(Contains(leader->Metrics(), "srexpert_agent_tunnel_state{state=\"Connected\"} 1"));
  CHECK(Contains(standby->Metrics(), "srexpert_agent_leader 0"));
  CHECK(Contains(standby->Metrics(), "srexpert_agent_tunnel_state{state=\"Connected\"} 0"));

  // The backend reaches the leader through the tunnel.
  std::promise<hub::RequestResult> done;
  w.hub->SendRequest(kCluster, agent::kAgentInfoRequest, "{}", seconds(10),
                     [&](hub::RequestResult r) { done.set_value(std::move(r)); });
  auto result = done.get_future().get();
  REQUIRE(result.status == hub::RequestResult::Status::kOk);
  REQUIRE(result.response.ok);
  auto info = json::Parse(result.response.payload);
  REQUIRE(info);
  CHECK(json::GetString(*info, {"pod"}) == leader->name);
  CHECK(json::GetBool(*info, {"leader"}));
  CHECK(json::GetString(*info, {"tunnelState"}) == "Connected");
  // The AgentConfig's switches as the agent runs them: every action off by
  // default, scans on.
  for (const char* sw : {"scale", "restart", "deletePods", "nodes", "applyManifests", "helm"}) {
    INFO(sw);
    const json::Value* v = json::Find(*info, {"actions", sw});
    REQUIRE(v);
    CHECK(v->IsFalse());
  }
  REQUIRE(json::Find(*info, {"actions", "namespaces"}));
  CHECK(json::Find(*info, {"actions", "namespaces"})->IsArray());
  CHECK(json::GetBool(*info, {"scans", "enabled"}));

  // Only the leader streams the cluster: it holds the projected state and
  // has sent a snapshot; the standby runs no collectors and holds nothing.
  REQUIRE(WaitUntil([&] { return leader->agent->Status().stream.snapshots >= 1; }, seconds(30)));
  CHECK(leader->agent->Status().stream.objects > 0);
  CHECK(standby->agent->Status().stream.objects == 0);
  CHECK(Contains(standby->Metrics(), "srexpert_stream_objects 0"));
  CHECK_FALSE(Contains(leader->Metrics(), "srexpert_stream_objects 0"));
  CHECK(json::Find(*info, {"stream", "objects"}) != nullptr);

  // Some renewals later there is still one leader and one session.
  std::this_thread::sleep_for(seconds(2));
  CHECK(Leaders(pods) == 1);
  c = w.Cluster();
  REQUIRE(c);
  CHECK(c->sessions_total == 1);
  CHECK(c->max_concurrent_sessions == 1);
}

TEST_CASE("agent: stopping the leader hands the tunnel to the standby", "[agent]") {
  World w;
  auto a = w.StartPod("agent-a");
  REQUIRE(WaitUntil([&] { return w.HubConnectedTo("agent-a"); }, seconds(30)));
  auto b = w.StartPod("agent-b");
  std::string why;
  REQUIRE(WaitUntil([&] { return b->agent->Ready(&why); }, seconds(10)));
  CHECK_FALSE(b->agent->leading());
  auto first_session = w.Cluster()->session_id;

  // SIGTERM path: tunnel closed, Lease released, the standby leads at its
  // next retry instead of waiting for expiry.
  a->agent->Stop();
  CHECK_FALSE(a->agent->leading());
  REQUIRE(WaitUntil([&] { return w.HubConnectedTo("agent-b"); }, seconds(30)));
  CHECK(b->agent->leading());
  auto c = w.Cluster();
  REQUIRE(c);
  CHECK(c->session_id != first_session);
  CHECK(c->sessions_total == 2);
  CHECK(c->max_concurrent_sessions == 1);
  CHECK(c->superseded_total == 0);
  REQUIRE(WaitUntil([&] { return w.LeaseAnnotation(agent::kTunnelStateAnnotation) == "Connected"; },
                    seconds(30)));
  auto lease = w.Lease();
  CHECK(lease.holder_identity == "agent-b");
  CHECK(lease.lease_transitions >= 1);
  CHECK(b->agent->Status().leaderships == 1);
}

TEST_CASE("agent: a token the backend rejects shows Rejected on the Lease", "[agent]") {
  World w;
  srexpert::testing::WriteFile(w.token_file, "not-a-known-token\n");
  auto a = w.StartPod("agent-a");
  REQUIRE(WaitUntil([&] { return w.LeaseAnnotation(agent::kTunnelStateAnnotation) == "Rejected"; },
                    seconds(30)));
  CHECK(a->agent->leading());
  CHECK(a->agent->Status().tunnel_state == TunnelState::kRejected);
  CHECK(a->agent->Status().tunnel.auth_rejections >= 1);
  std::string why;
  CHECK_FALSE(a->agent->Ready(&why));
  CHECK(why == "leader, tunnel Rejected");
  CHECK(Contains(a->Metrics(), "srexpert_agent_tunnel_state{state=\"Rejected\"} 1"));
  auto c = w.Cluster();
  CHECK((!c || c->sessions_total == 0));
}

TEST_CASE("agent: a leader that cannot renew stops its tunnel, and leads again later", "[agent]") {
  World w;
  auto a = w.StartPod("agent-a");
  REQUIRE(WaitUntil([&] { return w.HubConnectedTo("agent-a"); }, seconds(30)));

  // Every Lease update fails: after renewDeadline the watchdog fences.
  srexpert::testing::Fault fault;
  fault.kind = srexpert::testing::Fault::Kind::kStatus;
  fault.verb = "update";
  fault.path_prefix = w.LeasePath();
  fault.code = 500;
  fault.times = -1;
  w.api.AddFault(fault);
  REQUIRE(WaitUntil([&] { return !a->agent->leading(); }, seconds(30)));
  // The tunnel went down with the leadership, not by the hub's doing.
  REQUIRE(WaitUntil(
      [&] {
        auto c = w.Cluster();
        return c && !c->connected;
      },
      seconds(10)));
  CHECK(a->agent->Status().tunnel_state == TunnelState::kNone);
  // The client's own retries of the failing update may still be running.
  CHECK(WaitUntil([&] { return a->agent->Status().lease_errors >= 1; }, seconds(30)));
  CHECK(Contains(a->Metrics(), "srexpert_agent_leader 0"));

  w.api.ClearFaults();
  REQUIRE(WaitUntil([&] { return w.HubConnectedTo("agent-a"); }, seconds(30)));
  CHECK(a->agent->leading());
  CHECK(a->agent->Status().leaderships == 2);
  auto c = w.Cluster();
  REQUIRE(c);
  CHECK(c->sessions_total == 2);
  CHECK(c->max_concurrent_sessions == 1);
}

TEST_CASE("agent: a standby is unready while its Lease cannot be read", "[agent]") {
  World w;
  auto a = w.StartPod("agent-a");
  REQUIRE(WaitUntil([&] { return w.HubConnectedTo("agent-a"); }, seconds(30)));
  auto b = w.StartPod("agent-b");
  std::string why;
  REQUIRE(WaitUntil([&] { return b->agent->Ready(&why); }, seconds(10)));

  srexpert::testing::Fault fault;
  fault.kind = srexpert::testing::Fault::Kind::kStatus;
  fault.verb = "get";
  fault.path_prefix = w.LeasePath();
  fault.code = 503;
  fault.times = -1;
  w.api.AddFault(fault);
  REQUIRE(WaitUntil([&] { return !b->agent->Ready(&why); }, seconds(30)));
  CHECK(Contains(why, "standby, Lease srexpert-system/srexpert-agent-leader not reachable"));
  // The leader cannot renew either: it fenced itself, nobody leads.
  REQUIRE(WaitUntil([&] { return !a->agent->leading(); }, seconds(30)));
  CHECK_FALSE(b->agent->leading());

  w.api.ClearFaults();
  REQUIRE(WaitUntil([&] { return a->agent->Ready(&why) && b->agent->Ready(&why); }, seconds(30)));
  std::vector<World::Pod*> pods{a.get(), b.get()};
  CHECK(Leaders(pods) == 1);
  auto c = w.Cluster();
  REQUIRE(c);
  CHECK(c->connected);
  CHECK(c->max_concurrent_sessions == 1);
}

TEST_CASE("agent: at the smallest legal message limit the stream never stalls", "[agent][stream]") {
  // The hub announces the protocol's floor, 64 KiB. The first object in the
  // snapshot (ConfigMap a/big) is made to fit one message alone but not
  // beside the snapshot's `kinds` list: the first part must go with the
  // kinds alone, and objects created later must still reach the hub.
  World w([](hub::HubOptions& o) { o.max_message_bytes = protocol::kMinMaxMessageBytes; });
  auto ns = json::Parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}})");
  REQUIRE(w.client->Create(*ns).ok());
  auto configmap = [](const std::string& name, size_t pad) {
    return json::Parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
                       R"(","namespace":"a","annotations":{"pad":")" + std::string(pad, 'x') +
                       R"("}}})");
  };
  REQUIRE(w.client->Create(*configmap("big", 1)).ok());
  auto projected_size = [&]() -> size_t {
    auto got = w.client->Get({"v1", "ConfigMap", "a", "big"});
    REQUIRE(got.ok());
    auto p = stream::Project("ConfigMap", *got);
    REQUIRE(p);
    return p->size();
  };
  // The streamer's per-message budget is the limit minus 256 bytes of
  // envelope; a record needs the key ("ConfigMap␟a␟big", 15 bytes), 64 bytes
  // of framing and the projection. Leave 200 bytes: more than a later part's
  // header, less than any kinds list.
  const size_t want = static_cast<size_t>(protocol::kMinMaxMessageBytes) - 256 - 200 - 64 - 15;
  const size_t pad = want - (projected_size() - 1);
  auto patch = R"({"metadata":{"annotations":{"pad":")" + std::string(pad, 'x') + R"("}}})";
  REQUIRE(w.client->Patch({"v1", "ConfigMap", "a", "big"}, kube::PatchType::kMerge, patch).ok());
  REQUIRE(projected_size() == want);

  auto names = [&]() {
    auto r = srexpert::testing::HttpCall(w.hub->api_port(), "GET",
                                         "/api/v1/clusters/cluster-a/resources?kind=ConfigMap&namespace=a");
    std::set<std::string> out;
    auto doc = json::Parse(r.body);
    if (r.status != 200 || !doc) return out;
    if (auto* items = json::Find(*doc, {"items"})) {
      for (const auto& i : items->GetArray()) out.insert(json::GetString(i, {"name"}));
    }
    return out;
  };
  auto a = w.StartPod("agent-a");
  REQUIRE(WaitUntil([&] { return names().count("big") == 1; }, seconds(30)));
  CHECK(a->agent->Status().stream.last_snapshot_parts >= 2);

  REQUIRE(w.client->Create(*configmap("later", 10)).ok());
  REQUIRE(WaitUntil([&] { return names().count("later") == 1; }, seconds(30)));
  auto c = w.Cluster();
  REQUIRE(c);
  CHECK(c->connected);
  CHECK(c->sessions_total == 1);  // no session was closed for a message it could not take
  CHECK(a->agent->Status().stream.oversized_dropped == 0);
  CHECK(Contains(a->Metrics(), "srexpert_stream_oversized_dropped 0"));
}
