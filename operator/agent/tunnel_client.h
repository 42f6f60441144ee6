// The agent's end of the tunnel (docs/protocol.md): one WebSocket over TLS to
// the backend, optionally through an HTTP CONNECT proxy, kept up forever.
//
//  - The bearer token is re-read from `token_file` on every connection
//    attempt (a rotated Secret needs no restart) and is never logged.
//  - Keepalive: a ping every `ping_interval`; when neither a pong nor any
//    other frame arrives within `pong_timeout` of a ping, the peer is
//    declared dead and the connection dropped.
//  - Reconnects with BackoffSchedule (full jitter). A 401/403 at the upgrade,
//    or a close code that means refusal (4001, 4003, 4409, 4426), waits the
//    maximum delay and is logged as such — never a tight loop. The schedule
//    starts over only after a session stayed up for `backoff.stable_after`,
//    so a backend that welcomes and closes at once is not redialled fast.
//  - Protocol rules the backend breaks (a welcome with a version never
//    offered, an ack that decreases or covers a seq never sent, ...) close
//    the session with 4400 after an `error` of code `invalid`; no welcome
//    within the handshake timeout closes with 4408. docs/protocol.md.
//  - Callbacks run on the tunnel's own thread and must not block; Send() may
//    be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/backoff.h"
#include "common/clock.h"
#include "net/proxy.h"
#include "net/tls.h"
#include "protocol/messages.h"

namespace prometheus {
class Registry;
}

namespace srexpert::agent {

struct TunnelOptions {
  // wss://host[:port]/path — ws:// only with allow_insecure.
  std::string url;
  bool allow_insecure = false;
  std::string token_file;
  net::TlsClientConfig tls;
  net::ProxySettings proxy;
  // Sent as-is in every hello (protocol_versions included).
  protocol::Hello hello;
  std::string user_agent = "srexpert-agent";

  // Largest message received or sent; protocol::kMinMaxMessageBytes..2^31-1.
  int64_t max_message_bytes = protocol::kDefaultMaxMessageBytes;
  // Offer `srexpert.v1.deflate` before `srexpert.v1` (docs/protocol.md,
  // "Compression"); the backend picks.
  bool message_deflate = true;
  // Outbound queue bounds; Send() reports kQueueFull beyond them.
  size_t max_queue_messages = 1024;
  size_t max_queue_bytes = 16 * 1024 * 1024;
  // Most backend requests handled at once; more get "busy", more than
  // twice this closes with 4429.
  int max_in_flight_requests = protocol::kDefaultMaxInFlightRequests;

  std::chrono::milliseconds connect_timeout{15000};
  // Upgrade plus hello/welcome.
  std::chrono::milliseconds handshake_timeout{15000};
  std::chrono::milliseconds ping_interval{20000};
  std::chrono::milliseconds pong_timeout{10000};
  BackoffPolicy backoff;
  // Optional gate, consulted on the tunnel thread before every connection
  // attempt and again right before the hello: false skips the attempt (it
  // counts as a failed one, normal backoff). The agent passes its
  // leadership check, so a leader that lost its Lease without noticing yet
  // (a frozen process, just thawed) never opens a session. Must not block.
  std::function<bool()> may_connect;
};

struct DisconnectInfo {
  std::string reason;        // one line, no credentials
  int close_code = 0;        // the close code of the session, 0 if none
  bool closed_by_agent = false;  // close_code is the agent's own, not the backend's
  bool auth_rejected = false;  // 401/403 or 4001/4003
  bool was_connected = false;  // a welcome had been received
  std::chrono::milliseconds next_delay{0};
};

struct TunnelStats {
  bool connected = false;
  std::string session_id;
  std::string subprotocol;   // agreed for the current session
  uint64_t connects = 0;     // sessions that reached welcome
  uint64_t attempts = 0;     // connection attempts
  uint64_t disconnects = 0;  // failed attempts and ended sessions
  uint64_t bytes_in = 0, bytes_out = 0;
  uint64_t messages_in = 0, messages_out = 0;
  uint64_t auth_rejections = 0;
  uint64_t dead_peers = 0;
  // Since the last pong of the current session; negative when none yet.
  std::chrono::milliseconds last_pong_age{-1};
  std::string last_error;
};

enum class SendStatus { kOk, kNotConnected, kQueueFull, kTooLarge, kInvalid, kStopped };
const char* SendStatusName(SendStatus s);

// Answers one backend request; call exactly once, from any thread.
using Reply = std::function<void(protocol::Response)>;
using RequestHandler = std::function<void(const protocol::Request&, Reply)>;

class TunnelClient {
 public:
  // `clock` measures connection durations and pong ages; `random` drives the
  // backoff jitter. Both must outlive the client. `registry` (optional) gets
  // the srexpert_tunnel_* metrics.
  TunnelClient(TunnelOptions options, Clock& clock, RandomSource& random,
               std::shared_ptr<prometheus::Registry> registry = nullptr);
  ~TunnelClient();  // Stop()s
  TunnelClient(const TunnelClient&) = delete;
  TunnelClient& operator=(const TunnelClient&) = delete;

  // Set before Start().
  void OnConnected(std::function<void(const protocol::Welcome&)> cb);
  void OnMessage(std::function<void(const protocol::Message&)> cb);
  void OnDisconnected(std::function<void(const DisconnectInfo&)> cb);
  // Requests of other kinds are answered "unsupported".
  void HandleRequests(std::string kind, RequestHandler handler);

  // Validates the options (URL, scheme, TLS files) and starts connecting in
  // the background; false and `error` on invalid options.
  bool Start(std::string* error);
  // Closes the session (1000), stops reconnecting, joins the thread.
  // Idempotent; bounded by ~3 s even with a frozen backend.
  void Stop();

  // Queues a message for the current session. kOk means queued, not
  // delivered: delivery is confirmed by acks/responses only. Never blocks.
  SendStatus Send(const protocol::Message& message);
  // Reports progress (a JSON object) on request `request_id` of the current
  // session, before its response. Advisory, so silently dropped when the
  // backend's welcome did not offer "progress", the request came in on an
  // earlier session or is already answered, or the queue is full; one
  // larger than the session's message limit is logged and dropped.
  // Never blocks; any thread.
  void SendProgress(const std::string& request_id, std::string payload_json);
  // Ends the current session (if any) with a close frame after what is
  // queued; the client then reconnects with backoff. For a caller that
  // cannot go on in this session (e.g. the stream could not be sent).
  void CloseSession(uint16_t code, std::string reason);

  bool connected() const;
  TunnelStats Stats() const;
  // Updates computed gauges (last pong age); call before a metrics scrape.
  void RefreshMetrics();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::shared_ptr<prometheus::Registry> registry_holder_;
};

}  // namespace srexpert::agent
