#include "protocol/messages.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <random>
#include <string>

using namespace srexpert::protocol;

namespace {

Hello SampleHello() {
  Hello h;
  h.agent_version = "0.1.0";
  h.protocol_versions = {1};
  h.cluster = {"6b1c0d2e-uid", "prod-eu", "v1.30.2"};
  h.node = "node-a";
  h.pod = "srexpert-agent-x7k2p";
  h.capabilities = {"snapshot", "delta"};
  return h;
}

template <typename T>
T RoundTrip(const T& in) {
  std::string error;
  auto text = Encode(in, &error);
  INFO(error);
  REQUIRE(text);
  auto decoded = Decode(*text);
  INFO(decoded.error.message);
  REQUIRE(decoded.ok());
  REQUIRE(std::holds_alternative<T>(*decoded.message));
  return std::get<T>(*decoded.message);
}

DecodeErrorKind KindOf(std::string_view text) { return Decode(text).error.kind; }

}  // namespace

TEST_CASE("hello round-trips every field", "[protocol]") {
  Hello out = RoundTrip(SampleHello());
  CHECK(out.agent_version == "0.1.0");
  CHECK(out.protocol_versions == std::vector<int>{1});
  CHECK(out.cluster.uid == "6b1c0d2e-uid");
  CHECK(out.cluster.name == "prod-eu");
  CHECK(out.cluster.kubernetes_version == "v1.30.2");
  CHECK(out.node == "node-a");
  CHECK(out.pod == "srexpert-agent-x7k2p");
  CHECK(out.capabilities == std::vector<std::string>{"snapshot", "delta"});
}

TEST_CASE("welcome, ack, request, response, error and stream messages round-trip", "[protocol]") {
  Welcome w{"sess-1", 1, 1041, {65536, 7}};
  Welcome w2 = RoundTrip(w);
  CHECK(w2.session_id == "sess-1");
  CHECK(w2.last_ack == 1041);
  CHECK(w2.limits.max_message_bytes == 65536);
  CHECK(w2.limits.max_in_flight_requests == 7);

  CHECK(RoundTrip(Ack{42}).seq == 42);

  StreamMessage s{StreamMessage::Kind::kSnapshot, 5, R"({"a":[1,2,{"b":null}]})", false};
  StreamMessage s2 = RoundTrip(s);
  CHECK(s2.kind == StreamMessage::Kind::kSnapshot);
  CHECK(s2.seq == 5);
  CHECK(s2.payload == R"({"a":[1,2,{"b":null}]})");
  CHECK_FALSE(s2.final);
  CHECK(TypeName(StreamMessage{StreamMessage::Kind::kDelta, 6, "{}", true}) == "delta");

  Request r{"r-17", "scan.run", 30000, R"({"x":1})"};
  Request r2 = RoundTrip(r);
  CHECK(r2.id == "r-17");
  CHECK(r2.kind == "scan.run");
  CHECK(r2.timeout_ms == 30000);
  CHECK(r2.payload == R"({"x":1})");

  Response ok{"r-17", true, R"({"done":true})", {}};
  CHECK(RoundTrip(ok).payload == R"({"done":true})");
  Response bad = RoundTrip(ErrorResponse("r-18", "unsupported", "unknown request kind"));
  CHECK_FALSE(bad.ok);
  CHECK(bad.error.code == "unsupported");
  CHECK(bad.error.message == "unknown request kind");

  Error e = RoundTrip(MakeError("sequence_gap", "expected 7", "delta"));
  CHECK(e.code == "sequence_gap");
  CHECK(e.ref == "delta");

  Progress p = RoundTrip(Progress{"r-17", R"({"evicted":"web-0"})"});
  CHECK(p.id == "r-17");
  CHECK(p.payload == R"({"evicted":"web-0"})");
  CHECK(TypeName(p) == "progress");
}

