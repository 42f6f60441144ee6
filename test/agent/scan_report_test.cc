// RunCacheScan: the leader's scan of its projected cache and the report it
// sends upstream (agent/scan_report.h).
#include "agent/scan_report.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <tuple>

#include "common/clock.h"
#include "stream/projection.h"

namespace srexpert::agent {
namespace {

struct Cached {
  std::string kind, ns, name, json;
};

// A privileged, host-network pod in `ns`, as the projection caches it.
std::string GetNs(const rapidjson::Document& d) {
  return d["metadata"]["namespace"].GetString();
}

Cached BadPod(const std::string& ns, const std::string& name) {
  std::string manifest =
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name + R"(","namespace":")" + ns +
      R"("},"spec":{"hostNetwork":true,"containers":[{"name":"app","image":"nginx:latest","securityContext":{"privileged":true}}]}})";
  rapidjson::Document d;
  d.Parse(manifest.c_str());
  auto projected = stream::Project("Pod", d);
  REQUIRE(projected);
  return {"Pod", ns, name, *projected};
}

CachedObjects From(const std::vector<Cached>& objects) {
  return [objects](const auto& visit) {
    for (const auto& o : objects) visit(o.kind, o.ns, o.name, o.json);
  };
}

rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  REQUIRE_FALSE(d.HasParseError());
  REQUIRE(d.IsObject());
  return d;
}

int Count(const rapidjson::Document& report, std::string_view check, std::string_view name) {
  int n = 0;
  for (const auto& f : report["findings"].GetArray()) {
    if (f["check"].GetString() == check && f["name"].GetString() == name) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a cache scan reports failed findings of the projected objects", "[scan][agent]") {
  FakeClock clock;
  auto out = RunCacheScan(From({BadPod("shop", "web"), BadPod("ops", "tool")}), {}, nullptr,
                          256 * 1024, clock);
  REQUIRE(out.error.empty());
  CHECK(out.objects == 2);
  auto report = Parse(out.json);
  CHECK(Count(report, "pss-privileged", "web") == 1);
  CHECK(Count(report, "host-network", "tool") == 1);
  CHECK(report["omitted"].GetInt() == 0);
  CHECK(report["score"].GetInt() == out.counts.Score());
  CHECK(report["counts"]["dangers"].GetUint64() == out.counts.dangers);
  CHECK(out.counts.dangers >= 4);
  CHECK_FALSE(report.HasMember("scope"));
  // Per namespace: the score, and how ready each is for Pod Security
  // enforcement (a privileged, host-network pod meets only "privileged").
  REQUIRE(report.HasMember("byNamespace"));
  CHECK(report["byNamespace"]["shop"]["dangers"].GetUint64() >= 2);
  CHECK(report["byNamespace"]["shop"]["score"].GetInt() < 100);
  REQUIRE(report["namespaces"].IsArray());
  std::map<std::string, const rapidjson::Value*> readiness;
  for (const auto& n : report["namespaces"].GetArray()) readiness[n["name"].GetString()] = &n;
  REQUIRE(readiness.count("shop"));
  const auto& shop = *readiness["shop"];
  CHECK(std::string(shop["enforce"].GetString()) == "privileged");
  CHECK(std::string(shop["meets"].GetString()) == "privileged");
  CHECK(std::string(shop["next"].GetString()) == "baseline");
  CHECK(shop["rejectedAtNext"].GetUint64() == 1);
  CHECK(std::string(shop["rejected"][0]["object"].GetString()).find("web") != std::string::npos);
  // Only failures travel; dangers come first.
  bool seen_warning = false;
  for (const auto& f : report["findings"].GetArray()) {
    const std::string severity = f["severity"].GetString();
    CHECK(severity != "ignore");
    if (severity == "warning") seen_warning = true;
    if (severity == "danger") CHECK_FALSE(seen_warning);
  }
  // Checks the cache cannot evaluate are listed, never reported.
  std::set<std::string> not_evaluated;
  for (const auto& id : report["notEvaluated"].GetArray()) not_evaluated.insert(id.GetString());
  CHECK(not_evaluated.size() == NotEvaluatedInCluster().size());
  CHECK(not_evaluated.empty());  // every built-in check runs on the cache
  for (const auto& f : report["findings"].GetArray()) {
    CHECK(not_evaluated.count(f["check"].GetString()) == 0);
  }
}

// A Deployment as the API server returns it: defaulted imagePullPolicy, a
// probe that targets another host, no topology spread constraints.
Cached Projected(const std::string& kind, const std::string& manifest) {
  rapidjson::Document d;
  d.Parse(manifest.c_str());
  REQUIRE_FALSE(d.HasParseError());
  auto projected = stream::Project(kind, d);
  REQUIRE(projected);
  return {kind, GetNs(d), d["metadata"]["name"].GetString(), *projected};
}

TEST_CASE("pull policy, topology spread and probe hosts are evaluated on the cache",
          "[scan][agent]") {
  const std::string deployment =
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"shop"},)"
      R"("spec":{"replicas":2,"selector":{"matchLabels":{"app":"api"}},"template":{)"
      R"("metadata":{"labels":{"app":"api"}},"spec":{"containers":[{"name":"app","image":"api:1.2",)"
      R"("imagePullPolicy":"IfNotPresent","livenessProbe":{"httpGet":{"host":"10.0.0.9","port":80,"path":"/h"}},)"
      R"("lifecycle":{"preStop":{"tcpSocket":{"host":"db.internal","port":5432}}}}]}}}})";
  const std::string spread =
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},)"
      R"("spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{)"
      R"("metadata":{"labels":{"app":"web"}},"spec":{"topologySpreadConstraints":[{"maxSkew":1,)"
      R"("topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"DoNotSchedule",)"
      R"("labelSelector":{"matchLabels":{"app":"web"}}}],"containers":[{"name":"app","image":"web:1.0",)"
      R"("imagePullPolicy":"Always","livenessProbe":{"httpGet":{"port":80,"path":"/h"}}}]}}}})";
  Cached api = Projected("Deployment", deployment);
  Cached web = Projected("Deployment", spread);
  // The projection keeps the hosts, never the rest of the handler.
  CHECK(api.json.find("/h") == std::string::npos);
  CHECK(api.json.find("5432") == std::string::npos);

  FakeClock clock;
  auto out = RunCacheScan(From({api, web}), {}, nullptr, 256 * 1024, clock);
  REQUIRE(out.error.empty());
  auto report = Parse(out.json);
  CHECK(Count(report, "image-pull-policy", "api") == 1);
  CHECK(Count(report, "image-pull-policy", "web") == 0);
  CHECK(Count(report, "topology-spread", "api") == 1);
  CHECK(Count(report, "topology-spread", "web") == 0);
  REQUIRE(Count(report, "pss-host-probes", "api") == 1);
  CHECK(Count(report, "pss-host-probes", "web") == 0);
  for (const auto& f : report["findings"].GetArray()) {
    if (std::string_view(f["check"].GetString()) != "pss-host-probes") continue;
    const std::string message = f["message"].GetString();
    CHECK(message.find("\"app\"") != std::string::npos);
    CHECK(message.find("10.0.0.9") != std::string::npos);
    CHECK(message.find("db.internal") != std::string::npos);
  }
  for (const auto& id : report["notEvaluated"].GetArray()) {
    const std::string_view check = id.GetString();
    CHECK(check != "image-pull-policy");
    CHECK(check != "topology-spread");
    CHECK(check != "pss-host-probes");
  }
}

