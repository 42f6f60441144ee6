// TunnelClient end to end: against the real hub (in process, and as a
// separate process for SIGSTOP/kill), through a real tinyproxy, and against a
// scripted fake backend for misbehaviour the hub never shows.
#include "agent/tunnel_client.h"

#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "common/log.h"
#include "hub/hub.h"
#include "protocol/messages.h"
#include "test/net/test_support.h"

using namespace srexpert;
using namespace srexpert::agent;
using srexpert::testing::TempDir;
using srexpert::testing::TestPki;
using srexpert::testing::WaitUntil;
using srexpert::testing::WriteFile;
using std::chrono::milliseconds;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

// ---- log capture -------------------------------------------------------------

std::mutex g_log_mu;
std::vector<std::string> g_log_lines;

void CaptureLog(std::string_view line) {
  std::lock_guard lock(g_log_mu);
  g_log_lines.emplace_back(line);
}

struct LogCapture {
  LogCapture() {
    std::lock_guard lock(g_log_mu);
    g_log_lines.clear();
    log::SetSink(&CaptureLog);
  }
  ~LogCapture() { log::SetSink(nullptr); }
  bool Contains(std::string_view s) const {
    std::lock_guard lock(g_log_mu);
    for (const auto& l : g_log_lines) {
      if (l.find(s) != std::string::npos) return true;
    }
    return false;
  }
};

// ---- recording callbacks ------------------------------------------------------

// Declare it before the TunnelClient it is attached to: the client's thread
// calls into it until the client is destroyed (ThreadSanitizer found tests
// that destroyed the recorder first).
struct Recorder {
  std::mutex mu;
  std::vector<protocol::Welcome> welcomes;
  std::vector<protocol::Message> messages;
  std::vector<DisconnectInfo> disconnects;

  void Attach(TunnelClient& c) {
    c.OnConnected([this](const protocol::Welcome& w) {
      std::lock_guard lock(mu);
      welcomes.push_back(w);
    });
    c.OnMessage([this](const protocol::Message& m) {
      std::lock_guard lock(mu);
      messages.push_back(m);
    });
    c.OnDisconnected([this](const DisconnectInfo& d) {
      std::lock_guard lock(mu);
      disconnects.push_back(d);
    });
  }
  size_t Welcomes() {
    std::lock_guard lock(mu);
    return welcomes.size();
  }
  size_t Disconnects() {
    std::lock_guard lock(mu);
    return disconnects.size();
  }
  DisconnectInfo Disconnect(size_t i) {
    std::lock_guard lock(mu);
    return disconnects.at(i);
  }
  std::vector<DisconnectInfo> AllDisconnects() {
    std::lock_guard lock(mu);
    return disconnects;
  }
  bool HasAck(int64_t seq) {
    std::lock_guard lock(mu);
    for (const auto& m : messages) {
      if (auto* a = std::get_if<protocol::Ack>(&m); a && a->seq == seq) return true;
    }
    return false;
  }
};

// ---- fixture ----------------------------------------------------------------------

struct Env {
  TempDir dir;
  TestPki pki{dir.path()};
  std::string tokens_file = dir.File("tokens.json");
  std::string token_file = dir.File("token");

  Env() {
    WriteFile(tokens_file, R"({"clusters":[{"name":"cluster-a","token":"tok-a"},
                                           {"name":"cluster-b","token":"tok-b"}]})");
    WriteFile(token_file, "tok-a\n");
  }

  std::unique_ptr<hub::Hub> StartHub(uint16_t port = 0,
                                     std::function<void(hub::HubOptions&)> tweak = {}) {
    hub::HubOptions o;
    o.bind_address = "127.0.0.1";
    o.port = port;
    o.api_port = 0;
    o.tls_cert_file = pki.server_cert;
    o.tls_key_file = pki.server_key;
    o.tokens_file = tokens_file;
    if (tweak) tweak(o);
    auto h = std::make_unique<hub::Hub>(o);
    std::string error;
    INFO(error);
    REQUIRE(h->Start(&error));
    return h;
  }

  TunnelOptions Options(uint16_t port) const {
    TunnelOptions o;
    o.url = "wss://localhost:" + std::to_string(port) + "/api/v1/tunnel";
    o.token_file = token_file;
    o.tls.use_system_cas = false;
    o.tls.ca_file = pki.ca_cert;
    o.proxy.use_environment = false;
    o.hello.agent_version = "0.1.0-test";
    o.hello.cluster = {"uid-1", "test-cluster", "v1.30.0"};
    o.hello.node = "node-1";
    o.hello.pod = "agent-abc";
    o.hello.capabilities = {"snapshot", "delta"};
    o.backoff.initial = milliseconds(100);
    o.backoff.max = milliseconds(1000);
    o.backoff.multiplier = 2.0;
    o.handshake_timeout = milliseconds(5000);
    o.connect_timeout = milliseconds(5000);
    return o;
  }
};

std::optional<hub::ClusterStatus> FindCluster(hub::Hub& h, const std::string& name) {
  for (auto& c : h.Clusters()) {
    if (c.name == name) return c;
  }
  return std::nullopt;
}

bool Connected(hub::Hub& h, const std::string& name) {
  auto c = FindCluster(h, name);
  return c && c->connected;
}

// ---- a scripted backend (plain ws) ----------------------------------------------------

// What a FakeBackend does around its script.
struct FakeBackendScript {
  // Sent after the hello; "" sends none. Raw text, so that a welcome the
  // codec would refuse to encode can be sent too.
  std::string welcome = *protocol::Encode(protocol::Welcome{"fake-session", 1, 0, {}});
  // Connections served one after the other, each running the script.
  int connections = 1;
};

