// The srexpert-agent process logic (docs/agent.md): every agent pod runs one
// Agent; exactly one — the holder of the Lease — keeps the tunnel.
//
//  - Standby: follows only its Lease through LeaderElector (a read every
//    retryPeriod × (1..2.2)); no informers, no tunnel.
//  - On becoming leader: reads the cluster identity (kube-system Namespace
//    uid, /version gitVersion), starts the ClusterStream (collectors and
//    the state stream, docs/streaming.md) and a TunnelClient whose hello
//    carries agent version, cluster uid and name, Kubernetes version, node,
//    pod and capabilities. Each session hands the stream its welcome; acks
//    and stream errors flow back to it.
//  - On losing leadership (renew deadline passed, Lease taken, Stop()): the
//    tunnel is stopped before the callback returns (fencing), so a former
//    leader never keeps a session while another pod leads; then the
//    collectors stop and every cache and buffer is freed.
//  - While leading it publishes on the Lease (written with each renewal,
//    docs/leader-election.md): agent.srexpert.io/tunnel-state
//    (Connecting|Connected|Disconnected|Rejected), tunnel-since, node and
//    agent-version.
//  - Stop() (SIGTERM): tunnel first, then the Lease is released so a standby
//    takes over at its next retry.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_config_file.h"
#include "agent/tunnel_client.h"
#include "common/clock.h"
#include "kube/rest_client.h"
#include "stream/streamer.h"

namespace prometheus {
class Registry;
}
namespace srexpert::leaderelection {
class LeaderElector;
}

namespace srexpert::agent {

// Lease annotations the leader writes (docs/leader-election.md).
inline constexpr const char* kTunnelStateAnnotation = "agent.srexpert.io/tunnel-state";
inline constexpr const char* kTunnelSinceAnnotation = "agent.srexpert.io/tunnel-since";
inline constexpr const char* kNodeAnnotation = "agent.srexpert.io/node";
inline constexpr const char* kAgentVersionAnnotation = "agent.srexpert.io/agent-version";

enum class TunnelState {
  kNone,          // not leading: no tunnel
  kConnecting,    // leading, no session yet
  kConnected,     // session open (welcome received)
  kDisconnected,  // the last attempt or session failed; reconnecting with backoff
  kRejected,      // the backend refused the token (401/403, 4001/4003)
};
// "Connecting", "Connected", "Disconnected", "Rejected"; "" for kNone.
const char* TunnelStateName(TunnelState state);

// Backend request kind every agent answers: its identity and state (for
// operators and the e2e tests; read-only, no cluster access).
inline constexpr const char* kAgentInfoRequest = "agent.info";

struct AgentOptions {
  AgentSettings settings;
  std::string pod_name;       // Lease identity and hello.pod; required
  std::string pod_namespace;  // Lease namespace unless the settings name one
  std::string node_name;
  std::string version = SREXPERT_VERSION;
  // Tunnel trust and proxy sources; tests turn the system ones off.
  bool use_system_cas = true;
  bool use_proxy_environment = true;
  // The helm.* actions (actions/helm_actions.h), used with spec.actions.helm.
  struct Helm {
    std::string binary = "/usr/local/bin/helm";  // where the image installs it
    std::string home;        // private, writable (the pod's memory-backed emptyDir)
    std::string kubeconfig;  // out of cluster; empty: Helm's in-cluster config
  } helm;
};

struct AgentStatus {
  bool leading = false;
  TunnelState tunnel_state = TunnelState::kNone;
  std::chrono::system_clock::time_point tunnel_since{};
  std::string observed_leader;  // holder last seen on the Lease
  uint64_t leaderships = 0;     // times this agent became leader
  uint64_t lease_errors = 0;    // failed Lease reads/writes (not conflicts)
  // Time since the Lease was last read or written successfully; negative
  // before the first success.
  std::chrono::milliseconds lease_contact_age{-1};
  std::string cluster_uid;  // of the current/last leadership
  std::string kubernetes_version;
  TunnelStats tunnel;  // of the current (or last) tunnel
  stream::StreamerStats stream;  // of the current leadership's state stream
};

class Agent {
 public:
  // `client` talks to the Kubernetes API (Lease, kube-system Namespace,
  // /version). `registry` (optional) receives srexpert_agent_* and
  // srexpert_tunnel_* metrics. `clock` and `random` must outlive the agent.
  Agent(AgentOptions options, std::shared_ptr<kube::RestClient> client,
        std::shared_ptr<prometheus::Registry> registry = nullptr, Clock& clock = SystemClock(),
        RandomSource* random = nullptr);
  ~Agent();  // Stop()s
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Checks the options and starts the election on its own thread; false and
  // `error` when the options are unusable.
  bool Start(std::string* error);
  // Stops the tunnel, releases the Lease if held, joins every thread.
  // Idempotent; bounded by one Lease write plus the tunnel's close (~3 s).
  void Stop();

  // /readyz: a leader is ready while its tunnel is connected; a standby
  // while its last successful Lease read/write is recent (within
  // leaseDuration + 3 × retryPeriod).
  bool Ready(std::string* why) const;
  bool leading() const;
  AgentStatus Status() const;
  // Updates computed gauges; call before a metrics scrape.
  void RefreshMetrics();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace srexpert::agent
