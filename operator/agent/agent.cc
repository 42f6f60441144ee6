#include "agent/agent.h"

#include "agent/scan_runner.h"  // scans (issue #12)
#include "api/names.h"            // scans: the Lease's scan summary annotations
#include "actions/helm_actions.h"  // actions (issue #13)
#include "actions/manifests.h"
#include "actions/pods_nodes.h"
#include "actions/workloads.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>

#include "common/json.h"
#include "common/log.h"
#include "common/time_format.h"
#include "leaderelection/kube_lease_lock.h"
#include "leaderelection/leader_elector.h"
#include "leaderelection/lease_release_watch.h"
#include "stream/cluster_stream.h"

namespace srexpert::agent {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

const char* TunnelStateName(TunnelState state) {
  switch (state) {
    case TunnelState::kNone:
      return "";
    case TunnelState::kConnecting:
      return "Connecting";
    case TunnelState::kConnected:
      return "Connected";
    case TunnelState::kDisconnected:
      return "Disconnected";
    case TunnelState::kRejected:
      return "Rejected";
  }
  return "";
}

namespace {

constexpr TunnelState kPublishedStates[] = {TunnelState::kConnecting, TunnelState::kConnected,
                                            TunnelState::kDisconnected, TunnelState::kRejected};

// The Lease lock, watched: when the API server last answered a Lease call
// (for standby readiness) and how many calls failed. NotFound, AlreadyExists
// and Conflict are answers of a reachable API server, not errors: they are
// how candidates learn that someone else was faster.
class MonitoredLeaseLock final : public leaderelection::LeaseLock {
 public:
  MonitoredLeaseLock(std::unique_ptr<leaderelection::LeaseLock> inner, Clock& clock,
                     prometheus::Counter* errors)
      : inner_(std::move(inner)), clock_(clock), errors_counter_(errors) {}

  kube::Result<leaderelection::ObservedLease> Get(const leaderelection::LeaseCall& call) override {
    auto r = inner_->Get(call);
    Note(r.ok() || r.error().IsNotFound());
    return r;
  }
  kube::Result<leaderelection::ObservedLease> Create(
      const leaderelection::LeaderElectionRecord& record,
      const leaderelection::LeaseCall& call) override {
    auto r = inner_->Create(record, call);
    Note(r.ok() || r.error().IsAlreadyExists());
    return r;
  }
  kube::Result<leaderelection::ObservedLease> Update(
      const leaderelection::LeaderElectionRecord& record, const std::string& resource_version,
      const leaderelection::LeaseCall& call) override {
    auto r = inner_->Update(record, resource_version, call);
    Note(r.ok() || r.error().IsConflict());
    return r;
  }
  std::string Describe() const override { return inner_->Describe(); }

  // Negative before the first answer.
  milliseconds ContactAge() const {
    std::lock_guard lock(mu_);
    if (!contacted_) return milliseconds(-1);
    return duration_cast<milliseconds>(clock_.Now() - last_contact_);
  }
  uint64_t errors() const {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  void Note(bool answered) {
    std::lock_guard lock(mu_);
    if (answered) {
      contacted_ = true;
      last_contact_ = clock_.Now();
    } else {
      ++errors_;
      if (errors_counter_) errors_counter_->Increment();
    }
  }

  std::unique_ptr<leaderelection::LeaseLock> inner_;
  Clock& clock_;
  prometheus::Counter* errors_counter_;
  mutable std::mutex mu_;
  bool contacted_ = false;
  Clock::Steady last_contact_{};
  uint64_t errors_ = 0;
};

struct AgentMetrics {
  prometheus::Gauge* leader = nullptr;
  prometheus::Counter* leaderships = nullptr;
  prometheus::Counter* lease_errors = nullptr;
  prometheus::Gauge* lease_contact_age = nullptr;
  std::map<TunnelState, prometheus::Gauge*> tunnel_state;
  // The leader's state stream (docs/streaming.md); 0 on a standby. Gauges
  // mirroring the Streamer's own counters of the current leadership.
  std::map<std::string, prometheus::Gauge*> stream;