class FakeBackend {
 public:
  using Ws = websocket::stream<tcp::socket>;
  using Script = FakeBackendScript;
  explicit FakeBackend(std::function<void(Ws&)> after_welcome, Script script = {})
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, run = std::move(after_welcome), script = std::move(script)] {
      try {
        for (int i = 0; i < script.connections; ++i) {
          tcp::socket socket(io_);
          acceptor_.accept(socket);
          Ws ws(std::move(socket));
          ws.set_option(websocket::stream_base::decorator([](websocket::response_type& r) {
            r.set(boost::beast::http::field::sec_websocket_protocol, "srexpert.v1");
          }));
          ws.accept();
          beast::flat_buffer buf;
          ws.read(buf);  // hello
          ws.text(true);
          if (!script.welcome.empty()) ws.write(asio::buffer(script.welcome));
          run(ws);
        }
      } catch (const std::exception& e) {
        error_ = e.what();
      }
    });
  }
  ~FakeBackend() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return port_; }

  // Reads until the client closes; returns its close code (0: the TCP
  // connection ended without a close frame).
  static int ReadUntilClosed(Ws& ws, std::vector<std::string>* texts) {
    for (;;) {
      beast::flat_buffer buf;
      boost::system::error_code ec;
      ws.read(buf, ec);
      if (ec) return ws.reason().code;
      texts->push_back(beast::buffers_to_string(buf.data()));
    }
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::string error_;
};

}  // namespace

TEST_CASE("the client connects over wss, says hello and gets acks", "[agent][tunnel]") {
  Env env;
  auto h = env.StartHub();
  RandomSource random(1);
  auto registry = std::make_shared<prometheus::Registry>();
  Recorder rec;
  TunnelClient client(env.Options(h->tunnel_port()), SystemClock(), random, registry);
  rec.Attach(client);
  CHECK(client.Send(protocol::Ack{1}) == SendStatus::kNotConnected);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Welcomes() == 1; }));
  CHECK(client.connected());
  CHECK(rec.welcomes[0].version == 1);
  CHECK(rec.welcomes[0].last_ack == 0);

  auto c = FindCluster(*h, "cluster-a");
  REQUIRE(c);
  CHECK(c->connected);
  CHECK(c->hello.pod == "agent-abc");
  CHECK(c->hello.cluster.uid == "uid-1");
  CHECK(c->session_id == client.Stats().session_id);

  protocol::StreamMessage snap{protocol::StreamMessage::Kind::kSnapshot, 1, R"({"snapshot":"s","part":0,"kinds":[],"objects":[]})", true};
  CHECK(client.Send(snap) == SendStatus::kOk);
  REQUIRE(WaitUntil([&] { return rec.HasAck(1); }));
  auto s = client.Stats();
  CHECK(s.connects == 1);
  CHECK(s.messages_out >= 2);  // hello + snapshot
  CHECK(s.messages_in >= 2);   // welcome + ack
  CHECK(s.bytes_out > 0);
  client.RefreshMetrics();
  std::string text = prometheus::TextSerializer().Serialize(registry->Collect());
  CHECK(text.find("srexpert_tunnel_connected 1") != std::string::npos);
  CHECK(text.find("srexpert_tunnel_connects_total 1") != std::string::npos);
  CHECK(text.find("srexpert_tunnel_messages_total{direction=\"out\"}") != std::string::npos);
  CHECK(text.find("srexpert_tunnel_last_pong_age_seconds") != std::string::npos);

  client.Stop();
  CHECK_FALSE(client.connected());
  CHECK(client.Send(snap) == SendStatus::kStopped);
  REQUIRE(WaitUntil([&] { return !Connected(*h, "cluster-a"); }));
}

TEST_CASE("agent and hub agree on srexpert.v1.deflate and fall back to srexpert.v1 when either lacks it",
          "[agent][tunnel]") {
  struct Case {
    bool agent_offers, hub_accepts;
    std::string want;
  };
  for (const auto& c : {Case{true, true, "srexpert.v1.deflate"}, Case{true, false, "srexpert.v1"},
                        Case{false, true, "srexpert.v1"}}) {
    INFO("agent offers deflate: " << c.agent_offers << ", hub accepts: " << c.hub_accepts);
    Env env;
    auto h = env.StartHub(0, [&](hub::HubOptions& o) { o.message_deflate = c.hub_accepts; });
    RandomSource random(1);
    auto options = env.Options(h->tunnel_port());
    options.message_deflate = c.agent_offers;
    Recorder rec;
    TunnelClient client(options, SystemClock(), random);
    rec.Attach(client);
    std::string error;
    REQUIRE(client.Start(&error));
    REQUIRE(WaitUntil([&] { return rec.Welcomes() == 1; }));
    CHECK(client.Stats().subprotocol == c.want);
    // Both directions work: a snapshot and deltas out, their acks back.
    protocol::StreamMessage snap{protocol::StreamMessage::Kind::kSnapshot, 1,
                                 R"({"snapshot":"s","part":0,"kinds":[],"objects":[]})", true};
    CHECK(client.Send(snap) == SendStatus::kOk);
    for (int seq = 2; seq <= 20; ++seq) {
      protocol::StreamMessage delta{protocol::StreamMessage::Kind::kDelta, seq,
                                    R"({"changes":[{"op":"added","kind":"Pod","namespace":"a","name":"p)" +
                                        std::to_string(seq) + R"(","object":{"spec":{"n":1}}}]})",
                                    true};
      CHECK(client.Send(delta) == SendStatus::kOk);
    }
    REQUIRE(WaitUntil([&] { return rec.HasAck(20); }));
    client.Stop();
  }
}

TEST_CASE("Send refuses oversize and invalid messages and reports not connected",
          "[agent][tunnel]") {
  Env env;
  auto h = env.StartHub(0, [](hub::HubOptions& o) { o.max_message_bytes = protocol::kMinMaxMessageBytes; });
  RandomSource random(1);
  auto options = env.Options(h->tunnel_port());
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  CHECK(client.Send(protocol::Ack{1}) == SendStatus::kNotConnected);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return client.connected(); }));
  std::string big = R"({"s":")" + std::string(100000, 'x') + "\"}";
  // The hub's welcome limit (64 KiB) applies, though the client allows 4 MiB.
  CHECK(client.Send(protocol::StreamMessage{protocol::StreamMessage::Kind::kDelta, 1, big, true}) ==
        SendStatus::kTooLarge);
  CHECK(client.Send(protocol::StreamMessage{protocol::StreamMessage::Kind::kDelta, 0, "{}", true}) ==
        SendStatus::kInvalid);
}

