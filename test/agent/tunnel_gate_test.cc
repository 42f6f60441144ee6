// TunnelOptions::may_connect: the gate the agent uses so that only the
// current leader ever opens a session.
#include <atomic>
#include <catch2/catch.hpp>

#include "agent/tunnel_client.h"
#include "hub/hub.h"
#include "test/net/test_support.h"

using namespace srexpert;
using srexpert::testing::WaitUntil;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("tunnel: no session is opened while may_connect says no", "[tunnel_gate]") {
  srexpert::testing::TempDir dir;
  srexpert::testing::TestPki pki(dir.path());
  srexpert::testing::WriteFile(dir.File("tokens.json"),
                               R"({"clusters":[{"name":"cluster-a","token":"tok-a"}]})");
  srexpert::testing::WriteFile(dir.File("token"), "tok-a\n");
  hub::HubOptions ho;
  ho.bind_address = "127.0.0.1";
  ho.port = 0;
  ho.api_port = 0;
  ho.tls_cert_file = pki.server_cert;
  ho.tls_key_file = pki.server_key;
  ho.tokens_file = dir.File("tokens.json");
  hub::Hub hub(ho);
  std::string error;
  REQUIRE(hub.Start(&error));

  std::atomic<bool> allowed{false};
  std::atomic<int> asked{0};
  agent::TunnelOptions o;
  o.url = "wss://localhost:" + std::to_string(hub.tunnel_port()) + "/api/v1/tunnel";
  o.token_file = dir.File("token");
  o.tls.use_system_cas = false;
  o.tls.ca_file = pki.ca_cert;
  o.proxy.use_environment = false;
  o.hello.agent_version = "0.1.0-test";
  o.hello.cluster = {"uid-1", "test", "v1.30.0"};
  o.backoff.initial = milliseconds(50);
  o.backoff.max = milliseconds(200);
  o.may_connect = [&] {
    ++asked;
    return allowed.load();
  };
  RealClock clock;
  RandomSource random(7);
  agent::TunnelClient client(o, clock, random);
  REQUIRE(client.Start(&error));

  // Several refused attempts, none reaching the hub.
  REQUIRE(WaitUntil([&] { return asked >= 3; }, seconds(20)));
  CHECK_FALSE(client.connected());
  CHECK(client.Stats().connects == 0);
  CHECK(client.Stats().last_error == "connecting not allowed now (not the current leader)");
  CHECK(hub.Clusters().empty());

  allowed = true;
  REQUIRE(WaitUntil([&] { return client.connected(); }, seconds(20)));
  auto clusters = hub.Clusters();
  REQUIRE(clusters.size() == 1);
  CHECK(clusters[0].sessions_total == 1);
  client.Stop();
}
