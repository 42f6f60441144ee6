// spec.scans' configuration and the scan summary, end to end through the
// real srexpert-agent: config.json's scans.config (as the operator writes it
// from the AgentConfig) changes what the leader reports to the hub, and the
// leader publishes each full scan's summary on its Lease, where the operator
// reads it for status.scan (api::ScanStatusFromAnnotations).
#include "api/names.h"
#include "api/status.h"
#include "leaderelection/kube_lease_lock.h"
#include "test/e2e/e2e_world.h"

using namespace srexpert::testing;
using namespace srexpert::testing::e2e;
using namespace std::chrono_literals;

namespace {

void Create(E2eWorld& w, const std::string& manifest) {
  auto doc = srexpert::json::Parse(manifest);
  REQUIRE(doc.has_value());
  auto r = w.client()->Create(*doc);
  INFO(manifest);
  REQUIRE(r.ok());
}

std::string BadDeployment(const std::string& ns, const std::string& name) {
  return R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":")" +
         name + R"(","namespace":")" + ns + R"("},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"x"}},
      "template":{"metadata":{"labels":{"app":"x"}},
        "spec":{"containers":[{"name":"web","image":"nginx:1",
          "securityContext":{"privileged":true}}]}}}})";
}

}  // namespace

TEST_CASE(
    "scan config e2e: severities and exemptions from config.json shape the report, "
    "the summary reaches the Lease",
    "[e2e][scan]") {
  E2eWorld w;
  for (const char* ns : {"shop", "legacy"}) {
    Create(w, std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") + ns +
                  R"("}})");
  }
  Create(w, BadDeployment("shop", "bad-web"));
  Create(w, BadDeployment("legacy", "old-web"));
  w.StartHub("1m", 0, 0, {});
  w.WriteConfig();
  // What the operator writes for spec.scans {checks: {pss-privileged:
  // warning}, exemptions: [{namespace: legacy}]} (controller::AgentConfigFile).
  auto config = srexpert::json::Parse(ReadFile(w.dir().File("config.json")));
  REQUIRE(config.has_value());
  auto polaris = srexpert::json::Parse(
      R"({"checks":{"pss-privileged":"warning"},"exemptions":[{"namespace":"legacy"}]})");
  srexpert::json::Set((*config)["scans"], "config",
                      srexpert::json::Value(*polaris, config->GetAllocator()),
                      config->GetAllocator());
  WriteFile(w.dir().File("config.json"), srexpert::json::Dump(*config));
  w.StartAgent("agent-0");
  INFO(w.Logs());
  REQUIRE_FALSE(w.WaitForConnectedLeader().empty());

  const std::string base = std::string("/api/v1/clusters/") + kCluster;
  SimpleResponse latest;
  REQUIRE(WaitUntil(
      [&] {
        return (latest = HttpCall(w.hub().api_port, "GET", base + "/scans/latest")).status == 200;
      },
      30s));
  auto report = srexpert::json::Parse(latest.body);
  REQUIRE(report.has_value());
  INFO(latest.body);
  bool shop_privileged = false;
  for (const auto& f : (*report)["findings"].GetArray()) {
    // The exemption: nothing of namespace legacy is reported.
    CHECK(srexpert::json::GetString(f, {"namespace"}) != "legacy");
    if (srexpert::json::GetString(f, {"check"}) == "pss-privileged" &&
        srexpert::json::GetString(f, {"name"}) == "bad-web") {
      shop_privileged = true;
      // The override: danger by default, a warning here.
      CHECK(srexpert::json::GetString(f, {"severity"}) == "warning");
    }
  }
  CHECK(shop_privileged);

  // The same scan's summary, on the Lease with the leader's renewals.
  std::optional<srexpert::api::ScanStatus> published;
  REQUIRE(WaitUntil(
      [&] {
        auto lease = w.client()->Get({"coordination.k8s.io/v1", "Lease", kNs, kLease});
        if (!lease.ok()) return false;
        published = srexpert::api::ScanStatusFromAnnotations(
            srexpert::leaderelection::RecordFromLease(*lease).annotations);
        return published.has_value();
      },
      20s));
  CHECK(published->score == srexpert::json::GetInt(*report, {"score"}));
  CHECK(published->dangers == srexpert::json::GetInt(*report, {"counts", "dangers"}));
  CHECK(published->warnings == srexpert::json::GetInt(*report, {"counts", "warnings"}));
  CHECK_FALSE(published->last_scan_time.empty());
}
