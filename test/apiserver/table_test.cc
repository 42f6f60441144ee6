// Server-side printing: Tables for Accept: application/json;as=Table, from
// CRD printer columns or Name/Age, in get, list and watch, and real kubectl.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "test/apiserver/api_server.h"
#include "test/apiserver/kubectl_runner.h"
#include "test/apiserver/table.h"
#include "test/apiserver/test_client.h"

using srexpert::testing::ApiServer;
using srexpert::testing::EvalJsonPath;
using srexpert::testing::Eventually;
using srexpert::testing::HumanDuration;
using srexpert::testing::Kubectl;
using srexpert::testing::TestClient;
using srexpert::testing::TestResponse;
namespace json = srexpert::json;

namespace {

constexpr char kTableAccept[] =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json";

const char kGadgetCrd[] = R"({
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "gadgets.example.com"},
  "spec": {"group": "example.com", "scope": "Namespaced",
    "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
    "versions": [{"name": "v1", "served": true, "storage": true,
      "subresources": {"status": {}},
      "additionalPrinterColumns": [
        {"name": "Owner", "type": "string", "jsonPath": ".spec.owner"},
        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size", "description": "How big."},
        {"name": "Zone", "type": "string", "jsonPath": ".spec.zone", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
          "owner": {"type": "string"}, "size": {"x-kubernetes-int-or-string": true}, "zone": {"type": "string"}}},
        "status": {"type": "object", "properties": {
          "conditions": {"type": "array", "items": {"type": "object", "properties": {
            "type": {"type": "string"}, "status": {"type": "string"}}}}}}}}}}]}})";

const char kPlainCrd[] = R"({
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "plains.example.com"},
  "spec": {"group": "example.com", "scope": "Cluster",
    "names": {"plural": "plains", "singular": "plain", "kind": "Plain"},
    "versions": [{"name": "v1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})";

const std::string kGadgets = "/apis/example.com/v1/namespaces/default/gadgets";

const ApiServer& Started(ApiServer& s) {
  s.Start();
  return s;
}

struct Fixture {
  Fixture() {
    REQUIRE(client.Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", kGadgetCrd).status == 201);
    REQUIRE(client.Post(kGadgets, R"({"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g1"},"spec":{"owner":"ann","size":3,"zone":"eu"}})").status == 201);
    auto g = client.Get(kGadgets + "/g1").Json();
    std::string rv = json::GetString(g, {"metadata", "resourceVersion"});
    REQUIRE(client.Put(kGadgets + "/g1/status",
                       R"({"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g1","resourceVersion":")" + rv +
                           R"("},"status":{"conditions":[{"type":"Progressing","status":"False"},{"type":"Ready","status":"True"}]}})")
                .status == 200);
  }
  TestResponse GetTable(const std::string& target) {
    return client.Request("GET", target, "", "application/json", {{"Accept", kTableAccept}});
  }
  ApiServer server;
  TestClient client{Started(server)};
};

std::vector<std::string> ColumnNames(const json::Value& table) {
  std::vector<std::string> out;
  for (const auto& c : json::Find(table, {"columnDefinitions"})->GetArray()) {
    out.push_back(json::GetString(c, {"name"}));
  }
  return out;
}

}  // namespace

TEST_CASE("HumanDuration matches apimachinery's duration.HumanDuration", "[apiserver][table]") {
  using std::chrono::seconds;
  CHECK(HumanDuration(seconds(-5)) == "<invalid>");
  CHECK(HumanDuration(seconds(-1)) == "0s");
  CHECK(HumanDuration(seconds(0)) == "0s");
  CHECK(HumanDuration(seconds(119)) == "119s");
  CHECK(HumanDuration(seconds(120)) == "2m");
  CHECK(HumanDuration(seconds(200)) == "3m20s");
  CHECK(HumanDuration(seconds(11 * 60 + 5)) == "11m");
  CHECK(HumanDuration(seconds(3 * 3600 + 60 * 5)) == "3h5m");
  CHECK(HumanDuration(seconds(10 * 3600)) == "10h");
  CHECK(HumanDuration(seconds(50 * 3600)) == "2d2h");
  CHECK(HumanDuration(seconds(30 * 24 * 3600)) == "30d");
  CHECK(HumanDuration(seconds(int64_t{3} * 365 * 24 * 3600 + 24 * 3600)) == "3y1d");
  CHECK(HumanDuration(seconds(int64_t{9} * 365 * 24 * 3600)) == "9y");
}

