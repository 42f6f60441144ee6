// The hub's stream handling end to end over a real WebSocket: snapshots and
// deltas into the state store, the REST views of it, the sequencing and
// payload rules of docs/protocol.md, and a restart on the same state file.
#include <catch2/catch.hpp>

#include <atomic>

#include "common/json.h"
#include "hub/hub.h"
#include "test/hub/hub_fixture.h"
#include "test/net/test_support.h"

using namespace srexpert;
using namespace srexpert::hub;
using namespace srexpert::hub::testing;
using srexpert::testing::HttpCall;
using srexpert::testing::WaitUntil;

namespace {

const std::string kKinds =
    R"([{"apiVersion":"v1","kind":"Pod","available":true},{"apiVersion":"v1","kind":"Node","available":true},)"
    R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","available":false,"reason":"forbidden"}])";

std::string Pod(const std::string& ns, const std::string& name, int v = 1) {
  return R"({"kind":"Pod","namespace":")" + ns + R"(","name":")" + name +
         R"(","object":{"metadata":{"name":")" + name + R"("},"v":)" + std::to_string(v) + "}}";
}

json::Document GetJson(Hub& hub, const std::string& target, int status = 200) {
  auto r = HttpCall(hub.api_port(), "GET", target);
  INFO(target << " → " << r.status << " " << r.body);
  REQUIRE(r.status == status);
  auto doc = json::Parse(r.body);
  REQUIRE(doc);
  return std::move(*doc);
}

// "kind/namespace/name" of the items of GET .../resources.
std::vector<std::string> ResourceNames(Hub& hub, const std::string& cluster,
                                       const std::string& query = "") {
  auto doc = GetJson(hub, "/api/v1/clusters/" + cluster + "/resources" + query);
  std::vector<std::string> out;
  for (const auto& item : doc["items"].GetArray()) {
    out.push_back(json::GetString(item, {"kind"}) + "/" + json::GetString(item, {"namespace"}) +
                  "/" + json::GetString(item, {"name"}));
  }
  return out;
}

std::vector<std::string> EventUids(Hub& hub, const std::string& query = "") {
  auto doc = GetJson(hub, "/api/v1/clusters/prod/events" + query);
  std::vector<std::string> out;
  for (const auto& item : doc["items"].GetArray()) out.push_back(json::GetString(item, {"uid"}));
  return out;
}

