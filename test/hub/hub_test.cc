// The hub against a raw WebSocket agent (hub_fixture.h), so every protocol
// rule can be broken on purpose.
#include "hub/hub.h"

#include <catch2/catch.hpp>

#include <future>

#include "common/json.h"
#include "protocol/messages.h"
#include "test/hub/hub_fixture.h"
#include "test/net/test_support.h"

using namespace srexpert;
using namespace srexpert::hub;
using namespace srexpert::hub::testing;
using srexpert::testing::HttpCall;
using srexpert::testing::TempDir;
using srexpert::testing::TestPki;
using srexpert::testing::WaitUntil;

TEST_CASE("the hub refuses to start without TLS unless plain ws is allowed", "[hub]") {
  TempDir dir;
  srexpert::testing::WriteFile(dir.File("tokens.json"), R"({"clusters":[]})");
  HubOptions o;
  o.port = 0;
  o.api_port = 0;
  o.tokens_file = dir.File("tokens.json");
  std::string error;
  {
    Hub hub(o);
    CHECK_FALSE(hub.Start(&error));
    CHECK(error == "TLS certificate and key are required (plain ws needs allow_plain_ws)");
  }
  o.allow_plain_ws = true;
  Hub hub(o);
  CHECK(hub.Start(&error));
  o.tokens_file = dir.File("missing.json");
  Hub no_tokens(o);
  CHECK_FALSE(no_tokens.Start(&error));
  CHECK(error.find("cannot read token file") == 0);
}

TEST_CASE("the hub refuses to start with limits no agent could accept", "[hub]") {
  // docs/protocol.md, "Limits": welcome.limits.maxMessageBytes is
  // 65536..2^31-1 and maxInFlightRequests 1..65535; a hub announcing less
  // would have every agent close its sessions with 4400.
  TempDir dir;
  srexpert::testing::WriteFile(dir.File("tokens.json"), R"({"clusters":[]})");
  HubOptions o;
  o.port = 0;
  o.api_port = 0;
  o.allow_plain_ws = true;
  o.tokens_file = dir.File("tokens.json");
  const std::string want =
      "max_message_bytes must be 65536..2147483647, max_in_flight_requests 1..65535 and "
      "max_events_per_cluster >= 1";
  for (int64_t bytes : {int64_t{1024}, int64_t{1500}, int64_t{65535}, int64_t{1} << 31}) {
    INFO(bytes);
    o.max_message_bytes = bytes;
    Hub hub(o);
    std::string error;
    CHECK_FALSE(hub.Start(&error));
    CHECK(error == want);
  }
  o.max_message_bytes = protocol::kMinMaxMessageBytes;
  o.max_in_flight_requests = 65536;
  {
    Hub hub(o);
    std::string error;
    CHECK_FALSE(hub.Start(&error));
    CHECK(error == want);
  }
  o.max_in_flight_requests = 65535;
  Hub hub(o);
  std::string error;
  CHECK(hub.Start(&error));
}

TEST_CASE("hello gets a welcome with session, version, last ack and limits", "[hub]") {
  HubFixture f([](HubOptions& o) { o.max_in_flight_requests = 5; });
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  CHECK(agent.subprotocol() == "srexpert.v1");
  auto w = agent.Handshake();
  CHECK(w.session_id.size() == 32);
  CHECK(w.version == 1);
  CHECK(w.last_ack == 0);
  CHECK(w.limits.max_message_bytes == protocol::kDefaultMaxMessageBytes);
  CHECK(w.limits.max_in_flight_requests == 5);

  auto c = FindCluster(*f.hub, "prod");
  REQUIRE(c);
  CHECK(c->connected);
  CHECK(c->session_id == w.session_id);
  CHECK(c->hello.pod == "agent-0");
  CHECK(c->hello.cluster.uid == "uid-123");
  CHECK(c->sessions_total == 1);
  CHECK(c->max_concurrent_sessions == 1);
}