TEST_CASE("welcome capabilities: optional, absent when empty, listed when given", "[protocol]") {
  // Without capabilities the welcome is byte for byte the v1 welcome a
  // backend without extras sends.
  auto plain = Encode(Welcome{"s", 1, 0, {}});
  REQUIRE(plain);
  CHECK(plain->find("capabilities") == std::string::npos);
  CHECK_FALSE(RoundTrip(Welcome{"s", 1, 0, {}}).Has(kCapabilityProgress));

  Welcome w{"s", 1, 0, {}};
  w.capabilities = {std::string(kCapabilityProgress)};
  Welcome w2 = RoundTrip(w);
  CHECK(w2.Has(kCapabilityProgress));
  CHECK_FALSE(w2.Has("other"));

  auto bad = Decode(R"({"v":1,"type":"welcome","sessionId":"s","version":1,"lastAck":0,)"
                    R"("limits":{"maxMessageBytes":65536,"maxInFlightRequests":1},"capabilities":[""]})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error.message == "welcome.capabilities[]: length must be 1..64 bytes");
}

TEST_CASE("the envelope carries v:1 and the wire type", "[protocol]") {
  auto text = Encode(Ack{3});
  REQUIRE(text);
  CHECK(*text == R"({"v":1,"type":"ack","seq":3})");
}

TEST_CASE("messages over the size limit are rejected before parsing", "[protocol]") {
  std::string big = R"({"v":1,"type":"ack","seq":1,"pad":")" + std::string(2000, 'x') + "\"}";
  auto r = Decode(big, 1024);
  CHECK_FALSE(r.ok());
  CHECK(r.error.kind == DecodeErrorKind::kTooLarge);
  CHECK(Decode(big, 4096).ok());
}

TEST_CASE("malformed JSON and bad envelopes are typed errors", "[protocol]") {
  CHECK(KindOf("") == DecodeErrorKind::kInvalidJson);
  CHECK(KindOf("{") == DecodeErrorKind::kInvalidJson);
  CHECK(KindOf(R"({"v":1,"type":"ack","seq":1} trailing)") == DecodeErrorKind::kInvalidJson);
  CHECK(KindOf(std::string("{\"v\":1,\0\"type\":\"ack\"}", 22)) == DecodeErrorKind::kInvalidJson);
  CHECK(KindOf("[1,2]") == DecodeErrorKind::kBadEnvelope);
  CHECK(KindOf("\"hello\"") == DecodeErrorKind::kBadEnvelope);
  CHECK(KindOf(R"({"type":"ack","seq":1})") == DecodeErrorKind::kBadEnvelope);
  CHECK(KindOf(R"({"v":2,"type":"ack","seq":1})") == DecodeErrorKind::kBadEnvelope);
  CHECK(KindOf(R"({"v":"1","type":"ack","seq":1})") == DecodeErrorKind::kBadEnvelope);
  CHECK(KindOf(R"({"v":1.5,"type":"ack","seq":1})") == DecodeErrorKind::kBadEnvelope);
  CHECK(KindOf(R"({"v":1,"seq":1})") == DecodeErrorKind::kBadEnvelope);
  CHECK(KindOf(R"({"v":1,"type":7})") == DecodeErrorKind::kBadEnvelope);
  CHECK(KindOf(R"({"v":1,"type":""})") == DecodeErrorKind::kBadEnvelope);
  CHECK(KindOf(R"({"v":1,"type":"ack","type":"ack","seq":1})") == DecodeErrorKind::kBadEnvelope);
}

TEST_CASE("deeply nested input is rejected without recursion", "[protocol]") {
  std::string deep = R"({"v":1,"type":"delta","seq":1,"payload":)" + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  auto r = Decode(deep);
  CHECK(r.error.kind == DecodeErrorKind::kInvalidJson);
  // Brackets inside strings do not count as nesting.
  std::string in_string = R"({"v":1,"type":"delta","seq":1,"payload":{"s":")" +
                          std::string(1000, '[') + "\\\"" + R"("}})";
  CHECK(Decode(in_string).ok());
}

