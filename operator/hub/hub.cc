#include "hub/hub.h"

#include <utility>  // before Boost 1.74 awaitable.hpp, which lacks it

#include <pthread.h>
#include <signal.h>

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
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <variant>

#include "common/json.h"
#include "common/time_format.h"
#include "common/log.h"
#include "hub/api_users.h"
#include "hub/console.h"
#include "hub/rest_api.h"
#include "hub/scan_diff.h"
#include "hub/state_store.h"
#include "hub/stream_payload.h"
#include "hub/token_store.h"
#include "net/http_server.h"
#include "net/secure_random.h"
#include "net/tls.h"
#include "net/ws_io.h"

namespace srexpert::hub {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using protocol::Message;

namespace {

// An unset time point (never) is "", not 1970.
std::string Rfc3339(std::chrono::system_clock::time_point t) {
  return t.time_since_epoch().count() == 0 ? "" : FormatRfc3339(t);
}


// The subprotocol to answer with: srexpert.v1.deflate when offered (and
// allowed), else srexpert.v1 when offered, else "" (refused).
std::string_view ChooseSubprotocol(std::string_view header, bool allow_deflate) {
  bool plain = false, deflate = false;
  size_t i = 0;
  while (i <= header.size()) {
    size_t end = header.find(',', i);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = header.substr(i, end - i);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    plain = plain || item == protocol::kSubprotocol;
    deflate = deflate || item == protocol::kSubprotocolDeflate;
    i = end + 1;
  }
  if (deflate && allow_deflate) return protocol::kSubprotocolDeflate;
  return plain ? protocol::kSubprotocol : std::string_view();
}

struct Pending {
  std::function<void(RequestResult)> done;
  std::shared_ptr<asio::steady_timer> timer;
  std::function<void(std::string)> progress;  // may be empty
};

// 127.0.0.0/8, ::1 and "localhost": reachable from this host only.
bool IsLoopbackAddress(const std::string& address) {
  if (address == "localhost") return true;
  boost::system::error_code ec;
  auto a = asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

}  // namespace

struct Session {
  Session(asio::any_io_executor ex) : queue(ex), hello_timer(ex) {}
  std::string id;
  std::string cluster;
  std::string remote;
  net::WsWriteQueue queue;
  asio::steady_timer hello_timer;
  bool welcomed = false;
  bool ended = false;
  std::map<std::string, Pending> pending;
};

struct Hub::Impl : std::enable_shared_from_this<Impl> {
  HubOptions options;
  std::unique_ptr<TokenStore> tokens;
  // REST API users; null without a users file (loopback only, no checks).
  std::unique_ptr<ApiUserStore> users;
  // Written on the tunnel thread only; read by API threads (thread-safe).
  std::unique_ptr<StateStore> store;
  std::shared_ptr<asio::ssl::context> tls;
  asio::io_context io;
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;
  std::unique_ptr<net::HttpServer> api;
  std::unique_ptr<RestApi> rest;  // the routes on `api`
  std::function<void(const std::string&, const Message&)> on_message;
  uint16_t tunnel_port = 0;
  bool started = false;
  std::atomic<bool> stopped{false};

  mutable std::mutex mu;  // guards `clusters` (read by API threads)
  // Every cluster that connected or has stored state. last_ack mirrors the
  // store (loaded at start, updated after each commit on the tunnel thread).
  std::map<std::string, ClusterStatus> clusters;

  // Tunnel thread only.
  std::map<std::string, std::shared_ptr<Session>> live;  // cluster → current session
  std::set<std::shared_ptr<Session>> sessions;
  std::map<std::string, int> open_sessions;
  uint64_t next_request = 0;
  // Request ids are unique across hub restarts: an agent keeps the answers
  // of ids it has seen for 15 minutes (idempotency, actions/action.h), and a
  // restarted hub counting from 1 again would be answered with another
  // request's stored result.
  const std::string request_id_prefix = "h-" + net::RandomHex(8) + "-";

  // ---- connection handling -------------------------------------------------

  awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor->async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (!acceptor->is_open()) co_return;
        log::Warn("hub accept failed", {{"error", ec.message()}});
        continue;
      }
      // Small frames (acks, requests) must not wait for the agent's delayed
      // ACK of the previous one (Nagle). A failure only costs latency.
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(io, Connection(shared_from_this(), std::move(socket)), asio::detached);
    }
  }

  static awaitable<void> Connection(std::shared_ptr<Impl> self, tcp::socket socket) {
    std::string remote;
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (!ec) remote = fmt::format("{}:{}", ep.address().to_string(), ep.port());
    if (self->tls) {
      websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(std::move(socket), *self->tls);
      beast::get_lowest_layer(ws).expires_after(self->options.handshake_timeout);
      co_await ws.next_layer().async_handshake(asio::ssl::stream_base::server,
                                               asio::redirect_error(use_awaitable, ec));
      if (ec) {
        log::Info("agent TLS handshake failed", {{"remote", remote}, {"error", ec.message()}});
        co_return;
      }
      co_await self->Serve(ws, remote);
    } else {
      websocket::stream<beast::tcp_stream> ws(std::move(socket));
      co_await self->Serve(ws, remote);
    }
  }

  template <typename Ws>
  awaitable<bool> Reply(Ws& ws, http::status status, unsigned version, std::string body,
                        bool bearer_challenge = false,
                        std::string_view content_type = "text/plain; charset=utf-8") {
    http::response<http::string_body> res{status, version};
    res.set(http::field::server, "srexpert-hub");
    res.set(http::field::content_type, content_type);
    // Nothing here is for caches (the install manifest carries a token).
    res.set(http::field::cache_control, "no-store");
    if (bearer_challenge) res.set(http::field::www_authenticate, "Bearer");
    res.body() = std::move(body);
    res.keep_alive(false);
    res.prepare_payload();
    boost::system::error_code ec;
    co_await http::async_write(ws.next_layer(), res, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  template <typename Ws>
  awaitable<void> Serve(Ws& ws, std::string remote) {
    boost::system::error_code ec;
    beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(4096);
    beast::get_lowest_layer(ws).expires_after(options.handshake_timeout);
    co_await http::async_read(ws.next_layer(), buffer, parser,
                              asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    auto req = parser.release();
    std::string target(req.target());
    std::string path = target.substr(0, target.find('?'));

    if (!websocket::is_upgrade(req)) {
      if (path == "/healthz") {
        co_await Reply(ws, http::status::ok, req.version(), "ok\n");
      } else if (path == protocol::kTunnelPath) {
        co_await Reply(ws, http::status::bad_request, req.version(),
                       "WebSocket upgrade required\n");
      } else if (auto extra = options.tunnel_http
                                  ? options.tunnel_http(req.method_string(), target)
                                  : std::nullopt) {
        // Named locals, no temporaries in the co_await: GCC 12 destroys
        // temporaries of a co_await's arguments twice in some cases.
        std::string body = req.method() == http::verb::head ? "" : std::move(extra->body);
        std::string type = extra->content_type.empty() ? "text/plain; charset=utf-8"
                                                       : extra->content_type;
        co_await Reply(ws, static_cast<http::status>(extra->status), req.version(),
                       std::move(body), false, type);
      } else {
        co_await Reply(ws, http::status::not_found, req.version(), "not found\n");
      }
      co_return;
    }
    if (path != protocol::kTunnelPath) {
      co_await Reply(ws, http::status::not_found, req.version(), "not found\n");
      co_return;
    }
    const std::string_view subprotocol =
        ChooseSubprotocol(req[http::field::sec_websocket_protocol], options.message_deflate);
    const bool message_deflate = subprotocol == protocol::kSubprotocolDeflate;
    if (subprotocol.empty()) {
      co_await Reply(ws, http::status::bad_request, req.version(),
                     fmt::format("subprotocol {} required\n", protocol::kSubprotocol));
      co_return;
    }
    const std::string authorization(req[http::field::authorization]);
    const std::string token(BearerToken(authorization));
    std::optional<TokenMatch> match = tokens->Lookup(token);
    if (!match) {
      log::Warn("agent token rejected", {{"remote", remote}, {"reason", token.empty()
                                                                           ? "no bearer token"
                                                                           : "unknown token"}});
      co_await Reply(ws, http::status::unauthorized, req.version(), "unauthorized\n", true);
      co_return;
    }
    if (match->disabled) {
      log::Warn("agent of a disabled cluster refused", {{"remote", remote}, {"cluster", match->cluster}});
      co_await Reply(ws, http::status::forbidden, req.version(), "cluster disabled\n");
      co_return;
    }

    beast::get_lowest_layer(ws).expires_never();
    websocket::stream_base::timeout timeouts{options.handshake_timeout, options.idle_timeout, true};
    ws.set_option(timeouts);
    websocket::permessage_deflate pmd;
    // Messages compressed by us need no second (and, in Beast 1.74, window-
    // less) compression by the WebSocket layer.
    pmd.server_enable = !message_deflate;
    ws.set_option(pmd);
    ws.read_message_max(0);  // our own limit, see net::ReadMessage
    ws.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
      res.set(http::field::server, "srexpert-hub");
      res.set(http::field::sec_websocket_protocol, subprotocol);
    }));
    co_await ws.async_accept(req, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      log::Info("websocket accept failed", {{"remote", remote}, {"error", ec.message()}});
      co_return;
    }

    auto ex = co_await asio::this_coro::executor;
    auto session = std::make_shared<Session>(ex);
    session->id = net::RandomHex(16);
    session->cluster = match->cluster;
    session->remote = remote;
    sessions.insert(session);
    std::unique_ptr<net::MessageDecompressor> inflate;
    if (message_deflate) {
      session->queue.EnableCompression();
      inflate = std::make_unique<net::MessageDecompressor>();
    }
    log::Info("agent connected", {{"cluster", session->cluster}, {"session", session->id},
                                  {"remote", remote}, {"subprotocol", std::string(subprotocol)}});

    std::weak_ptr<Impl> weak = shared_from_this();
    ws.control_callback([weak, cluster = session->cluster](websocket::frame_type, beast::string_view) {
      if (auto self = weak.lock()) self->Touch(cluster);
    });

    // The writer owns all outgoing traffic; wait for it before `ws` dies.
    auto writer_done = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
    auto writer_finished = std::make_shared<bool>(false);
    asio::co_spawn(ex, session->queue.RunWriter(ws),
                   [writer_done, writer_finished](std::exception_ptr, boost::system::error_code) {
                     *writer_finished = true;
                     writer_done->cancel();
                   });

    // No hello within the handshake timeout: close 4408.
    session->hello_timer.expires_after(options.handshake_timeout);
    session->hello_timer.async_wait([session](boost::system::error_code wait_ec) {
      if (!wait_ec && !session->welcomed) {
        session->queue.Close(protocol::kCloseHandshakeTimeout, "no hello within the handshake timeout");
      }
    });

    std::string end_reason = "closed";
    for (;;) {
      net::WsReadResult r = co_await net::ReadMessage(ws, options.max_message_bytes, inflate.get());
      if (r.ec) {
        if (const auto& ours = session->queue.requested_close()) {
          end_reason = fmt::format("closed by hub: {} {}", ours->first,
                                   protocol::CloseCodeName(ours->first));
        } else if (r.ec == websocket::error::closed) {
          end_reason = fmt::format("closed by agent: {} {}", ws.reason().code,
                                   protocol::CloseCodeName(ws.reason().code));
        } else {
          end_reason = r.ec.message();
        }
        break;
      }
      if (session->queue.closing()) continue;  // draining until the close completes
      if (r.too_big) {
        log::Warn("agent message too big", {{"cluster", session->cluster},
                                            {"limit", options.max_message_bytes}});
        session->queue.Close(protocol::kCloseTooBig,
                             fmt::format("message exceeds {} bytes", options.max_message_bytes));
        continue;
      }
      if (r.binary) {
        session->queue.Close(protocol::kCloseProtocolViolation, "binary messages are not allowed");
        continue;
      }
      if (!r.corrupt.empty()) {
        log::Warn("agent sent a corrupt compressed message", {{"cluster", session->cluster},
                                                              {"error", r.corrupt}});
        session->queue.Close(protocol::kCloseProtocolViolation, r.corrupt);
        continue;
      }
      Touch(session->cluster);
      HandleText(session, r.text);
    }

    session->hello_timer.cancel();
    session->ended = true;
    session->queue.Abort();
    boost::system::error_code close_ec;
    beast::get_lowest_layer(ws).socket().close(close_ec);
    while (!*writer_finished) {
      boost::system::error_code wait_ec;
      co_await writer_done->async_wait(asio::redirect_error(use_awaitable, wait_ec));
    }
    EndSession(session, end_reason);
  }

  void Send(const std::shared_ptr<Session>& session, const Message& m) {
    std::string error;
    auto text = protocol::Encode(m, &error);
    if (!text) {
      log::Error("hub produced an invalid message", {{"error", error}});
      return;
    }
    session->queue.Push(std::move(*text));
  }

  void Violation(const std::shared_ptr<Session>& session, std::string message) {
    log::Warn("agent protocol violation", {{"cluster", session->cluster},
                                           {"session", session->id}, {"error", message}});
    Send(session, protocol::MakeError("invalid", message));
    session->queue.Close(protocol::kCloseProtocolViolation, message);
  }

  void HandleText(const std::shared_ptr<Session>& session, const std::string& text) {
    protocol::DecodeResult d = protocol::Decode(text, options.max_message_bytes);
    if (!d.ok()) {
      if (d.error.kind == protocol::DecodeErrorKind::kUnknownType && session->welcomed) {
        Send(session, protocol::MakeError("unsupported", d.error.message, d.error.type));
        return;
      }
      return Violation(session, d.error.message);
    }
    const Message& m = *d.message;
    {
      std::lock_guard lock(mu);
      ClusterStatus& c = clusters[session->cluster];
      c.name = session->cluster;
      ++c.messages_in;
    }
    if (!session->welcomed) {
      if (!std::holds_alternative<protocol::Hello>(m)) {
        return Violation(session, fmt::format("expected hello, got {}", protocol::TypeName(m)));
      }
      return Welcome(session, std::get<protocol::Hello>(m));
    }
    if (auto* s = std::get_if<protocol::StreamMessage>(&m)) {
      HandleStream(session, *s);
    } else if (auto* resp = std::get_if<protocol::Response>(&m)) {
      auto it = session->pending.find(resp->id);
      if (it == session->pending.end()) {
        log::Debug("response for no outstanding request", {{"cluster", session->cluster},
                                                            {"id", resp->id}});
      } else {
        Pending p = std::move(it->second);
        session->pending.erase(it);
        p.timer->cancel();
        p.done(RequestResult{RequestResult::Status::kOk, *resp, {}});
      }
    } else if (auto* progress = std::get_if<protocol::Progress>(&m)) {
      // A report may cross the response or the timeout: then nobody waits
      // for it any more, which is not the agent's fault.
      auto it = session->pending.find(progress->id);
      if (it == session->pending.end()) {
        log::Debug("progress for no outstanding request", {{"cluster", session->cluster},
                                                           {"id", progress->id}});
      } else if (it->second.progress) {
        it->second.progress(progress->payload);
      }
    } else if (auto* err = std::get_if<protocol::Error>(&m)) {
      log::Warn("agent reported an error", {{"cluster", session->cluster}, {"code", err->code},
                                            {"message", err->message}});
    } else {
      return Violation(session,
                       fmt::format("{} is not allowed from an agent now", protocol::TypeName(m)));
    }
    if (on_message) on_message(session->cluster, m);
  }

  void Welcome(const std::shared_ptr<Session>& session, const protocol::Hello& hello) {
    int version = 0;
    for (int v : hello.protocol_versions) {
      if (v == protocol::kVersion) version = std::max(version, v);
    }
    if (version == 0) {
      std::string msg = fmt::format("no common protocol version; the hub speaks [{}]",
                                    protocol::kVersion);
      Send(session, protocol::MakeError("unsupported_version", msg));
      session->queue.Close(protocol::kCloseUnsupportedVersion, msg);
      return;
    }
    session->welcomed = true;
    session->hello_timer.cancel();
    // Supersede the older session of this cluster, if any.
    auto& current = live[session->cluster];
    bool superseding = current && current != session;
    if (superseding) {
      log::Info("session superseded", {{"cluster", session->cluster}, {"old", current->id},
                                       {"new", session->id}});
      current->queue.Close(protocol::kCloseSuperseded,
                           "superseded by a newer session of this cluster");
    }
    current = session;
    int open = ++open_sessions[session->cluster];

    protocol::Welcome w;
    w.session_id = session->id;
    w.version = version;
    w.limits.max_message_bytes = options.max_message_bytes;
    w.limits.max_in_flight_requests = options.max_in_flight_requests;
    w.capabilities = {std::string(protocol::kCapabilityProgress)};
    {
      std::lock_guard lock(mu);
      ClusterStatus& c = clusters[session->cluster];
      c.name = session->cluster;
      c.connected = true;
      c.session_id = session->id;
      c.remote = session->remote;
      c.hello = hello;
      c.connected_since = std::chrono::system_clock::now();
      c.last_seen = c.connected_since;
      ++c.sessions_total;
      if (superseding) ++c.superseded_total;
      c.max_concurrent_sessions = std::max(c.max_concurrent_sessions, open);
      w.last_ack = c.last_ack;
    }
    std::string error;
    if (!store->RememberCluster(session->cluster, &error)) {
      log::Warn("state store cannot record the cluster", {{"cluster", session->cluster},
                                                          {"error", error}});
    }
    Send(session, w);
    log::Info("agent session open", {{"cluster", session->cluster}, {"session", session->id},
                                     {"agentVersion", hello.agent_version},
                                     {"pod", hello.pod}, {"node", hello.node},
                                     {"lastAck", w.last_ack}});
  }

  // docs/protocol.md, "Sequence numbers, acks and resume": a seq at or
  // below the last accepted one is a duplicate (acked again); a snapshot's
  // part 0 may start at any later seq; every other message must be exactly
  // the next one. A payload that breaks the rules is refused with
  // invalid_payload and the seq does not advance.
  void HandleStream(const std::shared_ptr<Session>& session, const protocol::StreamMessage& s) {
    const std::string& cluster = session->cluster;
    int64_t last;
    {
      std::lock_guard lock(mu);
      last = clusters[cluster].last_ack;
    }
    bool snapshot = s.kind == protocol::StreamMessage::Kind::kSnapshot;
    if (s.seq <= last) {
      Send(session, protocol::Ack{last});  // duplicate after a resume: ack again
      return;
    }
    std::string error;
    std::optional<SnapshotPayload> part;
    std::optional<DeltaPayload> delta;
    if (snapshot) {
      // The part number decides the sequencing rule, so decode first.
      part = DecodeSnapshotPayload(s.payload, &error);
      if (!part) return InvalidPayload(session, s.seq, error);
    }
    bool may_jump = snapshot && part->part == 0;
    if (!may_jump && s.seq != last + 1) {
      Send(session, protocol::MakeError("sequence_gap",
                                        fmt::format("expected seq {}, got {}", last + 1, s.seq),
                                        std::to_string(s.seq)));
      return;
    }
    if (!snapshot) {
      delta = DecodeDeltaPayload(s.payload, &error);
      if (!delta) return InvalidPayload(session, s.seq, error);
    }
    ApplyResult r = snapshot ? store->ApplySnapshot(cluster, s.seq, *part, s.final)
                             : store->ApplyDelta(cluster, s.seq, *delta);
    if (r.status == ApplyResult::Status::kRejected) return InvalidPayload(session, s.seq, r.error);
    if (r.status == ApplyResult::Status::kFailed) {
      // Not the agent's fault: no ack, and a fresh session resumes from the
      // last stored seq once the store works again.
      log::Error("state store failed", {{"cluster", cluster}, {"seq", s.seq}, {"error", r.error}});
      Send(session, protocol::MakeError("internal", "the hub could not store the message",
                                        std::to_string(s.seq)));
      session->queue.Close(protocol::kCloseInternal, "state store failed");
      return;
    }
    {
      std::lock_guard lock(mu);
      clusters[cluster].last_ack = s.seq;
    }
    if (snapshot) {
      log::Debug("snapshot part stored", {{"cluster", cluster}, {"seq", s.seq},
                                          {"snapshot", part->snapshot}, {"part", part->part},
                                          {"objects", part->objects.size()}, {"final", s.final}});
    }
    Send(session, protocol::Ack{s.seq});
  }

  void InvalidPayload(const std::shared_ptr<Session>& session, int64_t seq, std::string error) {
    log::Warn("agent sent an invalid payload", {{"cluster", session->cluster},
                                                {"session", session->id}, {"seq", seq},
                                                {"error", error}});
    if (error.size() > 4096) error.resize(4096);
    Send(session, protocol::MakeError("invalid_payload", error, std::to_string(seq)));
  }

  void Touch(const std::string& cluster) {
    std::lock_guard lock(mu);
    auto it = clusters.find(cluster);
    if (it != clusters.end()) it->second.last_seen = std::chrono::system_clock::now();
  }

  void EndSession(const std::shared_ptr<Session>& session, const std::string& reason) {
    sessions.erase(session);
    for (auto& [id, p] : session->pending) {
      p.timer->cancel();
      p.done(RequestResult{RequestResult::Status::kDisconnected, {}, "agent disconnected: " + reason});
    }
    session->pending.clear();
    if (session->welcomed) {
      --open_sessions[session->cluster];
      auto it = live.find(session->cluster);
      if (it != live.end() && it->second == session) {
        live.erase(it);
        std::lock_guard lock(mu);
        clusters[session->cluster].connected = false;
      }
    }
    log::Info("agent disconnected", {{"cluster", session->cluster}, {"session", session->id},
                                     {"reason", reason}});
  }

  std::vector<ClusterStatus> ClustersCopy() const {
    std::lock_guard lock(mu);
    std::vector<ClusterStatus> out;
    for (const auto& [name, c] : clusters) out.push_back(c);
    return out;
  }

  // ---- requests -------------------------------------------------------------

  void StartRequest(const std::string& cluster, const std::string& kind, const std::string& payload,
                    std::chrono::milliseconds timeout, std::function<void(RequestResult)> done,
                    std::function<void(std::string)> progress) {
    auto it = live.find(cluster);
    if (stopped || it == live.end() || it->second->queue.closing()) {
      return done({RequestResult::Status::kNotConnected, {}, "cluster not connected: " + cluster});
    }
    auto session = it->second;
    if (static_cast<int>(session->pending.size()) >= options.max_in_flight_requests) {
      return done({RequestResult::Status::kBusy, {},
                   fmt::format("{} requests already in flight", session->pending.size())});
    }
    protocol::Request req;
    req.id = request_id_prefix + std::to_string(++next_request);
    req.kind = kind;
    req.timeout_ms = timeout.count();
    req.payload = payload.empty() ? "{}" : payload;
    std::string error;
    auto text = protocol::Encode(req, &error);
    if (!text) return done({RequestResult::Status::kInvalid, {}, error});
    if (static_cast<int64_t>(text->size()) > options.max_message_bytes) {
      return done({RequestResult::Status::kInvalid, {}, "request exceeds the message size limit"});
    }
    auto timer = std::make_shared<asio::steady_timer>(io);
    timer->expires_after(timeout);
    std::weak_ptr<Session> weak = session;
    std::string id = req.id;
    timer->async_wait([weak, id](boost::system::error_code ec) {
      if (ec) return;
      auto s = weak.lock();
      if (!s) return;
      auto p = s->pending.find(id);
      if (p == s->pending.end()) return;
      auto cb = std::move(p->second.done);
      s->pending.erase(p);
      cb({RequestResult::Status::kTimeout, {}, "no response within the timeout"});
    });
    session->pending.emplace(id, Pending{std::move(done), timer, std::move(progress)});
    session->queue.Push(std::move(*text));
  }

  void SendRequestAsync(const std::string& cluster, const std::string& kind,
                        const std::string& payload, std::chrono::milliseconds timeout,
                        std::function<void(RequestResult)> done,
                        std::function<void(std::string)> progress = {}) {
    if (stopped) return done({RequestResult::Status::kStopped, {}, "hub stopping"});
    asio::post(io, [self = shared_from_this(), cluster, kind, payload, timeout,
                    done = std::move(done), progress = std::move(progress)]() mutable {
      self->StartRequest(cluster, kind, payload, timeout, std::move(done), std::move(progress));
    });
  }

  awaitable<void> Shutdown() {
    boost::system::error_code ec;
    if (acceptor) acceptor->close(ec);
    for (const auto& s : sessions) {
      for (auto& [id, p] : s->pending) {
        p.timer->cancel();
        p.done({RequestResult::Status::kStopped, {}, "hub stopping"});
      }
      s->pending.clear();
      s->queue.Close(protocol::kCloseGoingAway, "hub shutting down");
    }
    asio::steady_timer t(io);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!sessions.empty() && std::chrono::steady_clock::now() < deadline) {
      t.expires_after(std::chrono::milliseconds(20));
      co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    io.stop();
  }
};

