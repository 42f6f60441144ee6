#include "agent/tunnel_client.h"

#include <utility>  // before Boost 1.74 awaitable.hpp, which lacks it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "net/connect.h"
#include "net/ws_client.h"
#include "net/ws_io.h"

namespace srexpert::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::use_awaitable;
using protocol::Message;

const char* SendStatusName(SendStatus s) {
  switch (s) {
    case SendStatus::kOk: return "ok";
    case SendStatus::kNotConnected: return "not connected";
    case SendStatus::kQueueFull: return "queue full";
    case SendStatus::kTooLarge: return "message too large";
    case SendStatus::kInvalid: return "invalid message";
    case SendStatus::kStopped: return "stopped";
  }
  return "unknown";
}

namespace {

// How long a close frame we sent may wait for the backend's answer before
// the connection is dropped anyway (Stop(), handshake timeout).
constexpr std::chrono::seconds kCloseGrace{2};

struct BackendUrl {
  bool secure = true;
  std::string host;  // without brackets
  uint16_t port = 443;
  std::string target;       // path and query
  std::string host_header;  // host[:port]
};

bool ParseBackendUrl(const std::string& url, bool allow_insecure, BackendUrl* out,
                     std::string* error) {
  std::string rest;
  if (url.rfind("wss://", 0) == 0) {
    out->secure = true;
    out->port = 443;
    rest = url.substr(6);
  } else if (url.rfind("ws://", 0) == 0) {
    if (!allow_insecure) {
      *error = "backend URL uses ws:// (no TLS); set the insecure option to allow it";
      return false;
    }
    out->secure = false;
    out->port = 80;
    rest = url.substr(5);
  } else {
    *error = "backend URL must start with wss:// (or ws:// when insecure)";
    return false;
  }
  size_t slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  out->target = slash == std::string::npos ? "" : rest.substr(slash);
  if (out->target.empty() || out->target == "/") out->target = std::string(protocol::kTunnelPath);
  if (out->target.front() == '?') out->target = std::string(protocol::kTunnelPath) + out->target;
  if (authority.find('@') != std::string::npos) {
    *error = "backend URL must not carry credentials; the token comes from the token file";
    return false;
  }
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) {
      *error = "backend URL has an unterminated IPv6 address";
      return false;
    }
    out->host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        *error = "backend URL has a malformed host";
        return false;
      }
      port_text = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.find(':');
    out->host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (out->host.empty()) {
    *error = "backend URL has no host";
    return false;
  }
  if (!port_text.empty()) {
    char* end = nullptr;
    long p = std::strtol(port_text.c_str(), &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) {
      *error = "backend URL has an invalid port";
      return false;
    }
    out->port = static_cast<uint16_t>(p);
  }
  std::string host = out->host.find(':') != std::string::npos ? "[" + out->host + "]" : out->host;
  bool default_port = out->port == (out->secure ? 443 : 80);
  out->host_header = default_port ? host : fmt::format("{}:{}", host, out->port);
  return true;
}

// Reads the token; never logs or returns its content in an error.
bool ReadToken(const std::string& path, std::string* token, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = fmt::format("cannot read token file {}", path);
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ' || t.back() == '\t')) {
    t.pop_back();
  }
  if (t.empty()) {
    *error = fmt::format("token file {} is empty", path);
    return false;
  }
  for (unsigned char c : t) {
    if (c < 0x20 || c == 0x7f) {
      *error = fmt::format("token file {} contains control characters", path);
      return false;
    }
  }
  *token = std::move(t);
  return true;
}

struct Metrics {
  prometheus::Gauge* connected = nullptr;
  prometheus::Counter* connects = nullptr;
  prometheus::Counter* disconnects = nullptr;
  prometheus::Counter* auth_rejections = nullptr;
  prometheus::Counter* dead_peers = nullptr;
  prometheus::Counter* bytes_in = nullptr;
  prometheus::Counter* bytes_out = nullptr;
  prometheus::Counter* messages_in = nullptr;
  prometheus::Counter* messages_out = nullptr;
  prometheus::Gauge* last_pong_age = nullptr;

  void Init(prometheus::Registry& r) {
    connected = &prometheus::BuildGauge()
                     .Name("srexpert_tunnel_connected")
                     .Help("1 while the tunnel session is open (after welcome)")
                     .Register(r)
                     .Add({});
    connects = &prometheus::BuildCounter()
                    .Name("srexpert_tunnel_connects_total")
                    .Help("Tunnel sessions opened")
                    .Register(r)
                    .Add({});
    disconnects = &prometheus::BuildCounter()
                       .Name("srexpert_tunnel_reconnects_total")
                       .Help("Failed connection attempts and ended sessions, each followed by a "
                             "reconnect")
                       .Register(r)
                       .Add({});
    auth_rejections = &prometheus::BuildCounter()
                           .Name("srexpert_tunnel_auth_rejections_total")
                           .Help("Connection attempts the backend refused (401/403/4001/4003)")
                           .Register(r)
                           .Add({});
    dead_peers = &prometheus::BuildCounter()
                      .Name("srexpert_tunnel_dead_peers_total")
                      .Help("Sessions dropped because no pong arrived within the pong timeout")
                      .Register(r)
                      .Add({});
    auto& bytes = prometheus::BuildCounter()
                      .Name("srexpert_tunnel_bytes_total")
                      .Help("Message payload bytes (decompressed) by direction")
                      .Register(r);
    bytes_in = &bytes.Add({{"direction", "in"}});
    bytes_out = &bytes.Add({{"direction", "out"}});
    auto& messages = prometheus::BuildCounter()
                         .Name("srexpert_tunnel_messages_total")
                         .Help("Protocol messages by direction")
                         .Register(r);
    messages_in = &messages.Add({{"direction", "in"}});
    messages_out = &messages.Add({{"direction", "out"}});
    last_pong_age = &prometheus::BuildGauge()
                         .Name("srexpert_tunnel_last_pong_age_seconds")
                         .Help("Seconds since the last pong of the open session; -1 when none")
                         .Register(r)
                         .Add({});
    last_pong_age->Set(-1);
  }
};

}  // namespace