  void Init(prometheus::Registry& r, const std::string& version) {
    leader = &prometheus::BuildGauge()
                  .Name("srexpert_agent_leader")
                  .Help("1 while this agent holds the Lease and runs the tunnel")
                  .Register(r)
                  .Add({});
    leaderships = &prometheus::BuildCounter()
                       .Name("srexpert_agent_leaderships_total")
                       .Help("Times this agent became leader")
                       .Register(r)
                       .Add({});
    lease_errors = &prometheus::BuildCounter()
                        .Name("srexpert_agent_lease_errors_total")
                        .Help("Lease reads and writes that failed (conflicts excluded)")
                        .Register(r)
                        .Add({});
    lease_contact_age = &prometheus::BuildGauge()
                             .Name("srexpert_agent_lease_contact_age_seconds")
                             .Help(
                                 "Seconds since the Lease was last read or written; -1 before "
                                 "the first time")
                             .Register(r)
                             .Add({});
    lease_contact_age->Set(-1);
    auto& states = prometheus::BuildGauge()
                       .Name("srexpert_agent_tunnel_state")
                       .Help(
                           "1 for the tunnel state the leader publishes on the Lease; all 0 "
                           "on a standby")
                       .Register(r);
    for (TunnelState s : kPublishedStates)
      tunnel_state[s] = &states.Add({{"state", TunnelStateName(s)}});
    auto stream_gauge = [&](const char* name, const char* help) {
      stream[name] = &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
    };
    stream_gauge("srexpert_stream_objects", "Objects in the leader's projected cluster state");
    stream_gauge("srexpert_stream_object_bytes",
                 "Bytes of projected JSON the leader holds for those objects");
    stream_gauge("srexpert_stream_pending_changes",
                 "Object changes waiting to be sealed into a delta (one per object at most)");
    stream_gauge("srexpert_stream_unacked_messages",
                 "Sent stream messages the backend has not acknowledged yet");
    stream_gauge("srexpert_stream_unacked_bytes", "Bytes of those messages");
    stream_gauge("srexpert_stream_acked_seq", "Highest sequence number the backend acknowledged");
    stream_gauge("srexpert_stream_snapshots", "Snapshots sent in this leadership");
    stream_gauge("srexpert_stream_resumes", "Sessions that resumed without a snapshot");
    stream_gauge("srexpert_stream_changes_sent", "Object changes sealed into deltas");
    stream_gauge("srexpert_stream_events_dropped",
                 "Events dropped because the pending event backlog was full");
    stream_gauge("srexpert_stream_oversized_dropped",
                 "Objects, events and metrics samples left out of the stream because alone "
                 "they exceed a message");
    prometheus::BuildGauge()
        .Name("srexpert_agent_info")
        .Help("Agent build information")
        .Register(r)
        .Add({{"version", version}})
        .Set(1);
  }
};

std::string JoinComma(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ",";
    out += i;
  }
  return out;
}

}  // namespace

struct Agent::Impl {
  Impl(AgentOptions o, std::shared_ptr<kube::RestClient> c, std::shared_ptr<prometheus::Registry> r,
       Clock& clk, RandomSource* rnd)
      : options(std::move(o)),
        client(std::move(c)),
        registry(std::move(r)),
        clock(clk),
        random(rnd ? rnd : &own_random) {
    if (registry) metrics.Init(*registry, options.version);
  }

  AgentOptions options;
  std::shared_ptr<kube::RestClient> client;
  std::mutex stream_client_mu;
  std::shared_ptr<kube::RestClient> stream_client;  // StreamClient()
  std::shared_ptr<prometheus::Registry> registry;
  Clock& clock;
  RandomSource own_random;
  RandomSource* random;
  AgentMetrics metrics;

  std::string lease_namespace;
  std::unique_ptr<MonitoredLeaseLock> lock;
  std::unique_ptr<leaderelection::LeaderElector> elector;
  std::unique_ptr<leaderelection::LeaseReleaseWatch> release_watch;
  std::thread election;
  bool started = false;
  std::atomic<bool> stopped{false};

  // Serializes the elector's started/stopped callbacks (the watchdog may
  // fence while the loop thread is about to lead again) and owns `worker`.
  std::mutex transition_mu;
  std::thread worker;  // the current or last leadership's start-up

  mutable std::mutex mu;
  std::condition_variable term_cv;
  uint64_t term = 0;  // bumped on every start and end of leadership
  bool leading = false;
  TunnelState state = TunnelState::kNone;
  Clock::Wall since{};
  // The last full scan's summary (the scans block), published on the Lease;
  // declared before the tunnels, whose scan runners write it, so it outlives them.
  std::map<std::string, std::string> scan_annotations;
  std::shared_ptr<TunnelClient> tunnel;       // this leadership's, while leading
  // This leadership's collectors and state stream; standbys have none.
  std::shared_ptr<stream::ClusterStream> cluster_stream;
  std::shared_ptr<TunnelClient> last_tunnel;  // for Stats() after it ended
  uint64_t leaderships = 0;
  std::string cluster_uid, kubernetes_version;

  // ---- leadership -------------------------------------------------------------