TEST_CASE("sensitive env values and ConfigMap content are judged on the cache, the values never in "
          "it",
          "[scan][agent]") {
  Cached leaky = Projected("Deployment",
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"leaky","namespace":"shop"},)"
      R"("spec":{"replicas":1,"selector":{"matchLabels":{"app":"l"}},"template":{"metadata":{"labels":)"
      R"({"app":"l"}},"spec":{"containers":[{"name":"app","image":"l:1","env":[)"
      R"({"name":"DB_PASSWORD","value":"hunter2"}]}]}}}})");
  Cached clean = Projected("Deployment",
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"clean","namespace":"shop"},)"
      R"("spec":{"replicas":1,"selector":{"matchLabels":{"app":"c"}},"template":{"metadata":{"labels":)"
      R"({"app":"c"}},"spec":{"containers":[{"name":"app","image":"c:1","env":[)"
      R"({"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"name":"db","key":"password"}}},)"
      R"({"name":"LOG_LEVEL","value":"debug"}]}]}}}})");
  Cached tls = Projected("ConfigMap",
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"tls","namespace":"shop"},)"
      R"("data":{"server.pem":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBL0\n-----END EC PRIVATE KEY-----"}})");
  Cached plain = Projected("ConfigMap",
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"plain","namespace":"shop"},)"
      R"("data":{"greeting":"hello"}})");
  for (const Cached* c : {&leaky, &tls}) {
    CHECK(c->json.find("hunter2") == std::string::npos);
    CHECK(c->json.find("MHcCAQEEIBL0") == std::string::npos);
  }
  FakeClock clock;
  auto out = RunCacheScan(From({leaky, clean, tls, plain}), {}, nullptr, 256 * 1024, clock);
  REQUIRE(out.error.empty());
  auto report = Parse(out.json);
  CHECK(Count(report, "sensitive-env-var", "leaky") == 1);
  CHECK(Count(report, "sensitive-env-var", "clean") == 0);
  CHECK(Count(report, "sensitive-configmap-content", "tls") == 1);
  CHECK(Count(report, "sensitive-configmap-content", "plain") == 0);
  CHECK(out.json.find("hunter2") == std::string::npos);
  CHECK(out.json.find("MHcCAQEEIBL0") == std::string::npos);
}