TEST_CASE("backend requests are answered and unknown kinds get 'unsupported'", "[agent][tunnel]") {
  Env env;
  auto h = env.StartHub();
  RandomSource random(1);
  TunnelClient client(env.Options(h->tunnel_port()), SystemClock(), random);
  client.HandleRequests("echo", [](const protocol::Request& req, Reply reply) {
    std::thread([req, reply] {
      reply(protocol::Response{req.id, true, R"({"echo":)" + req.payload + "}", {}});
    }).detach();
  });
  client.HandleRequests("boom", [](const protocol::Request&, Reply) -> void {
    throw std::runtime_error("handler failure");
  });
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return Connected(*h, "cluster-a"); }));

  std::promise<hub::RequestResult> echo, unknown, boom;
  h->SendRequest("cluster-a", "echo", R"({"x":1})", std::chrono::seconds(10),
                 [&](hub::RequestResult r) { echo.set_value(r); });
  h->SendRequest("cluster-a", "scan.run", "{}", std::chrono::seconds(10),
                 [&](hub::RequestResult r) { unknown.set_value(r); });
  h->SendRequest("cluster-a", "boom", "{}", std::chrono::seconds(10),
                 [&](hub::RequestResult r) { boom.set_value(r); });
  auto e = echo.get_future().get();
  REQUIRE(e.status == hub::RequestResult::Status::kOk);
  CHECK(e.response.ok);
  CHECK(e.response.payload == R"({"echo":{"x":1}})");
  auto u = unknown.get_future().get();
  REQUIRE(u.status == hub::RequestResult::Status::kOk);
  CHECK_FALSE(u.response.ok);
  CHECK(u.response.error.code == "unsupported");
  CHECK(u.response.error.message == "unknown request kind \"scan.run\"");
  auto b = boom.get_future().get();
  REQUIRE(b.status == hub::RequestResult::Status::kOk);
  CHECK(b.response.error.code == "internal");
}

TEST_CASE("progress reports reach a backend that offers them, before the response, and never "
          "after it",
          "[agent][tunnel][progress]") {
  Env env;
  auto h = env.StartHub();
  RandomSource random(1);
  TunnelClient client(env.Options(h->tunnel_port()), SystemClock(), random);
  client.HandleRequests("drain", [&client](const protocol::Request& req, Reply reply) {
    std::thread([&client, req, reply] {
      client.SendProgress(req.id, R"({"evicted":"a"})");
      client.SendProgress(req.id, R"({"evicted":"b"})");
      client.SendProgress("not-a-request-of-this-session", "{}");
      reply(protocol::Response{req.id, true, "{}", {}});
      // Answered: a late report is not sent.
      client.SendProgress(req.id, R"({"late":true})");
    }).detach();
  });
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return Connected(*h, "cluster-a"); }));

  std::mutex mu;
  std::vector<std::string> reports;
  std::promise<hub::RequestResult> done;
  h->SendRequest(
      "cluster-a", "drain", "{}", std::chrono::seconds(10),
      [&](hub::RequestResult r) { done.set_value(r); },
      [&](std::string report) {
        std::lock_guard lock(mu);
        reports.push_back(std::move(report));
      });
  auto r = done.get_future().get();
  REQUIRE(r.status == hub::RequestResult::Status::kOk);
  CHECK(r.response.ok);
  // The hub may still be reading a late report if one were sent: give it the
  // chance to show up before checking it did not.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::lock_guard lock(mu);
  CHECK(reports == std::vector<std::string>{R"({"evicted":"a"})", R"({"evicted":"b"})"});
}

TEST_CASE("a rejected token waits the maximum delay, is reported and never logged",
          "[agent][tunnel][auth]") {
  LogCapture logs;
  Env env;
  WriteFile(env.token_file, "tok-wrong-secret-value\n");
  auto h = env.StartHub();
  RandomSource random(1);
  auto options = env.Options(h->tunnel_port());
  options.backoff.max = milliseconds(700);
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 2; }));
  for (const auto& d : rec.AllDisconnects()) {
    CHECK(d.auth_rejected);
    CHECK(d.reason == "backend rejected token: HTTP 401 Unauthorized");
    CHECK(d.next_delay == milliseconds(700));
    CHECK_FALSE(d.was_connected);
  }
  client.Stop();
  CHECK(client.Stats().auth_rejections >= 2);
  CHECK(client.Stats().connects == 0);
  CHECK(logs.Contains("\"msg\":\"backend rejected token\""));
  CHECK_FALSE(logs.Contains("tok-wrong-secret-value"));
}

TEST_CASE("a rotated token file is used on the next connect", "[agent][tunnel][auth]") {
  LogCapture logs;
  Env env;
  auto h = env.StartHub();
  uint16_t port = h->tunnel_port();
  RandomSource random(1);
  Recorder rec;
  TunnelClient client(env.Options(port), SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return Connected(*h, "cluster-a"); }));

  WriteFile(env.token_file, "tok-b\n");  // the kubelet swaps the Secret file
  h->Stop();  // the connection drops; the reconnect must read the file again
  h = env.StartHub(port);
  REQUIRE(WaitUntil([&] { return Connected(*h, "cluster-b"); }));
  CHECK_FALSE(FindCluster(*h, "cluster-a"));
  // The hub lists the session before the client's welcome callback has run
  // (seen under ThreadSanitizer's slower threads).
  CHECK(WaitUntil([&] { return rec.Welcomes() == 2; }));
  client.Stop();
  CHECK_FALSE(logs.Contains("tok-a"));
  CHECK_FALSE(logs.Contains("tok-b"));
}

