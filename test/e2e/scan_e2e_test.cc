// Scans in the cluster, end to end: a leader on the loopback API test server
// with deliberately bad workloads scans its cache; the real srexpert-hub
// stores the report it streams (GET .../scans/latest, .../scans/diff) and
// relays a scoped scan.run through its request API.
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

// The findings of a report (or diff list) naming this object and check.
int Count(const srexpert::json::Value& findings, const std::string& check,
          const std::string& name) {
  int n = 0;
  for (const auto& f : findings.GetArray()) {
    if (srexpert::json::GetString(f, {"check"}) == check &&
        srexpert::json::GetString(f, {"name"}) == name) {
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("scan e2e: the leader reports bad workloads to the hub, scan.run returns findings",
          "[e2e][scan]") {
  E2eWorld w;
  Create(w, R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})");
  Create(w, R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"bad-web","namespace":"shop"},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"bad-web"}},
      "template":{"metadata":{"labels":{"app":"bad-web"}},
        "spec":{"hostNetwork":true,"containers":[{"name":"web","image":"nginx:latest",
          "securityContext":{"privileged":true}}]}}}})");
  w.StartHub("1m", 0, 0, {"--state-file", w.dir().File("hub.db")});
  w.WriteConfig();
  w.StartAgent("agent-0");
  INFO(w.Logs());
  REQUIRE_FALSE(w.WaitForConnectedLeader().empty());

  // The first periodic scan runs once the cache is complete.
  const std::string base = std::string("/api/v1/clusters/") + kCluster;
  SimpleResponse latest;
  const bool reported = WaitUntil(
      [&] {
        return (latest = HttpCall(w.hub().api_port, "GET", base + "/scans/latest")).status == 200;
      },
      30s);
  if (!reported) FAIL(w.Logs() + "\n--- last answer\n" + latest.body);
  auto report = srexpert::json::Parse(latest.body);
  REQUIRE(report.has_value());
  INFO(latest.body);
  const srexpert::json::Value* findings = srexpert::json::Find(*report, {"findings"});
  REQUIRE(findings);
  REQUIRE(findings->IsArray());
  CHECK(Count(*findings, "pss-privileged", "bad-web") == 1);
  CHECK(Count(*findings, "host-network", "bad-web") == 1);
  CHECK(srexpert::json::GetInt(*report, {"score"}) < 100);
  CHECK(srexpert::json::GetInt(*report, {"counts", "dangers"}) >= 2);
  CHECK(srexpert::json::GetInt(*report, {"omitted"}) == 0);

  // One report so far: every finding is new.
  auto diff_resp = HttpCall(w.hub().api_port, "GET", base + "/scans/diff");
  REQUIRE(diff_resp.status == 200);
  auto diff = srexpert::json::Parse(diff_resp.body);
  REQUIRE(diff.has_value());
  CHECK(srexpert::json::Find(*diff, {"previousScannedAt"})->IsNull());
  CHECK(Count(*srexpert::json::Find(*diff, {"new"}), "pss-privileged", "bad-web") == 1);

  // scan.run through the hub's request API, scoped to one namespace.
  auto run = HttpCall(w.hub().api_port, "POST", base + "/requests",
                      R"({"kind":"scan.run","payload":{"namespaces":["shop"]},"timeoutMs":30000})");
  INFO(run.body);
  REQUIRE(run.status == 200);
  auto answer = srexpert::json::Parse(run.body);
  REQUIRE(answer.has_value());
  CHECK(srexpert::json::GetBool(*answer, {"ok"}));
  const srexpert::json::Value* scoped = srexpert::json::Find(*answer, {"payload", "findings"});
  REQUIRE(scoped);
  CHECK(Count(*scoped, "pss-privileged", "bad-web") == 1);
  // Objects in "shop", and the Namespace "shop" itself (its Pod Security labels).
  for (const auto& f : scoped->GetArray()) {
    const bool in_shop = srexpert::json::GetString(f, {"namespace"}) == "shop" ||
                         (srexpert::json::GetString(f, {"kind"}) == "Namespace" &&
                          srexpert::json::GetString(f, {"name"}) == "shop");
    CHECK(in_shop);
  }

  // A bad scope is the request's `invalid` error, not a failed session.
  auto bad = HttpCall(w.hub().api_port, "POST", base + "/requests",
                      R"({"kind":"scan.run","payload":{"checks":["no-such-check"]}})");
  INFO(bad.body);
  CHECK(bad.body.find("invalid") != std::string::npos);

  // A full scan.run becomes the latest report; the old one the previous:
  // nothing changed, so nothing is new.
  auto full = HttpCall(w.hub().api_port, "POST", base + "/requests", R"({"kind":"scan.run"})");
  REQUIRE(full.status == 200);
  REQUIRE(WaitUntil(
      [&] {
        auto d =
            srexpert::json::Parse(HttpCall(w.hub().api_port, "GET", base + "/scans/diff").body);
        return d.has_value() && srexpert::json::Find(*d, {"previousScannedAt"}) &&
               srexpert::json::Find(*d, {"previousScannedAt"})->IsString();
      },
      20s));
  diff = srexpert::json::Parse(HttpCall(w.hub().api_port, "GET", base + "/scans/diff").body);
  REQUIRE(diff.has_value());
  CHECK(srexpert::json::Find(*diff, {"new"})->Size() == 0);
  CHECK(srexpert::json::Find(*diff, {"resolved"})->Size() == 0);

  // The hub keeps both reports across a restart.
  uint16_t tunnel_port = w.hub().tunnel_port, api_port = w.hub().api_port;
  CHECK(w.hub().process->Terminate(20s) == 0);
  w.StartHub("1m", tunnel_port, api_port, {"--state-file", w.dir().File("hub.db")});
  CHECK(HttpCall(w.hub().api_port, "GET", base + "/scans/latest").status == 200);
}
