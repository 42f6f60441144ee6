// application/vnd.kubernetes.protobuf request bodies (test/apiserver/protobuf.h):
// the bytes client-go's typed clients send, built here field by field as
// gogo-protobuf marshals them (every non-pointer field on the wire, zero or
// not), decode into the JSON object a JSON client would send.
#include "test/apiserver/protobuf.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "test/apiserver/api_server.h"
#include "test/apiserver/server_fixture.h"
#include "test/apiserver/test_client.h"

using srexpert::testing::ApiError;
using srexpert::testing::ApiServer;
using srexpert::testing::DecodeProtobuf;
using srexpert::testing::TestClient;
namespace json = srexpert::json;

namespace {

// --- A protobuf writer: just what the tests need.

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// Length-delimited field (string, bytes, message, map entry).
std::string Len(int number, const std::string& bytes) {
  return Varint(static_cast<uint64_t>(number) << 3 | 2) + Varint(bytes.size()) + bytes;
}

std::string Int(int number, uint64_t v) {
  return Varint(static_cast<uint64_t>(number) << 3) + Varint(v);
}

std::string MapEntry(int number, const std::string& key, const std::string& value) {
  return Len(number, Len(1, key) + Len(2, value));
}

// ObjectMeta as gogo writes it: name, generateName, namespace, selfLink,
// uid, resourceVersion, generation and an empty creationTimestamp always.
std::string Meta(const std::string& name, const std::string& ns, const std::string& extra = "") {
  return Len(1, name) + Len(2, "") + Len(3, ns) + Len(4, "") + Len(5, "") + Len(6, "") + Int(7, 0) +
         Len(8, "") + extra;
}

std::string Envelope(const std::string& api_version, const std::string& kind,
                     const std::string& raw, const std::string& tail = "") {
  return std::string("k8s\0", 4) + Len(1, Len(1, api_version) + Len(2, kind)) + Len(2, raw) +
         Len(3, "") + Len(4, "") + tail;
}

std::string HelmReleaseSecret(const std::string& data) {
  std::string labels = MapEntry(11, "name", "demo") + MapEntry(11, "owner", "helm") +
                       MapEntry(11, "status", "deployed");
  return Envelope("v1", "Secret",
                  Len(1, Meta("sh.helm.release.v1.demo.v1", "default", labels)) +
                      MapEntry(2, "release", data) + Len(3, "helm.sh/release.v1"));
}

json::Document Decoded(const std::string& body) {
  auto r = DecodeProtobuf(body);
  if (auto* e = std::get_if<ApiError>(&r)) FAIL(e->code << " " << e->message);
  return std::move(std::get<json::Document>(r));
}

ApiError Refused(const std::string& body) {
  auto r = DecodeProtobuf(body);
  REQUIRE(std::holds_alternative<ApiError>(r));
  return std::get<ApiError>(r);
}

using Fixture = srexpert::testing::ServerFixture;

constexpr const char* kProto = "application/vnd.kubernetes.protobuf";

}  // namespace

TEST_CASE("a protobuf Secret decodes to the JSON a JSON client sends", "[apiserver][protobuf]") {
  auto doc = Decoded(HelmReleaseSecret(std::string("\x1f\x8b\0binary", 9)));
  CHECK(json::Dump(doc) ==
        R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"sh.helm.release.v1.demo.v1",)"
        R"("namespace":"default","labels":{"name":"demo","owner":"helm","status":"deployed"}},)"
        R"("data":{"release":"H4sAYmluYXJ5"},"type":"helm.sh/release.v1"})");
}

TEST_CASE("protobuf ObjectMeta keeps owners, finalizers, timestamps and pointer zeros",
          "[apiserver][protobuf]") {
  std::string owner = Len(13, Len(1, "ReplicaSet") + Len(3, "web") + Len(4, "u-1") +
                                  Len(5, "apps/v1") + Int(6, 1) + Int(7, 0));
  std::string meta =
      Meta("cm", "team-a",
           owner + Len(14, "example.com/keep") + Len(9, Int(1, 1767225600)) + Int(10, 0));
  auto doc =
      Decoded(Envelope("v1", "ConfigMap",
                       Len(1, meta) + MapEntry(2, "k", "") + MapEntry(3, "b", "\x01") + Int(4, 0)));
  CHECK(
      json::Dump(doc) ==
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"team-a",)"
      R"("ownerReferences":[{"kind":"ReplicaSet","name":"web","uid":"u-1","apiVersion":"apps/v1",)"
      R"("controller":true,"blockOwnerDeletion":false}],"finalizers":["example.com/keep"],)"
      R"("deletionTimestamp":"2026-01-01T00:00:00Z","deletionGracePeriodSeconds":0},)"
      R"("data":{"k":""},"binaryData":{"b":"AQ=="},"immutable":false})");
}

TEST_CASE("protobuf Eviction and DeleteOptions decode with their options",
          "[apiserver][protobuf]") {
  std::string options = Int(1, 0) + Len(2, Len(1, "uid-1")) + Len(4, "Foreground") + Len(5, "All");
  auto eviction =
      Decoded(Envelope("policy/v1", "Eviction", Len(1, Meta("web-1", "team-a")) + Len(2, options)));
  CHECK(
      json::Dump(eviction) ==
      R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"web-1","namespace":"team-a"},)"
      R"("deleteOptions":{"gracePeriodSeconds":0,"preconditions":{"uid":"uid-1"},)"
      R"("propagationPolicy":"Foreground","dryRun":["All"]}})");
  auto del = Decoded(Envelope("meta.k8s.io/v1", "DeleteOptions", Len(4, "Background")));
  CHECK(json::GetString(del, {"propagationPolicy"}) == "Background");
}