TEST_CASE("the upgrade is refused for bad tokens, paths and subprotocols", "[hub]") {
  HubFixture f;
  CHECK(RawAgent(f.pki.ca_cert).Connect(f.hub->tunnel_port(), "tok-wrong") == 401);
  CHECK(RawAgent(f.pki.ca_cert).Connect(f.hub->tunnel_port(), "") == 401);
  CHECK(RawAgent(f.pki.ca_cert).Connect(f.hub->tunnel_port(), "tok-off") == 403);
  CHECK(RawAgent(f.pki.ca_cert).Connect(f.hub->tunnel_port(), "tok-prod", true, "/other") == 404);
  CHECK(RawAgent(f.pki.ca_cert).Connect(f.hub->tunnel_port(), "tok-prod", false) == 400);
  CHECK_FALSE(FindCluster(*f.hub, "prod"));
}

TEST_CASE("an agent offering srexpert.v1.deflate gets it and the hub declines permessage-deflate", "[hub]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  agent.Offer("srexpert.v1.deflate, srexpert.v1");
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  CHECK(agent.subprotocol() == "srexpert.v1.deflate");
  CHECK_FALSE(agent.pmd_agreed());
  CHECK(agent.Handshake().version == 1);
  // Acks ride the hub's deflate stream: after the first, each costs a few bytes.
  agent.Send(protocol::Message(SnapshotMessage(1)));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 1);
  size_t first_ack = agent.last_frame_bytes();
  for (int seq = 2; seq <= 5; ++seq) {
    agent.Send(protocol::Message(DeltaMessage(seq, OneChange("added", "p" + std::to_string(seq)))));
    CHECK(agent.ReadAs<protocol::Ack>().seq == seq);
    CHECK(agent.last_frame_bytes() < first_ack);
    CHECK(agent.last_frame_bytes() < 12);
  }
}

TEST_CASE("an agent offering only srexpert.v1 keeps plain text and permessage-deflate", "[hub]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  CHECK(agent.subprotocol() == "srexpert.v1");
  CHECK(agent.pmd_agreed());
  CHECK(agent.Handshake().version == 1);
}

TEST_CASE("a hub with message_deflate off answers srexpert.v1 to an agent offering both", "[hub]") {
  HubFixture f([](HubOptions& o) { o.message_deflate = false; });
  RawAgent agent(f.pki.ca_cert);
  agent.Offer("srexpert.v1.deflate, srexpert.v1");
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  CHECK(agent.subprotocol() == "srexpert.v1");
  CHECK(agent.Handshake().version == 1);
  RawAgent only_deflate(f.pki.ca_cert);
  only_deflate.Offer("srexpert.v1.deflate");
  CHECK(only_deflate.Connect(f.hub->tunnel_port(), "tok-prod") == 400);
}

TEST_CASE("a corrupt or inflating-too-far compressed message closes with 4400 or 4413", "[hub]") {
  HubFixture f([](HubOptions& o) { o.max_message_bytes = protocol::kMinMaxMessageBytes; });
  {
    RawAgent agent(f.pki.ca_cert);
    agent.Offer("srexpert.v1.deflate");
    REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
    CHECK(agent.Handshake().version == 1);
    agent.SendBinary(std::string("\xff\xfe garbage", 10));
    CHECK(agent.ReadUntilClosed() == protocol::kCloseProtocolViolation);
  }
  {
    RawAgent agent(f.pki.ca_cert);
    agent.Offer("srexpert.v1.deflate");
    REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
    CHECK(agent.Handshake().version == 1);
    // A fresh stream starts at a block boundary, where the hub's inflater
    // stands after every message: it decodes, to 1 MiB of spaces.
    std::string bomb = *net::MessageCompressor().Compress(std::string(1 << 20, ' '));
    REQUIRE(bomb.size() < 8192);
    agent.SendBinary(bomb);
    CHECK(agent.ReadUntilClosed() == protocol::kCloseTooBig);
  }
}

