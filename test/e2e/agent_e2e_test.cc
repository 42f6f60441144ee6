// The real srexpert-hub process and three real srexpert-agent processes (one
// per "node") against the loopback API test server: exactly one leader and
// one tunnel, failover on SIGTERM and on a crash, fencing of a frozen
// (SIGSTOP) leader, and the probes. Every process is killed by PID on every
// exit path.
#include <signal.h>

#include <catch2/catch.hpp>

#include "test/e2e/e2e_world.h"

using namespace srexpert::testing::e2e;
using srexpert::testing::JsonLogLines;
using srexpert::testing::WaitUntil;
namespace json = srexpert::json;
using namespace std::chrono_literals;

TEST_CASE("srexpert-agent e2e: three agents, one leader, one tunnel, failover on SIGTERM",
          "[e2e][agent]") {
  E2eWorld w;
  w.StartHub();
  w.WriteConfig();
  w.StartAgent("agent-0");
  w.StartAgent("agent-1");
  w.StartAgent("agent-2");
  INFO(w.Logs());

  std::string leader = w.WaitForConnectedLeader();
  REQUIRE_FALSE(leader.empty());
  std::vector<Agent*> all{w.ByName("agent-0"), w.ByName("agent-1"), w.ByName("agent-2")};
  REQUIRE(w.ByName(leader));
  CHECK(w.ByName(leader)->Leading());
  CHECK(w.LeadersAmong(all) == 1);

  // Probes: every agent is alive and ready — the leader because its tunnel
  // is up, the standbys because they can read the Lease.
  for (auto* a : all) {
    CHECK(a->Probe("/healthz") == 200);
    CHECK(WaitUntil([&] { return a->Probe("/readyz") == 200; }, 20s));
  }
  REQUIRE(WaitUntil(
      [&] { return w.LeaseAnnotation("agent.srexpert.io/tunnel-state") == "Connected"; }, 20s));
  CHECK(w.LeaseAnnotation("agent.srexpert.io/node") == "node-" + leader);
  CHECK(w.ByName(leader)->Metrics().find("srexpert_tunnel_connected 1") != std::string::npos);

  // The standbys never open a tunnel: one session so far.
  std::this_thread::sleep_for(2s);
  auto c = w.Cluster();
  CHECK(c.sessions_total == 1);
  CHECK(c.max_concurrent == 1);
  CHECK(w.LeadersAmong(all) == 1);

  // SIGTERM: the leader closes its tunnel, releases the Lease and exits 0;
  // a standby takes over.
  Agent* old = w.ByName(leader);
  CHECK(old->process->Terminate(20s) == 0);
  CHECK(old->process->LogLine("released lease").has_value());
  std::string next = w.WaitForConnectedLeader(leader);
  REQUIRE_FALSE(next.empty());
  CHECK(next != leader);
  std::vector<Agent*> rest;
  for (auto* a : all) {
    if (a != old) rest.push_back(a);
  }
  CHECK(w.LeadersAmong(rest) == 1);
  CHECK(w.ByName(next)->Leading());
  c = w.Cluster();
  CHECK(c.sessions_total == 2);
  CHECK(c.max_concurrent == 1);  // the hub never saw two tunnels at once
  CHECK(c.superseded_total == 0);

  // The leader is ready only while its tunnel is up: stop the hub.
  Agent* leader_agent = w.ByName(next);
  uint16_t tunnel_port = w.hub().tunnel_port, api_port = w.hub().api_port;
  CHECK(w.hub().process->Terminate(20s) == 0);
  REQUIRE(WaitUntil([&] { return leader_agent->Probe("/readyz") == 503; }, 20s));
  CHECK(leader_agent->ReadyBody().find("leader, tunnel") != std::string::npos);
  for (auto* a : rest) {
    if (a != leader_agent) CHECK(a->Probe("/readyz") == 200);
  }
  // Back on the same ports, the leader reconnects and is ready again.
  w.StartHub("1m", tunnel_port, api_port);
  REQUIRE(WaitUntil([&] { return leader_agent->Probe("/readyz") == 200; }, 30s));
  c = w.Cluster();
  CHECK(c.connected);
  CHECK(c.pod == next);

  for (auto* a : rest) CHECK(a->process->Terminate(20s) == 0);
}