TEST_CASE("unknown message types are reported with type and id", "[protocol]") {
  auto r = Decode(R"({"v":1,"type":"teleport","id":"r-1"})");
  CHECK(r.error.kind == DecodeErrorKind::kUnknownType);
  CHECK(r.error.type == "teleport");
  CHECK(r.error.id == "r-1");
  CHECK(r.error.message == "unknown message type \"teleport\"");
}

TEST_CASE("known members with wrong types or ranges are invalid fields", "[protocol]") {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {R"({"v":1,"type":"ack"})", "ack.seq: required"},
      {R"({"v":1,"type":"progress","id":"r1"})", "progress.payload: required"},
      {R"({"v":1,"type":"progress","payload":{}})", "progress.id: required"},
      {R"({"v":1,"type":"progress","id":"r1","payload":[]})", "progress.payload: must be an object"},
      {R"({"v":1,"type":"ack","seq":"1"})", "ack.seq: must be an integer"},
      {R"({"v":1,"type":"ack","seq":1.0})", "ack.seq: must be an integer"},
      {R"({"v":1,"type":"ack","seq":-1})", "ack.seq: must be 0..9007199254740991"},
      {R"({"v":1,"type":"ack","seq":18446744073709551615})", "ack.seq: must be an integer"},
      {R"({"v":1,"type":"delta","seq":0,"payload":{}})", "delta.seq: must be 1..9007199254740991"},
      {R"({"v":1,"type":"delta","seq":1,"payload":[]})", "delta.payload: must be an object"},
      {R"({"v":1,"type":"delta","seq":1})", "delta.payload: required"},
      {R"({"v":1,"type":"snapshot","seq":1,"payload":{},"final":"yes"})",
       "snapshot.final: must be a boolean"},
      {R"({"v":1,"type":"request","id":"","kind":"x"})",
       "request.id: must be 1..128 printable ASCII bytes"},
      {R"({"v":1,"type":"request","id":"a b","kind":"x"})",
       "request.id: must be 1..128 printable ASCII bytes"},
      {R"({"v":1,"type":"request","id":"a","kind":"x","timeoutMs":-5})",
       "request.timeoutMs: must be 0..86400000"},
      {R"({"v":1,"type":"request","id":"a"})", "request.kind: required"},
      {R"({"v":1,"type":"response","id":"a"})", "response.ok: required"},
      {R"({"v":1,"type":"response","id":"a","ok":false})", "response.error: required"},
      {R"({"v":1,"type":"response","id":"a","ok":false,"error":{"message":"m"}})",
       "response.error.code: required"},
      {R"({"v":1,"type":"response","id":"a","ok":false,"payload":{},"error":{"code":"c"}})",
       "response.payload: not allowed with ok:false"},
      {R"({"v":1,"type":"response","id":"a","ok":true,"error":{"code":"c"}})",
       "response.error: not allowed with ok:true"},
      {R"({"v":1,"type":"hello","agentVersion":"1","protocolVersions":[1]})",
       "hello.cluster: required"},
      {R"({"v":1,"type":"hello","agentVersion":"1","protocolVersions":[1],"cluster":{}})",
       "hello.cluster.uid: required"},
      {R"({"v":1,"type":"hello","agentVersion":"1","protocolVersions":[],"cluster":{"uid":"u"}})",
       "hello.protocolVersions: must have 1..16 entries"},
      {R"({"v":1,"type":"hello","agentVersion":"1","protocolVersions":["1"],"cluster":{"uid":"u"}})",
       "hello.protocolVersions: must be an array of integers"},
      {R"({"v":1,"type":"hello","agentVersion":"1","protocolVersions":[1],"cluster":{"uid":"u","uid":"v"}})",
       "hello.cluster: duplicate member names"},
      {R"({"v":1,"type":"welcome","sessionId":"s","version":1,"lastAck":0,"limits":{"maxMessageBytes":10,"maxInFlightRequests":1}})",
       "welcome.limits.maxMessageBytes: must be 65536..2147483647"},
      {R"({"v":1,"type":"welcome","sessionId":"s","version":1,"lastAck":0,"limits":{"maxMessageBytes":1500,"maxInFlightRequests":1}})",
       "welcome.limits.maxMessageBytes: must be 65536..2147483647"},
      {R"({"v":1,"type":"welcome","sessionId":"s","version":1,"lastAck":0,"limits":{"maxMessageBytes":65535,"maxInFlightRequests":1}})",
       "welcome.limits.maxMessageBytes: must be 65536..2147483647"},
      {R"({"v":1,"type":"error","message":"m"})", "error.code: required"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto r = Decode(c.text);
    CHECK(r.error.kind == DecodeErrorKind::kInvalidField);
    CHECK(r.error.message == c.message);
  }
}