TEST_CASE("EvalJsonPath evaluates printer-column paths", "[apiserver][table]") {
  auto doc = *json::Parse(R"({"spec":{"a":{"b":"x"},"list":[1,2,3],"dotted":{"k.y":"v"}},
    "status":{"conditions":[{"type":"A","status":"False"},{"type":"Ready","status":"True"}]}})");
  auto one = [&](const std::string& p) {
    auto r = EvalJsonPath(doc, p);
    REQUIRE(r);
    REQUIRE(r->size() == 1);
    return json::Dump(*r->front());
  };
  CHECK(one(".spec.a.b") == R"("x")");
  CHECK(one("{.spec.a.b}") == R"("x")");
  CHECK(one(".spec.list[1]") == "2");
  CHECK(one(".spec.list[-1]") == "3");
  CHECK(one(".spec.dotted['k.y']") == R"("v")");
  CHECK(one(R"(.status.conditions[?(@.type=="Ready")].status)") == R"("True")");
  CHECK(one(R"(.status.conditions[?(@.type!="Ready")].status)") == R"("False")");
  CHECK(EvalJsonPath(doc, ".spec.list[*]")->size() == 3);
  CHECK(EvalJsonPath(doc, ".spec.missing.deeper")->empty());
  CHECK(EvalJsonPath(doc, ".spec.list[7]")->empty());
  CHECK_FALSE(EvalJsonPath(doc, "..spec"));
  CHECK_FALSE(EvalJsonPath(doc, "spec"));
}

TEST_CASE_METHOD(Fixture, "a Table for custom resources uses the CRD's printer columns", "[apiserver][table]") {
  auto r = GetTable(kGadgets);
  REQUIRE(r.status == 200);
  CHECK(r.headers["content-type"] == "application/json;as=Table;v=v1;g=meta.k8s.io");
  auto t = r.Json();
  CHECK(json::GetString(t, {"kind"}) == "Table");
  CHECK(json::GetString(t, {"apiVersion"}) == "meta.k8s.io/v1");
  CHECK_FALSE(json::GetString(t, {"metadata", "resourceVersion"}).empty());
  CHECK(ColumnNames(t) == std::vector<std::string>{"Name", "Owner", "Ready", "Size", "Zone", "Age"});
  const auto& defs = (*json::Find(t, {"columnDefinitions"}));
  CHECK(json::GetString(defs[0], {"format"}) == "name");
  CHECK(json::GetString(defs[3], {"description"}) == "How big.");
  CHECK(json::GetString(defs[1], {"description"}) ==
        "Custom resource definition column (in JSONPath format): .spec.owner");
  CHECK(json::GetInt(defs[4], {"priority"}) == 1);
  CHECK(json::GetString(defs[5], {"type"}) == "date");
  const auto& rows = *json::Find(t, {"rows"});
  REQUIRE(rows.Size() == 1);
  const auto& cells = *json::Find(rows[0], {"cells"});
  CHECK(json::Dump(cells[0]) == R"("g1")");
  CHECK(json::Dump(cells[1]) == R"("ann")");
  CHECK(json::Dump(cells[2]) == R"("True")");
  CHECK(json::Dump(cells[3]) == "3");
  CHECK(json::Dump(cells[4]) == R"("eu")");
  std::string age = cells[5].GetString();
  CHECK((age.size() >= 2 && age.back() == 's'));
  // includeObject defaults to Metadata: a PartialObjectMetadata per row.
  CHECK(json::GetString(rows[0], {"object", "kind"}) == "PartialObjectMetadata");
  CHECK(json::GetString(rows[0], {"object", "apiVersion"}) == "meta.k8s.io/v1");
  CHECK(json::GetString(rows[0], {"object", "metadata", "name"}) == "g1");
  CHECK(json::Find(rows[0], {"object", "spec"}) == nullptr);
}