int64_t ListedLastAck(Hub& hub, const std::string& cluster) {
  auto doc = GetJson(hub, "/api/v1/clusters");
  for (const auto& c : doc["clusters"].GetArray()) {
    if (json::GetString(c, {"name"}) == cluster) return json::GetInt(c, {"lastAck"}, -1);
  }
  return -1;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("snapshot and deltas are served over REST", "[hub][api][state]") {
  std::atomic<int> stream_messages{0};
  HubFixture f;
  // OnMessage must be set before Start: a second hub with the same options.
  auto hub = std::make_unique<Hub>(f.options);
  hub->OnMessage([&](const std::string&, const protocol::Message& m) {
    if (std::holds_alternative<protocol::StreamMessage>(m)) ++stream_messages;
  });
  std::string error;
  REQUIRE(hub->Start(&error));
  CHECK(GetJson(*hub, "/api/v1/clusters/prod/resources", 404)["error"] ==
        "unknown cluster \"prod\"");

  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  // Known but empty before any snapshot.
  auto empty = GetJson(*hub, "/api/v1/clusters/prod/resources");
  CHECK(json::Dump(empty) == R"({"cluster":"prod","kinds":[],"items":[]})");
  CHECK(json::Dump(GetJson(*hub, "/api/v1/clusters/prod/metrics")) ==
        R"({"available":false,"reason":"no sample received yet"})");
  CHECK(json::Dump(GetJson(*hub, "/api/v1/clusters/prod/events")) == R"({"items":[]})");

  agent.Send(SnapshotMessage(1, "[" + Pod("default", "web-0") + "," + Pod("kube-system", "dns") + "]",
                             "s1", 0, false, kKinds));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 1);
  // Staged, not yet visible.
  CHECK(ResourceNames(*hub, "prod").empty());
  agent.Send(SnapshotMessage(
      2, R"([{"kind":"Node","namespace":"","name":"node-a","object":{"n":1}}])", "s1", 1, true));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 2);
  CHECK(ResourceNames(*hub, "prod") ==
        Strings{"Node//node-a", "Pod/default/web-0", "Pod/kube-system/dns"});

  agent.Send(DeltaMessage(3, R"({"changes":[)" + std::string(R"({"op":"added",)") +
                                 Pod("default", "web-1").substr(1) + "," +
                                 R"({"op":"modified",)" + Pod("default", "web-0", 2).substr(1) + "," +
                                 R"({"op":"deleted","kind":"Pod","namespace":"kube-system","name":"dns"}],
      "events":[{"uid":"e1","namespace":"default","reason":"Pulled","lastTimestamp":"2026-01-01T00:00:01Z"},
                {"uid":"e2","namespace":"kube-system","reason":"BackOff","count":1,"lastTimestamp":"2026-01-01T00:00:03Z"},
                {"uid":"e3","namespace":"default","reason":"Started","lastTimestamp":"2026-01-01T00:00:02Z"}],
      "metrics":{"available":true,"collectedAt":"2026-01-01T00:00:00Z","nodes":[{"name":"node-a","cpuMilli":250,"memoryBytes":1024}],"pods":[]}})"));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 3);
  // A repeated event replaces its record.
  agent.Send(DeltaMessage(4, R"({"events":[{"uid":"e2","namespace":"kube-system","reason":"BackOff","count":7,"lastTimestamp":"2026-01-01T00:00:09Z"}]})"));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 4);

  auto all = GetJson(*hub, "/api/v1/clusters/prod/resources");
  CHECK(json::GetString(all, {"cluster"}) == "prod");
  CHECK(json::Dump(all["kinds"]) == kKinds);
  REQUIRE(all["items"].Size() == 3);
  CHECK(json::Dump(all["items"][1]) ==
        R"({"kind":"Pod","namespace":"default","name":"web-0","object":{"metadata":{"name":"web-0"},"v":2}})");
  CHECK(ResourceNames(*hub, "prod") == Strings{"Node//node-a", "Pod/default/web-0", "Pod/default/web-1"});
  CHECK(ResourceNames(*hub, "prod", "?kind=Pod") == Strings{"Pod/default/web-0", "Pod/default/web-1"});
  CHECK(ResourceNames(*hub, "prod", "?kind=Node&namespace=") == Strings{"Node//node-a"});
  // Percent-encoded and '+' query values are decoded.
  CHECK(ResourceNames(*hub, "prod", "?namespace=d%65fault&kind=%50od") ==
        Strings{"Pod/default/web-0", "Pod/default/web-1"});
  CHECK(ResourceNames(*hub, "prod", "?namespace=no+such").empty());

  CHECK(EventUids(*hub) == Strings{"e2", "e3", "e1"});
  CHECK(EventUids(*hub, "?namespace=default") == Strings{"e3", "e1"});
  CHECK(EventUids(*hub, "?limit=1") == Strings{"e2"});
  CHECK(json::GetInt(GetJson(*hub, "/api/v1/clusters/prod/events?limit=1")["items"][0], {"count"}) == 7);
  auto metrics = GetJson(*hub, "/api/v1/clusters/prod/metrics");
  CHECK(json::GetBool(metrics, {"available"}));
  CHECK(metrics["nodes"][0]["cpuMilli"].GetInt() == 250);

  CHECK(ListedLastAck(*hub, "prod") == 4);
  CHECK(stream_messages == 4);
  // Another cluster's state is separate.
  RawAgent dev(f.pki.ca_cert);
  REQUIRE(dev.Connect(hub->tunnel_port(), "tok-dev") == 101);
  CHECK(dev.Handshake().last_ack == 0);
  CHECK(ResourceNames(*hub, "dev").empty());
}