  void StartedLeading() {
    std::lock_guard transition(transition_mu);
    // A former start-up can only still run if it is stuck in an API call;
    // it sees the new term and returns without starting anything.
    if (worker.joinable()) worker.join();
    uint64_t my_term;
    {
      std::lock_guard l(mu);
      my_term = ++term;
      leading = true;
      ++leaderships;
      SetStateLocked(TunnelState::kConnecting);
    }
    if (metrics.leaderships) metrics.leaderships->Increment();
    log::Info("leading: starting the tunnel", {{"pod", options.pod_name}});
    worker = std::thread([this, my_term] { LeaderStartup(my_term); });
  }

  void StoppedLeading() {
    std::lock_guard transition(transition_mu);
    std::shared_ptr<TunnelClient> t;
    std::shared_ptr<stream::ClusterStream> cs;
    {
      std::lock_guard l(mu);
      ++term;
      leading = false;
      t = std::move(tunnel);
      cs = std::move(cluster_stream);
      SetStateLocked(TunnelState::kNone);
      term_cv.notify_all();
    }
    // Fencing: the session is closed before the elector goes on. Then every
    // informer, cache and buffer of the leadership is freed.
    if (t) t->Stop();
    if (cs) cs->Stop();
    log::Info("standby: tunnel stopped", {{"pod", options.pod_name}});
  }

  bool CurrentTerm(uint64_t t) const {
    std::lock_guard l(mu);
    return t == term && leading;
  }

  // Waits `d` or until the term ends; false when it ended.
  bool WaitInTerm(uint64_t t, milliseconds d) {
    std::unique_lock l(mu);
    term_cv.wait_for(l, d, [&] { return t != term; });
    return t == term && leading;
  }

  bool ReadClusterIdentity(std::string* uid, std::string* version, std::string* error) {
    auto ns = client->Get({"v1", "Namespace", "", "kube-system"});
    if (!ns.ok()) {
      *error = "reading Namespace kube-system: " + ns.error().ToString();
      return false;
    }
    *uid = json::GetString(*ns, {"metadata", "uid"});
    if (uid->empty()) {
      *error = "Namespace kube-system has no metadata.uid";
      return false;
    }
    auto v = client->GetPath("/version");
    if (!v.ok()) {
      *error = "reading /version: " + v.error().ToString();
      return false;
    }
    *version = json::GetString(*v, {"gitVersion"});
    return true;
  }

  TunnelOptions TunnelOptionsFor(const std::string& uid, const std::string& k8s_version) const {
    const AgentSettings& s = options.settings;
    TunnelOptions o;
    o.url = s.backend.url;
    o.allow_insecure = s.backend.insecure;
    o.token_file = s.token_file;
    o.tls.use_system_cas = options.use_system_cas;
    o.tls.ca_file = s.backend.ca_file;
    o.proxy.use_environment = options.use_proxy_environment;
    if (s.backend.proxy) {
      o.proxy.proxy_url = s.backend.proxy->url;
      o.proxy.no_proxy = JoinComma(s.backend.proxy->no_proxy);
    }
    o.hello.agent_version = options.version;
    o.hello.cluster = {uid, s.cluster_name, k8s_version};
    o.hello.node = options.node_name;
    o.hello.pod = options.pod_name;
    o.hello.capabilities = {"snapshot", "delta", kAgentInfoRequest};
    o.user_agent = "srexpert-agent/" + options.version;
    o.max_message_bytes = s.tunnel.max_message_bytes;
    o.ping_interval = s.tunnel.ping_interval;
    o.pong_timeout = s.tunnel.pong_timeout;
    o.backoff = s.tunnel.backoff;
    // IsLeader() compares the last renewal with the renew deadline on the
    // clock, so it turns false the moment a thawed leader looks at it, even
    // before the watchdog has stopped the tunnel.
    leaderelection::LeaderElector* e = elector.get();
    o.may_connect = [e] { return e->IsLeader(); };
    return o;
  }

  stream::ClusterStreamOptions ClusterStreamOptionsFor() const {
    const AgentSettings& s = options.settings;
    stream::ClusterStreamOptions o;
    o.excluded_namespaces = s.collection.excluded_namespaces;
    o.events = s.collection.events;
    o.metrics = s.collection.metrics;
    o.metrics_interval = s.collection.metrics_interval;
    o.event_throttle.events_per_second = s.collection.events_per_second;
    o.event_throttle.burst = static_cast<size_t>(s.collection.event_burst);
    o.streamer.max_unacked_bytes = static_cast<size_t>(s.stream.max_unacked_bytes);
    o.streamer.max_unacked_messages = static_cast<size_t>(s.stream.max_unacked_messages);
    o.streamer.batch_interval = s.stream.batch_interval;
    // Parts and batches stay well inside the tunnel's own message limit;
    // small parts keep the window (and the peak RSS) small during a snapshot.
    o.streamer.max_message_bytes =
        static_cast<size_t>(std::min<int64_t>(s.tunnel.max_message_bytes, 256 * 1024));
    return o;
  }

