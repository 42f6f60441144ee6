// ScanRunner: scan.run requests and periodic scans on a leadership's cache
// (agent/scan_runner.h). The ClusterStream is never started: the test fills
// its streamer's cache the way collectors would.
#include "agent/scan_runner.h"

#include <prometheus/text_serializer.h>
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <future>

#include "stream/projection.h"
#include "test/net/test_support.h"

namespace srexpert::agent {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<stream::ClusterStream> Stream() {
  kube::RestConfig config;
  config.server = "https://127.0.0.1:1";  // never called: the stream is not started
  auto client = kube::RestClient::New(config);
  REQUIRE(client.ok());
  stream::ClusterStreamOptions o;
  o.streamer.initial_sync_timeout = 0ms;  // the cache counts as complete at once
  return std::make_shared<stream::ClusterStream>(*client, o);
}

void AddBadPod(stream::ClusterStream& cs, const std::string& ns, const std::string& name) {
  rapidjson::Document d;
  std::string manifest =
      R"({"metadata":{"name":")" + name + R"(","namespace":")" + ns +
      R"("},"spec":{"containers":[{"name":"c","image":"x","securityContext":{"privileged":true}}]}})";
  d.Parse(manifest.c_str());
  auto projected = stream::Project("Pod", d);
  REQUIRE(projected);
  cs.streamer().Upsert("Pod", ns, name, std::make_shared<const std::string>(*projected));
}

protocol::Response Ask(ScanRunner& runner, const std::string& payload) {
  std::promise<protocol::Response> answer;
  auto future = answer.get_future();
  protocol::Request r;
  r.id = "r-1";
  r.kind = kScanRunRequest;
  r.payload = payload;
  runner.Handle(r, [&answer](protocol::Response resp) { answer.set_value(std::move(resp)); });
  REQUIRE(future.wait_for(30s) == std::future_status::ready);
  protocol::Response resp = future.get();
  CHECK(resp.id == "r-1");
  return resp;
}

std::string Metrics(prometheus::Registry& r) {
  return prometheus::TextSerializer().Serialize(r.Collect());
}

}  // namespace

TEST_CASE("scan.run answers with the findings of the cache, scoped as asked", "[scan][agent]") {
  auto cs = Stream();
  AddBadPod(*cs, "shop", "web");
  AddBadPod(*cs, "ops", "tool");
  auto registry = std::make_shared<prometheus::Registry>();
  ScanRunnerOptions o;
  o.interval = std::chrono::hours(1);
  o.registry = registry;
  ScanRunner runner(cs, o);
  runner.Start();
  // The first periodic scan runs at once: the cache is complete.
  REQUIRE(testing::WaitUntil([&] { return runner.Stats().reports_published == 1; }, 10s));

  auto scoped = Ask(runner, R"({"namespaces":["shop"]})");
  REQUIRE(scoped.ok);
  rapidjson::Document d;
  d.Parse(scoped.payload.c_str());
  REQUIRE(d.IsObject());
  bool web = false;
  for (const auto& f : d["findings"].GetArray()) {
    CHECK(f["namespace"].GetString() == std::string("shop"));
    web |= f["check"].GetString() == std::string("pss-privileged");
  }
  CHECK(web);

  auto full = Ask(runner, "{}");
  REQUIRE(full.ok);
  // A full request is published like a periodic scan (a scoped one is not)
  // and counted in the metrics.
  auto stats = runner.Stats();
  CHECK(stats.reports_published == 2);
  CHECK(stats.scans == 3);
  CHECK(stats.requests == 2);
  CHECK(stats.has_last);
  CHECK(stats.last.dangers > 0);
  const std::string metrics = Metrics(*registry);
  CHECK(metrics.find("srexpert_scan_findings{category=\"security\",severity=\"danger\"}") !=
        std::string::npos);
  CHECK(metrics.find("srexpert_scan_score ") != std::string::npos);
  CHECK(metrics.find("srexpert_scans_total 0") == std::string::npos);
}

// What spec.scans' Polaris fields become in the agent (config.json →
// AgentSettings::Scans::config → ScanRunnerOptions::config): a compiled
// scan::ScanConfig. The runner must apply it to both its periodic scans and
// scan.run.
TEST_CASE("the configuration's severities and exemptions change what the leader reports",
          "[scan][agent]") {
  auto cs = Stream();
  AddBadPod(*cs, "shop", "web");
  AddBadPod(*cs, "kube-system", "proxy");
  struct Seen {
    std::map<std::string, std::string> pss_privileged;  // namespace → severity
    ScanRunnerStats stats;
  };
  auto scan_with = [&](const char* yaml) {
    ScanRunnerOptions o;
    if (yaml != nullptr) {
      auto config = std::make_shared<scan::ScanConfig>();
      REQUIRE(scan::ParseConfig(yaml, config.get()).empty());
      o.config = config;
    }
    ScanRunner runner(cs, o);
    runner.Start();
    REQUIRE(testing::WaitUntil([&] { return runner.Stats().reports_published == 1; }, 10s));
    auto full = Ask(runner, "{}");
    REQUIRE(full.ok);
    rapidjson::Document d;
    d.Parse(full.payload.c_str());
    REQUIRE(d.IsObject());
    Seen seen;
    for (const auto& f : d["findings"].GetArray()) {
      if (f["check"].GetString() != std::string("pss-privileged")) continue;
      seen.pss_privileged[f["namespace"].GetString()] = f["severity"].GetString();
    }
    seen.stats = runner.Stats();
    return seen;
  };

  const Seen plain = scan_with(nullptr);
  CHECK(plain.pss_privileged ==
        std::map<std::string, std::string>{{"kube-system", "danger"}, {"shop", "danger"}});

  // A severity override: the same failure, reported (and counted) as a warning.
  const Seen lowered = scan_with("checks:\n  pss-privileged: warning\n");
  CHECK(lowered.pss_privileged ==
        std::map<std::string, std::string>{{"kube-system", "warning"}, {"shop", "warning"}});
  CHECK(lowered.stats.last.dangers < plain.stats.last.dangers);

  // An exemption: kube-system's results are left out altogether.
  const Seen exempt = scan_with("exemptions:\n  - namespace: kube-system\n");
  CHECK(exempt.pss_privileged == std::map<std::string, std::string>{{"shop", "danger"}});
  CHECK(exempt.stats.last.Total() < plain.stats.last.Total());
}

TEST_CASE("scan.run errors: bad payload, scans disabled, leadership over", "[scan][agent]") {
  auto cs = Stream();
  ScanRunnerOptions o;
  {
    ScanRunner runner(cs, o);
    runner.Start();
    auto bad = Ask(runner, R"({"kinds":["Secret"]})");
    CHECK_FALSE(bad.ok);
    CHECK(bad.error.code == "invalid");
    auto unknown = Ask(runner, R"({"checks":["no-such-check"]})");
    CHECK_FALSE(unknown.ok);
    CHECK(unknown.error.code == "invalid");
  }
  {
    o.enabled = false;
    ScanRunner runner(cs, o);
    runner.Start();
    auto off = Ask(runner, "{}");
    CHECK(off.error.code == "forbidden");
    o.enabled = true;
  }
  {
    ScanRunner runner(std::weak_ptr<stream::ClusterStream>(), o);
    runner.Start();
    auto gone = Ask(runner, "{}");
    CHECK_FALSE(gone.ok);
    CHECK(gone.error.code == "busy");
  }
}

}  // namespace srexpert::agent