TEST_CASE("the state REST API validates its paths and queries", "[hub][api][state]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  auto status = [&](const std::string& target) {
    return HttpCall(f.hub->api_port(), "GET", target).status;
  };
  CHECK(status("/api/v1/clusters/prod/resources") == 200);
  CHECK(status("/api/v1/clusters/pr%6fd/resources") == 200);
  CHECK(status("/api/v1/clusters/ghost/resources") == 404);
  CHECK(status("/api/v1/clusters/ghost/events") == 404);
  CHECK(status("/api/v1/clusters/ghost/metrics") == 404);
  CHECK(status("/api/v1/clusters/prod/other") == 404);
  CHECK(status("/api/v1/clusters/prod") == 404);
  CHECK(status("/api/v1/clusters//resources") == 404);
  CHECK(status("/api/v1/clusters/pr%zzd/resources") == 400);
  CHECK(status("/api/v1/clusters/prod/resources?kind=") == 400);
  CHECK(status("/api/v1/clusters/prod/resources?kind=" + std::string(65, 'K')) == 400);
  CHECK(status("/api/v1/clusters/prod/resources?namespace=" + std::string(254, 'n')) == 400);
  CHECK(status("/api/v1/clusters/prod/resources?kind=Pod&kind=Node") == 400);
  CHECK(status("/api/v1/clusters/prod/resources?knd=Pod") == 400);
  CHECK(status("/api/v1/clusters/prod/resources?kind=%4") == 400);
  CHECK(status("/api/v1/clusters/prod/resources?kind=a%00b") == 400);
  CHECK(status("/api/v1/clusters/prod/events?limit=5000") == 200);
  CHECK(status("/api/v1/clusters/prod/events?limit=5001") == 400);
  CHECK(status("/api/v1/clusters/prod/events?limit=0") == 400);
  CHECK(status("/api/v1/clusters/prod/events?limit=-1") == 400);
  CHECK(status("/api/v1/clusters/prod/events?limit=1e3") == 400);
  CHECK(status("/api/v1/clusters/prod/events?limit=") == 400);
  CHECK(status("/api/v1/clusters/prod/events?limit=99999999999999999999") == 400);
  CHECK(status("/api/v1/clusters/prod/metrics?x=1") == 400);
  auto r = HttpCall(f.hub->api_port(), "GET", "/api/v1/clusters/prod/events?limit=0");
  CHECK(r.body == R"({"error":"query parameter limit: must be an integer 1..5000"})");
  r = HttpCall(f.hub->api_port(), "GET", "/api/v1/clusters/prod/resources?knd=Pod");
  CHECK(r.body == R"j({"error":"unknown query parameter \"knd\" (allowed: kind, namespace)"})j");
}