TEST_CASE("a hub restart is followed by a reconnect with growing jittered delays",
          "[agent][tunnel]") {
  Env env;
  auto h = env.StartHub();
  uint16_t port = h->tunnel_port();
  RandomSource random(1);
  auto options = env.Options(port);
  options.backoff.initial = milliseconds(50);
  options.backoff.max = milliseconds(400);
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Welcomes() == 1; }));

  h->Stop();
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 5; }));
  h = env.StartHub(port);
  REQUIRE(WaitUntil([&] { return rec.Welcomes() == 2; }));
  auto ds = rec.AllDisconnects();
  // The first is the session ending with "going away" (1001) ...
  CHECK(ds[0].was_connected);
  CHECK(ds[0].close_code == 1001);
  CHECK(ds[0].reason == "closed by backend: 1001 going away (hub shutting down)");
  // ... then refused connections, each within its full-jitter window.
  int64_t cap = 50;
  for (size_t i = 0; i < ds.size(); ++i) {
    INFO("attempt " << i << ": " << ds[i].reason);
    CHECK(ds[i].next_delay.count() >= 0);
    CHECK(ds[i].next_delay.count() < cap);
    cap = std::min<int64_t>(cap * 2, 400);
    if (i > 0) CHECK(ds[i].reason.find("Connection refused") != std::string::npos);
  }
  CHECK(client.Stats().connects == 2);
}

TEST_CASE("a wrong CA fails with a clear error and never connects", "[agent][tunnel][tls]") {
  Env env;
  auto h = env.StartHub();
  RandomSource random(1);
  auto options = env.Options(h->tunnel_port());
  options.tls.ca_file = env.pki.other_ca_cert;
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  auto d = rec.Disconnect(0);
  CHECK(d.reason == "certificate verify failed: unable to get local issuer certificate (host localhost)");
  CHECK_FALSE(d.auth_rejected);
  client.Stop();
  CHECK(rec.Welcomes() == 0);
  CHECK_FALSE(FindCluster(*h, "cluster-a"));
}

TEST_CASE("invalid options are refused at Start", "[agent][tunnel]") {
  Env env;
  RandomSource random(1);
  std::string error;
  auto o = env.Options(443);
  o.url = "ws://localhost:1/api/v1/tunnel";
  CHECK_FALSE(TunnelClient(o, SystemClock(), random).Start(&error));
  CHECK(error == "backend URL uses ws:// (no TLS); set the insecure option to allow it");
  o.url = "https://localhost/";
  CHECK_FALSE(TunnelClient(o, SystemClock(), random).Start(&error));
  CHECK(error == "backend URL must start with wss:// (or ws:// when insecure)");
  o.url = "wss://user:pw@localhost/";
  CHECK_FALSE(TunnelClient(o, SystemClock(), random).Start(&error));
  o.url = "wss://localhost:99999/";
  CHECK_FALSE(TunnelClient(o, SystemClock(), random).Start(&error));
  CHECK(error == "backend URL has an invalid port");
  o = env.Options(443);
  o.tls.ca_file = "/nonexistent.pem";
  CHECK_FALSE(TunnelClient(o, SystemClock(), random).Start(&error));
  CHECK(error.find("cannot load CA bundle /nonexistent.pem") == 0);
  o = env.Options(443);
  o.hello.cluster.uid = "";
  CHECK_FALSE(TunnelClient(o, SystemClock(), random).Start(&error));
  CHECK(error == "invalid hello: hello.cluster.uid: length must be 1..128 bytes");
  o = env.Options(443);
  o.max_message_bytes = protocol::kMinMaxMessageBytes - 1;
  CHECK_FALSE(TunnelClient(o, SystemClock(), random).Start(&error));
  CHECK(error == "max_message_bytes must be 65536..2147483647");
}

TEST_CASE("a missing token file is a reported, retried failure", "[agent][tunnel][auth]") {
  Env env;
  auto h = env.StartHub();
  RandomSource random(1);
  auto options = env.Options(h->tunnel_port());
  options.token_file = env.dir.File("not-yet-mounted");
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  CHECK(rec.Disconnect(0).reason == "cannot read token file " + env.dir.File("not-yet-mounted"));
  WriteFile(env.dir.File("not-yet-mounted"), "tok-a");
  REQUIRE(WaitUntil([&] { return client.connected(); }));
}

TEST_CASE("an oversize message from the backend closes with 4413 and reconnects",
          "[agent][tunnel]") {
  Env env;
  auto h = env.StartHub();
  RandomSource random(1);
  auto options = env.Options(h->tunnel_port());
  options.max_message_bytes = protocol::kMinMaxMessageBytes;
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return client.connected(); }));
  std::promise<hub::RequestResult> result;
  std::string payload = R"({"blob":")" + std::string(100000, 'b') + "\"}";
  h->SendRequest("cluster-a", "echo", payload, std::chrono::seconds(10),
                 [&](hub::RequestResult r) { result.set_value(r); });
  CHECK(result.get_future().get().status == hub::RequestResult::Status::kDisconnected);
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  CHECK(rec.Disconnect(0).close_code == protocol::kCloseTooBig);
  REQUIRE(WaitUntil([&] { return rec.Welcomes() == 2; }));
}

TEST_CASE("a malformed message from the backend gets an error and close 4400",
          "[agent][tunnel]") {
  std::vector<std::string> received;
  std::promise<int> close_code;
  FakeBackend backend([&](FakeBackend::Ws& ws) {
    ws.write(asio::buffer(std::string("{\"v\":1,\"type\":\"request\",\"id\":7}")));
    close_code.set_value(FakeBackend::ReadUntilClosed(ws, &received));
  });
  Env env;
  RandomSource random(1);
  auto options = env.Options(backend.port());
  options.url = "ws://127.0.0.1:" + std::to_string(backend.port()) + "/api/v1/tunnel";
  options.allow_insecure = true;
  TunnelClient client(options, SystemClock(), random);
  std::string error;
  REQUIRE(client.Start(&error));
  CHECK(close_code.get_future().get() == protocol::kCloseProtocolViolation);
  REQUIRE(received.size() == 1);
  auto d = protocol::Decode(received[0]);
  REQUIRE(d.ok());
  auto err = std::get<protocol::Error>(*d.message);
  CHECK(err.code == "invalid");
  CHECK(err.message == "request.id: must be a string");
}