Hub::Hub(HubOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->options = std::move(options);
}

Hub::~Hub() { Stop(); }

void Hub::OnMessage(std::function<void(const std::string&, const Message&)> cb) {
  impl_->on_message = std::move(cb);
}

bool Hub::Start(std::string* error) {
  Impl& d = *impl_;
  const HubOptions& o = d.options;
  if (d.started) {
    if (error) *error = "hub already started";
    return false;
  }
  if (o.tokens_file.empty()) {
    if (error) *error = "a tokens file is required";
    return false;
  }
  d.tokens = std::make_unique<TokenStore>(o.tokens_file);
  if (!d.tokens->Load(error)) return false;
  bool has_tls = !o.tls_cert_file.empty() || !o.tls_key_file.empty();
  if (has_tls) {
    d.tls = net::MakeTlsServerContext(o.tls_cert_file, o.tls_key_file, error);
    if (!d.tls) return false;
  } else if (!o.allow_plain_ws) {
    if (error) *error = "TLS certificate and key are required (plain ws needs allow_plain_ws)";
    return false;
  }
  // The welcome carries both limits; out of the protocol's ranges
  // (docs/protocol.md, `welcome`) no agent could accept it.
  if (o.max_message_bytes < protocol::kMinMaxMessageBytes || o.max_message_bytes > INT32_MAX ||
      o.max_in_flight_requests < 1 || o.max_in_flight_requests > 65535 ||
      o.max_events_per_cluster < 1) {
    if (error) {
      *error = fmt::format("max_message_bytes must be {}..{}, max_in_flight_requests 1..65535 and "
                           "max_events_per_cluster >= 1",
                           protocol::kMinMaxMessageBytes, INT32_MAX);
    }
    return false;
  }
  StateStoreOptions store_options;
  store_options.path = o.state_file;
  store_options.max_events_per_cluster = o.max_events_per_cluster;
  d.store = StateStore::Open(store_options, error);
  if (!d.store) return false;
  {
    std::vector<StoredCluster> stored;
    if (!d.store->Clusters(&stored, error)) return false;
    std::lock_guard lock(d.mu);
    for (const StoredCluster& c : stored) {
      ClusterStatus& status = d.clusters[c.name];
      status.name = c.name;
      status.last_ack = c.last_ack;
    }
  }
  boost::system::error_code ec;
  auto address = asio::ip::make_address(o.bind_address, ec);
  if (ec) {
    if (error) *error = "invalid bind address " + o.bind_address;
    return false;
  }
  tcp::endpoint endpoint(address, o.port);
  d.acceptor.emplace(d.io);
  d.acceptor->open(endpoint.protocol(), ec);
  if (!ec) d.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor->bind(endpoint, ec);
  if (!ec) d.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    if (error) *error = fmt::format("cannot listen on {}:{}: {}", o.bind_address, o.port, ec.message());
    return false;
  }
  d.tunnel_port = d.acceptor->local_endpoint(ec).port();

  if (o.api_enabled) {
    // The API can scale workloads and install charts: off loopback it needs
    // users (bearer tokens) and TLS (so the tokens are not sent in clear).
    if (!IsLoopbackAddress(o.api_bind_address) && (o.users_file.empty() || !o.api_tls)) {
      if (error) {
        *error = fmt::format(
            "the REST API on {} is reachable from other hosts and sends actions to clusters: "
            "it needs a users file (--users-file) and TLS (--api-tls); or bind it to a loopback "
            "address",
            o.api_bind_address);
      }
      return false;
    }
    if (!o.users_file.empty()) {
      d.users = std::make_unique<ApiUserStore>(o.users_file);
      if (!d.users->Load(error)) return false;
    } else {
      log::Warn("REST API without authentication: anyone on this host may read state and send "
                "actions (loopback only; --users-file requires bearer tokens)",
                {{"address", o.api_bind_address}});
    }
    net::HttpServerOptions api_options;
    api_options.bind_address = o.api_bind_address;
    api_options.port = o.api_port;
    api_options.threads = 2;
    // A request body becomes one tunnel message (a chart archive or
    // manifests inside): the message limit bounds it, not the default 1 MiB.
    api_options.max_body_bytes = static_cast<size_t>(o.max_message_bytes);
    if (o.api_tls) {
      api_options.tls_cert_file = o.tls_cert_file;
      api_options.tls_key_file = o.tls_key_file;
    }
    d.api = std::make_unique<net::HttpServer>(api_options);
    std::weak_ptr<Impl> weak = impl_;
    RestApiBackend backend;
    backend.clusters = [weak] {
      auto self = weak.lock();
      return self ? self->ClustersCopy() : std::vector<ClusterStatus>{};
    };
    backend.known = [weak](const std::string& cluster) {
      auto self = weak.lock();
      if (!self) return false;
      std::lock_guard lock(self->mu);
      return self->clusters.count(cluster) > 0;
    };
    backend.send_request = [weak](const std::string& cluster, const std::string& kind,
                                  const std::string& payload, std::chrono::milliseconds timeout,
                                  std::function<void(RequestResult)> done,
                                  std::function<void(std::string)> progress) {
      auto self = weak.lock();
      if (!self) return done({RequestResult::Status::kStopped, {}, "hub stopping"});
      self->SendRequestAsync(cluster, kind, payload, timeout, std::move(done), std::move(progress));
    };
    d.rest = std::make_unique<RestApi>(d.users.get(), d.store.get(), std::move(backend));
    d.rest->Install(*d.api);
    InstallConsole(*d.api);
    if (!d.api->Start(error)) return false;
  }
  d.started = true;
  asio::co_spawn(d.io, d.Accept(), asio::detached);
  d.thread = std::thread([&d] {
    for (;;) {
      try {
        d.io.run();
        return;
      } catch (const std::exception& e) {
        log::Error("hub thread caught an exception", {{"error", e.what()}});
      }
    }
  });
  log::Info("hub listening", {{"tunnelPort", d.tunnel_port}, {"tls", has_tls},
                              {"apiPort", d.api ? d.api->port() : 0},
                              {"stateFile", o.state_file.empty() ? "(memory)" : o.state_file}});
  return true;
}