TEST_CASE_METHOD(Fixture, "Table cells a value does not fit are null and get returns one row", "[apiserver][table]") {
  REQUIRE(client.Post(kGadgets, R"({"metadata":{"name":"g2"},"spec":{"size":"big"}})").status == 201);
  auto t = GetTable(kGadgets + "/g2").Json();
  const auto& rows = *json::Find(t, {"rows"});
  REQUIRE(rows.Size() == 1);
  const auto& cells = *json::Find(rows[0], {"cells"});
  CHECK(json::Dump(cells[0]) == R"("g2")");
  CHECK(cells[1].IsNull());  // no owner
  CHECK(cells[2].IsNull());  // no status yet
  CHECK(cells[3].IsNull());  // integer column, string value
  CHECK(json::GetString(t, {"metadata", "resourceVersion"}) ==
        json::GetString(client.Get(kGadgets + "/g2").Json(), {"metadata", "resourceVersion"}));
}

TEST_CASE_METHOD(Fixture, "includeObject selects what rows carry", "[apiserver][table]") {
  auto t = GetTable(kGadgets + "?includeObject=Object").Json();
  const auto& row = (*json::Find(t, {"rows"}))[0];
  CHECK(json::GetString(row, {"object", "kind"}) == "Gadget");
  CHECK(json::GetString(row, {"object", "apiVersion"}) == "example.com/v1");
  CHECK(json::GetString(row, {"object", "spec", "owner"}) == "ann");
  t = GetTable(kGadgets + "?includeObject=None").Json();
  CHECK((*json::Find(t, {"rows"}))[0]["object"].IsNull());
  auto bad = GetTable(kGadgets + "?includeObject=Everything");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("unrecognized includeObject value") != std::string::npos);
}

TEST_CASE_METHOD(Fixture, "v1beta1 Tables, plain JSON clients and fallbacks", "[apiserver][table]") {
  auto r = client.Request("GET", kGadgets, "", "application/json",
                          {{"Accept", "application/json;as=Table;v=v1beta1;g=meta.k8s.io"}});
  CHECK(json::GetString(r.Json(), {"apiVersion"}) == "meta.k8s.io/v1beta1");
  CHECK(json::GetString(r.Json(), {"kind"}) == "Table");
  // No Accept, plain JSON, or JSON preferred over a Table: a list.
  CHECK(json::GetString(client.Get(kGadgets).Json(), {"kind"}) == "GadgetList");
  r = client.Request("GET", kGadgets, "", "application/json", {{"Accept", "application/json"}});
  CHECK(json::GetString(r.Json(), {"kind"}) == "GadgetList");
  r = client.Request("GET", kGadgets, "", "application/json",
                     {{"Accept", "application/json, application/json;as=Table;v=v1;g=meta.k8s.io"}});
  CHECK(json::GetString(r.Json(), {"kind"}) == "GadgetList");
  // A transformation the server does not offer falls through to the next.
  r = client.Request("GET", kGadgets, "", "application/json",
                     {{"Accept", "application/json;as=Table;v=v2;g=meta.k8s.io,application/json"}});
  CHECK(json::GetString(r.Json(), {"kind"}) == "GadgetList");
  // Errors stay Status objects.
  r = GetTable(kGadgets + "/missing");
  CHECK(r.status == 404);
  CHECK(json::GetString(r.Json(), {"kind"}) == "Status");
}