// One WebSocket session (after welcome). Lives on the tunnel thread except
// for the counters guarded by Impl::mu.
struct ClientSession {
  explicit ClientSession(asio::any_io_executor ex) : queue(ex), ping_timer(ex) {}
  net::WsWriteQueue queue;
  asio::steady_timer ping_timer;
  std::string id;
  int64_t max_send_bytes = 0;
  // Acks never decrease and only cover what was sent (docs/protocol.md,
  // `ack`): the last ack (welcome.lastAck at first) and the highest seq
  // this session may be acknowledged for (welcome.lastAck, or the highest
  // seq queued in this session). Tunnel thread only.
  int64_t last_ack = 0;
  int64_t max_sent_seq = 0;
  bool ended = false;
  bool dead = false;
  uint64_t alive_events = 0;  // pongs and received frames
  int in_flight = 0;
  // Requests of this session not answered yet: only these may get a
  // progress report, and only if the backend takes them. Tunnel thread.
  std::set<std::string> unanswered;
  bool takes_progress = false;  // welcome.capabilities has "progress"
  std::function<void()> kill;  // drops the transport
  // Guarded by Impl::mu.
  size_t queued_messages = 0;
  size_t queued_bytes = 0;
  Clock::Steady last_pong{};
  bool have_pong = false;
};

struct TunnelClient::Impl : std::enable_shared_from_this<Impl> {
  Impl(TunnelOptions o, Clock& c, RandomSource& r)
      : options(std::move(o)), clock(c), backoff(options.backoff, r), backoff_timer(io) {}

  TunnelOptions options;
  Clock& clock;
  BackoffSchedule backoff;
  BackendUrl url;
  std::shared_ptr<asio::ssl::context> tls;
  std::function<void(const protocol::Welcome&)> on_connected;
  std::function<void(const Message&)> on_message;
  std::function<void(const DisconnectInfo&)> on_disconnected;
  std::map<std::string, RequestHandler> handlers;
  Metrics metrics;
  bool has_metrics = false;

  asio::io_context io;
  asio::steady_timer backoff_timer;
  std::thread thread;
  bool started = false;
  std::atomic<bool> stop_requested{false};

  // Tunnel thread only.
  bool stopping = false;
  std::function<void()> kill_attempt;  // drops the transport of the attempt in progress
  std::shared_ptr<asio::steady_timer> stop_guard;  // bounds the close handshake in Stop()

  mutable std::mutex mu;
  std::shared_ptr<ClientSession> session;  // set while welcomed
  TunnelStats stats;

  // ---- main loop --------------------------------------------------------------

