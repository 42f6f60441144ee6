#include "hub/stream_payload.h"

#include <catch2/catch.hpp>

#include <string>

using namespace srexpert::hub;

namespace {

// The error of a payload that must be rejected.
std::string SnapshotError(const std::string& json) {
  std::string error;
  auto p = DecodeSnapshotPayload(json, &error);
  INFO(json);
  CHECK_FALSE(p);
  return error;
}

std::string DeltaError(const std::string& json) {
  std::string error;
  auto p = DecodeDeltaPayload(json, &error);
  INFO(json);
  CHECK_FALSE(p);
  return error;
}

}  // namespace

TEST_CASE("a snapshot part 0 decodes kinds and objects", "[hub][payload]") {
  std::string error;
  auto p = DecodeSnapshotPayload(R"({"snapshot":"s1","part":0,
      "kinds":[{"apiVersion":"v1","kind":"Pod","available":true},
               {"apiVersion":"networking.k8s.io/v1","kind":"Ingress","available":false,"reason":"forbidden"}],
      "objects":[{"kind":"Pod","namespace":"default","name":"web-0","object":{"spec": {"a" : [1, 2]}}},
                 {"kind":"Node","namespace":"","name":"node-a","object":{}}],
      "future":"ignored"})",
                                 &error);
  INFO(error);
  REQUIRE(p);
  CHECK(p->snapshot == "s1");
  CHECK(p->part == 0);
  CHECK(p->kinds_json ==
        R"([{"apiVersion":"v1","kind":"Pod","available":true},{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","available":false,"reason":"forbidden"}])");
  REQUIRE(p->objects.size() == 2);
  CHECK(p->objects[0].kind == "Pod");
  CHECK(p->objects[0].ns == "default");
  CHECK(p->objects[0].name == "web-0");
  CHECK(p->objects[0].object == R"({"spec":{"a":[1,2]}})");
  CHECK(p->objects[1].ns == "");
}

TEST_CASE("later snapshot parts ignore kinds", "[hub][payload]") {
  std::string error;
  auto p = DecodeSnapshotPayload(R"({"snapshot":"s1","part":3,"kinds":"whatever","objects":[]})",
                                 &error);
  REQUIRE(p);
  CHECK(p->part == 3);
  CHECK(p->kinds_json.empty());
  CHECK(p->objects.empty());
}