TEST_CASE_METHOD(Fixture, "a CRD without printer columns and built-in kinds get Name and Age", "[apiserver][table]") {
  REQUIRE(client.Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", kPlainCrd).status == 201);
  REQUIRE(client.Post("/apis/example.com/v1/plains", R"({"metadata":{"name":"p1"},"x":1})").status == 201);
  auto t = GetTable("/apis/example.com/v1/plains").Json();
  CHECK(ColumnNames(t) == std::vector<std::string>{"Name", "Age"});
  CHECK(json::GetString((*json::Find(t, {"columnDefinitions"}))[1], {"type"}) == "date");
  CHECK(json::GetString((*json::Find(t, {"rows"}))[0]["cells"][0], {}) == "p1");

  REQUIRE(client.Post("/api/v1/namespaces/default/configmaps", R"({"metadata":{"name":"c1"}})").status == 201);
  t = GetTable("/api/v1/namespaces/default/configmaps").Json();
  CHECK(ColumnNames(t) == std::vector<std::string>{"Name", "Age"});
  const auto& rows = *json::Find(t, {"rows"});
  REQUIRE(rows.Size() == 1);
  CHECK(std::string(rows[0]["cells"][0].GetString()) == "c1");
  CHECK(std::string(rows[0]["cells"][1].GetString()).back() == 's');
  CHECK(json::GetString(rows[0], {"object", "metadata", "name"}) == "c1");
}

TEST_CASE_METHOD(Fixture, "watch with a Table Accept streams one-row Tables, headers first only", "[apiserver][table][watch]") {
  std::string rv = json::GetString(client.Get(kGadgets).Json(), {"metadata", "resourceVersion"});
  TestClient raw{server};
  // From the list's resourceVersion on, only g3's creation is streamed.
  REQUIRE(client.Post(kGadgets, R"({"metadata":{"name":"g3"},"spec":{"owner":"bob"}})").status == 201);
  auto both = raw.Request("GET", kGadgets + "?watch=1&resourceVersion=" + rv + "&timeoutSeconds=1", "",
                          "application/json", {{"Accept", kTableAccept}});
  REQUIRE(both.status == 200);
  std::vector<json::Document> events;
  size_t pos = 0;
  while (pos < both.body.size()) {
    size_t nl = both.body.find('\n', pos);
    if (nl == std::string::npos) nl = both.body.size();
    if (nl > pos) events.push_back(*json::Parse(both.body.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  REQUIRE(events.size() == 1);  // g3 only: from rv on
  CHECK(json::GetString(events[0], {"type"}) == "ADDED");
  CHECK(json::GetString(events[0], {"object", "kind"}) == "Table");
  CHECK(ColumnNames(events[0]["object"]).size() == 6);
  CHECK(std::string(events[0]["object"]["rows"][0]["cells"][1].GetString()) == "bob");

  auto initial = raw.Request("GET", kGadgets + "?watch=1&resourceVersion=0&timeoutSeconds=1", "",
                             "application/json", {{"Accept", kTableAccept}});
  events.clear();
  pos = 0;
  while (pos < initial.body.size()) {
    size_t nl = initial.body.find('\n', pos);
    if (nl == std::string::npos) nl = initial.body.size();
    if (nl > pos) events.push_back(*json::Parse(initial.body.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  REQUIRE(events.size() == 2);
  CHECK(events[0]["object"]["columnDefinitions"].IsArray());
  CHECK(events[1]["object"]["columnDefinitions"].IsNull());
  CHECK(events[1]["object"]["rows"].Size() == 1);
}

TEST_CASE_METHOD(Fixture, "kubectl get prints CRD printer columns, -o wide adds priority columns", "[apiserver][table][kubectl]") {
  Kubectl kubectl(server.KubeconfigFile());
  auto r = kubectl.Run({"get", "gadgets"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("NAME") != std::string::npos);
  CHECK(r.output.find("OWNER") != std::string::npos);
  CHECK(r.output.find("READY") != std::string::npos);
  CHECK(r.output.find("SIZE") != std::string::npos);
  CHECK(r.output.find("AGE") != std::string::npos);
  CHECK(r.output.find("ZONE") == std::string::npos);
  CHECK(r.output.find("ann") != std::string::npos);
  CHECK(r.output.find("True") != std::string::npos);
  r = kubectl.Run({"get", "gadgets", "-o", "wide"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("ZONE") != std::string::npos);
  CHECK(r.output.find("eu") != std::string::npos);
  // Server-side printing also serves sorting (kubectl asks for whole objects).
  r = kubectl.Run({"get", "gadgets", "--sort-by=.spec.size"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("ann") != std::string::npos);
  // JSON output is the object, not a Table.
  r = kubectl.Run({"get", "gadget", "g1", "-o", "jsonpath={.kind}/{.spec.owner}"});
  CHECK(r.output == "Gadget/ann");
}

TEST_CASE_METHOD(Fixture, "kubectl get -w prints rows for custom resources", "[apiserver][table][kubectl][watch]") {
  Kubectl kubectl(server.KubeconfigFile());
  std::string out = kubectl.home() + "/watch.txt";
  pid_t pid = kubectl.Spawn({"get", "gadgets", "-w"}, out);
  CHECK(Eventually([&] { return Kubectl::Slurp(out).find("ann") != std::string::npos; }));
  REQUIRE(client.Post(kGadgets, R"({"metadata":{"name":"g4"},"spec":{"owner":"carol"}})").status == 201);
  CHECK(Eventually([&] { return Kubectl::Slurp(out).find("carol") != std::string::npos; }));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  std::string text = Kubectl::Slurp(out);
  INFO(text);
  // One header line only.
  CHECK(text.find("OWNER") == text.rfind("OWNER"));
}