TEST_CASE("PodDisruptionBudget checks run on the cached PDBs and HPAs", "[scan][agent]") {
  auto deployment = [](const std::string& name) {
    return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" + name +
           R"(","namespace":"shop"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":")" +
           name + R"("}},"template":{"metadata":{"labels":{"app":")" + name +
           R"("}},"spec":{"containers":[{"name":"app","image":"x:1"}]}}}})";
  };
  const std::string web_pdb =
      R"({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web-pdb",)"
      R"("namespace":"shop"},"spec":{"minAvailable":2,"selector":{"matchLabels":{"app":"web"}}},)"
      R"("status":{"disruptionsAllowed":1,"currentHealthy":3,"desiredHealthy":2,"expectedPods":3}})";
  const std::string frozen =
      R"({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"frozen",)"
      R"("namespace":"shop"},"spec":{"maxUnavailable":0,"selector":{"matchLabels":{"app":"none"}}}})";
  const std::string hpa =
      R"({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"web-hpa",)"
      R"("namespace":"shop"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment",)"
      R"("name":"web"},"minReplicas":2,"maxReplicas":5}})";
  FakeClock clock;
  auto out = RunCacheScan(From({Projected("Deployment", deployment("api")),
                                Projected("Deployment", deployment("web")),
                                Projected("PodDisruptionBudget", web_pdb),
                                Projected("PodDisruptionBudget", frozen),
                                Projected("HorizontalPodAutoscaler", hpa)}),
                          {}, nullptr, 256 * 1024, clock);
  REQUIRE(out.error.empty());
  auto report = Parse(out.json);
  CHECK(Count(report, "pod-disruption-budget", "api") == 1);
  CHECK(Count(report, "pod-disruption-budget", "web") == 0);
  CHECK(Count(report, "pdb-disruptions-zero", "frozen") == 1);
  CHECK(Count(report, "pdb-disruptions-zero", "web-pdb") == 0);
  CHECK(Count(report, "pdb-min-available-vs-hpa", "web") == 1);
  CHECK(Count(report, "pdb-min-available-vs-hpa", "api") == 0);
}

TEST_CASE("a scoped cache scan reports only the namespaces, kinds and checks asked for",
          "[scan][agent]") {
  FakeClock clock;
  ScanScope scope;
  REQUIRE(ParseScanScope(R"({"namespaces":["shop"],"checks":["pss-privileged"]})", &scope) == "");
  auto out = RunCacheScan(From({BadPod("shop", "web"), BadPod("ops", "tool")}), scope, nullptr,
                          256 * 1024, clock);
  REQUIRE(out.error.empty());
  auto report = Parse(out.json);
  CHECK(out.objects == 1);
  REQUIRE(report["findings"].Size() == 1);
  CHECK(Count(report, "pss-privileged", "web") == 1);
  CHECK(report["scope"]["namespaces"][0].GetString() == std::string("shop"));
}

TEST_CASE("a report over its byte budget is cut deterministically and says how much",
          "[scan][agent]") {
  FakeClock clock;
  std::vector<Cached> pods;
  for (int i = 0; i < 300; ++i)
    pods.push_back(BadPod("ns" + std::to_string(i % 7), "p" + std::to_string(i)));
  auto full = RunCacheScan(From(pods), {}, nullptr, 16 * 1024 * 1024, clock);
  auto cut = RunCacheScan(From(pods), {}, nullptr, 64 * 1024, clock);
  // The same objects in another order give the same report.
  std::vector<Cached> reversed(pods.rbegin(), pods.rend());
  auto cut_again = RunCacheScan(From(reversed), {}, nullptr, 64 * 1024, clock);
  REQUIRE(full.omitted == 0);
  CHECK(cut.json.size() <= 64 * 1024);
  CHECK(cut.omitted > 0);
  CHECK(cut.counts.dangers == full.counts.dangers);  // counts cover everything
  auto report = Parse(cut.json);
  CHECK(report["findings"].Size() + cut.omitted == full.findings);
  CHECK(report["omitted"].GetUint64() == cut.omitted);
  CHECK(cut_again.json == cut.json);
}

TEST_CASE("scan.run payloads are validated", "[scan][agent]") {
  ScanScope scope;
  CHECK(ParseScanScope("{}", &scope) == "");
  CHECK(scope.Full());
  CHECK(ParseScanScope("[]", &scope) == "payload: must be a JSON object");
  CHECK(ParseScanScope(R"({"namespace":["a"]})", &scope).find("unknown member") !=
        std::string::npos);
  // A hub with users names who asked, on scans as on actions.
  CHECK(ParseScanScope(R"({"requestedBy":"alice"})", &scope) == "");
  CHECK(scope.Full());
  CHECK(ParseScanScope(R"({"requestedBy":7})", &scope) == "payload: requestedBy must be a string");
  CHECK(ParseScanScope(R"({"kinds":["Secret"]})", &scope).find("not a kind the agent collects") !=
        std::string::npos);
  CHECK(ParseScanScope(R"({"namespaces":[""]})", &scope).find("1..253") != std::string::npos);
  FakeClock clock;
  REQUIRE(ParseScanScope(R"({"checks":["no-such-check"]})", &scope) == "");
  auto out = RunCacheScan(From({}), scope, nullptr, 64 * 1024, clock);
  CHECK_FALSE(out.error.empty());
  CHECK(out.json.empty());
}

}  // namespace srexpert::agent