  // The collectors' own API client. Relists of twenty kinds after a watch
  // expiry burst through a client-side rate limiter; sharing it with the
  // Lease renewals would let them starve the renewals into a lost
  // leadership (seen in the stream e2e test). Like controller-runtime's
  // separate leader-election client, the Lease keeps the main client.
  std::shared_ptr<kube::RestClient> StreamClient() {
    std::lock_guard l(stream_client_mu);
    if (stream_client) return stream_client;
    kube::RestConfig config = client->config();
    if (config.qps > 0) {
      config.qps = std::max(config.qps, 50.0);
      config.burst = std::max(config.burst, 100);
    }
    kube::ClientOptions o;
    o.clock = &clock;
    auto c = kube::RestClient::New(std::move(config), o);
    if (!c.ok()) {
      log::Warn("cannot build a separate API client for the collectors; sharing the main one",
                {{"error", c.error().ToString()}});
      return client;
    }
    stream_client = *c;
    return stream_client;
  }

  static stream::SendResult SendOnTunnel(const std::weak_ptr<TunnelClient>& weak,
                                         const protocol::StreamMessage& m) {
    auto t = weak.lock();
    if (!t) return stream::SendResult::kNoSession;
    const SendStatus status = t->Send(m);
    switch (status) {
      case SendStatus::kOk:
        return stream::SendResult::kSent;
      case SendStatus::kQueueFull:
        return stream::SendResult::kRetryLater;
      case SendStatus::kTooLarge:
      case SendStatus::kInvalid: {
        // The streamer cuts messages below the negotiated limit and writes
        // valid JSON; reaching this is a bug worth a loud line. The stream
        // cannot go on in this session without a gap, so the session ends
        // (4500) and the next one re-synchronises — never a session that
        // stays "connected" while nothing more is sent.
        const uint16_t code = protocol::kCloseInternal;
        log::Error("tunnel refused a stream message; closing the session",
                   {{"seq", m.seq}, {"bytes", static_cast<int64_t>(m.payload.size())},
                    {"error", SendStatusName(status)}, {"closeCode", int{code}}});
        t->CloseSession(code, fmt::format("stream message {} could not be sent", m.seq));
        return stream::SendResult::kNoSession;
      }
      case SendStatus::kNotConnected:
      case SendStatus::kStopped:
        break;
    }
    return stream::SendResult::kNoSession;
  }

  // Runs on `worker`: what a new leader does before the tunnel is up. API
  // calls may be slow, so it never runs on the elector's thread.
  // The action handlers of one tunnel (issue #13, actions/action.h): its
  // idempotency store survives the tunnel's reconnects; a dropped
  // connection cancels the running actions (ActionRegistry::CancelRunning)
  // and destroying it with the tunnel (leadership lost) cancels everything.
  std::shared_ptr<actions::ActionRegistry> MakeActionRegistry() {
    actions::ActionPolicy policy;
    const auto& enabled = options.settings.actions;
    policy.switches = {{"scale", enabled.scale},
                       {"restart", enabled.restart},
                       {"deletePods", enabled.delete_pods},
                       {"nodes", enabled.nodes},
                       {"applyManifests", enabled.apply_manifests},
                       {"helm", enabled.helm}};
    policy.namespaces = enabled.namespaces;
    policy.agent_namespace = options.pod_namespace;
    auto actions_registry = std::make_shared<actions::ActionRegistry>(policy, client);
    actions_registry->Register(actions::WorkloadScaleKind(client));
    actions_registry->Register(actions::WorkloadRestartKind(client));
    actions_registry->Register(actions::PodDeleteKind(client));
    actions_registry->Register(actions::NodeCordonKind(client));
    actions_registry->Register(actions::NodeUncordonKind(client));
    // The drain's pods are known only after listing: it applies the same
    // policy to each one itself.
    actions_registry->Register(actions::NodeDrainKind(client, policy));
    actions_registry->Register(actions::ManifestsApplyKind(client));
    {
      actions::helm::HelmConfig helm_config;
      helm_config.binary = options.helm.binary;
      // No home with the switch off: the kinds answer `forbidden` anyway.
      helm_config.home = enabled.helm ? options.helm.home : std::string();
      helm_config.kubeconfig = options.helm.kubeconfig;
      if (const auto& proxy = options.settings.backend.proxy) {
        // Charts are fetched through the proxy the agent is told to use.
        helm_config.proxy_url = proxy->url;
        helm_config.no_proxy = proxy->no_proxy;
      }
      for (auto& kind : actions::HelmActionKinds(std::move(helm_config))) {
        actions_registry->Register(std::move(kind));
      }
    }
    return actions_registry;
  }