TEST_CASE("invalid payloads are refused and do not advance the stream", "[hub][state]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  auto expect_error = [&](const std::string& code, const std::string& ref, const std::string& message) {
    auto err = agent.ReadAs<protocol::Error>();
    CHECK(err.code == code);
    CHECK(err.ref == ref);
    CHECK(err.message == message);
  };

  // A malformed snapshot, then a valid one.
  agent.Send(protocol::StreamMessage{protocol::StreamMessage::Kind::kSnapshot, 1, "{}", true});
  expect_error("invalid_payload", "1", "snapshot: required");
  agent.Send(SnapshotMessage(1, "[" + Pod("default", "web-0") + "]"));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 1);

  // A bad delta is not applied and seq 2 stays expected.
  agent.Send(DeltaMessage(2, R"({"changes":[{"op":"added","kind":"Pod","namespace":"default","name":"web-1","object":{}},)"
                             R"({"op":"replaced","kind":"Pod","namespace":"default","name":"web-0","object":{}}]})"));
  expect_error("invalid_payload", "2", "changes[1].op: must be added, modified or deleted");
  agent.Send(DeltaMessage(3, OneChange("added", "web-2")));
  expect_error("sequence_gap", "3", "expected seq 2, got 3");
  agent.Send(DeltaMessage(2, "{}"));
  expect_error("invalid_payload", "2", "payload: needs at least one of changes, events, metrics, scan");
  CHECK(ResourceNames(*f.hub, "prod") == Strings{"Pod/default/web-0"});
  agent.Send(DeltaMessage(2, OneChange("added", "web-1")));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 2);

  // Snapshot parts after 0 must continue the staged snapshot, at seq+1.
  agent.Send(SnapshotMessage(3, "[]", "lost", 1, true));
  expect_error("invalid_payload", "3", "part: snapshot lost part 1 continues no unfinished snapshot");
  agent.Send(SnapshotMessage(3, "[" + Pod("default", "new-0") + "]", "s2", 0, false));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 3);
  agent.Send(SnapshotMessage(5, "[]", "s2", 1, true));
  expect_error("sequence_gap", "5", "expected seq 4, got 5");
  agent.Send(SnapshotMessage(4, "[]", "other", 1, true));
  expect_error("invalid_payload", "4",
               "part: snapshot other part 1 does not continue snapshot s2 (expected part 1)");
  agent.Send(SnapshotMessage(4, "[]", "s2", 2, true));
  expect_error("invalid_payload", "4",
               "part: snapshot s2 part 2 does not continue snapshot s2 (expected part 1)");
  agent.Send(DeltaMessage(4, OneChange("added", "web-3")));
  expect_error("invalid_payload", "4",
               "payload: a delta while snapshot s2 is unfinished (expected part 1)");
  // Meanwhile readers still see the previous state.
  CHECK(ResourceNames(*f.hub, "prod") == Strings{"Pod/default/web-0", "Pod/default/web-1"});
  agent.Send(SnapshotMessage(4, "[" + Pod("default", "new-1") + "]", "s2", 1, true));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 4);
  CHECK(ResourceNames(*f.hub, "prod") == Strings{"Pod/default/new-0", "Pod/default/new-1"});

  // A duplicate of anything already accepted is acked again, even if its
  // payload would now be invalid.
  agent.Send(DeltaMessage(3, "{}"));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 4);
  // A fresh snapshot may jump ahead; the session stays usable throughout.
  agent.Send(SnapshotMessage(10, "[]"));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 10);
  CHECK(ResourceNames(*f.hub, "prod").empty());
  CHECK(ListedLastAck(*f.hub, "prod") == 10);
}

