// metrics.k8s.io (as metrics-server serves it) and events.k8s.io/v1.
#include <catch2/catch.hpp>

#include "test/apiserver/api_server.h"
#include "test/apiserver/kubectl_runner.h"
#include "test/apiserver/test_client.h"

using srexpert::testing::ApiServer;
using srexpert::testing::ApiServerOptions;
using srexpert::testing::Kubectl;
using srexpert::testing::TestClient;
namespace json = srexpert::json;

namespace {

const std::string kGv = "/apis/metrics.k8s.io/v1beta1";

bool ListsGroup(TestClient& c, const std::string& group) {
  auto groups = c.Get("/apis").Json();
  for (const auto& g : groups["groups"].GetArray()) {
    if (json::GetString(g, {"name"}) == group) return true;
  }
  return false;
}

ApiServerOptions WithMetrics() {
  ApiServerOptions o;
  o.metrics_api = true;
  return o;
}

}  // namespace

TEST_CASE("metrics.k8s.io is not served unless enabled, like a cluster without metrics-server",
          "[apiserver][metrics]") {
  ApiServer server;
  server.Start();
  TestClient c(server);
  CHECK_FALSE(ListsGroup(c, "metrics.k8s.io"));
  CHECK(c.Get("/apis/metrics.k8s.io").status == 404);
  CHECK(c.Get(kGv).status == 404);
  CHECK(c.Get(kGv + "/nodes").status == 404);
  server.SetMetricsApiServed(true);  // "installing metrics-server"
  CHECK(ListsGroup(c, "metrics.k8s.io"));
  CHECK(c.Get(kGv + "/nodes").status == 200);
}

TEST_CASE("metrics.k8s.io discovery lists NodeMetrics and PodMetrics with get and list only",
          "[apiserver][metrics]") {
  ApiServer server(WithMetrics());
  server.Start();
  TestClient c(server);
  auto group = c.Get("/apis/metrics.k8s.io");
  REQUIRE(group.status == 200);
  CHECK(json::GetString(group.Json(), {"kind"}) == "APIGroup");
  CHECK(json::GetString(group.Json(), {"preferredVersion", "groupVersion"}) ==
        "metrics.k8s.io/v1beta1");
  auto list = c.Get(kGv).Json();
  CHECK(json::GetString(list, {"groupVersion"}) == "metrics.k8s.io/v1beta1");
  REQUIRE(list["resources"].Size() == 2);
  const auto& nodes = list["resources"][0];
  CHECK(json::GetString(nodes, {"name"}) == "nodes");
  CHECK(json::GetString(nodes, {"kind"}) == "NodeMetrics");
  CHECK_FALSE(json::GetBool(nodes, {"namespaced"}, true));
  CHECK(json::Dump(nodes["verbs"]) == R"(["get","list"])");
  const auto& pods = list["resources"][1];
  CHECK(json::GetString(pods, {"kind"}) == "PodMetrics");
  CHECK(json::GetBool(pods, {"namespaced"}));
}

TEST_CASE("NodeMetrics and PodMetrics are listed in one response and read only",
          "[apiserver][metrics]") {
  ApiServer server(WithMetrics());
  server.Start();
  server.SetMetrics({{"node-a", "250m", "1Gi"}, {"node-b", "1", "2Gi"}},
                    {{"default", "web-0", {{"app", "12345n", "1024Ki"}}},
                     {"other", "db-0", {{"db", "1", "1Gi"}}}});
  TestClient c(server);

  // metrics-server ignores limit: everything in one page, no continue.
  auto nodes = c.Get(kGv + "/nodes?limit=1");
  REQUIRE(nodes.status == 200);
  auto nl = nodes.Json();
  CHECK(json::GetString(nl, {"kind"}) == "NodeMetricsList");
  CHECK(nl["items"].Size() == 2);
  CHECK(json::Dump(nl["metadata"]) == "{}");
  CHECK_FALSE(nl["items"][0].HasMember("kind"));
  CHECK(json::GetString(nl["items"][0], {"usage", "cpu"}) == "250m");
  CHECK(json::GetString(nl["items"][0], {"window"}) == "10s");
  CHECK(!json::GetString(nl["items"][0], {"timestamp"}).empty());

  CHECK(c.Get(kGv + "/pods").Json()["items"].Size() == 2);
  auto in_ns = c.Get(kGv + "/namespaces/default/pods").Json();
  REQUIRE(in_ns["items"].Size() == 1);
  CHECK(json::GetString(in_ns["items"][0]["containers"][0], {"usage", "memory"}) == "1024Ki");

  auto one = c.Get(kGv + "/namespaces/default/pods/web-0");
  REQUIRE(one.status == 200);
  CHECK(json::GetString(one.Json(), {"kind"}) == "PodMetrics");
  CHECK(json::GetString(one.Json(), {"apiVersion"}) == "metrics.k8s.io/v1beta1");

  auto missing = c.Get(kGv + "/namespaces/default/pods/nope");
  CHECK(missing.status == 404);
  CHECK(json::GetString(missing.Json(), {"message"}) ==
        R"(podmetrics.metrics.k8s.io "default/nope" not found)");
  CHECK(json::GetString(c.Get(kGv + "/nodes/nope").Json(), {"message"}) ==
        R"(nodemetrics.metrics.k8s.io "nope" not found)");

  auto create = c.Post(kGv + "/namespaces/default/pods", R"({"metadata":{"name":"x"}})");
  CHECK(create.status == 405);
  CHECK(json::GetString(create.Json(), {"reason"}) == "MethodNotAllowed");
  CHECK(c.Delete(kGv + "/nodes/node-a").status == 405);
  CHECK(c.Get(kGv + "/pods?watch=1").status == 405);
}