  void LeaderStartup(uint64_t my_term) {
    const auto retry = options.settings.leader_election.retry_period;
    while (CurrentTerm(my_term)) {
      std::string uid, version, error;
      if (!ReadClusterIdentity(&uid, &version, &error)) {
        log::Warn("cannot read the cluster identity; retrying", {{"error", error}});
        if (!WaitInTerm(my_term, retry)) return;
        continue;
      }
      auto cs = std::make_shared<stream::ClusterStream>(StreamClient(), ClusterStreamOptionsFor(),
                                                        clock);
      auto t =
          std::make_shared<TunnelClient>(TunnelOptionsFor(uid, version), clock, *random, registry);
      std::weak_ptr<TunnelClient> weak_tunnel = t;
      stream::Streamer* streamer = &cs->streamer();
      auto actions_registry = MakeActionRegistry();
      t->OnConnected([this, my_term, streamer, weak_tunnel](const protocol::Welcome& w) {
        TunnelUp(my_term, w);
        streamer->SessionStarted(w, [weak_tunnel](const protocol::StreamMessage& m) {
          return SendOnTunnel(weak_tunnel, m);
        });
      });
      t->OnMessage([streamer](const protocol::Message& m) {
        if (auto* ack = std::get_if<protocol::Ack>(&m)) streamer->OnAck(ack->seq);
        if (auto* error = std::get_if<protocol::Error>(&m)) streamer->OnError(*error);
      });
      t->OnDisconnected([this, my_term, streamer,
                         weak_actions = std::weak_ptr<actions::ActionRegistry>(actions_registry)](
                            const DisconnectInfo& d) {
        streamer->SessionEnded();
        // The backend saw the request's connection end: stop what it asked
        // for rather than finish it unseen (the outcome waits for its retry).
        if (auto running = weak_actions.lock()) running->CancelRunning();
        TunnelDown(my_term, d);
      });
      t->HandleRequests(kAgentInfoRequest, [this](const protocol::Request& r, Reply reply) {
        reply(InfoResponse(r));
      });
      // ---- actions (issue #13, actions/action.h) --------------------------
      {
        // Progress reports go back on the tunnel the request came on.
        for (const auto& kind : actions_registry->Kinds()) {
          t->HandleRequests(kind, [actions_registry, weak_tunnel](const protocol::Request& r,
                                                                      Reply reply) {
            actions_registry->Handle(r, std::move(reply),
                                     [weak_tunnel, id = r.id](std::string report) {
                                       if (auto tunnel = weak_tunnel.lock()) {
                                         tunnel->SendProgress(id, std::move(report));
                                       }
                                     });
          });
        }
      }
      // ---- end actions ------------------------------------------------------
      // ---- scans (issue #12, agent/scan_runner.h) -------------------------
      // The runner scans this leadership's cache; the scan.run handler owns
      // it, so it lives and dies with the tunnel.
      {
        ScanRunnerOptions scans;
        scans.enabled = options.settings.scans.enabled;
        scans.interval = options.settings.scans.interval;
        // spec.scans' severities, exemptions and custom checks (null: none).
        scans.config = options.settings.scans.config;
        scans.registry = registry;
        auto runner = std::make_shared<ScanRunner>(std::weak_ptr<stream::ClusterStream>(cs),
                                                   std::move(scans), clock);
        // The summary of each full scan rides on the Lease with the next
        // renewal (no write of its own); the operator shows it as
        // status.scan and the SCORE column. A new leadership starts without
        // one, so a summary never goes back in time on the Lease.
        {
          std::lock_guard l(mu);
          scan_annotations.clear();
          PublishLocked();
        }
        runner->OnScan([this, my_term](const ScanOutcome& o) {
          std::lock_guard l(mu);
          if (my_term != term) return;  // a late scan of a past leadership
          scan_annotations = {
              {std::string(api::kLeaseScanScoreAnnotation), std::to_string(o.counts.Score())},
              {std::string(api::kLeaseScanDangersAnnotation), std::to_string(o.counts.dangers)},
              {std::string(api::kLeaseScanWarningsAnnotation), std::to_string(o.counts.warnings)},
              {std::string(api::kLeaseScanTimeAnnotation), FormatRfc3339(clock.WallNow())},
          };
          PublishLocked();
        });
        runner->Start();
        t->HandleRequests(kScanRunRequest, [runner](const protocol::Request& r, Reply reply) {
          runner->Handle(r, std::move(reply));
        });
      }
      // ---- end scans --------------------------------------------------------
      std::shared_ptr<TunnelClient> replaced;
      {
        // Started under `mu`: StoppedLeading either finds it in `tunnel`
        // and stops it, or has bumped the term and nothing starts.
        std::lock_guard l(mu);
        if (my_term != term || !leading) return;
        std::string start_error;
        // Collectors start syncing while the tunnel connects; the first
        // snapshot goes out once both are ready.
        cs->Start();
        if (t->Start(&start_error)) {
          tunnel = t;
          cluster_stream = cs;
          replaced = std::exchange(last_tunnel, t);
          cluster_uid = uid;
          kubernetes_version = version;
          log::Info("tunnel started", {{"backend", options.settings.backend.url},
                                       {"clusterUid", uid},
                                       {"kubernetesVersion", version}});
          return;
        }
        log::Error("cannot start the tunnel", {{"error", start_error}});
        SetStateLocked(TunnelState::kDisconnected);
      }
      cs->Stop();
      if (!WaitInTerm(my_term, options.settings.tunnel.backoff.max)) return;
    }
  }