TEST_CASE("a message before hello is a protocol violation", "[hub]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Send(protocol::StreamMessage{protocol::StreamMessage::Kind::kDelta, 1, "{}", true});
  auto err = agent.ReadAs<protocol::Error>();
  CHECK(err.code == "invalid");
  CHECK(err.message == "expected hello, got delta");
  CHECK(agent.ReadUntilClosed() == protocol::kCloseProtocolViolation);
}

TEST_CASE("malformed JSON closes with 4400 after an error message", "[hub]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  agent.Send(std::string("{\"v\":1,\"type\":\"delta\",\"seq\":"));
  auto err = agent.ReadAs<protocol::Error>();
  CHECK(err.code == "invalid");
  CHECK(err.message.find("invalid JSON") == 0);
  CHECK(agent.ReadUntilClosed() == protocol::kCloseProtocolViolation);
}

TEST_CASE("JSON nested deeper than 64 levels, in an unknown member too, is an 'invalid' error and 4400",
          "[hub]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  agent.Send(R"({"v":1,"type":"delta","seq":1,"payload":{"changes":[]},"future":)" +
             std::string(64, '[') + std::string(64, ']') + "}");
  auto err = agent.ReadAs<protocol::Error>();
  CHECK(err.code == "invalid");
  CHECK(err.message == "JSON nested deeper than 64 levels");
  CHECK(agent.ReadUntilClosed() == protocol::kCloseProtocolViolation);
}

TEST_CASE("a text message that is not UTF-8 is closed by the WebSocket layer with 1007", "[hub]") {
  // docs/protocol.md, "Close codes": Beast validates text frames itself.
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  agent.Send(std::string(R"({"v":1,"type":"error","code":"x","message":")") + "\xff\xfe" + "\"}");
  CHECK(agent.ReadUntilClosed() == protocol::kCloseInvalidUtf8);
}

TEST_CASE("an unknown message type gets 'unsupported' and the session stays", "[hub]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  agent.Send(std::string(R"({"v":1,"type":"teleport"})"));
  auto err = agent.ReadAs<protocol::Error>();
  CHECK(err.code == "unsupported");
  CHECK(err.ref == "teleport");
  agent.Send(SnapshotMessage(1));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 1);
}

TEST_CASE("a message over the limit closes with 4413", "[hub]") {
  HubFixture f([](HubOptions& o) { o.max_message_bytes = protocol::kMinMaxMessageBytes; });
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  std::string big = R"({"v":1,"type":"delta","seq":1,"payload":{"x":")" + std::string(100000, 'a') + "\"}}";
  agent.Send(big);
  CHECK(agent.ReadUntilClosed() == protocol::kCloseTooBig);
}

TEST_CASE("no hello within the handshake timeout closes with 4408", "[hub]") {
  HubFixture f([](HubOptions& o) { o.handshake_timeout = std::chrono::milliseconds(300); });
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  CHECK(agent.ReadUntilClosed() == protocol::kCloseHandshakeTimeout);
}

TEST_CASE("no common version: error then close 4426", "[hub]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Send(MakeHello({2, 3}));
  auto err = agent.ReadAs<protocol::Error>();
  CHECK(err.code == "unsupported_version");
  CHECK(err.message == "no common protocol version; the hub speaks [1]");
  CHECK(agent.ReadUntilClosed() == protocol::kCloseUnsupportedVersion);
}