TEST_CASE("malformed snapshots are rejected naming the member", "[hub][payload]") {
  CHECK(SnapshotError("") == "payload: invalid JSON at offset 0: The document is empty.");
  CHECK(SnapshotError("[]") == "payload: must be an object");
  CHECK(SnapshotError(R"({"part":0,"kinds":[],"objects":[]})") == "snapshot: required");
  CHECK(SnapshotError(R"({"snapshot":"","part":0,"kinds":[],"objects":[]})") ==
        "snapshot: must be 1..128 bytes");
  CHECK(SnapshotError(R"({"snapshot":")" + std::string(129, 'x') + R"(","part":0,"kinds":[],"objects":[]})") ==
        "snapshot: must be 1..128 bytes");
  CHECK(SnapshotError(R"({"snapshot":"s","part":-1,"kinds":[],"objects":[]})") ==
        "part: must be an integer 0..2^53-1");
  CHECK(SnapshotError(R"({"snapshot":"s","part":1.5,"objects":[]})") ==
        "part: must be an integer 0..2^53-1");
  CHECK(SnapshotError(R"({"snapshot":"s","part":"0","objects":[]})") ==
        "part: must be an integer 0..2^53-1");
  CHECK(SnapshotError(R"({"snapshot":"s","part":0,"objects":[]})") == "kinds: required on part 0");
  CHECK(SnapshotError(R"({"snapshot":"s","part":0,"kinds":{},"objects":[]})") ==
        "kinds: must be an array");
  CHECK(SnapshotError(R"({"snapshot":"s","part":0,"kinds":[1],"objects":[]})") ==
        "kinds[0]: must be an object");
  CHECK(SnapshotError(R"({"snapshot":"s","part":0,"kinds":[{"apiVersion":"v1","kind":"Pod"}],"objects":[]})") ==
        "kinds[0].available: required");
  CHECK(SnapshotError(R"({"snapshot":"s","part":0,"kinds":[{"apiVersion":"v1","available":true}],"objects":[]})") ==
        "kinds[0].kind: required");
  CHECK(SnapshotError(R"({"snapshot":"s","part":0,"kinds":[{"apiVersion":1,"kind":"Pod","available":true}],"objects":[]})") ==
        "kinds[0].apiVersion: must be a string");
  CHECK(SnapshotError(R"({"snapshot":"s","part":0,"kinds":[{"apiVersion":"v1","kind":"Pod","available":"yes"}],"objects":[]})") ==
        "kinds[0].available: must be a boolean");
  CHECK(SnapshotError(R"({"snapshot":"s","part":1})") == "objects: required");
  CHECK(SnapshotError(R"({"snapshot":"s","part":1,"objects":{}})") == "objects: must be an array");
  CHECK(SnapshotError(R"({"snapshot":"s","part":1,"objects":[null]})") ==
        "objects[0]: must be an object");
  CHECK(SnapshotError(R"({"snapshot":"s","part":1,"objects":[{"kind":"Pod","namespace":"a","name":"b","object":{}},{"kind":"","namespace":"a","name":"b","object":{}}]})") ==
        "objects[1].kind: must be 1..64 bytes");
  CHECK(SnapshotError(R"({"snapshot":"s","part":1,"objects":[{"kind":"Pod","name":"b","object":{}}]})") ==
        "objects[0].namespace: required");
  CHECK(SnapshotError(R"({"snapshot":"s","part":1,"objects":[{"kind":"Pod","namespace":"a","name":")" +
                      std::string(254, 'n') + R"(","object":{}}]})") ==
        "objects[0].name: must be 1..253 bytes");
  CHECK(SnapshotError(R"({"snapshot":"s","part":1,"objects":[{"kind":"Pod","namespace":"a","name":"b"}]})") ==
        "objects[0].object: required");
  CHECK(SnapshotError(R"({"snapshot":"s","part":1,"objects":[{"kind":"Pod","namespace":"a","name":"b","object":[]}]})") ==
        "objects[0].object: must be an object");
}

TEST_CASE("a delta decodes changes, events and metrics", "[hub][payload]") {
  std::string error;
  auto p = DecodeDeltaPayload(R"({
      "changes":[{"op":"added","kind":"Pod","namespace":"default","name":"web-1","object":{"x":1}},
                 {"op":"modified","kind":"Deployment","namespace":"default","name":"web","object":{"y":2}},
                 {"op":"deleted","kind":"Pod","namespace":"default","name":"web-0"},
                 {"op":"modified","kind":"Pod","namespace":"default","name":"web-2","patch":{"status":{"phase":"Running","x":null}}}],
      "events":[{"uid":"e1","namespace":"default","name":"web-0.17a","type":"Warning","reason":"BackOff",
                 "message":"m","count":7,"firstTimestamp":"2026-11-24T20:00:00Z","lastTimestamp":"2026-11-24T21:00:00Z",
                 "regarding":{"kind":"Pod","namespace":"default","name":"web-0","uid":"p1"},
                 "reportingController":"kubelet"},
                {"uid":"e2","namespace":"","firstTimestamp":"2026-11-24T19:00:00Z"},
                {"uid":"e3","namespace":"kube-system"}],
      "metrics":{"available":true,"collectedAt":"2026-11-24T21:00:00Z",
                 "nodes":[{"name":"node-a","cpuMilli":250,"memoryBytes":1073741824}],
                 "pods":[{"namespace":"default","name":"web-0","cpuMilli":12,"memoryBytes":52428800}]}})",
                              &error);
  INFO(error);
  REQUIRE(p);
  REQUIRE(p->changes.size() == 4);
  CHECK(p->changes[3].op == ChangeOp::kModified);
  CHECK(p->changes[3].resource.object.empty());
  CHECK(p->changes[3].patch == R"({"status":{"phase":"Running","x":null}})");
  CHECK(p->changes[0].op == ChangeOp::kAdded);
  CHECK(p->changes[0].resource.object == R"({"x":1})");
  CHECK(p->changes[1].op == ChangeOp::kModified);
  CHECK(p->changes[1].resource.kind == "Deployment");
  CHECK(p->changes[2].op == ChangeOp::kDeleted);
  CHECK(p->changes[2].resource.object.empty());
  REQUIRE(p->events.size() == 3);
  CHECK(p->events[0].uid == "e1");
  CHECK(p->events[0].ns == "default");
  CHECK(p->events[0].sort_time == "2026-11-24T21:00:00Z");
  CHECK(p->events[0].json.find(R"("count":7)") != std::string::npos);
  CHECK(p->events[1].sort_time == "2026-11-24T19:00:00Z");
  CHECK(p->events[2].sort_time == "");
  REQUIRE(p->metrics);
  CHECK(p->metrics->find(R"("nodes":[{"name":"node-a")") != std::string::npos);

  auto only_metrics = DecodeDeltaPayload(R"({"metrics":{"available":false,"reason":"metrics.k8s.io not served"}})", &error);
  REQUIRE(only_metrics);
  CHECK(only_metrics->changes.empty());
  CHECK(*only_metrics->metrics == R"({"available":false,"reason":"metrics.k8s.io not served"})");
  CHECK(DecodeDeltaPayload(R"({"changes":[]})", &error));
}