TEST_CASE("oversize strings are rejected", "[protocol]") {
  Hello h = SampleHello();
  h.node = std::string(254, 'n');
  CHECK(Validate(h) == "hello.node: length must be 0..253 bytes");
  std::string error;
  CHECK_FALSE(Encode(h, &error));
  CHECK(error == "hello.node: length must be 0..253 bytes");
  Error e = MakeError("x", std::string(5000, 'm'));
  CHECK_FALSE(Encode(e));
}

TEST_CASE("encode refuses payloads that are not JSON objects", "[protocol]") {
  std::string error;
  CHECK_FALSE(Encode(Request{"a", "k", 0, "[1]"}, &error));
  CHECK(error == "payload: must be a JSON object");
  CHECK_FALSE(Encode(Request{"a", "k", 0, "{"}, &error));
  CHECK_FALSE(Encode(StreamMessage{StreamMessage::Kind::kDelta, 1, "{\"a\":1}x", true}));
}

TEST_CASE("unknown members are ignored for forward compatibility", "[protocol]") {
  auto r = Decode(R"({"v":1,"type":"ack","seq":9,"future":{"x":[1]}})");
  REQUIRE(r.ok());
  CHECK(std::get<Ack>(*r.message).seq == 9);
}

TEST_CASE("the smallest legal message limit is 64 KiB", "[protocol]") {
  CHECK(kMinMaxMessageBytes == 65536);
  CHECK(Validate(Welcome{"s", 1, 0, {65536, 1}}).empty());
  CHECK(Validate(Welcome{"s", 1, 0, {65535, 1}}) ==
        "welcome.limits.maxMessageBytes: must be 65536..2147483647");
}

TEST_CASE("nesting deeper than 64 levels is malformed, in unknown members too, and never encoded",
          "[protocol]") {
  // docs/protocol.md, "Limits": the envelope is level 1.
  auto nested = [](int levels) {  // an unknown member holding `levels` nested arrays
    return R"({"v":1,"type":"ack","seq":1,"future":)" + std::string(levels, '[') +
           std::string(levels, ']') + "}";
  };
  CHECK(Decode(nested(63)).ok());
  auto r = Decode(nested(64));
  CHECK(r.error.kind == DecodeErrorKind::kInvalidJson);
  CHECK(r.error.message == "JSON nested deeper than 64 levels");

  // A payload is one level below the envelope: 63 levels of its own at most.
  auto payload = [](int levels) {
    return "{\"a\":" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
  };
  auto ok = Encode(StreamMessage{StreamMessage::Kind::kDelta, 1, payload(63), true});
  REQUIRE(ok);
  CHECK(Decode(*ok).ok());
  std::string error;
  CHECK_FALSE(Encode(StreamMessage{StreamMessage::Kind::kDelta, 1, payload(64), true}, &error));
  CHECK(error == "payload: nested too deep");
}

