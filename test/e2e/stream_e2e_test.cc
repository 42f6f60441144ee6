// The state stream end to end, model-based: random creates, updates and
// deletes against the loopback API test server, interleaved with forced
// disconnects (hub SIGKILL and restart on its SQLite state file, proxy
// killed and restarted, a frozen leader replaced by the standby, a leader
// stopped with SIGTERM) and forced 410 Gone on the watches. At the end the
// hub's view must equal the API server's objects after projection: every
// object present with its latest projected form, nothing missing, nothing
// extra, nothing twice — and nothing from an excluded namespace, no Secret.
//
// The seed is printed; SRX_STREAM_E2E_SEED replays a run.
#include <signal.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdlib>
#include <random>

#include "test/e2e/e2e_world.h"
#include "test/e2e/stream_model.h"

using namespace srexpert::testing::e2e;
using srexpert::testing::HttpCall;
using srexpert::testing::Tinyproxy;
using srexpert::testing::WaitUntil;
using namespace std::chrono_literals;

namespace {

constexpr const char* kExcluded = kStreamExcluded;

uint32_t Seed() {
  if (const char* s = std::getenv("SRX_STREAM_E2E_SEED")) return static_cast<uint32_t>(std::stoul(s));
  return std::random_device{}();
}

}  // namespace

TEST_CASE("stream e2e: after random changes and forced disconnects the hub equals the API server",
          "[e2e][stream]") {
  const uint32_t seed = Seed();
  WARN("seed " << seed << " (replay with SRX_STREAM_E2E_SEED=" << seed << ")");

  E2eWorld w;
  auto client = w.client();
  CreateStreamNamespaces(*client);

  const std::string state_file = w.dir().File("hub-state.db");
  const std::vector<std::string> hub_args{"--state-file", state_file};
  w.StartHub("1m", 0, 0, hub_args);
  const uint16_t tunnel_port = w.hub().tunnel_port, api_port = w.hub().api_port;
  auto proxy = std::make_unique<Tinyproxy>(w.dir().path());
  REQUIRE(proxy->ok());
  const uint16_t proxy_port = proxy->port();

  ConfigExtras extras;
  extras.proxy_url = proxy->Url();
  extras.collection = std::string(R"({"events": true, "metrics": true, "metricsIntervalMs": 1000,)") +
                      R"("excludedNamespaces": [")" + kExcluded + R"("]})";
  w.WriteConfig(extras);
  w.StartAgent("agent-0");
  w.StartAgent("agent-1");
  std::string leader = w.WaitForConnectedLeader();
  REQUIRE_FALSE(leader.empty());

  Workload work(client, seed);
  auto run = [&](int n) {
    for (int i = 0; i < n; ++i) work.Step();
  };
  auto expect_reconnect = [&](const std::string& not_this = "") {
    std::string l = w.WaitForConnectedLeader(not_this, 60s);
    if (l.empty()) FAIL("no connected leader after a disruption\n" << w.Logs());
    return l;
  };

  // A random order of the disruptions, with changes before, during and after each.
  std::vector<int> faults{0, 1, 2, 3, 4};
  std::shuffle(faults.begin(), faults.end(), std::mt19937(seed));
  run(40);
  for (int fault : faults) {
    UNSCOPED_INFO("disruption " << fault);
    switch (fault) {
      case 0: {  // hub crash: state survives in SQLite, the agent resumes
        w.hub().process->KillNow();
        run(25);
        w.StartHub("1m", tunnel_port, api_port, hub_args);
        leader = expect_reconnect();
        break;
      }
      case 1: {  // the proxy dies and comes back on its port
        proxy.reset();
        run(25);
        proxy = std::make_unique<Tinyproxy>(w.dir().path(), "", "", proxy_port);
        REQUIRE(proxy->ok());
        leader = expect_reconnect();
        break;
      }
      case 2: {  // a frozen leader: the standby takes over with a new session
        Agent* frozen = w.ByName(leader);
        frozen->process->Signal(SIGSTOP);
        run(20);
        std::string next = expect_reconnect(leader);
        run(10);
        frozen->process->Signal(SIGCONT);
        leader = next;
        break;
      }
      case 3: {  // every watch of the leader's collectors expires: relists
        srexpert::testing::Fault gone;
        gone.kind = srexpert::testing::Fault::Kind::kGone;
        gone.verb = "watch";
        gone.times = 30;
        w.api().AddFault(gone);
        run(30);
        break;
      }
      case 4: {  // orderly leader change (rolling update of the DaemonSet)
        Agent* old = w.ByName(leader);
        REQUIRE(old->process->Terminate(20s) == 0);
        run(20);
        leader = expect_reconnect(leader);
        w.StartAgent("agent-2");  // the rolled pod comes back as a standby
        break;
      }
    }
    run(20);
  }
  w.api().ClearFaults();

  View expected = ExpectedView(*client);
  REQUIRE(expected.size() > 20);  // the workload left plenty behind
  HubView hub;
  std::vector<std::string> diff;
  bool converged = WaitUntil(
      [&] {
        hub = ReadHubView(api_port, kCluster);
        if (!hub.ok) return false;
        diff = Diff(expected, hub.objects);
        return diff.empty();
      },
      90s);
  std::string diff_text;
  for (size_t i = 0; i < diff.size() && i < 20; ++i) diff_text += diff[i] + "\n";
  INFO("operations: " << work.operations() << ", expected objects: " << expected.size()
                      << ", hub objects: " << hub.objects.size() << "\n"
                      << diff_text);
  CHECK(converged);
  CHECK(hub.duplicates.empty());

  // Never a Secret, never an excluded namespace, never a literal env value
  // or ConfigMap data.
  auto all = HttpCall(api_port, "GET", "/api/v1/clusters/" + std::string(kCluster) + "/resources");
  CHECK(all.body.find("\"Secret\"") == std::string::npos);
  CHECK(all.body.find("do-not-stream") == std::string::npos);
  CHECK(all.body.find(kExcluded + std::string("\",\"name\":\"obj-")) == std::string::npos);
  CHECK(all.body.find("s3cr3t-literal") == std::string::npos);
  CHECK(all.body.find("hunter2") == std::string::npos);

  // Reconnects of the same leader resumed the stream instead of resending
  // everything (the hub crash and the proxy restart).
  bool resumed = false;
  for (auto& a : w.agents()) resumed |= a->process->LogLine("stream resumes").has_value();
  CHECK(resumed);

  // The hub's events and metrics endpoints answer for the cluster.
  auto events = HttpCall(api_port, "GET", "/api/v1/clusters/" + std::string(kCluster) + "/events");
  CHECK(events.status == 200);
  auto metrics = HttpCall(api_port, "GET", "/api/v1/clusters/" + std::string(kCluster) + "/metrics");
  CHECK(metrics.status == 200);
}