TEST_CASE("protobuf IntOrString and Quantity maps decode to their JSON forms",
          "[apiserver][protobuf]") {
  std::string port_by_number =
      Len(1, "") + Int(3, 80) + Len(4, Int(1, 0) + Int(2, 8080) + Len(3, ""));
  std::string port_by_name = Int(3, 443) + Len(4, Int(1, 1) + Int(2, 0) + Len(3, "https"));
  auto svc = Decoded(
      Envelope("v1", "Service",
               Len(1, Meta("s", "d")) +
                   Len(2, Len(1, port_by_number) + Len(1, port_by_name) +
                              MapEntry(2, "app", "web") + Len(3, "") + Len(4, "ClusterIP"))));
  CHECK(json::Dump(*json::Find(svc, {"spec"})) ==
        R"({"ports":[{"port":80,"targetPort":8080},{"port":443,"targetPort":"https"}],)"
        R"("selector":{"app":"web"},"type":"ClusterIP"})");

  std::string limits = MapEntry(1, "cpu", Len(1, "500m")) + MapEntry(1, "memory", Len(1, "1Gi"));
  std::string container = Len(1, "c") + Len(2, "nginx") + Len(8, limits);
  auto pod = Decoded(Envelope("v1", "Pod", Len(1, Meta("p", "d")) + Len(2, Len(2, container))));
  CHECK(
      json::Dump(*json::Find(pod, {"spec"})) ==
      R"({"containers":[{"name":"c","image":"nginx","resources":{"limits":{"cpu":"500m","memory":"1Gi"}}}]})");
}

TEST_CASE("malformed protobuf bodies are a 400 that says what is wrong", "[apiserver][protobuf]") {
  auto no_magic = Refused("{\"kind\":\"Secret\"}");
  CHECK(no_magic.code == 400);
  CHECK(no_magic.message.find("k8s") != std::string::npos);

  auto unknown_field = Refused(Envelope("v1", "Secret", Len(1, Meta("s", "d")) + Len(9, "x")));
  CHECK(unknown_field.code == 400);
  CHECK(unknown_field.message.find("Secret: field 9 is not decoded") != std::string::npos);

  std::string truncated = HelmReleaseSecret("data");
  truncated.resize(truncated.size() - 3);
  CHECK(Refused(truncated).code == 400);

  std::string encoded = std::string("k8s\0", 4) + Len(1, Len(1, "v1") + Len(2, "Secret")) +
                        Len(2, "") + Len(3, "gzip");
  auto encoding = Refused(encoded);
  CHECK(encoding.code == 400);
  CHECK(encoding.message.find("contentEncoding \"gzip\"") != std::string::npos);
}

TEST_CASE("protobuf of a kind the table does not know is 415", "[apiserver][protobuf]") {
  auto e = Refused(Envelope("batch/v1", "Job", Len(1, Meta("j", "d"))));
  CHECK(e.code == 415);
  CHECK(e.reason == "UnsupportedMediaType");
  CHECK(e.message.find("batch/v1 Job") != std::string::npos);
}

TEST_CASE_METHOD(Fixture, "the server creates, updates and deletes with protobuf bodies",
                 "[apiserver][protobuf]") {
  const std::string secrets = "/api/v1/namespaces/default/secrets";
  auto created = client.Request("POST", secrets, HelmReleaseSecret("v1"), kProto);
  REQUIRE(created.status == 201);
  auto got = client.Get(secrets + "/sh.helm.release.v1.demo.v1").Json();
  CHECK(json::GetString(got, {"data", "release"}) == "djE=");
  CHECK(json::GetString(got, {"type"}) == "helm.sh/release.v1");
  CHECK(json::GetString(got, {"metadata", "labels", "owner"}) == "helm");

  std::string rv = json::GetString(got, {"metadata", "resourceVersion"});
  std::string updated_meta = Len(1, "sh.helm.release.v1.demo.v1") + Len(3, "default") + Len(6, rv) +
                             MapEntry(11, "status", "superseded");
  auto put = client.Request(
      "PUT", secrets + "/sh.helm.release.v1.demo.v1",
      Envelope("v1", "Secret",
               Len(1, updated_meta) + MapEntry(2, "release", "v2") + Len(3, "helm.sh/release.v1")),
      kProto);
  REQUIRE(put.status == 200);
  CHECK(json::GetString(put.Json(), {"metadata", "labels", "status"}) == "superseded");

  // A DeleteOptions body in protobuf is honoured: a wrong uid precondition.
  auto refused =
      client.Request("DELETE", secrets + "/sh.helm.release.v1.demo.v1",
                     Envelope("v1", "DeleteOptions", Len(2, Len(1, "not-the-uid"))), kProto);
  CHECK(refused.status == 409);
  auto deleted = client.Request("DELETE", secrets + "/sh.helm.release.v1.demo.v1",
                                Envelope("v1", "DeleteOptions", Len(4, "Background")), kProto);
  CHECK(deleted.status == 200);
  CHECK(client.Get(secrets + "/sh.helm.release.v1.demo.v1").status == 404);
}