  void TunnelUp(uint64_t my_term, const protocol::Welcome& w) {
    std::lock_guard l(mu);
    if (my_term != term || !leading) return;
    log::Info("tunnel connected", {{"session", w.session_id}});
    SetStateLocked(TunnelState::kConnected);
  }

  void TunnelDown(uint64_t my_term, const DisconnectInfo& d) {
    std::lock_guard l(mu);
    if (my_term != term || !leading) return;
    SetStateLocked(d.auth_rejected ? TunnelState::kRejected : TunnelState::kDisconnected);
  }

  protocol::Response InfoResponse(const protocol::Request& r) {
    json::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    {
      std::lock_guard l(mu);
      json::SetString(doc, "pod", options.pod_name, a);
      json::SetString(doc, "node", options.node_name, a);
      json::SetString(doc, "namespace", lease_namespace, a);
      json::SetString(doc, "agentVersion", options.version, a);
      json::Set(doc, "leader", json::Value(leading), a);
      json::SetString(doc, "tunnelState", TunnelStateName(state), a);
      json::SetString(doc, "clusterUid", cluster_uid, a);
      json::SetString(doc, "kubernetesVersion", kubernetes_version, a);
      // What this agent will do when asked, as its AgentConfig set it: a
      // console greys out what is off instead of letting a click fail.
      {
        const auto& enabled = options.settings.actions;
        json::Value v(rapidjson::kObjectType);
        auto flag = [&](const char* k, bool on) { json::Set(v, k, json::Value(on), a); };
        flag("scale", enabled.scale);
        flag("restart", enabled.restart);
        flag("deletePods", enabled.delete_pods);
        flag("nodes", enabled.nodes);
        flag("applyManifests", enabled.apply_manifests);
        flag("helm", enabled.helm);
        json::Value ns(rapidjson::kArrayType);
        for (const std::string& n : enabled.namespaces) {
          ns.PushBack(json::Value(n.c_str(), static_cast<rapidjson::SizeType>(n.size()), a), a);
        }
        json::Set(v, "namespaces", std::move(ns), a);
        json::Set(doc, "actions", std::move(v), a);
        json::Value scans(rapidjson::kObjectType);
        json::Set(scans, "enabled", json::Value(options.settings.scans.enabled), a);
        json::Set(doc, "scans", std::move(scans), a);
      }
      if (cluster_stream) {
        auto st = cluster_stream->streamer().Stats();
        json::Value v(rapidjson::kObjectType);
        auto num = [&](const char* k, int64_t n) { json::Set(v, k, json::Value(n), a); };
        num("objects", static_cast<int64_t>(st.objects));
        num("objectBytes", static_cast<int64_t>(st.object_bytes));
        num("objectRawBytes", static_cast<int64_t>(st.object_raw_bytes));
        num("nextSeq", st.next_seq);
        num("ackedSeq", st.acked_seq);
        num("snapshots", static_cast<int64_t>(st.snapshots));
        num("resumes", static_cast<int64_t>(st.resumes));
        num("lastSnapshotBytes", static_cast<int64_t>(st.last_snapshot_bytes));
        num("lastSnapshotParts", static_cast<int64_t>(st.last_snapshot_parts));
        num("changesSealed", static_cast<int64_t>(st.changes_sealed));
        num("eventsSealed", static_cast<int64_t>(st.events_sealed));
        num("bytesSealed", static_cast<int64_t>(st.bytes_sealed));
        num("messagesSealed", static_cast<int64_t>(st.messages_sealed));
        num("pendingChanges", static_cast<int64_t>(st.pending_changes));
        num("windowMessages", static_cast<int64_t>(st.window_messages));
        num("oversizedDropped", static_cast<int64_t>(st.oversized_dropped));
        json::Set(v, "initialSyncDone", json::Value(st.initial_sync_done), a);
        json::Set(doc, "stream", std::move(v), a);
      }
    }
    protocol::Response resp;
    resp.id = r.id;
    resp.payload = json::Dump(doc);
    return resp;
  }

