// RunCacheScan: the leader's scan of its projected cache and the report it
// sends upstream (agent/scan_report.h).
#include "agent/scan_report.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
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
  CHECK(not_evaluated.size() == 8);
  for (const auto& f : report["findings"].GetArray()) {
    CHECK(not_evaluated.count(f["check"].GetString()) == 0);
  }
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