TEST_CASE("a peer that stops answering pings is declared dead", "[agent][tunnel][keepalive]") {
  // The fake backend never reads after the welcome, so Beast never pongs.
  std::atomic<bool> release{false};
  FakeBackend backend([&](FakeBackend::Ws&) {
    WaitUntil([&] { return release.load(); }, std::chrono::seconds(30));
  });
  Env env;
  RandomSource random(1);
  auto options = env.Options(backend.port());
  options.url = "ws://127.0.0.1:" + std::to_string(backend.port()) + "/api/v1/tunnel";
  options.allow_insecure = true;
  options.ping_interval = milliseconds(200);
  options.pong_timeout = milliseconds(300);
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  release = true;
  auto d = rec.Disconnect(0);
  CHECK(d.was_connected);
  CHECK(d.reason == "dead peer: no pong within 300 ms");
  CHECK(client.Stats().dead_peers == 1);
}

TEST_CASE("pongs keep a healthy session open", "[agent][tunnel][keepalive]") {
  Env env;
  auto h = env.StartHub();
  RandomSource random(1);
  auto options = env.Options(h->tunnel_port());
  options.ping_interval = milliseconds(100);
  options.pong_timeout = milliseconds(1000);
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return client.Stats().last_pong_age.count() >= 0; }));
  std::this_thread::sleep_for(milliseconds(1500));
  CHECK(rec.Disconnects() == 0);
  CHECK(client.Stats().last_pong_age < milliseconds(1000));
}

TEST_CASE("a frozen hub process (SIGSTOP) is detected and the client reconnects after SIGCONT",
          "[agent][tunnel][keepalive]") {
  Env env;
  uint16_t port = srexpert::testing::FreePort();
  srexpert::testing::ChildProcess hub_process(
      {SRX_HUB_TESTD, "--port", std::to_string(port), "--tokens", env.tokens_file, "--cert",
       env.pki.server_cert, "--key", env.pki.server_key},
      "", env.dir.File("hub.log"));
  REQUIRE(srexpert::testing::WaitForPort(port));
  RandomSource random(1);
  auto options = env.Options(port);
  options.ping_interval = milliseconds(300);
  // The queue must fill up before the missing pong is noticed; under
  // ThreadSanitizer the send loop below runs ten times slower.
#if defined(__SANITIZE_THREAD__)
  options.pong_timeout = milliseconds(5000);
#else
  options.pong_timeout = milliseconds(700);
#endif
  options.max_queue_bytes = 512 * 1024;
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Welcomes() == 1; }));

  hub_process.Signal(SIGSTOP);
  // The outbound queue is bounded: with the peer frozen it fills up. The
  // padding is random so permessage-deflate cannot shrink it to nothing
  // (a repeated character compresses ~600x and the frozen peer's kernel
  // buffers would swallow every message).
  std::mt19937 gen(7);
  std::string pad(60000, ' ');
  for (auto& ch : pad) ch = static_cast<char>('a' + gen() % 26);
  std::string chunk = R"({"pad":")" + pad + "\"}";
  SendStatus last = SendStatus::kOk;
  for (int64_t seq = 1; seq < 1000 && last == SendStatus::kOk; ++seq) {
    last = client.Send(protocol::StreamMessage{protocol::StreamMessage::Kind::kDelta, seq, chunk, true});
  }
  CHECK(last == SendStatus::kQueueFull);

  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  auto d = rec.Disconnect(0);
  CHECK(d.reason == "dead peer: no pong within " + std::to_string(options.pong_timeout.count()) + " ms");
  CHECK(client.Stats().dead_peers == 1);
  hub_process.Signal(SIGCONT);
  REQUIRE(WaitUntil([&] { return rec.Welcomes() == 2; }, std::chrono::seconds(30)));
  client.Stop();
}

TEST_CASE("Stop() is bounded even when the hub is frozen", "[agent][tunnel][keepalive]") {
  Env env;
  uint16_t port = srexpert::testing::FreePort();
  srexpert::testing::ChildProcess hub_process(
      {SRX_HUB_TESTD, "--port", std::to_string(port), "--tokens", env.tokens_file, "--cert",
       env.pki.server_cert, "--key", env.pki.server_key},
      "", env.dir.File("hub.log"));
  REQUIRE(srexpert::testing::WaitForPort(port));
  RandomSource random(1);
  TunnelClient client(env.Options(port), SystemClock(), random);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return client.connected(); }));
  hub_process.Signal(SIGSTOP);
  auto started = std::chrono::steady_clock::now();
  client.Stop();
  // Generous bound: the close handshake gets 2 s before the socket is dropped.
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  hub_process.Kill();
}

TEST_CASE("a killed hub process is survived: the client reconnects to its successor",
          "[agent][tunnel]") {
  Env env;
  uint16_t port = srexpert::testing::FreePort();
  std::vector<std::string> argv = {SRX_HUB_TESTD, "--port", std::to_string(port), "--tokens",
                                   env.tokens_file, "--cert", env.pki.server_cert, "--key",
                                   env.pki.server_key};
  auto first = std::make_unique<srexpert::testing::ChildProcess>(argv, "", env.dir.File("hub1.log"));
  REQUIRE(srexpert::testing::WaitForPort(port));
  RandomSource random(1);
  Recorder rec;
  TunnelClient client(env.Options(port), SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Welcomes() == 1; }));
  first->Kill();  // SIGKILL: no close frame
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  CHECK(rec.Disconnect(0).was_connected);
  srexpert::testing::ChildProcess second(argv, "", env.dir.File("hub2.log"));
  REQUIRE(WaitUntil([&] { return rec.Welcomes() == 2; }, std::chrono::seconds(30)));
}

TEST_CASE("the tunnel runs through tinyproxy with Basic auth", "[agent][tunnel][proxy]") {
  Env env;
  srexpert::testing::Tinyproxy proxy(env.dir.path(), "agent", "pr0xy-pass");
  REQUIRE(proxy.ok());
  auto h = env.StartHub();
  RandomSource random(1);
  auto options = env.Options(h->tunnel_port());
  options.proxy.proxy_url = "http://agent:pr0xy-pass@127.0.0.1:" + std::to_string(proxy.port());
  TunnelClient client(options, SystemClock(), random);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return Connected(*h, "cluster-a"); }));
  CHECK(proxy.Log().find("CONNECT localhost:" + std::to_string(h->tunnel_port())) !=
        std::string::npos);
}