  // ---- published state ------------------------------------------------------------

  void SetStateLocked(TunnelState s) {
    if (s == state) return;
    state = s;
    since = clock.WallNow();
    if (s != TunnelState::kNone) {
      log::Info("tunnel state", {{"state", TunnelStateName(s)}});
    }
    PublishLocked();
  }

  // The annotations the elector writes with every renewal. Not leading, it
  // prepares what the next acquisition writes: Connecting.
  void PublishLocked() {
    if (!elector) return;
    TunnelState s = state == TunnelState::kNone ? TunnelState::kConnecting : state;
    std::map<std::string, std::string> a{
        {kTunnelStateAnnotation, TunnelStateName(s)},
        {kTunnelSinceAnnotation, FormatRfc3339(since)},
        {kAgentVersionAnnotation, options.version},
    };
    if (!options.node_name.empty()) a[kNodeAnnotation] = options.node_name;
    a.insert(scan_annotations.begin(), scan_annotations.end());
    elector->SetAnnotations(std::move(a));
  }

  milliseconds StandbyStaleAfter() const {
    const auto& le = options.settings.leader_election;
    return le.lease_duration + 3 * le.retry_period;
  }
};

Agent::Agent(AgentOptions options, std::shared_ptr<kube::RestClient> client,
             std::shared_ptr<prometheus::Registry> registry, Clock& clock, RandomSource* random)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(client), std::move(registry),
                                   clock, random)) {}

Agent::~Agent() { Stop(); }

bool Agent::Start(std::string* error) {
  Impl& d = *impl_;
  auto fail = [&](std::string msg) {
    if (error) *error = std::move(msg);
    return false;
  };
  if (d.started) return fail("agent already started");
  if (!d.client) return fail("no Kubernetes client");
  if (d.options.pod_name.empty()) return fail("the pod name is required (--pod-name or POD_NAME)");
  const auto& le = d.options.settings.leader_election;
  d.lease_namespace = le.lease_namespace;
  if (d.lease_namespace.empty()) d.lease_namespace = d.options.pod_namespace;
  if (d.lease_namespace.empty()) d.lease_namespace = d.client->default_namespace();
  if (d.lease_namespace.empty()) return fail("no namespace for the Lease");
  if (le.lease_name.empty()) return fail("leaderElection.leaseName is required");

  leaderelection::ElectionConfig ec;
  ec.identity = d.options.pod_name;
  ec.lease_duration = le.lease_duration;
  ec.renew_deadline = le.renew_deadline;
  ec.retry_period = le.retry_period;
  ec.release_on_stop = true;
  if (auto why = leaderelection::Validate(ec); !why.empty()) return fail("leaderElection: " + why);

  d.lock = std::make_unique<MonitoredLeaseLock>(
      std::make_unique<leaderelection::KubeLeaseLock>(d.client, d.lease_namespace, le.lease_name),
      d.clock, d.metrics.lease_errors);
  Impl* impl = &d;
  d.elector = std::make_unique<leaderelection::LeaderElector>(
      ec, *d.lock,
      leaderelection::ElectionCallbacks{
          [impl] { impl->StartedLeading(); }, [impl] { impl->StoppedLeading(); },
          [impl](const std::string& holder) {
            log::Info("observed leader", {{"holder", holder.empty() ? "(none)" : holder}});
          }},
      d.clock, d.random);
  {
    std::lock_guard l(d.mu);
    d.since = d.clock.WallNow();
    d.PublishLocked();
  }
  d.started = true;
  log::Info("agent starting", {{"pod", d.options.pod_name},
                               {"node", d.options.node_name},
                               {"lease", d.lease_namespace + "/" + le.lease_name},
                               {"leaseDurationMs", static_cast<int64_t>(le.lease_duration.count())},
                               {"renewDeadlineMs", static_cast<int64_t>(le.renew_deadline.count())},
                               {"retryPeriodMs", static_cast<int64_t>(le.retry_period.count())}});
  // A standby follows its one Lease with a watch and tries at once when the
  // leader releases it (SIGTERM), instead of at its next jittered retry.
  d.release_watch = std::make_unique<leaderelection::LeaseReleaseWatch>(
      d.client, d.lease_namespace, le.lease_name, [impl] { impl->elector->Nudge(); });
  d.release_watch->Start();
  d.election = std::thread([impl] { impl->elector->Run(); });
  return true;
}

