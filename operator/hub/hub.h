// srexpert-hub: the reference backend end of the tunnel (docs/protocol.md).
//
// A WebSocket server (wss, or plain ws only when explicitly allowed) that
// authenticates agents by bearer token against a TokenStore file, runs the
// v1 handshake, keeps one live session per cluster (a newer one supersedes
// the older with close 4409), acknowledges the agent's sequenced stream, and
// can send requests to an agent and await the response.
//
// The stream (snapshots and deltas, docs/protocol.md "State stream
// payloads") is decoded strictly and applied to a StateStore (SQLite, a file
// or in memory) in one transaction per message together with its seq, so a
// hub restarted on the same state file keeps each cluster's resources,
// events, metrics and lastAck. A REST API and the web console on a second
// port (srx_net HttpServer): hub/rest_api.h lists the routes and who may
// call each; hub/console.h serves the console's files.
// Session history (counters, hello) lives in memory only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/messages.h"

namespace srexpert::hub {

struct HubOptions {
  // Tunnel listener.
  std::string bind_address = "0.0.0.0";
  uint16_t port = 8443;
  std::string tls_cert_file;  // PEM chain
  std::string tls_key_file;
  // Without TLS files the hub refuses to start unless this is set.
  bool allow_plain_ws = false;
  std::string tokens_file;
  // SQLite file of the clusters' streamed state; "" keeps it in memory (a
  // restarted hub then starts empty and agents re-sync with a snapshot).
  std::string state_file;
  // Events kept per cluster; the oldest (by lastTimestamp) go first.
  int64_t max_events_per_cluster = 10000;

  // REST API listener (plain HTTP unless api_tls, which uses the same
  // certificate). api_port 0 = ephemeral; disable with api_enabled=false.
  bool api_enabled = true;
  std::string api_bind_address = "127.0.0.1";
  uint16_t api_port = 8080;
  bool api_tls = false;
  // API users (hub/api_users.h); "" = no authentication, allowed only on a
  // loopback api_bind_address. Off loopback both users_file and api_tls are
  // required, else Start() fails.
  std::string users_file;

  // Sent in every welcome: protocol::kMinMaxMessageBytes..2^31-1 and
  // 1..65535, else Start() fails.
  int64_t max_message_bytes = protocol::kDefaultMaxMessageBytes;
  int max_in_flight_requests = protocol::kDefaultMaxInFlightRequests;
  // Agree to `srexpert.v1.deflate` when an agent offers it (then Beast's
  // permessage-deflate is declined for that connection); false answers
  // every agent with plain `srexpert.v1`, as a backend without it would.
  bool message_deflate = true;
  std::chrono::milliseconds handshake_timeout{15000};
  // An agent silent for this long is dropped; the hub pings at half of it.
  std::chrono::milliseconds idle_timeout{60000};
  std::string version = "0.1.0";

  // Plain (non-WebSocket) requests on the tunnel listener other than
  // /healthz and the tunnel path, e.g. the one-line install
  // (hub/install_manifest.h). nullopt, or no handler: 404.
  struct PlainResponse {
    int status = 404;
    std::string content_type;
    std::string body;
  };
  std::function<std::optional<PlainResponse>(std::string_view method, std::string_view target)>
      tunnel_http;
};

struct ClusterStatus {
  std::string name;
  bool connected = false;
  std::string session_id;
  std::string remote;
  protocol::Hello hello;  // of the current (or last) session
  std::chrono::system_clock::time_point connected_since{};
  std::chrono::system_clock::time_point last_seen{};
  int64_t last_ack = 0;
  uint64_t sessions_total = 0;
  uint64_t superseded_total = 0;
  // Most sessions of this cluster ever open at once (welcome sent, not yet
  // ended); 2 means a supersede happened while the old one was still open.
  int max_concurrent_sessions = 0;
  uint64_t messages_in = 0;
};

struct RequestResult {
  enum class Status { kOk, kNotConnected, kBusy, kTimeout, kDisconnected, kInvalid, kStopped };
  Status status = Status::kOk;
  protocol::Response response;  // valid with kOk (may itself be ok:false)
  std::string error;            // otherwise
};

class Hub {
 public:
  explicit Hub(HubOptions options);
  ~Hub();  // Stop()s
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Loads tokens and TLS files, binds both listeners, starts serving.
  bool Start(std::string* error);
  uint16_t tunnel_port() const;
  uint16_t api_port() const;
  // Closes every session with 1001 (going away) and stops. Idempotent.
  void Stop();

  std::vector<ClusterStatus> Clusters() const;

  // Sends a request to the cluster's live session; `done` runs exactly once,
  // on a hub thread. `payload_json` must be a JSON object. `progress` (may
  // be empty) gets each `progress` payload the agent sends for it before
  // the response, on the hub's tunnel thread (it must not block).
  void SendRequest(const std::string& cluster, const std::string& kind,
                   const std::string& payload_json, std::chrono::milliseconds timeout,
                   std::function<void(RequestResult)> done,
                   std::function<void(std::string)> progress = {});

  // Observes every valid message from agents (after the hub handled it).
  // Runs on the hub's tunnel thread; must not block. Set before Start.
  void OnMessage(std::function<void(const std::string& cluster, const protocol::Message&)> cb);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The clusters list as served by GET /api/v1/clusters.
std::string ClustersJson(const std::vector<ClusterStatus>& clusters);

// Runs a hub until SIGINT or SIGTERM; returns the process exit code. For a
// thin main(): parse flags into HubOptions, then `return RunHub(options);`.
int RunHub(const HubOptions& options);

}  // namespace srexpert::hub