TEST_CASE("HTTPS_PROXY from the environment is honoured, and NO_PROXY bypasses it",
          "[agent][tunnel][proxy]") {
  Env env;
  srexpert::testing::Tinyproxy proxy(env.dir.path());
  REQUIRE(proxy.ok());
  auto h = env.StartHub();
  RandomSource random(1);
  auto options = env.Options(h->tunnel_port());
  options.proxy.use_environment = true;
  setenv("HTTPS_PROXY", proxy.Url().c_str(), 1);
  setenv("NO_PROXY", "example.com", 1);
  {
    TunnelClient client(options, SystemClock(), random);
    std::string error;
    REQUIRE(client.Start(&error));
    REQUIRE(WaitUntil([&] { return Connected(*h, "cluster-a"); }));
    client.Stop();
  }
  CHECK(proxy.Log().find("CONNECT localhost:") != std::string::npos);
  REQUIRE(WaitUntil([&] { return !Connected(*h, "cluster-a"); }));

  setenv("NO_PROXY", "localhost", 1);
  setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);  // would fail if used
  {
    TunnelClient client(options, SystemClock(), random);
    std::string error;
    REQUIRE(client.Start(&error));
    REQUIRE(WaitUntil([&] { return Connected(*h, "cluster-a"); }));
  }
  unsetenv("HTTPS_PROXY");
  unsetenv("NO_PROXY");
}

TEST_CASE("a proxy refusal is reported with the proxy's status", "[agent][tunnel][proxy]") {
  Env env;
  srexpert::testing::Tinyproxy proxy(env.dir.path(), "agent", "right");
  REQUIRE(proxy.ok());
  auto h = env.StartHub();
  RandomSource random(1);
  auto options = env.Options(h->tunnel_port());
  options.proxy.proxy_url = "http://agent:wrong@127.0.0.1:" + std::to_string(proxy.port());
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  auto reason = rec.Disconnect(0).reason;
  INFO(reason);
  CHECK(reason.find("proxy 127.0.0.1:" + std::to_string(proxy.port()) + " refused CONNECT localhost:") == 0);
  CHECK(reason.find("wrong") == std::string::npos);
}

TEST_CASE("a superseded session waits the maximum delay", "[agent][tunnel]") {
  Env env;
  auto h = env.StartHub();
  RandomSource r1(1), r2(2);
  auto options = env.Options(h->tunnel_port());
  options.backoff.max = milliseconds(60000);
  Recorder rec;
  TunnelClient first(options, SystemClock(), r1);
  rec.Attach(first);
  std::string error;
  REQUIRE(first.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Welcomes() == 1; }));
  TunnelClient second(options, SystemClock(), r2);
  REQUIRE(second.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  auto d = rec.Disconnect(0);
  CHECK(d.close_code == protocol::kCloseSuperseded);
  CHECK(d.next_delay == milliseconds(60000));
  CHECK(second.connected());
  CHECK(FindCluster(*h, "cluster-a")->superseded_total == 1);
}

// ---- protocol rules the backend breaks --------------------------------------------------

namespace {

// Options for a plain ws:// fake backend.
TunnelOptions FakeBackendOptions(const Env& env, const FakeBackend& backend) {
  auto options = env.Options(backend.port());
  options.url = "ws://127.0.0.1:" + std::to_string(backend.port()) + "/api/v1/tunnel";
  options.allow_insecure = true;
  return options;
}

protocol::Error DecodeError(const std::string& text) {
  auto d = protocol::Decode(text);
  REQUIRE(d.ok());
  REQUIRE(std::holds_alternative<protocol::Error>(*d.message));
  return std::get<protocol::Error>(*d.message);
}

}  // namespace

TEST_CASE("a welcome with a version the agent never offered is a protocol violation: 4400, logged, normal backoff",
          "[agent][tunnel]") {
  LogCapture logs;
  std::promise<int> close_code;
  FakeBackend::Script script;
  script.welcome = *protocol::Encode(protocol::Welcome{"fake-session", 2, 0, {}});
  FakeBackend backend(
      [&](FakeBackend::Ws& ws) {
        std::vector<std::string> ignored;
        close_code.set_value(FakeBackend::ReadUntilClosed(ws, &ignored));
      },
      script);
  Env env;
  RandomSource random(1);
  auto options = FakeBackendOptions(env, backend);
  options.backoff.jitter = false;
  options.backoff.initial = milliseconds(100);
  options.backoff.max = milliseconds(60000);
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  // 4426 is the backend's "no common version"; the agent never sends it.
  CHECK(close_code.get_future().get() == protocol::kCloseProtocolViolation);
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  auto d = rec.Disconnect(0);
  CHECK(d.close_code == protocol::kCloseProtocolViolation);
  CHECK(d.closed_by_agent);
  CHECK_FALSE(d.was_connected);
  CHECK(d.reason ==
        "backend chose protocol version 2 which was not offered; closed by agent: 4400 protocol violation");
  CHECK(d.next_delay == milliseconds(100));  // normal backoff, not the maximum delay
  CHECK(rec.Welcomes() == 0);
  client.Stop();
  CHECK(logs.Contains("\"closeCode\":4400"));
  CHECK(logs.Contains("\"closedBy\":\"agent\""));
}