void Agent::Stop() {
  Impl& d = *impl_;
  if (!d.started || d.stopped.exchange(true)) return;
  // Run() ends by stopping our work (tunnel closed) and then releasing the
  // Lease, so a standby can lead at its next retry.
  d.elector->Stop();
  d.election.join();
  d.release_watch->Stop();
  std::lock_guard transition(d.transition_mu);
  {
    std::lock_guard l(d.mu);
    ++d.term;
    d.term_cv.notify_all();
  }
  if (d.worker.joinable()) d.worker.join();
}

bool Agent::leading() const {
  std::lock_guard l(impl_->mu);
  return impl_->leading;
}

bool Agent::Ready(std::string* why) const {
  Impl& d = *impl_;
  auto set = [&](std::string s) {
    if (why) *why = std::move(s);
    return false;
  };
  {
    std::lock_guard l(d.mu);
    if (d.leading) {
      if (d.state == TunnelState::kConnected) return true;
      return set(fmt::format("leader, tunnel {}", TunnelStateName(d.state)));
    }
  }
  if (!d.lock) return set("not started");
  auto age = d.lock->ContactAge();
  if (age.count() < 0) return set("standby, Lease not read yet");
  if (age > d.StandbyStaleAfter()) {
    return set(
        fmt::format("standby, Lease {} not reachable for {} ms", d.lock->Describe(), age.count()));
  }
  return true;
}

AgentStatus Agent::Status() const {
  Impl& d = *impl_;
  AgentStatus s;
  std::shared_ptr<TunnelClient> t;
  {
    std::lock_guard l(d.mu);
    s.leading = d.leading;
    s.tunnel_state = d.state;
    s.tunnel_since = d.since;
    s.leaderships = d.leaderships;
    s.cluster_uid = d.cluster_uid;
    s.kubernetes_version = d.kubernetes_version;
    t = d.last_tunnel;
    if (d.cluster_stream) s.stream = d.cluster_stream->streamer().Stats();
  }
  if (d.elector) s.observed_leader = d.elector->ObservedLeader();
  if (d.lock) {
    s.lease_errors = d.lock->errors();
    s.lease_contact_age = d.lock->ContactAge();
  }
  if (t) s.tunnel = t->Stats();
  return s;
}

void Agent::RefreshMetrics() {
  Impl& d = *impl_;
  if (!d.registry) return;
  std::shared_ptr<TunnelClient> t;
  std::shared_ptr<stream::ClusterStream> cs;
  TunnelState state;
  bool leading;
  {
    std::lock_guard l(d.mu);
    t = d.tunnel;
    cs = d.cluster_stream;
    state = d.state;
    leading = d.leading;
  }
  stream::StreamerStats st;
  if (cs) st = cs->streamer().Stats();
  auto set = [&](const char* name, double v) { d.metrics.stream[name]->Set(v); };
  set("srexpert_stream_objects", static_cast<double>(st.objects));
  set("srexpert_stream_object_bytes", static_cast<double>(st.object_bytes));
  set("srexpert_stream_pending_changes", static_cast<double>(st.pending_changes));
  set("srexpert_stream_unacked_messages", static_cast<double>(st.window_messages));
  set("srexpert_stream_unacked_bytes", static_cast<double>(st.window_bytes));
  set("srexpert_stream_acked_seq", static_cast<double>(st.acked_seq));
  set("srexpert_stream_snapshots", static_cast<double>(st.snapshots));
  set("srexpert_stream_resumes", static_cast<double>(st.resumes));
  set("srexpert_stream_changes_sent", static_cast<double>(st.changes_sealed));
  set("srexpert_stream_events_dropped", static_cast<double>(st.events_dropped));
  set("srexpert_stream_oversized_dropped", static_cast<double>(st.oversized_dropped));
  d.metrics.leader->Set(leading ? 1 : 0);
  for (auto& [s, g] : d.metrics.tunnel_state) g->Set(s == state ? 1 : 0);
  if (d.lock) {
    auto age = d.lock->ContactAge();
    d.metrics.lease_contact_age->Set(age.count() < 0 ? -1.0
                                                     : static_cast<double>(age.count()) / 1000.0);
  }
  if (t) t->RefreshMetrics();
}

}  // namespace srexpert::agent