  awaitable<void> Run() {
    while (!stopping) {
      DisconnectInfo info;
      Clock::Steady connected_at{};
      co_await Attempt(&info, &connected_at);
      if (stopping) break;
      if (info.was_connected) backoff.ConnectionEnded(clock.Now() - connected_at);
      // The close-code table's reactions are to the backend's codes; a code
      // the agent sent itself (4400, 4408, 4413, ...) means normal backoff.
      bool max_delay = info.auth_rejected ||
                       (!info.closed_by_agent && protocol::CloseCodeWantsMaxBackoff(info.close_code));
      info.next_delay = max_delay ? backoff.NextMax() : backoff.Next();
      {
        std::lock_guard lock(mu);
        ++stats.disconnects;
        stats.last_error = info.reason;
        if (info.auth_rejected) ++stats.auth_rejections;
      }
      if (has_metrics) {
        metrics.disconnects->Increment();
        if (info.auth_rejected) metrics.auth_rejections->Increment();
      }
      if (info.auth_rejected) {
        log::Error("backend rejected token", {{"backend", url.host_header},
                                              {"reason", info.reason},
                                              {"retryInMs", info.next_delay.count()}});
      } else {
        log::Warn("tunnel disconnected", {{"backend", url.host_header},
                                          {"reason", info.reason},
                                          {"closeCode", info.close_code},
                                          {"closedBy", info.close_code == 0 ? "none"
                                                       : info.closed_by_agent ? "agent"
                                                                              : "backend"},
                                          {"retryInMs", info.next_delay.count()}});
      }
      if (on_disconnected) on_disconnected(info);
      if (stopping) break;
      backoff_timer.expires_after(info.next_delay);
      boost::system::error_code ec;
      co_await backoff_timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    // A pending stop guard would keep io.run() — and so Stop() — busy for
    // its full duration after a clean close.
    if (stop_guard) stop_guard->cancel();
  }

  awaitable<void> Attempt(DisconnectInfo* info, Clock::Steady* connected_at) {
    {
      std::lock_guard lock(mu);
      ++stats.attempts;
    }
    if (options.may_connect && !options.may_connect()) {
      info->reason = "connecting not allowed now (not the current leader)";
      co_return;
    }
    std::string token, error;
    if (!ReadToken(options.token_file, &token, &error)) {
      info->reason = error;
      co_return;
    }
    net::ProxyChoice proxy = net::ChooseProxy(options.proxy, url.host, url.port);
    if (!proxy.ok()) {
      info->reason = proxy.error;
      co_return;
    }
    auto ex = co_await asio::this_coro::executor;
    std::string host = url.host;
    uint16_t port = url.port;
    std::optional<net::ProxyUrl> via = proxy.proxy;
    std::chrono::milliseconds connect_timeout = options.connect_timeout;
    if (url.secure) {
      // net/ws_client.h: Beast's own key and mask generator repeats itself.
      net::ClientTlsWebSocket ws(ex, *tls);
      bool dialed = co_await Dial(ws, host, port, via, connect_timeout, info);
      if (!dialed) co_return;
      if (!net::PrepareTlsClient(ws.next_layer().native_handle(), host, &error)) {
        info->reason = error;
        kill_attempt = nullptr;
        co_return;
      }
      boost::system::error_code ec;
      beast::get_lowest_layer(ws).expires_after(options.handshake_timeout);
      co_await ws.next_layer().async_handshake(asio::ssl::stream_base::client,
                                               asio::redirect_error(use_awaitable, ec));
      beast::get_lowest_layer(ws).expires_never();
      if (ec) {
        info->reason = net::DescribeTlsFailure(ws.next_layer().native_handle(), host, ec.message());
        kill_attempt = nullptr;
        co_return;
      }
      co_await RunWebSocket(ws, token, info, connected_at);
    } else {
      net::ClientWebSocket ws(ex);
      bool dialed = co_await Dial(ws, host, port, via, connect_timeout, info);
      if (!dialed) co_return;
      co_await RunWebSocket(ws, token, info, connected_at);
    }
    kill_attempt = nullptr;
  }

  // Opens the TCP connection (directly or through the proxy) under `ws`, and
  // lets Stop() abort the attempt meanwhile. False, with the reason in
  // `info`, when it failed or Stop() came first.
  template <typename Ws>
  awaitable<bool> Dial(Ws& ws, std::string host, uint16_t port,
                       std::optional<net::ProxyUrl> via, std::chrono::milliseconds timeout,
                       DisconnectInfo* info) {
    kill_attempt = [&ws] {
      boost::system::error_code ec;
      beast::get_lowest_layer(ws).socket().close(ec);
    };
    // Named result: GCC 12 mishandles temporaries inside co_await expressions.
    net::DialResult dial =
        co_await net::DialTcp(beast::get_lowest_layer(ws), host, port, via, timeout);
    if (!dial.ok() || stopping) {
      info->reason = stopping ? "stopped" : dial.error;
      kill_attempt = nullptr;
      co_return false;
    }
    co_return true;
  }

  template <typename Ws>
  awaitable<void> RunWebSocket(Ws& ws, const std::string& token, DisconnectInfo* info,
                               Clock::Steady* connected_at) {
    boost::system::error_code ec;
    websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    ws.set_option(pmd);
    ws.read_message_max(0);  // our own limit, see net::ReadMessage
    websocket::stream_base::timeout timeouts{options.handshake_timeout, websocket::stream_base::none(),
                                             false};
    ws.set_option(timeouts);
    std::string authorization = "Bearer " + token;
    std::string user_agent = options.user_agent;
    // Preferred first; the backend picks one (docs/protocol.md).
    std::string subprotocols = options.message_deflate
                                   ? fmt::format("{}, {}", protocol::kSubprotocolDeflate, protocol::kSubprotocol)
                                   : std::string(protocol::kSubprotocol);
    ws.set_option(websocket::stream_base::decorator([authorization, user_agent, subprotocols](websocket::request_type& req) {
      req.set(http::field::authorization, authorization);
      req.set(http::field::user_agent, user_agent);
      req.set(http::field::sec_websocket_protocol, subprotocols);
    }));
    websocket::response_type res;
    std::string host_header = url.host_header;
    std::string target = url.target;
    co_await ws.async_handshake(res, host_header, target, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      unsigned status = res.result_int();
      if (status == 401 || status == 403) {
        info->auth_rejected = true;
        info->reason = fmt::format("backend rejected token: HTTP {} {}", status,
                                   std::string(res.reason()));
      } else if (ec == websocket::error::upgrade_declined && status != 0) {
        info->reason = fmt::format("websocket upgrade refused: HTTP {} {}", status,
                                   std::string(res.reason()));
      } else {
        info->reason = fmt::format("websocket handshake failed: {}", ec.message());
      }
      co_return;
    }
    const std::string accepted(res[http::field::sec_websocket_protocol]);
    const bool message_deflate = options.message_deflate && accepted == protocol::kSubprotocolDeflate;
    if (accepted != protocol::kSubprotocol && !message_deflate) {
      info->reason = fmt::format("backend did not accept subprotocol {}", protocol::kSubprotocol);
      co_await CloseNow(ws, protocol::kCloseProtocolViolation, "subprotocol srexpert.v1 required", info);
      co_return;
    }

    if (options.may_connect && !options.may_connect()) {
      info->reason = "connecting not allowed now (not the current leader)";
      co_await CloseNow(ws, protocol::kCloseNormal, "agent is not the leader", info);
      co_return;
    }

    // hello → welcome, bounded by the handshake timeout.
    std::string hello_text;
    {
      std::string error;
      auto text = protocol::Encode(options.hello, &error);
      if (!text) {
        info->reason = "invalid hello: " + error;
        co_return;
      }
      hello_text = std::move(*text);
    }
    ws.text(true);
    co_await ws.async_write(asio::buffer(hello_text), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      info->reason = fmt::format("sending hello: {}", ec.message());
      co_return;
    }
    CountOut(hello_text.size());

    auto ex = co_await asio::this_coro::executor;
    auto welcome_timer = std::make_shared<asio::steady_timer>(ex);
    // Set when this frame leaves the handshake phase in any way: a timer
    // handler already queued must then not touch `ws`.
    auto welcomed = std::make_shared<bool>(false);
    struct SetOnExit {
      std::shared_ptr<bool> flag;
      ~SetOnExit() { *flag = true; }
    } welcome_phase_over{welcomed};
    auto timed_out = std::make_shared<bool>(false);
    welcome_timer->expires_after(options.handshake_timeout);
    // No welcome in time: say so with a close frame (4408) rather than a
    // bare TCP drop the backend would only see as 1006; a backend that does
    // not answer the close within kCloseGrace is dropped after all. The
    // pending read ends when the close completes either way. `welcomed`
    // turns true when this frame (and `ws`) goes away.
    welcome_timer->async_wait([welcomed, timed_out, kill = kill_attempt, timer = welcome_timer,
                               ws_ptr = &ws](boost::system::error_code e) {
      if (e || *welcomed) return;
      *timed_out = true;
      websocket::close_reason cr(protocol::kCloseHandshakeTimeout);
      cr.reason = "no welcome within the handshake timeout";
      ws_ptr->async_close(cr, [](boost::system::error_code) {});
      timer->expires_after(kCloseGrace);
      timer->async_wait([welcomed, kill](boost::system::error_code e2) {
        if (!e2 && !*welcomed && kill) kill();
      });
    });

    // With srexpert.v1.deflate the backend's binary messages are one deflate
    // stream (net/message_deflate.h), from the welcome on.
    std::unique_ptr<net::MessageDecompressor> inflate;
    if (message_deflate) inflate = std::make_unique<net::MessageDecompressor>();

    std::optional<protocol::Welcome> welcome;
    std::string backend_error;
    while (!welcome) {
      net::WsReadResult r = co_await net::ReadMessage(ws, options.max_message_bytes, inflate.get());
      if (r.ec) {
        welcome_timer->cancel();
        if (*timed_out) {
          info->close_code = protocol::kCloseHandshakeTimeout;
          info->closed_by_agent = true;
          info->reason = fmt::format("no welcome within the handshake timeout; closed by agent: {} {}",
                                     info->close_code, protocol::CloseCodeName(info->close_code));
        } else {
          FillCloseInfo(ws, r.ec, info, "");
        }
        if (!backend_error.empty()) info->reason += " (" + backend_error + ")";
        co_return;
      }
      CountIn(r.text.size());
      if (r.too_big || r.binary || !r.corrupt.empty()) {
        welcome_timer->cancel();
        info->reason = r.too_big  ? "backend sent an oversize message before welcome"
                       : r.binary ? "backend sent a binary message before welcome"
                                  : "backend sent a corrupt compressed message before welcome: " + r.corrupt;
        co_await CloseNow(ws, r.too_big ? protocol::kCloseTooBig : protocol::kCloseProtocolViolation,
                          info->reason, info);
        co_return;
      }
      protocol::DecodeResult d = protocol::Decode(r.text, options.max_message_bytes);
      if (d.ok() && std::holds_alternative<protocol::Error>(*d.message)) {
        const auto& e = std::get<protocol::Error>(*d.message);
        backend_error = fmt::format("{}: {}", e.code, e.message);
        continue;  // the close frame follows
      }
      if (!d.ok() || !std::holds_alternative<protocol::Welcome>(*d.message)) {
        welcome_timer->cancel();
        info->reason = d.ok() ? fmt::format("expected welcome, got {}", protocol::TypeName(*d.message))
                              : "invalid welcome: " + d.error.message;
        log::Warn("backend protocol violation",
                  {{"error", info->reason}, {"closeCode", int{protocol::kCloseProtocolViolation}}});
        co_await CloseNow(ws, protocol::kCloseProtocolViolation, info->reason, info);
        co_return;
      }
      welcome = std::get<protocol::Welcome>(*d.message);
    }
    *welcomed = true;
    welcome_timer->cancel();
    bool offered = std::find(options.hello.protocol_versions.begin(),
                             options.hello.protocol_versions.end(),
                             welcome->version) != options.hello.protocol_versions.end();
    if (!offered) {
      // A welcome that breaks the negotiation rule is a protocol violation
      // by the backend (4400); 4426 is the backend's code for "no common
      // version" and is never sent by the agent.
      info->reason = fmt::format("backend chose protocol version {} which was not offered",
                                 welcome->version);
      log::Warn("backend protocol violation",
                {{"error", info->reason}, {"closeCode", int{protocol::kCloseProtocolViolation}}});
      co_await CloseNow(ws, protocol::kCloseProtocolViolation, info->reason, info);
      co_return;
    }

    // The session is open.
    auto session = std::make_shared<ClientSession>(ex);
    session->id = welcome->session_id;
    session->max_send_bytes = std::min(options.max_message_bytes, welcome->limits.max_message_bytes);
    session->last_ack = welcome->last_ack;
    session->max_sent_seq = welcome->last_ack;
    session->takes_progress = welcome->Has(protocol::kCapabilityProgress);
    session->kill = kill_attempt;
    if (message_deflate) session->queue.EnableCompression();
    std::weak_ptr<ClientSession> weak_session = session;
    std::weak_ptr<Impl> weak_self = shared_from_this();
    session->queue.on_written = [weak_self, weak_session](size_t n) {
      auto self = weak_self.lock();
      auto s = weak_session.lock();
      if (!self || !s) return;
      self->CountOut(n);
      std::lock_guard lock(self->mu);
      if (s->queued_messages > 0) --s->queued_messages;
      s->queued_bytes = s->queued_bytes > n ? s->queued_bytes - n : 0;
    };
    ws.control_callback([weak_self, weak_session](websocket::frame_type kind, beast::string_view) {
      auto self = weak_self.lock();
      auto s = weak_session.lock();
      if (!self || !s) return;
      ++s->alive_events;
      if (kind == websocket::frame_type::pong) {
        std::lock_guard lock(self->mu);
        s->last_pong = self->clock.Now();
        s->have_pong = true;
      }
    });
    *connected_at = clock.Now();
    info->was_connected = true;
    {
      std::lock_guard lock(mu);
      this->session = session;
      stats.connected = true;
      stats.session_id = session->id;
      stats.subprotocol = accepted;
      ++stats.connects;
    }
    if (has_metrics) {
      metrics.connects->Increment();
      metrics.connected->Set(1);
    }
    // No backoff.Reset() here: a backend that welcomes and then closes at
    // once (4400, 4413, a crash loop) must not be redialled every few
    // milliseconds. Run() resets the schedule once a session has lasted
    // BackoffPolicy::stable_after (BackoffSchedule::ConnectionEnded).
    log::Info("tunnel connected", {{"backend", url.host_header}, {"session", session->id},
                                   {"version", welcome->version}, {"lastAck", welcome->last_ack},
                                   {"subprotocol", accepted}});
    if (on_connected) on_connected(*welcome);

    // Writer and pinger run beside the reader; both end before `ws` dies.
    auto writer_done = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
    auto writer_finished = std::make_shared<bool>(false);
    asio::co_spawn(ex, session->queue.RunWriter(ws),
                   [writer_done, writer_finished](std::exception_ptr, boost::system::error_code) {
                     *writer_finished = true;
                     writer_done->cancel();
                   });
    auto pinger_finished = std::make_shared<bool>(false);
    asio::co_spawn(ex, Pinger(session),
                   [writer_done, pinger_finished](std::exception_ptr) {
                     *pinger_finished = true;
                     writer_done->cancel();
                   });

    for (;;) {
      net::WsReadResult r = co_await net::ReadMessage(ws, options.max_message_bytes, inflate.get());
      if (r.ec) {
        const auto& ours = session->queue.requested_close();
        if (ours && !session->dead) {
          // We closed (oversize or invalid message, Stop()); Beast ends the
          // pending read with "closed" or "operation aborted".
          info->close_code = ours->first;
          info->closed_by_agent = true;
          info->reason = fmt::format("closed by agent: {} {} ({})", ours->first,
                                     protocol::CloseCodeName(ours->first), ours->second);
        } else {
          FillCloseInfo(ws, r.ec, info,
                        session->dead ? fmt::format("dead peer: no pong within {} ms",
                                                    options.pong_timeout.count())
                                      : "");
        }
        break;
      }
      ++session->alive_events;
      if (session->queue.closing()) continue;  // draining until the close completes
      CountIn(r.text.size());
      if (r.too_big) {
        session->queue.Close(protocol::kCloseTooBig,
                             fmt::format("message exceeds {} bytes", options.max_message_bytes));
        continue;
      }
      if (r.binary) {
        session->queue.Close(protocol::kCloseProtocolViolation, "binary messages are not allowed");
        continue;
      }
      if (!r.corrupt.empty()) {
        session->queue.Close(protocol::kCloseProtocolViolation, r.corrupt);
        continue;
      }
      HandleText(session, r.text);
    }

    // Tear down: stop the writer and pinger, forget the session.
    session->ended = true;
    {
      std::lock_guard lock(mu);
      this->session = nullptr;
      stats.connected = false;
      stats.session_id.clear();
      stats.subprotocol.clear();
    }
    if (has_metrics) {
      metrics.connected->Set(0);
      metrics.last_pong_age->Set(-1);
    }
    session->queue.Abort();
    session->ping_timer.cancel();
    if (kill_attempt) kill_attempt();
    while (!*writer_finished || !*pinger_finished) {
      boost::system::error_code wait_ec;
      writer_done->expires_at(asio::steady_timer::time_point::max());
      if (*writer_finished && *pinger_finished) break;
      co_await writer_done->async_wait(asio::redirect_error(use_awaitable, wait_ec));
    }
    session->kill = nullptr;
  }

  template <typename Ws>
  void FillCloseInfo(Ws& ws, const boost::system::error_code& ec, DisconnectInfo* info,
                     const std::string& override_reason) {
    if (ec == websocket::error::closed) {
      const websocket::close_reason& cr = ws.reason();
      info->close_code = cr.code;
      info->auth_rejected = protocol::CloseCodeIsAuthRefusal(cr.code);
      info->reason = fmt::format("closed by backend: {} {}{}", cr.code,
                                 protocol::CloseCodeName(cr.code),
                                 cr.reason.empty() ? "" : fmt::format(" ({})", std::string(cr.reason)));
      if (info->auth_rejected) info->reason = "backend rejected token: " + info->reason;
      return;
    }
    info->reason = !override_reason.empty() ? override_reason
                                            : fmt::format("connection lost: {}", ec.message());
  }

  // Closes during the handshake phase and records the code as the agent's.
  template <typename Ws>
  awaitable<void> CloseNow(Ws& ws, uint16_t code, const std::string& reason, DisconnectInfo* info) {
    info->close_code = code;
    info->closed_by_agent = true;
    info->reason = fmt::format("{}; closed by agent: {} {}", info->reason, code,
                               protocol::CloseCodeName(code));
    websocket::close_reason cr(code);
    cr.reason = reason.substr(0, 123);
    boost::system::error_code ec;
    co_await ws.async_close(cr, asio::redirect_error(use_awaitable, ec));
  }

  awaitable<void> Pinger(std::shared_ptr<ClientSession> session) {
    boost::system::error_code ec;
    auto wait = [&](std::chrono::milliseconds d) -> awaitable<bool> {
      session->ping_timer.expires_after(d);
      co_await session->ping_timer.async_wait(asio::redirect_error(use_awaitable, ec));
      co_return !session->ended && !stopping;
    };
    std::chrono::milliseconds first = options.ping_interval;
    if (!co_await wait(first)) co_return;
    for (;;) {
      uint64_t seen = session->alive_events;
      session->queue.Ping();
      std::chrono::milliseconds pong_timeout = options.pong_timeout;
      if (!co_await wait(pong_timeout)) co_return;
      if (session->alive_events == seen) {
        session->dead = true;
        {
          std::lock_guard lock(mu);
          ++stats.dead_peers;
        }
        if (has_metrics) metrics.dead_peers->Increment();
        log::Warn("tunnel peer is not answering pings; dropping the connection",
                  {{"backend", url.host_header}, {"pongTimeoutMs", options.pong_timeout.count()}});
        if (session->kill) session->kill();
        co_return;
      }
      std::chrono::milliseconds rest = options.ping_interval - options.pong_timeout;
      if (rest.count() < 0) rest = std::chrono::milliseconds(0);
      if (!co_await wait(rest)) co_return;
    }
  }

  // ---- incoming messages ------------------------------------------------------

  void Push(const std::shared_ptr<ClientSession>& session, const Message& m) {
    std::string error;
    auto text = protocol::Encode(m, &error);
    if (!text) {
      log::Error("agent produced an invalid message", {{"error", error}});
      return;
    }
    if (static_cast<int64_t>(text->size()) > session->max_send_bytes) {
      log::Error("agent message exceeds the session limit; not sent",
                 {{"type", std::string(protocol::TypeName(m))}, {"bytes", text->size()}});
      if (auto* r = std::get_if<protocol::Response>(&m)) {
        Push(session, protocol::ErrorResponse(r->id, "internal", "response too large"));
      }
      return;
    }
    {
      std::lock_guard lock(mu);
      ++session->queued_messages;
      session->queued_bytes += text->size();
    }
    session->queue.Push(std::move(*text));
  }

  void HandleText(const std::shared_ptr<ClientSession>& session, const std::string& text) {
    protocol::DecodeResult d = protocol::Decode(text, options.max_message_bytes);
    if (!d.ok()) {
      if (d.error.kind == protocol::DecodeErrorKind::kUnknownType) {
        Push(session, protocol::MakeError("unsupported", d.error.message, d.error.type));
        return;
      }
      log::Warn("backend sent an invalid message",
                {{"error", d.error.message}, {"closeCode", int{protocol::kCloseProtocolViolation}}});
      Push(session, protocol::MakeError("invalid", d.error.message, d.error.id));
      session->queue.Close(protocol::kCloseProtocolViolation, d.error.message);
      return;
    }
    const Message& m = *d.message;
    if (auto* req = std::get_if<protocol::Request>(&m)) {
      HandleRequest(session, *req);
      return;
    }
    if (auto* ack = std::get_if<protocol::Ack>(&m)) {
      std::string why;
      if (ack->seq < session->last_ack) {
        why = fmt::format("ack {} goes backwards (last ack {})", ack->seq, session->last_ack);
      } else if (ack->seq > session->max_sent_seq) {
        why = fmt::format("ack {} for a seq never sent (highest sent {})", ack->seq,
                          session->max_sent_seq);
      }
      if (!why.empty()) {
        Violation(session, why, "ack");
        return;
      }
      session->last_ack = ack->seq;
    }
    if (std::holds_alternative<protocol::Ack>(m) || std::holds_alternative<protocol::Error>(m)) {
      if (auto* e = std::get_if<protocol::Error>(&m)) {
        log::Warn("backend reported an error", {{"code", e->code}, {"message", e->message}});
      }
      if (on_message) on_message(m);
      return;
    }
    Violation(session, fmt::format("{} is not allowed from the backend now", protocol::TypeName(m)),
              std::string(protocol::TypeName(m)));
  }

  // docs/protocol.md, "Close codes": an `error` with code `invalid`, then 4400.
  void Violation(const std::shared_ptr<ClientSession>& session, const std::string& why,
                 const std::string& ref) {
    log::Warn("backend protocol violation",
              {{"error", why}, {"closeCode", int{protocol::kCloseProtocolViolation}}});
    Push(session, protocol::MakeError("invalid", why, ref));
    session->queue.Close(protocol::kCloseProtocolViolation, why);
  }

  void HandleRequest(const std::shared_ptr<ClientSession>& session, const protocol::Request& req) {
    if (session->in_flight >= 2 * options.max_in_flight_requests) {
      session->queue.Close(protocol::kCloseTooManyRequests, "too many requests in flight");
      return;
    }
    auto it = handlers.find(req.kind);
    if (it == handlers.end()) {
      Push(session, protocol::ErrorResponse(req.id, "unsupported",
                                            fmt::format("unknown request kind \"{}\"", req.kind)));
      return;
    }
    if (session->in_flight >= options.max_in_flight_requests) {
      Push(session, protocol::ErrorResponse(req.id, "busy", "too many requests in flight"));
      return;
    }
    ++session->in_flight;
    session->unanswered.insert(req.id);
    auto answered = std::make_shared<std::atomic<bool>>(false);
    std::weak_ptr<Impl> weak_self = shared_from_this();
    std::weak_ptr<ClientSession> weak_session = session;
    std::string id = req.id;
    Reply reply = [weak_self, weak_session, answered, id](protocol::Response r) {
      if (answered->exchange(true)) return;
      auto self = weak_self.lock();
      if (!self) return;
      r.id = id;
      asio::post(self->io, [weak_self, weak_session, r = std::move(r)] {
        auto self = weak_self.lock();
        auto s = weak_session.lock();
        if (!self || !s || s->ended) return;  // the session is gone; the backend times out
        --s->in_flight;
        s->unanswered.erase(r.id);
        self->Push(s, r);
      });
    };
    try {
      it->second(req, reply);
    } catch (const std::exception& e) {
      log::Error("request handler threw", {{"kind", req.kind}, {"error", e.what()}});
      reply(protocol::ErrorResponse(id, "internal", "handler failed"));
    }
  }

  void CountIn(size_t n) {
    {
      std::lock_guard lock(mu);
      stats.bytes_in += n;
      ++stats.messages_in;
    }
    if (has_metrics) {
      metrics.bytes_in->Increment(static_cast<double>(n));
      metrics.messages_in->Increment();
    }
  }

  void CountOut(size_t n) {
    {
      std::lock_guard lock(mu);
      stats.bytes_out += n;
      ++stats.messages_out;
    }
    if (has_metrics) {
      metrics.bytes_out->Increment(static_cast<double>(n));
      metrics.messages_out->Increment();
    }
  }

  // Runs on the tunnel thread.
  void BeginStop() {
    stopping = true;
    backoff_timer.cancel();
    std::shared_ptr<ClientSession> s;
    {
      std::lock_guard lock(mu);
      s = session;
    }
    if (s && !s->ended) {
      s->queue.Close(protocol::kCloseNormal, "agent stopping");
      // Bounded even when the backend never answers the close.
      auto guard = std::make_shared<asio::steady_timer>(io);
      stop_guard = guard;
      guard->expires_after(kCloseGrace);
      guard->async_wait([guard, s](boost::system::error_code ec) {
        if (!ec && !s->ended && s->kill) s->kill();
      });
    } else if (kill_attempt) {
      kill_attempt();
    }
  }
};

TunnelClient::TunnelClient(TunnelOptions options, Clock& clock, RandomSource& random,
                           std::shared_ptr<prometheus::Registry> registry)
    : impl_(std::make_shared<Impl>(std::move(options), clock, random)) {
  if (registry) {
    impl_->metrics.Init(*registry);
    impl_->has_metrics = true;
    // Keep the registry alive as long as the metric pointers are used.
    registry_holder_ = std::move(registry);
  }
}

TunnelClient::~TunnelClient() { Stop(); }

void TunnelClient::OnConnected(std::function<void(const protocol::Welcome&)> cb) {
  impl_->on_connected = std::move(cb);
}
void TunnelClient::OnMessage(std::function<void(const protocol::Message&)> cb) {
  impl_->on_message = std::move(cb);
}
void TunnelClient::OnDisconnected(std::function<void(const DisconnectInfo&)> cb) {
  impl_->on_disconnected = std::move(cb);
}
void TunnelClient::HandleRequests(std::string kind, RequestHandler handler) {
  impl_->handlers[std::move(kind)] = std::move(handler);
}

bool TunnelClient::Start(std::string* error) {
  Impl& d = *impl_;
  std::string err;
  auto fail = [&](std::string msg) {
    if (error) *error = std::move(msg);
    return false;
  };
  if (d.started) return fail("tunnel already started");
  if (!ParseBackendUrl(d.options.url, d.options.allow_insecure, &d.url, &err)) return fail(err);
  if (d.options.token_file.empty()) return fail("a token file is required");
  if (auto problem = protocol::Validate(d.options.hello); !problem.empty()) {
    return fail("invalid hello: " + problem);
  }
  if (d.options.max_message_bytes < protocol::kMinMaxMessageBytes ||
      d.options.max_message_bytes > INT32_MAX) {
    return fail(fmt::format("max_message_bytes must be {}..{}", protocol::kMinMaxMessageBytes,
                            INT32_MAX));
  }
  if (d.options.ping_interval.count() <= 0 || d.options.pong_timeout.count() <= 0) {
    return fail("ping interval and pong timeout must be positive");
  }
  if (d.url.secure) {
    d.tls = net::MakeTlsClientContext(d.options.tls, &err);
    if (!d.tls) return fail(err);
  } else {
    log::Warn("tunnel configured without TLS (insecure)", {{"backend", d.url.host_header}});
  }
  d.started = true;
  asio::co_spawn(d.io, d.Run(), asio::detached);
  d.thread = std::thread([&d] {
    for (;;) {
      try {
        d.io.run();
        return;
      } catch (const std::exception& e) {
        log::Error("tunnel thread caught an exception", {{"error", e.what()}});
      }
    }
  });
  return true;
}

void TunnelClient::Stop() {
  Impl& d = *impl_;
  if (!d.started || d.stop_requested.exchange(true)) return;
  asio::post(d.io, [&d] { d.BeginStop(); });
  d.thread.join();
}

SendStatus TunnelClient::Send(const protocol::Message& message) {
  Impl& d = *impl_;
  if (d.stop_requested) return SendStatus::kStopped;
  auto text = protocol::Encode(message);
  if (!text) return SendStatus::kInvalid;
  std::shared_ptr<ClientSession> s;
  {
    std::lock_guard lock(d.mu);
    s = d.session;
    if (!s) return SendStatus::kNotConnected;
    if (static_cast<int64_t>(text->size()) > s->max_send_bytes) return SendStatus::kTooLarge;
    if (s->queued_messages >= d.options.max_queue_messages ||
        s->queued_bytes + text->size() > d.options.max_queue_bytes) {
      return SendStatus::kQueueFull;
    }
    ++s->queued_messages;
    s->queued_bytes += text->size();
  }
  int64_t seq = 0;
  if (auto* sm = std::get_if<protocol::StreamMessage>(&message)) seq = sm->seq;
  asio::post(d.io, [s, seq, text = std::move(*text)]() mutable {
    if (s->ended) return;
    // Recorded before the message can be written, so its ack always finds it.
    s->max_sent_seq = std::max(s->max_sent_seq, seq);
    s->queue.Push(std::move(text));
  });
  return SendStatus::kOk;
}

void TunnelClient::SendProgress(const std::string& request_id, std::string payload_json) {
  Impl& d = *impl_;
  if (d.stop_requested) return;
  protocol::Progress progress{request_id, std::move(payload_json)};
  if (!protocol::Encode(progress)) {
    log::Error("progress report is not a valid message; dropped", {{"id", request_id}});
    return;
  }
  std::shared_ptr<ClientSession> s;
  {
    std::lock_guard lock(d.mu);
    s = d.session;
    // A report is advisory: with the queue full it waits for nobody.
    if (!s || !s->takes_progress || s->queued_messages >= d.options.max_queue_messages) return;
  }
  std::weak_ptr<Impl> weak = impl_;
  asio::post(d.io, [weak, s, progress = std::move(progress)] {
    auto self = weak.lock();
    if (!self || s->ended || !s->unanswered.count(progress.id)) return;
    self->Push(s, progress);
  });
}

void TunnelClient::CloseSession(uint16_t code, std::string reason) {
  Impl& d = *impl_;
  std::shared_ptr<ClientSession> s;
  {
    std::lock_guard lock(d.mu);
    s = d.session;
  }
  if (!s) return;
  asio::post(d.io, [s, code, reason = std::move(reason)]() mutable {
    if (s->ended) return;
    s->queue.Close(code, std::move(reason));
  });
}

bool TunnelClient::connected() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats.connected;
}

TunnelStats TunnelClient::Stats() const {
  Impl& d = *impl_;
  std::lock_guard lock(d.mu);
  TunnelStats s = d.stats;
  if (d.session && d.session->have_pong) {
    s.last_pong_age =
        std::chrono::duration_cast<std::chrono::milliseconds>(d.clock.Now() - d.session->last_pong);
  }
  return s;
}

void TunnelClient::RefreshMetrics() {
  if (!impl_->has_metrics) return;
  TunnelStats s = Stats();
  impl_->metrics.last_pong_age->Set(s.last_pong_age.count() < 0
                                        ? -1.0
                                        : static_cast<double>(s.last_pong_age.count()) / 1000.0);
}

}  // namespace srexpert::agent