TEST_CASE("malformed deltas are rejected naming the member", "[hub][payload]") {
  CHECK(DeltaError("{}") == "payload: needs at least one of changes, events, metrics, scan");
  CHECK(DeltaError(R"({"other":1})") == "payload: needs at least one of changes, events, metrics, scan");
  CHECK(DeltaError(R"({"changes":{}})") == "changes: must be an array");
  CHECK(DeltaError(R"({"changes":[1]})") == "changes[0]: must be an object");
  const std::string ok = R"({"op":"added","kind":"Pod","namespace":"a","name":"b","object":{}},)";
  CHECK(DeltaError(R"({"changes":[)" + ok + ok + ok +
                   R"({"op":"created","kind":"Pod","namespace":"a","name":"b","object":{}}]})") ==
        "changes[3].op: must be added, modified or deleted");
  CHECK(DeltaError(R"({"changes":[{"kind":"Pod","namespace":"a","name":"b","object":{}}]})") ==
        "changes[0].op: required");
  CHECK(DeltaError(R"({"changes":[{"op":1,"kind":"Pod","namespace":"a","name":"b","object":{}}]})") ==
        "changes[0].op: must be a string");
  CHECK(DeltaError(R"({"changes":[{"op":"added","kind":"Pod","namespace":"a","name":"b"}]})") ==
        "changes[0].object: required with op added");
  CHECK(DeltaError(R"({"changes":[{"op":"modified","kind":"Pod","namespace":"a","name":"b","object":"x"}]})") ==
        "changes[0].object: must be an object");
  CHECK(DeltaError(R"({"changes":[{"op":"modified","kind":"Pod","namespace":"a","name":"b"}]})") ==
        "changes[0].object: required with op modified (or patch)");
  CHECK(DeltaError(R"({"changes":[{"op":"modified","kind":"Pod","namespace":"a","name":"b","object":{},"patch":{}}]})") ==
        "changes[0].patch: not allowed together with object");
  CHECK(DeltaError(R"({"changes":[{"op":"modified","kind":"Pod","namespace":"a","name":"b","patch":null}]})") ==
        "changes[0].patch: must be an object");
  CHECK(DeltaError(R"({"changes":[{"op":"added","kind":"Pod","namespace":"a","name":"b","patch":{}}]})") ==
        "changes[0].patch: not allowed with op added");
  CHECK(DeltaError(R"({"changes":[{"op":"deleted","kind":"Pod","namespace":"a","name":"b","patch":{}}]})") ==
        "changes[0].patch: not allowed with op deleted");
  CHECK(DeltaError(R"({"changes":[{"op":"deleted","kind":"Pod","namespace":"a","name":"b","object":{}}]})") ==
        "changes[0].object: not allowed with op deleted");
  CHECK(DeltaError(R"({"changes":[{"op":"deleted","kind":"Pod","namespace":7,"name":"b"}]})") ==
        "changes[0].namespace: must be a string");
  CHECK(DeltaError(R"({"events":{}})") == "events: must be an array");
  CHECK(DeltaError(R"({"events":["x"]})") == "events[0]: must be an object");
  CHECK(DeltaError(R"({"events":[{"namespace":"a"}]})") == "events[0].uid: required");
  CHECK(DeltaError(R"({"events":[{"uid":"u"}]})") == "events[0].namespace: required");
  CHECK(DeltaError(R"({"events":[{"uid":"u","namespace":"a","count":-1}]})") ==
        "events[0].count: must be an integer 0..2^53-1");
  CHECK(DeltaError(R"({"events":[{"uid":"u","namespace":"a","message":5}]})") ==
        "events[0].message: must be a string");
  CHECK(DeltaError(R"({"events":[{"uid":"u","namespace":"a","regarding":[]}]})") ==
        "events[0].regarding: must be an object");
  CHECK(DeltaError(R"({"events":[{"uid":"u","namespace":"a","regarding":{"name":1}}]})") ==
        "events[0].regarding.name: must be a string");
  CHECK(DeltaError(R"({"events":[{"uid":"u","namespace":"a","lastTimestamp":")" +
                   std::string(65, '9') + R"("}]})") ==
        "events[0].lastTimestamp: must be 0..64 bytes");
  CHECK(DeltaError(R"({"metrics":[]})") == "metrics: must be an object");
  CHECK(DeltaError(R"({"metrics":{}})") == "metrics.available: required");
  CHECK(DeltaError(R"({"metrics":{"available":false,"reason":1}})") ==
        "metrics.reason: must be a string");
  CHECK(DeltaError(R"({"metrics":{"available":true,"nodes":{}}})") ==
        "metrics.nodes: must be an array");
  CHECK(DeltaError(R"({"metrics":{"available":true,"nodes":[{"name":"n","cpuMilli":1}]}})") ==
        "metrics.nodes[0].memoryBytes: required");
  CHECK(DeltaError(R"({"metrics":{"available":true,"pods":[{"name":"p","cpuMilli":1,"memoryBytes":2}]}})") ==
        "metrics.pods[0].namespace: required");
  CHECK(DeltaError(R"({"metrics":{"available":true,"pods":[{"namespace":"a","name":"p","cpuMilli":1.5,"memoryBytes":2}]}})") ==
        "metrics.pods[0].cpuMilli: must be an integer");
}