TEST_CASE("a hub restarted on the same state file keeps resources and lastAck", "[hub][state]") {
  HubFixture f([](HubOptions& o) { o.state_file = o.tokens_file + ".state.db"; });
  {
    RawAgent agent(f.pki.ca_cert);
    REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
    CHECK(agent.Handshake().last_ack == 0);
    agent.Send(SnapshotMessage(5, "[" + Pod("default", "web-0") + "]", "s1", 0, true, kKinds));
    CHECK(agent.ReadAs<protocol::Ack>().seq == 5);
    agent.Send(DeltaMessage(6, OneChange("added", "web-1") ));
    CHECK(agent.ReadAs<protocol::Ack>().seq == 6);
    agent.Send(DeltaMessage(7, R"({"events":[{"uid":"e1","namespace":"default"}],"metrics":{"available":false,"reason":"not served"}})"));
    CHECK(agent.ReadAs<protocol::Ack>().seq == 7);
    // A snapshot left unfinished by the restart.
    agent.Send(SnapshotMessage(8, "[" + Pod("default", "next-0") + "]", "s2", 0, false, "[]"));
    CHECK(agent.ReadAs<protocol::Ack>().seq == 8);
  }
  f.Restart();
  // Known from the store before any agent connects.
  CHECK(ListedLastAck(*f.hub, "prod") == 8);
  CHECK(ResourceNames(*f.hub, "prod") == Strings{"Pod/default/web-0", "Pod/default/web-1"});
  CHECK(json::Dump(GetJson(*f.hub, "/api/v1/clusters/prod/resources")["kinds"]) == kKinds);
  CHECK(EventUids(*f.hub) == Strings{"e1"});
  CHECK(json::Dump(GetJson(*f.hub, "/api/v1/clusters/prod/metrics")) ==
        R"({"available":false,"reason":"not served"})");
  CHECK(GetJson(*f.hub, "/api/v1/clusters/dev/resources", 404).IsObject());

  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  CHECK(agent.Handshake().last_ack == 8);
  agent.Send(DeltaMessage(8, OneChange("deleted", "web-0")));  // duplicate
  CHECK(agent.ReadAs<protocol::Ack>().seq == 8);
  // The staged part survived: the snapshot completes.
  agent.Send(SnapshotMessage(9, "[" + Pod("default", "next-1") + "]", "s2", 1, true));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 9);
  CHECK(ResourceNames(*f.hub, "prod") == Strings{"Pod/default/next-0", "Pod/default/next-1"});
  CHECK(json::Dump(GetJson(*f.hub, "/api/v1/clusters/prod/resources")["kinds"]) == "[]");
  agent.Send(DeltaMessage(10, OneChange("deleted", "next-0")));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 10);
  CHECK(ResourceNames(*f.hub, "prod") == Strings{"Pod/default/next-1"});
}

TEST_CASE("the hub refuses a state file it cannot use", "[hub][state]") {
  srexpert::testing::TempDir dir;
  srexpert::testing::WriteFile(dir.File("tokens.json"), R"({"clusters":[]})");
  srexpert::testing::WriteFile(dir.File("junk.db"), std::string(4096, 'x'));
  HubOptions o;
  o.port = 0;
  o.api_port = 0;
  o.allow_plain_ws = true;
  o.tokens_file = dir.File("tokens.json");
  o.state_file = dir.File("junk.db");
  Hub hub(o);
  std::string error;
  CHECK_FALSE(hub.Start(&error));
  CHECK(error.find("file is not a database") != std::string::npos);
}

TEST_CASE("a merge patch updates the served object and needs one to patch", "[hub][state]") {
  HubFixture f;
  RawAgent agent(f.pki.ca_cert);
  REQUIRE(agent.Connect(f.hub->tunnel_port(), "tok-prod") == 101);
  agent.Handshake();
  agent.Send(SnapshotMessage(1, "[" + Pod("default", "web-0") + "]"));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 1);
  agent.Send(DeltaMessage(2, R"({"changes":[{"op":"modified","kind":"Pod","namespace":"default","name":"web-0","patch":{"v":null,"status":{"phase":"Running"}}}]})"));
  CHECK(agent.ReadAs<protocol::Ack>().seq == 2);
  auto doc = GetJson(*f.hub, "/api/v1/clusters/prod/resources?kind=Pod");
  CHECK(json::Dump(doc["items"][0]["object"]) == R"({"metadata":{"name":"web-0"},"status":{"phase":"Running"}})");

  agent.Send(DeltaMessage(3, R"({"changes":[{"op":"modified","kind":"Pod","namespace":"default","name":"web-9","patch":{"v":2}}]})"));
  auto err = agent.ReadAs<protocol::Error>();
  CHECK(err.code == "invalid_payload");
  CHECK(err.ref == "3");
  CHECK(err.message == "changes[0].patch: the hub holds no Pod default/web-9 to patch");
  CHECK(ListedLastAck(*f.hub, "prod") == 2);
}