TEST_CASE("members: at most 64 in the envelope, elsewhere bounded by the message size", "[protocol]") {
  // docs/protocol.md, "Limits".
  auto envelope = [](int extra) {
    std::string m = R"({"v":1,"type":"ack","seq":1)";
    for (int i = 0; i < extra; ++i) m += fmt::format(R"(,"x{}":0)", i);
    return m + "}";
  };
  CHECK(Decode(envelope(61)).ok());  // 64 members
  auto r = Decode(envelope(62));
  CHECK(r.error.kind == DecodeErrorKind::kBadEnvelope);
  CHECK(r.error.message == "too many members in the envelope");

  // Inside a member, only the size limits the count: each member takes at
  // least 6 bytes, so a 4 MiB message holds ~600,000. Duplicate detection
  // in known objects sorts the names (n log n): that many cost
  // milliseconds, not the quadratic pass a naive check would take.
  std::string hello = *Encode(SampleHello());
  std::string members;
  int n = 0;
  while (hello.size() + members.size() < kDefaultMaxMessageBytes - 64) {
    members += fmt::format(R"(,"m{}":0)", n++);
  }
  CHECK(n > 300000);
  auto with_cluster_members = [&](const std::string& extra) {
    std::string m = hello;
    size_t at = m.find(R"("cluster":{)");
    REQUIRE(at != std::string::npos);
    at = m.find('}', at);
    return m.substr(0, at) + extra + m.substr(at);
  };
  std::string ok = with_cluster_members(members);
  REQUIRE(ok.size() <= static_cast<size_t>(kDefaultMaxMessageBytes));
  CHECK(Decode(ok).ok());
  r = Decode(with_cluster_members(members + R"(,"m0":1)"));
  CHECK(r.error.kind == DecodeErrorKind::kInvalidField);
  CHECK(r.error.message == "hello.cluster: duplicate member names");
  // Past the size limit nothing is parsed.
  r = Decode(with_cluster_members(members + std::string(200, ' ')));
  CHECK(r.error.kind == DecodeErrorKind::kTooLarge);
}

TEST_CASE("random mutations of valid messages never crash the decoder", "[protocol]") {
  std::vector<std::string> seeds;
  for (const Message& m :
       std::vector<Message>{SampleHello(), Welcome{"s", 1, 3, {}}, Ack{4},
                            StreamMessage{StreamMessage::Kind::kSnapshot, 2, R"({"k":[1,"a"]})", true},
                            Request{"r", "k", 10, R"({"q":"w"})"},
                            ErrorResponse("r", "busy", "later"), MakeError("c", "m")}) {
    seeds.push_back(*Encode(m));
  }
  std::mt19937 rng(12345);
  const char alphabet[] = "{}[]\":,0123456789-.eEtrufalsn\\ \x01\xff";
  int decoded_ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0: s[pos] = alphabet[rng() % (sizeof alphabet - 1)]; break;
        case 1: s.erase(pos, 1 + rng() % 3); break;
        default: s.insert(pos, 1, alphabet[rng() % (sizeof alphabet - 1)]); break;
      }
    }
    auto r = Decode(s, 4096);
    if (r.ok()) {
      ++decoded_ok;
      // Whatever decodes must re-encode (the codec is closed under its rules).
      CHECK(Encode(*r.message));
    } else {
      CHECK(r.error.kind != DecodeErrorKind::kNone);
      CHECK_FALSE(r.error.message.empty());
    }
  }
  CHECK(decoded_ok > 0);
}

TEST_CASE("close codes that mean refusal ask for the maximum delay", "[protocol]") {
  CHECK(CloseCodeIsAuthRefusal(kCloseUnauthorized));
  CHECK(CloseCodeIsAuthRefusal(kCloseForbidden));
  CHECK_FALSE(CloseCodeIsAuthRefusal(kCloseSuperseded));
  CHECK(CloseCodeWantsMaxBackoff(kCloseSuperseded));
  CHECK(CloseCodeWantsMaxBackoff(kCloseUnsupportedVersion));
  CHECK_FALSE(CloseCodeWantsMaxBackoff(kCloseTooBig));
  CHECK_FALSE(CloseCodeWantsMaxBackoff(kCloseGoingAway));
  CHECK(CloseCodeName(4409) == "superseded");
  CHECK(CloseCodeName(1002) == "websocket protocol error");
  CHECK(CloseCodeName(1007) == "invalid UTF-8");
  CHECK(CloseCodeName(4999) == "code 4999");
}