TEST_CASE("Metrics samples can be set from another process through /_test/metrics",
          "[apiserver][metrics]") {
  ApiServer server;
  server.Start();
  TestClient c(server);
  auto put = c.Put(
      "/_test/metrics",
      R"({"served":true,"nodes":[{"name":"n1","cpu":"2","memory":"3Gi"}],)"
      R"("pods":[{"namespace":"default","name":"p","containers":[{"name":"c","cpu":"5m","memory":"1Mi"}]}]})");
  REQUIRE(put.status == 200);
  CHECK(json::GetBool(c.Get("/_test/metrics").Json(), {"served"}));
  auto nodes = c.Get(kGv + "/nodes").Json();
  REQUIRE(nodes["items"].Size() == 1);
  CHECK(json::GetString(nodes["items"][0], {"usage", "memory"}) == "3Gi");
  CHECK(c.Put("/_test/metrics", R"({"pods":[{"name":"no-namespace"}]})").status == 400);
}

TEST_CASE("kubectl top reads the metrics API", "[apiserver][metrics][kubectl]") {
  ApiServer server(WithMetrics());
  server.Start();
  server.SetMetrics({},
                    {{"default", "web-0", {{"app", "250m", "100Mi"}, {"side", "12345n", "1Mi"}}}});
  Kubectl kubectl(server.KubeconfigFile());
  auto r = kubectl.Run({"top", "pod", "-n", "default"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("web-0") != std::string::npos);
  CHECK(r.output.find("251m") != std::string::npos);
  CHECK(r.output.find("101Mi") != std::string::npos);
}

TEST_CASE("events.k8s.io/v1 Events are served next to core v1 Events", "[apiserver][events]") {
  ApiServer server;
  server.Start();
  TestClient c(server);
  CHECK(ListsGroup(c, "events.k8s.io"));
  auto created = c.Post(
      "/apis/events.k8s.io/v1/namespaces/default/events",
      R"({"apiVersion":"events.k8s.io/v1","kind":"Event",)"
      R"("metadata":{"name":"e1","namespace":"default"},)"
      R"("eventTime":"2026-01-02T15:04:05.000000Z","reportingController":"kubelet",)"
      R"("reportingInstance":"n","action":"Pull","reason":"Pulling","note":"x","type":"Normal"})");
  REQUIRE(created.status == 201);
  CHECK(!json::GetString(created.Json(), {"metadata", "uid"}).empty());
  auto list = c.Get("/apis/events.k8s.io/v1/events").Json();
  CHECK(list["items"].Size() == 1);
  CHECK(c.Get("/api/v1/namespaces/default/events").status == 200);
}

TEST_CASE("events.k8s.io/v1 and core v1 Events are one resource: written through one, read and watched through the other",
          "[apiserver][events]") {
  ApiServer server;
  server.Start();
  TestClient c(server);
  auto watch = c.Watch("/apis/events.k8s.io/v1/namespaces/default/events?watch=true");

  // A core v1 Event, as kubectl or our agent's audit writes it.
  auto core = c.Post("/api/v1/namespaces/default/events",
                     R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"core-1","namespace":"default"},)"
                     R"("involvedObject":{"kind":"Pod","namespace":"default","name":"web-0"},)"
                     R"("reason":"SRExpertAction","message":"scaled","type":"Normal","count":2,)"
                     R"("firstTimestamp":"2026-01-02T15:04:05Z","lastTimestamp":"2026-01-02T15:05:05Z",)"
                     R"("source":{"component":"srexpert-agent"},"reportingComponent":"srexpert-agent"})");
  REQUIRE(core.status == 201);
  auto as_events = c.Get("/apis/events.k8s.io/v1/namespaces/default/events/core-1");
  REQUIRE(as_events.status == 200);
  auto e = as_events.Json();
  CHECK(json::GetString(e, {"apiVersion"}) == "events.k8s.io/v1");
  CHECK(json::GetString(e, {"regarding", "name"}) == "web-0");
  CHECK(json::GetString(e, {"note"}) == "scaled");
  CHECK(json::GetInt(e, {"deprecatedCount"}) == 2);
  CHECK(json::GetString(e, {"deprecatedFirstTimestamp"}) == "2026-01-02T15:04:05Z");
  CHECK(json::GetString(e, {"deprecatedLastTimestamp"}) == "2026-01-02T15:05:05Z");
  CHECK(json::GetString(e, {"deprecatedSource", "component"}) == "srexpert-agent");
  CHECK(json::GetString(e, {"reportingController"}) == "srexpert-agent");
  for (const char* core_name : {"involvedObject", "message", "count", "source", "firstTimestamp",
                                "lastTimestamp", "reportingComponent"}) {
    CHECK(json::Find(e, {core_name}) == nullptr);
  }
  CHECK(json::GetString(e, {"metadata", "resourceVersion"}) ==
        json::GetString(core.Json(), {"metadata", "resourceVersion"}));
  auto added = watch->Next();
  REQUIRE(added);
  CHECK(json::GetString(*added, {"type"}) == "ADDED");
  CHECK(json::GetString((*added)["object"], {"note"}) == "scaled");
  auto listed = c.Get("/apis/events.k8s.io/v1/namespaces/default/events").Json();
  REQUIRE(listed["items"].Size() == 1);
  CHECK(json::GetString(listed["items"][0], {"regarding", "kind"}) == "Pod");

  // The other way round: written as events.k8s.io/v1, read as core v1.
  auto ev = c.Post("/apis/events.k8s.io/v1/namespaces/default/events",
                   R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"ev-1","namespace":"default"},)"
                   R"("eventTime":"2026-01-02T15:04:05.000000Z","reportingController":"example.com/ctl",)"
                   R"("reportingInstance":"ctl-1","action":"Scale","reason":"Scaled","note":"to 3","type":"Normal",)"
                   R"("regarding":{"kind":"Deployment","namespace":"default","name":"web"}})");
  REQUIRE(ev.status == 201);
  CHECK(json::GetString(ev.Json(), {"note"}) == "to 3");
  auto as_core = c.Get("/api/v1/namespaces/default/events/ev-1").Json();
  CHECK(json::GetString(as_core, {"apiVersion"}) == "v1");
  CHECK(json::GetString(as_core, {"message"}) == "to 3");
  CHECK(json::GetString(as_core, {"involvedObject", "name"}) == "web");
  CHECK(json::GetString(as_core, {"reportingComponent"}) == "example.com/ctl");
  CHECK(json::GetString(as_core, {"action"}) == "Scale");
  CHECK(c.Get("/api/v1/namespaces/default/events").Json()["items"].Size() == 2);

  // Through events.k8s.io/v1 only the series may change: the note (core
  // message) is immutable there, as kube-apiserver validates it.
  auto refused = c.Patch("/apis/events.k8s.io/v1/namespaces/default/events/core-1",
                         R"({"note":"scaled again"})", "application/merge-patch+json");
  CHECK(refused.status == 422);
  CHECK(json::GetString(refused.Json(), {"message"}) ==
        R"(Event "core-1" is invalid: message: Invalid value: "scaled again": field is immutable)");
  auto patched = c.Patch("/apis/events.k8s.io/v1/namespaces/default/events/core-1",
                         R"({"series":{"count":3,"lastObservedTime":"2026-01-02T15:06:05.000000Z"}})",
                         "application/merge-patch+json");
  REQUIRE(patched.status == 200);
  CHECK(json::GetInt(patched.Json(), {"series", "count"}) == 3);
  CHECK(json::GetInt(c.Get("/api/v1/namespaces/default/events/core-1").Json(), {"series", "count"}) == 3);
  // Deleted through one, gone from both.
  CHECK(c.Delete("/apis/events.k8s.io/v1/namespaces/default/events/ev-1").status == 200);
  CHECK(c.Get("/api/v1/namespaces/default/events/ev-1").status == 404);
}