TEST_CASE("srexpert-agent e2e: a frozen leader is fenced and does not come back", "[e2e][agent]") {
  E2eWorld w;
  // A short idle timeout lets the hub drop the frozen agent's session itself.
  w.StartHub("2s");
  w.WriteConfig();
  w.StartAgent("agent-0");
  w.StartAgent("agent-1");
  w.StartAgent("agent-2");
  INFO(w.Logs());

  std::string frozen = w.WaitForConnectedLeader();
  REQUIRE_FALSE(frozen.empty());
  Agent* old = w.ByName(frozen);
  REQUIRE(old);
  std::vector<Agent*> others;
  for (auto& a : w.agents()) {
    if (a.get() != old) others.push_back(a.get());
  }

  old->process->Signal(SIGSTOP);
  // After the Lease expires another agent leads and holds the tunnel.
  std::string next = w.WaitForConnectedLeader(frozen, 60s);
  REQUIRE_FALSE(next.empty());
  CHECK(w.LeadersAmong(others) == 1);
  auto sessions_opened = [&] {
    return JsonLogLines(w.hub().process->Log(), "agent session open");
  };
  const size_t opened_before = sessions_opened().size();

  // Thawed, the old leader finds its renew deadline long passed: it stops
  // leading at once and stays standby — it never opens a session again.
  old->process->Signal(SIGCONT);
  REQUIRE(WaitUntil([&] { return !old->Leading(); }, 20s));
  REQUIRE(WaitUntil([&] { return old->Probe("/readyz") == 200; }, 20s));
  std::this_thread::sleep_for(5s);
  auto after = w.Cluster();
  CHECK(after.connected);
  CHECK(after.pod == next);
  // The new leader's own tunnel may reconnect meanwhile on a loaded machine
  // (the hub's idle timeout here is 2 s); no session may come from the
  // thawed agent.
  auto opened = sessions_opened();
  for (size_t i = opened_before; i < opened.size(); ++i) {
    INFO(json::Dump(opened[i]));
    CHECK(json::GetString(opened[i], {"pod"}) == next);
  }
  CHECK(w.LeaseHolder() == next);
  CHECK_FALSE(old->Leading());
  CHECK(old->Metrics().find("srexpert_tunnel_connected 0") != std::string::npos);
  // Two sessions were only ever open at once if the hub superseded the
  // frozen one (it could not close its socket itself).
  CHECK((after.max_concurrent == 1 || after.superseded_total >= 1));
  for (auto& a : w.agents()) CHECK(a->process->Terminate(20s) == 0);
}

TEST_CASE("srexpert-agent e2e: a crashed leader (SIGKILL) is replaced after the Lease expires",
          "[e2e][agent]") {
  E2eWorld w;
  w.StartHub("2s");
  w.WriteConfig();
  w.StartAgent("agent-0");
  w.StartAgent("agent-1");
  w.StartAgent("agent-2");
  INFO(w.Logs());

  std::string crashed = w.WaitForConnectedLeader();
  REQUIRE_FALSE(crashed.empty());
  Agent* old = w.ByName(crashed);
  REQUIRE(old);
  old->process->KillNow();
  // Nothing released the Lease: the standbys wait for its expiry.
  CHECK(w.LeaseHolder() == crashed);
  std::string next = w.WaitForConnectedLeader(crashed, 60s);
  REQUIRE_FALSE(next.empty());
  std::vector<Agent*> rest;
  for (auto& a : w.agents()) {
    if (a.get() != old) rest.push_back(a.get());
  }
  CHECK(w.LeadersAmong(rest) == 1);
  REQUIRE(WaitUntil(
      [&] { return w.LeaseAnnotation("agent.srexpert.io/tunnel-state") == "Connected"; }, 20s));
  for (auto* a : rest) {
    int rc = a->process->Terminate(20s);
    // The whole log, a sanitizer report at exit included (seen once: exit 1
    // under ASan, not reproduced since).
    INFO(a->name << " exited " << rc << "; its log:\n" << a->process->Log());
    CHECK(rc == 0);
  }
}