TEST_CASE("a welcome with a message limit below 64 KiB is refused with 4400 and the session never opens",
          "[agent][tunnel]") {
  // The smallest legal maxMessageBytes is 65536 (docs/protocol.md, "Limits"):
  // with 1024 or 1500 the snapshot's first part cannot be sent, and a session
  // that opened anyway would stall.
  for (int64_t limit : {int64_t{1024}, int64_t{1500}}) {
    INFO(limit);
    std::promise<int> close_code;
    FakeBackend::Script script;
    script.welcome = R"({"v":1,"type":"welcome","sessionId":"fake","version":1,"lastAck":0,"limits":{"maxMessageBytes":)" +
                     std::to_string(limit) + R"(,"maxInFlightRequests":32}})";
    FakeBackend backend(
        [&](FakeBackend::Ws& ws) {
          std::vector<std::string> ignored;
          close_code.set_value(FakeBackend::ReadUntilClosed(ws, &ignored));
        },
        script);
    Env env;
    RandomSource random(1);
    Recorder rec;
    TunnelClient client(FakeBackendOptions(env, backend), SystemClock(), random);
    rec.Attach(client);
    std::string error;
    REQUIRE(client.Start(&error));
    CHECK(close_code.get_future().get() == protocol::kCloseProtocolViolation);
    REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
    auto d = rec.Disconnect(0);
    CHECK(d.close_code == protocol::kCloseProtocolViolation);
    CHECK(d.reason ==
          "invalid welcome: welcome.limits.maxMessageBytes: must be 65536..2147483647; closed by agent: "
          "4400 protocol violation");
    CHECK(rec.Welcomes() == 0);
    CHECK(client.Stats().connects == 0);
    client.Stop();
  }
}

TEST_CASE("an ack that goes backwards is a protocol violation: error 'invalid' and 4400", "[agent][tunnel]") {
  LogCapture logs;
  std::vector<std::string> received;
  std::promise<int> close_code;
  std::promise<void> three_read;
  FakeBackend backend([&](FakeBackend::Ws& ws) {
    for (int i = 0; i < 3; ++i) {
      beast::flat_buffer buf;
      ws.read(buf);
    }
    three_read.set_value();
    for (int64_t seq : {1, 1, 3, 2}) {  // a repeated ack is fine, a smaller one is not
      ws.write(asio::buffer(*protocol::Encode(protocol::Ack{seq})));
    }
    close_code.set_value(FakeBackend::ReadUntilClosed(ws, &received));
  });
  Env env;
  RandomSource random(1);
  Recorder rec;
  TunnelClient client(FakeBackendOptions(env, backend), SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return client.connected(); }));
  for (int64_t seq = 1; seq <= 3; ++seq) {
    REQUIRE(client.Send(protocol::StreamMessage{protocol::StreamMessage::Kind::kDelta, seq,
                                                R"({"changes":[]})", true}) == SendStatus::kOk);
  }
  three_read.get_future().get();
  CHECK(close_code.get_future().get() == protocol::kCloseProtocolViolation);
  REQUIRE(received.size() == 1);
  auto err = DecodeError(received[0]);
  CHECK(err.code == "invalid");
  CHECK(err.message == "ack 2 goes backwards (last ack 3)");
  CHECK(err.ref == "ack");
  CHECK(rec.HasAck(3));
  CHECK_FALSE(rec.HasAck(2));  // never passed on to the stream
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  CHECK(rec.Disconnect(0).close_code == protocol::kCloseProtocolViolation);
  CHECK(rec.Disconnect(0).closed_by_agent);
  client.Stop();
  CHECK(logs.Contains("\"msg\":\"backend protocol violation\""));
  CHECK(logs.Contains("ack 2 goes backwards (last ack 3)"));
}

TEST_CASE("an ack for a seq the agent never sent is a protocol violation: error 'invalid' and 4400",
          "[agent][tunnel]") {
  std::vector<std::string> received;
  std::promise<int> close_code;
  FakeBackend::Script script;
  script.welcome = *protocol::Encode(protocol::Welcome{"fake-session", 1, 40, {}});
  FakeBackend backend(
      [&](FakeBackend::Ws& ws) {
        // Acking welcome.lastAck again is fine; nothing after it was sent.
        ws.write(asio::buffer(*protocol::Encode(protocol::Ack{40})));
        ws.write(asio::buffer(*protocol::Encode(protocol::Ack{41})));
        close_code.set_value(FakeBackend::ReadUntilClosed(ws, &received));
      },
      script);
  Env env;
  RandomSource random(1);
  Recorder rec;
  TunnelClient client(FakeBackendOptions(env, backend), SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  CHECK(close_code.get_future().get() == protocol::kCloseProtocolViolation);
  REQUIRE(received.size() == 1);
  auto err = DecodeError(received[0]);
  CHECK(err.code == "invalid");
  CHECK(err.message == "ack 41 for a seq never sent (highest sent 40)");
  CHECK(rec.HasAck(40));
  CHECK_FALSE(rec.HasAck(41));
  client.Stop();
}

TEST_CASE("no welcome within the handshake timeout: the agent closes with 4408, not a bare TCP drop",
          "[agent][tunnel]") {
  std::promise<int> close_code;
  FakeBackend::Script script;
  script.welcome = "";  // reads the hello, then says nothing
  FakeBackend backend(
      [&](FakeBackend::Ws& ws) {
        std::vector<std::string> ignored;
        close_code.set_value(FakeBackend::ReadUntilClosed(ws, &ignored));
      },
      script);
  Env env;
  RandomSource random(1);
  auto options = FakeBackendOptions(env, backend);
  options.handshake_timeout = milliseconds(300);
  Recorder rec;
  TunnelClient client(options, SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  CHECK(close_code.get_future().get() == protocol::kCloseHandshakeTimeout);
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  auto d = rec.Disconnect(0);
  CHECK(d.close_code == protocol::kCloseHandshakeTimeout);
  CHECK(d.closed_by_agent);
  CHECK(d.reason == "no welcome within the handshake timeout; closed by agent: 4408 handshake timeout");
  client.Stop();
}

TEST_CASE("a backend that welcomes and closes at once gets growing delays, a stable session resets them",
          "[agent][tunnel][backoff]") {
  // BackoffPolicy::stable_after, measured on the injected clock: the fake
  // clock never moves unless the test moves it, so no session is stable
  // until the test says so.
  constexpr int kSessions = 7;
  FakeBackend::Script script;
  script.connections = kSessions;
  FakeBackend backend(
      [](FakeBackend::Ws& ws) {
        ws.close(websocket::close_reason(protocol::kCloseProtocolViolation));
        std::vector<std::string> ignored;
        FakeBackend::ReadUntilClosed(ws, &ignored);
      },
      script);
  Env env;
  FakeClock clock;
  RandomSource random(1);
  auto options = FakeBackendOptions(env, backend);
  options.backoff.jitter = false;  // exactly the cap: the schedule itself is visible
  options.backoff.initial = milliseconds(5);
  options.backoff.max = milliseconds(40);
  options.backoff.multiplier = 2.0;
  options.backoff.stable_after = std::chrono::seconds(60);
  TunnelClient client(options, clock, random);
  std::mutex mu;
  std::vector<DisconnectInfo> ends;
  int welcomes = 0;
  client.OnConnected([&](const protocol::Welcome&) {
    std::lock_guard lock(mu);
    // The sixth session lasts a minute on the injected clock.
    if (++welcomes == 6) clock.Advance(std::chrono::seconds(60));
  });
  client.OnDisconnected([&](const DisconnectInfo& d) {
    std::lock_guard lock(mu);
    if (d.was_connected) ends.push_back(d);
  });
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] {
    std::lock_guard lock(mu);
    return ends.size() >= kSessions;
  }));
  client.Stop();
  std::lock_guard lock(mu);
  std::vector<int64_t> delays;
  for (const auto& d : ends) {
    CHECK(d.close_code == protocol::kCloseProtocolViolation);
    CHECK_FALSE(d.closed_by_agent);
    delays.push_back(d.next_delay.count());
  }
  delays.resize(kSessions);
  // A welcome does not reset the schedule; the one-minute session does.
  CHECK(delays == std::vector<int64_t>{5, 10, 20, 40, 40, 5, 10});
}