TEST_CASE("hostile payloads are rejected without crashing", "[hub][payload]") {
  std::string error;
  // Deep nesting is refused before parsing.
  std::string deep = R"({"changes":[{"op":"added","kind":"K","namespace":"","name":"n","object":)" +
                     std::string(100, '[') + std::string(100, ']') + "}]}";
  CHECK_FALSE(DecodeDeltaPayload(deep, &error));
  CHECK(error == "payload: JSON nested deeper than 64 levels");
  CHECK_FALSE(DecodeSnapshotPayload(std::string(100000, '{'), &error));
  // Duplicate member names, at the top and deep inside an object.
  CHECK(DeltaError(R"({"changes":[],"changes":[]})") == "payload: duplicate member names");
  CHECK(DeltaError(R"({"changes":[{"op":"added","kind":"K","namespace":"","name":"n","object":{"a":{"b":1,"b":2}}}]})") ==
        "payload: duplicate member names");
  // Invalid UTF-8 would make the stored JSON unservable.
  CHECK(DeltaError("{\"changes\":[{\"op\":\"added\",\"kind\":\"K\",\"namespace\":\"\",\"name\":\"\xff\",\"object\":{}}]}")
            .rfind("payload: invalid JSON", 0) == 0);
  CHECK(DeltaError(std::string("{\"changes\":[]\0}", 15)).rfind("payload: invalid JSON", 0) == 0);
  for (const char* in : {"null", "1", "\"x\"", "{", "{\"changes\":", "{\"changes\":[{]}",
                         "{\"events\":[{\"uid\":\"u\",\"namespace\":\"a\",\"count\":1e400}]}"}) {
    CHECK_FALSE(DecodeDeltaPayload(in, &error));
    CHECK_FALSE(error.empty());
    CHECK_FALSE(DecodeSnapshotPayload(in, &error));
  }
  // A large valid batch decodes completely (work is linear).
  std::string big = R"({"changes":[)";
  for (int i = 0; i < 5000; ++i) {
    if (i) big += ',';
    big += R"({"op":"modified","kind":"Pod","namespace":"ns","name":"p)" + std::to_string(i) +
           R"(","object":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10}})";
  }
  big += "]}";
  auto p = DecodeDeltaPayload(big, &error);
  REQUIRE(p);
  CHECK(p->changes.size() == 5000);
}