TEST_CASE("sequenced messages are acked cumulatively, gaps and duplicates handled", "[hub]") {
  HubFixture f;
  std::string welcome_session;
  {
    RawAgent agent(f.pki.ca_cert);
    REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
    agent.Handshake();
    agent.Send(SnapshotMessage(1));
    CHECK(agent.ReadAs<protocol::Ack>().seq == 1);
    agent.Send(DeltaMessage(2, OneChange("added", "web-0")));
    CHECK(agent.ReadAs<protocol::Ack>().seq == 2);
    agent.Send(DeltaMessage(2, OneChange("added", "web-0")));  // duplicate
    CHECK(agent.ReadAs<protocol::Ack>().seq == 2);
    agent.Send(DeltaMessage(5, OneChange("added", "web-1")));  // gap
    auto gap = agent.ReadAs<protocol::Error>();
    CHECK(gap.code == "sequence_gap");
    CHECK(gap.message == "expected seq 3, got 5");
    CHECK(gap.ref == "5");
    agent.Send(SnapshotMessage(7));  // snapshot heals
    CHECK(agent.ReadAs<protocol::Ack>().seq == 7);
  }
  // The next session learns where the hub stands.
  REQUIRE(WaitUntil([&] { return !FindCluster(*f.hub, "prod")->connected; }));
  RawAgent again(f.pki.ca_cert);
  REQUIRE(again.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  CHECK(again.Handshake().last_ack == 7);
  again.Send(DeltaMessage(8, OneChange("deleted", "web-0")));
  CHECK(again.ReadAs<protocol::Ack>().seq == 8);
}

TEST_CASE("a second session of the same cluster supersedes the first with 4409", "[hub]") {
  HubFixture f;
  RawAgent first(f.pki.ca_cert);
  REQUIRE(first.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  auto w1 = first.Handshake();
  RawAgent second(f.pki.ca_cert);
  REQUIRE(second.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  auto w2 = second.Handshake();
  CHECK(w1.session_id != w2.session_id);
  CHECK(first.ReadUntilClosed() == protocol::kCloseSuperseded);

  auto c = FindCluster(*f.hub, "prod");
  REQUIRE(c);
  CHECK(c->connected);
  CHECK(c->session_id == w2.session_id);
  CHECK(c->superseded_total == 1);
  CHECK(c->sessions_total == 2);
  CHECK(c->max_concurrent_sessions == 2);
  // Another cluster is independent.
  RawAgent dev(f.pki.ca_cert);
  REQUIRE(dev.Connect(f.hub->tunnel_port(), "tok-dev") == 101);
  dev.Handshake();
  CHECK(FindCluster(*f.hub, "dev")->max_concurrent_sessions == 1);
}

TEST_CASE("GET /api/v1/clusters lists sessions and /healthz answers", "[hub][api]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  auto w = agent.Handshake();
  CHECK(HttpCall(f.hub->api_port(), "GET", "/healthz").status == 200);
  auto r = HttpCall(f.hub->api_port(), "GET", "/api/v1/clusters");
  REQUIRE(r.status == 200);
  auto doc = json::Parse(r.body);
  REQUIRE(doc);
  const auto& list = (*doc)["clusters"];
  REQUIRE(list.Size() == 1);
  CHECK(json::GetString(list[0], {"name"}) == "prod");
  CHECK(json::GetBool(list[0], {"connected"}));
  CHECK(json::GetString(list[0], {"sessionId"}) == w.session_id);
  CHECK(json::GetString(list[0], {"agentVersion"}) == "0.1.0-test");
  CHECK(json::GetString(list[0], {"kubernetesVersion"}) == "v1.30.2");
  CHECK(json::GetString(list[0], {"node"}) == "node-a");
  CHECK(json::GetString(list[0], {"pod"}) == "agent-0");
  CHECK(json::GetString(list[0], {"connectedSince"}).size() == 20);
  CHECK(json::GetString(list[0], {"lastSeen"}).size() == 20);
}

TEST_CASE("requests reach the agent and the response comes back over REST", "[hub][api]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  std::thread responder([&] {
    auto req = agent.ReadAs<protocol::Request>();
    CHECK(req.kind == "echo");
    CHECK(req.payload == R"({"x":1})");
    CHECK(req.timeout_ms == 5000);
    agent.Send(protocol::Response{req.id, true, R"({"echo":{"x":1}})", {}});
    auto req2 = agent.ReadAs<protocol::Request>();
    agent.Send(protocol::ErrorResponse(req2.id, "unsupported", "unknown request kind"));
  });
  auto r = HttpCall(f.hub->api_port(), "POST", "/api/v1/clusters/prod/requests",
                    R"({"kind":"echo","payload":{"x":1},"timeoutMs":5000})");
  CHECK(r.status == 200);
  CHECK(r.body == R"({"ok":true,"payload":{"echo":{"x":1}}})");
  auto r2 = HttpCall(f.hub->api_port(), "POST", "/api/v1/clusters/prod/requests",
                     R"({"kind":"nope"})");
  CHECK(r2.status == 200);
  CHECK(r2.body == R"({"ok":false,"error":{"code":"unsupported","message":"unknown request kind"}})");
  responder.join();

  CHECK(HttpCall(f.hub->api_port(), "POST", "/api/v1/clusters/ghost/requests", R"({"kind":"x"})")
            .status == 404);
  CHECK(HttpCall(f.hub->api_port(), "POST", "/api/v1/clusters/prod/requests", R"({"payload":1})")
            .status == 400);
  CHECK(HttpCall(f.hub->api_port(), "POST", "/api/v1/clusters/prod/requests", "not json").status ==
        400);
}

TEST_CASE("an unanswered request times out and in-flight requests are bounded", "[hub][api]") {
  HubFixture f([](HubOptions& o) { o.max_in_flight_requests = 1; });
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  std::promise<RequestResult> first;
  f.hub->SendRequest("prod", "slow", "{}", std::chrono::milliseconds(500),
                     [&](RequestResult r) { first.set_value(r); });
  std::promise<RequestResult> second;
  auto wait_request = agent.ReadAs<protocol::Request>();
  CHECK(wait_request.kind == "slow");
  f.hub->SendRequest("prod", "slow", "{}", std::chrono::milliseconds(500),
                     [&](RequestResult r) { second.set_value(r); });
  CHECK(second.get_future().get().status == RequestResult::Status::kBusy);
  auto r = first.get_future().get();
  CHECK(r.status == RequestResult::Status::kTimeout);
  // A late response is ignored.
  agent.Send(protocol::Response{wait_request.id, true, "{}", {}});
  agent.Send(SnapshotMessage(1));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 1);
}