uint16_t Hub::tunnel_port() const { return impl_->tunnel_port; }
uint16_t Hub::api_port() const { return impl_->api ? impl_->api->port() : 0; }

void Hub::Stop() {
  Impl& d = *impl_;
  if (!d.started || d.stopped.exchange(true)) return;
  if (d.api) d.api->Stop();
  asio::co_spawn(d.io, d.Shutdown(), asio::detached);
  d.thread.join();
}

std::vector<ClusterStatus> Hub::Clusters() const { return impl_->ClustersCopy(); }

void Hub::SendRequest(const std::string& cluster, const std::string& kind,
                      const std::string& payload_json, std::chrono::milliseconds timeout,
                      std::function<void(RequestResult)> done,
                      std::function<void(std::string)> progress) {
  if (!impl_->started) return done({RequestResult::Status::kStopped, {}, "hub not started"});
  impl_->SendRequestAsync(cluster, kind, payload_json, timeout, std::move(done),
                          std::move(progress));
}

std::string ClustersJson(const std::vector<ClusterStatus>& clusters) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  w.Key("clusters");
  w.StartArray();
  for (const ClusterStatus& c : clusters) {
    w.StartObject();
    str("name", c.name);
    w.Key("connected");
    w.Bool(c.connected);
    str("sessionId", c.session_id);
    str("remote", c.remote);
    str("clusterUid", c.hello.cluster.uid);
    str("clusterName", c.hello.cluster.name);
    str("agentVersion", c.hello.agent_version);
    str("kubernetesVersion", c.hello.cluster.kubernetes_version);
    str("node", c.hello.node);
    str("pod", c.hello.pod);
    str("connectedSince", Rfc3339(c.connected_since));
    str("lastSeen", Rfc3339(c.last_seen));
    w.Key("lastAck");
    w.Int64(c.last_ack);
    w.Key("sessionsTotal");
    w.Uint64(c.sessions_total);
    w.Key("supersededTotal");
    w.Uint64(c.superseded_total);
    w.Key("maxConcurrentSessions");
    w.Int(c.max_concurrent_sessions);
    w.Key("messagesIn");
    w.Uint64(c.messages_in);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

int RunHub(const HubOptions& options) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  // Block before any thread starts so every thread inherits the mask and
  // only sigwait below sees the signals.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  Hub hub(options);
  std::string error;
  if (!hub.Start(&error)) {
    log::Error("hub failed to start", {{"error", error}});
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  log::Info("hub stopping", {{"signal", sig}});
  hub.Stop();
  return 0;
}

}  // namespace srexpert::hub
