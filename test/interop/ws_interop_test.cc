// Interoperability with peers that share no code with ours: a backend and a
// fake agent written on the npm `ws` library straight from docs/protocol.md
// (test/interop/*.js). The document, not our own implementation, is what
// both ends are tested against: every rule the JS peers check is one line
// of their output, and each must hold.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/json.h"
#include "test/e2e/e2e_world.h"

using namespace srexpert;
using namespace srexpert::testing;
using namespace srexpert::testing::e2e;
using namespace std::chrono_literals;

namespace {

constexpr char kInteropDir[] = SRX_SOURCE_DIR "/test/interop";

// node and the `ws` module scripts/install-deps.sh fetched.
std::string NodeBinary() {
  for (const char* p : {"/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

void UseFetchedWs() {
  const std::string modules = SRX_SOURCE_DIR "/.tools/node_modules";
  INFO("scripts/install-deps.sh fetches the npm package ws into " << modules);
  REQUIRE(access((modules + "/ws/package.json").c_str(), R_OK) == 0);
  setenv("NODE_PATH", modules.c_str(), 1);
}

struct PeerResult {
  int checks = 0;
  int failed = 0;
  bool done = false;
  std::vector<std::string> names;
};

// Reads the peer's JSON lines; every failed check is reported on its own.
PeerResult ReadChecks(const std::string& log) {
  PeerResult r;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    auto doc = json::Parse(line);
    if (!doc || !doc->IsObject()) continue;
    if (json::Find(*doc, {"done"})) {
      r.done = true;
      r.failed = static_cast<int>(json::GetInt(*doc, {"failed"}, -1));
      continue;
    }
    std::string name = json::GetString(*doc, {"check"});
    if (name.empty()) continue;
    ++r.checks;
    r.names.push_back(name);
    const json::Value* ok = json::Find(*doc, {"ok"});
    INFO(name << ": " << json::GetString(*doc, {"detail"}));
    CHECK((ok && ok->IsBool() && ok->GetBool()));
  }
  return r;
}

bool Has(const PeerResult& r, const std::string& name) {
  for (const auto& n : r.names) {
    if (n == name) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("srexpert-agent against a backend written on npm ws from docs/protocol.md", "[interop]") {
  std::string node = NodeBinary();
  REQUIRE_FALSE(node.empty());
  UseFetchedWs();
  E2eWorld world;
  Process backend(node,
                  {std::string(kInteropDir) + "/ws_backend.js", world.pki().server_cert,
                   world.pki().server_key, kToken},
                  world.dir().File("ws-backend.log"));
  std::optional<json::Document> listening;
  auto backend_line = [&](const std::string& member) -> std::optional<json::Document> {
    std::istringstream lines(backend.Log());
    std::string line;
    while (std::getline(lines, line)) {
      auto doc = json::Parse(line);
      if (doc && doc->IsObject() && json::Find(*doc, {member})) return std::move(*doc);
    }
    return std::nullopt;
  };
  auto backend_event = [&](const std::string& event) {
    return backend.Log().find("\"event\":\"" + event + "\"") != std::string::npos;
  };
  INFO(backend.Log());
  REQUIRE(WaitUntil([&] { return (listening = backend_line("listening")).has_value(); }, 20s));
  world.hub().tunnel_port = static_cast<uint16_t>(json::GetInt(*listening, {"listening"}));
  world.WriteConfig();
  Agent& agent = world.StartAgent("agent-a");

  // Session 2 waits for a change made in the cluster.
  INFO(world.Logs() << "--- backend\n" << backend.Log());
  REQUIRE(WaitUntil([&] { return backend_event("waiting for interop-cm"); }, 60s));
  auto cm = json::Parse(
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"interop-cm","namespace":"srexpert-system"},"data":{"a":"b"}})");
  REQUIRE(world.client()->Create(*cm).ok());
  REQUIRE(WaitUntil([&] { return backend_event("final session open"); }, 90s));

  std::string agent_log = agent.process->Log();
  CHECK(agent_log.find("backend rejected token") != std::string::npos);
  CHECK(agent_log.find("backend protocol violation") != std::string::npos);
  CHECK(agent_log.find(kToken) == std::string::npos);
  CHECK(agent.Probe("/healthz") == 200);

  backend.Signal(SIGTERM);
  REQUIRE(WaitUntil([&] { return !backend.Running(); }, 10s));
  PeerResult r = ReadChecks(backend.Log());
  CHECK(r.done);
  CHECK(r.failed == 0);
  // The script really ran every session: the rules of each are present.
  CHECK(r.checks >= 80);
  for (const char* name :
       {"session 1: agent.info answered ok with the same id",
        "session 1: an unknown type gets error unsupported with ref",
        "session 1: the agent closes 4400 after the bad ack", "session 2: srexpert.v1.deflate agreed",
        "session 2: a new ConfigMap arrives as a delta",
        "session 3: a welcome with a version not offered is closed 4400",
        "session 4: a welcome offering less than 64 KiB is closed 4400",
        "session 6: a message that is not JSON is closed 4400"}) {
    INFO(name);
    CHECK(Has(r, name));
  }
}

TEST_CASE("srexpert-hub against a fake agent written on npm ws from docs/protocol.md", "[interop]") {
  std::string node = NodeBinary();
  REQUIRE_FALSE(node.empty());
  UseFetchedWs();
  E2eWorld world;
  world.StartHub("1m", 0, 0, {"--max-message-bytes", "65536", "--handshake-timeout", "1s"});
  Process fake(node,
               {std::string(kInteropDir) + "/ws_agent.js", std::to_string(world.hub().tunnel_port),
                std::to_string(world.hub().api_port), world.pki().ca_cert, kToken, kCluster},
               world.dir().File("ws-agent.log"));
  INFO(world.Logs() << "--- fake agent\n" << fake.Log());
  REQUIRE(WaitUntil([&] { return !fake.Running(); }, 120s));
  PeerResult r = ReadChecks(fake.Log());
  CHECK(r.done);
  CHECK(r.failed == 0);
  CHECK(r.checks >= 70);
  for (const char* name :
       {"stream: a gap is answered sequence_gap", "supersede: the older session is closed 4409",
        "deflate: a message inflating past maxMessageBytes is closed 4413",
        "an unmasked frame: closed 1002", "a text frame that is not UTF-8: closed 1007",
        "no hello within the handshake timeout: closed 4408",
        "after the abuse: /healthz is 200"}) {
    INFO(name);
    CHECK(Has(r, name));
  }
  CHECK(world.hub().process->Running());
  CHECK(world.hub().process->Log().find(kToken) == std::string::npos);
}