TEST_CASE("pending requests fail when the agent disconnects", "[hub]") {
  HubFixture f;
  std::promise<RequestResult> result;
  {
    RawAgent agent(f.pki.ca_cert);
    REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
    agent.Handshake();
    f.hub->SendRequest("prod", "slow", "{}", std::chrono::seconds(30),
                       [&](RequestResult r) { result.set_value(r); });
    agent.ReadAs<protocol::Request>();
  }
  auto r = result.get_future().get();
  CHECK(r.status == RequestResult::Status::kDisconnected);
}

TEST_CASE("stopping the hub closes sessions with 1001", "[hub]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  std::thread stopper([&] { f.hub->Stop(); });
  CHECK(agent.ReadUntilClosed() == protocol::kCloseGoingAway);
  stopper.join();
}

TEST_CASE("hostile frames never crash the hub", "[hub]") {
  HubFixture f([](HubOptions& o) { o.max_message_bytes = protocol::kMinMaxMessageBytes; });
  const std::vector<std::string> inputs = {
      "", "null", "[]", "{}", R"({"v":1})", R"({"v":1,"type":"hello"})",
      std::string(8192, '['), std::string("{\"v\":1,\"type\":\"hello\",\0}", 25),
      R"({"v":1,"type":"welcome","sessionId":"x","version":1,"lastAck":0,"limits":{"maxMessageBytes":4096,"maxInFlightRequests":1}})",
  };
  for (const auto& in : inputs) {
    RawAgent agent(f.pki.ca_cert);
    REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
    agent.Send(in);
    int code = agent.ReadUntilClosed();
    CHECK(code == protocol::kCloseProtocolViolation);
  }
  RawAgent fine(f.pki.ca_cert);
  REQUIRE(fine.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  CHECK(fine.Handshake().version == 1);
}