TEST_CASE("CloseSession ends the session with the given code and the client reconnects",
          "[agent][tunnel]") {
  Env env;
  auto h = env.StartHub();
  RandomSource random(1);
  Recorder rec;
  TunnelClient client(env.Options(h->tunnel_port()), SystemClock(), random);
  rec.Attach(client);
  std::string error;
  REQUIRE(client.Start(&error));
  REQUIRE(WaitUntil([&] { return rec.Welcomes() == 1; }));
  client.CloseSession(protocol::kCloseInternal, "stream message could not be sent");
  REQUIRE(WaitUntil([&] { return rec.Disconnects() >= 1; }));
  auto d = rec.Disconnect(0);
  CHECK(d.close_code == protocol::kCloseInternal);
  CHECK(d.closed_by_agent);
  CHECK(d.reason == "closed by agent: 4500 internal error (stream message could not be sent)");
  REQUIRE(WaitUntil([&] { return rec.Welcomes() == 2; }));
}

// ---- Sec-WebSocket-Key and masking keys ------------------------------------------------

TEST_CASE("every handshake of the tunnel sends a fresh Sec-WebSocket-Key", "[agent][tunnel][prng]") {
  // A backend that records each upgrade's key and refuses it (503): the
  // client redials at once, through exactly the code path of every
  // connection attempt. Boost.Beast 1.74's own generator repeats keys
  // (13 distinct of 25 were seen); net/ws_client.h replaces it.
  constexpr int kHandshakes = 1000;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  std::vector<std::string> keys;
  std::thread server([&] {
    namespace http = beast::http;
    for (int i = 0; i < kHandshakes; ++i) {
      boost::system::error_code ec;
      tcp::socket socket(io);
      acceptor.accept(socket, ec);
      if (ec) return;
      beast::flat_buffer buf;
      http::request<http::empty_body> req;
      http::read(socket, buf, req, ec);
      if (ec) continue;
      keys.emplace_back(req[http::field::sec_websocket_key]);
      http::response<http::string_body> res{http::status::service_unavailable, 11};
      res.keep_alive(false);
      res.prepare_payload();
      http::write(socket, res, ec);
    }
  });
  LogCapture quiet;  // a thousand "tunnel disconnected" lines
  Env env;
  RandomSource random(1);
  auto options = env.Options(port);
  options.url = "ws://127.0.0.1:" + std::to_string(port) + "/api/v1/tunnel";
  options.allow_insecure = true;
  options.backoff.jitter = false;
  options.backoff.initial = milliseconds(1);
  options.backoff.max = milliseconds(1);
  {
    TunnelClient client(options, SystemClock(), random);
    std::string error;
    REQUIRE(client.Start(&error));
    server.join();
  }
  REQUIRE(keys.size() == kHandshakes);
  std::set<std::string> distinct(keys.begin(), keys.end());
  CHECK(distinct.size() == keys.size());
  for (const auto& k : keys) CHECK(k.size() == 24);  // base64 of 16 bytes
}

TEST_CASE("a backend whose welcome does not offer progress never gets a progress message",
          "[agent][tunnel][progress]") {
  std::promise<std::vector<std::string>> seen;
  FakeBackend backend([&](FakeBackend::Ws& ws) {
    ws.write(asio::buffer(*protocol::Encode(protocol::Request{"r1", "drain", 0, "{}"})));
    std::vector<std::string> texts;
    for (;;) {
      beast::flat_buffer buf;
      boost::system::error_code ec;
      ws.read(buf, ec);
      if (ec) break;
      texts.push_back(beast::buffers_to_string(buf.data()));
      if (texts.back().find("\"type\":\"response\"") != std::string::npos) break;
    }
    seen.set_value(texts);
    std::vector<std::string> ignored;
    FakeBackend::ReadUntilClosed(ws, &ignored);
  });
  Env env;
  RandomSource random(1);
  TunnelClient client(FakeBackendOptions(env, backend), SystemClock(), random);
  client.HandleRequests("drain", [&client](const protocol::Request& req, Reply reply) {
    client.SendProgress(req.id, R"({"evicted":"a"})");
    reply(protocol::Response{req.id, true, "{}", {}});
  });
  std::string error;
  REQUIRE(client.Start(&error));
  auto texts = seen.get_future().get();
  client.Stop();
  REQUIRE_FALSE(texts.empty());
  for (const auto& t : texts) CHECK(t.find("\"type\":\"progress\"") == std::string::npos);
  CHECK(texts.back().find("\"type\":\"response\"") != std::string::npos);
}
