// config.json parsing, and the round trip with the operator's writer
// (controller::AgentConfigFile) so the two sides cannot drift apart.
#include "agent/agent_config_file.h"

#include <algorithm>
#include <catch2/catch.hpp>

#include "api/agent_config.h"
#include "common/json.h"
#include "controller/desired.h"
#include "scan/config.h"
#include "test/api/agent_config_fixture.h"
#include "test/net/test_support.h"

using namespace srexpert;
using agent::AgentSettings;
using agent::ParseAgentSettings;
using std::chrono::milliseconds;

namespace {

constexpr const char* kMinimal = R"({
  "version": 1,
  "backend": {"url": "wss://hub.example.com/api/v1/tunnel"},
  "tokenFile": "/etc/srexpert/token/token",
  "leaderElection": {"leaseName": "srexpert-agent-leader"}
})";

// The text the operator would mount for `agent_config` (an AgentConfig
// object as the API returns it).
std::string WrittenByOperator(const json::Document& agent_config) {
  auto parsed = api::Parse(agent_config);
  INFO(parsed.Summary());
  REQUIRE(parsed.ok());
  return json::DumpPretty(controller::AgentConfigFile(parsed.config)) + "\n";
}

std::string ParseError(const std::string& text) {
  std::string error;
  auto s = ParseAgentSettings(text, &error);
  CHECK_FALSE(s.has_value());
  return error;
}

json::Document MinimalWith(std::string_view merge_patch) {
  auto doc = *json::Parse(kMinimal);
  auto patch = json::Parse(merge_patch);
  REQUIRE(patch);
  json::MergePatch(doc, *patch, doc.GetAllocator());
  return doc;
}

std::string ParseErrorOf(std::string_view merge_patch) {
  return ParseError(json::Dump(MinimalWith(merge_patch)));
}

}  // namespace

TEST_CASE("config.json: the minimal file takes the CRD defaults", "[agent_config_file]") {
  std::string error;
  std::vector<std::string> unknown;
  auto s = ParseAgentSettings(kMinimal, &error, &unknown);
  INFO(error);
  REQUIRE(s);
  CHECK(unknown.empty());
  CHECK(s->backend.url == "wss://hub.example.com/api/v1/tunnel");
  CHECK_FALSE(s->backend.insecure);
  CHECK(s->backend.ca_file.empty());
  CHECK_FALSE(s->backend.proxy.has_value());
  CHECK(s->token_file == "/etc/srexpert/token/token");
  CHECK(s->log_level == "info");
  CHECK(s->health_port == 8081);
  CHECK(s->leader_election.lease_name == "srexpert-agent-leader");
  CHECK(s->leader_election.lease_namespace.empty());
  CHECK(s->leader_election.lease_duration == milliseconds(15000));
  CHECK(s->leader_election.renew_deadline == milliseconds(10000));
  CHECK(s->leader_election.retry_period == milliseconds(2000));
  CHECK(s->tunnel.ping_interval == milliseconds(20000));
  CHECK(s->tunnel.pong_timeout == milliseconds(10000));
  CHECK(s->tunnel.max_message_bytes == 16777216);
  CHECK(s->tunnel.backoff.initial == milliseconds(1000));
  CHECK(s->tunnel.backoff.max == milliseconds(60000));
  CHECK(s->tunnel.backoff.multiplier == 2.0);
  CHECK(s->collection.events);
  CHECK(s->scans.interval == milliseconds(3600000));
  CHECK_FALSE(s->actions.scale);
}

TEST_CASE("config.json: the documented example parses field by field", "[agent_config_file]") {
  // The example of docs/agentconfig.md, "Agent contract".
  const char* text = R"({
    "version": 1,
    "clusterName": "prod-eu-1",
    "backend": {
      "url": "wss://connect.srexpert.io/agent",
      "insecure": false,
      "caFile": "/etc/srexpert/config/ca.crt",
      "proxy": {"url": "http://proxy:3128", "noProxy": [".svc", "10.0.0.0/8"]}
    },
    "tokenFile": "/etc/srexpert/token/token",
    "logLevel": "info",
    "healthPort": 8081,
    "leaderElection": {"leaseName": "srexpert-agent-leader", "leaseNamespace": "srexpert-system",
                       "leaseDurationMs": 15000, "renewDeadlineMs": 10000, "retryPeriodMs": 2000},
    "tunnel": {"pingIntervalMs": 20000, "pongTimeoutMs": 10000, "maxMessageBytes": 16777216,
               "backoff": {"initialMs": 1000, "maxMs": 60000, "multiplier": 2.0}},
    "collection": {"events": true, "metrics": true, "excludedNamespaces": []},
    "scans": {"enabled": true, "intervalMs": 3600000},
    "actions": {"scale": false, "restart": false, "applyManifests": false, "helm": false}
  })";
  std::string error;
  std::vector<std::string> unknown;
  auto s = ParseAgentSettings(text, &error, &unknown);
  INFO(error);
  REQUIRE(s);
  CHECK(unknown.empty());
  CHECK(s->cluster_name == "prod-eu-1");
  CHECK(s->backend.ca_file == "/etc/srexpert/config/ca.crt");
  REQUIRE(s->backend.proxy);
  CHECK(s->backend.proxy->url == "http://proxy:3128");
  CHECK(s->backend.proxy->no_proxy == std::vector<std::string>{".svc", "10.0.0.0/8"});
  CHECK(s->leader_election.lease_namespace == "srexpert-system");
}

TEST_CASE("config.json: round trip with the operator's writer, minimal AgentConfig",
          "[agent_config_file]") {
  std::string text = WrittenByOperator(testing::MinimalAgentConfig());
  std::string error;
  std::vector<std::string> unknown;
  auto s = ParseAgentSettings(text, &error, &unknown);
  INFO(error << "\n" << text);
  REQUIRE(s);
  // Every field the operator writes is one the agent knows.
  CHECK(unknown.empty());
  CHECK(s->cluster_name == "prod-eu-1");
  CHECK(s->backend.url == "wss://connect.example.com/agent");
  CHECK_FALSE(s->backend.insecure);
  CHECK(s->backend.ca_file.empty());
  CHECK_FALSE(s->backend.proxy);
  CHECK(s->token_file == controller::kTokenFile);
  CHECK(s->health_port == controller::kHealthPort);
  CHECK(s->log_level == "info");
  CHECK(s->leader_election.lease_name == "srexpert-agent-leader");
  CHECK(s->leader_election.lease_namespace == "srexpert-system");
  CHECK(s->leader_election.lease_duration == milliseconds(15000));
  CHECK(s->leader_election.renew_deadline == milliseconds(10000));
  CHECK(s->leader_election.retry_period == milliseconds(2000));
  CHECK(s->tunnel.ping_interval == milliseconds(20000));
  CHECK(s->tunnel.pong_timeout == milliseconds(10000));
  CHECK(s->tunnel.backoff.initial == milliseconds(1000));
  CHECK(s->tunnel.backoff.max == milliseconds(60000));
  CHECK(s->tunnel.backoff.multiplier == 2.0);
  // No Polaris fields in spec.scans: no configuration, every check at its own severity.
  CHECK(s->scans.config == nullptr);
}

TEST_CASE("config.json: round trip with the operator's writer, every field set",
          "[agent_config_file]") {
  std::string text = WrittenByOperator(testing::FullAgentConfig());
  std::string error;
  std::vector<std::string> unknown;
  auto s = ParseAgentSettings(text, &error, &unknown);
  INFO(error << "\n" << text);
  REQUIRE(s);
  CHECK(unknown.empty());
  CHECK(s->cluster_name == "edge-1");
  CHECK(s->backend.url == "ws://hub.dev.example.com:8080/agent");
  CHECK(s->backend.insecure);
  CHECK(s->backend.ca_file == controller::kCaFile);
  REQUIRE(s->backend.proxy);
  CHECK(s->backend.proxy->url == "http://proxy.corp.example:3128");
  CHECK(s->backend.proxy->no_proxy == std::vector<std::string>{"10.0.0.0/8", ".svc"});
  CHECK(s->log_level == "debug");
  CHECK(s->leader_election.lease_name == "edge-leader");
  CHECK(s->leader_election.lease_namespace == "monitoring");
  CHECK(s->leader_election.lease_duration == milliseconds(30000));
  CHECK(s->leader_election.renew_deadline == milliseconds(20000));
  CHECK(s->leader_election.retry_period == milliseconds(4000));
  CHECK(s->tunnel.ping_interval == milliseconds(15000));
  CHECK(s->tunnel.pong_timeout == milliseconds(5000));
  CHECK(s->tunnel.max_message_bytes == 1048576);
  CHECK(s->tunnel.backoff.initial == milliseconds(500));
  CHECK(s->tunnel.backoff.max == milliseconds(120000));
  CHECK(s->tunnel.backoff.multiplier == 1.5);
  CHECK_FALSE(s->collection.events);
  CHECK_FALSE(s->collection.metrics);
  CHECK(s->collection.excluded_namespaces == std::vector<std::string>{"kube-public"});
  CHECK(s->collection.metrics_interval == milliseconds(30000));
  CHECK(s->collection.events_per_second == 12.5);
  CHECK(s->collection.event_burst == 40);
  CHECK(s->stream.max_unacked_bytes == 8388608);
  CHECK(s->stream.max_unacked_messages == 512);
  CHECK(s->stream.batch_interval == milliseconds(100));
  CHECK_FALSE(s->scans.enabled);
  CHECK(s->scans.interval == milliseconds(6 * 3600 * 1000));
  // spec.scans' Polaris configuration arrives compiled, as the CLI's --config would.
  REQUIRE(s->scans.config);
  const scan::ScanConfig& sc = *s->scans.config;
  REQUIRE(sc.checks);
  CHECK(sc.checks->size() == 4);
  CHECK(sc.checks->at(std::string(scan::FindCheck("hostIPCSet")->id)) == scan::Severity::kWarning);
  CHECK(sc.checks->at("pss-volume-types") == scan::Severity::kIgnore);
  CHECK(sc.checks->at("imageFromRegistry") == scan::Severity::kDanger);
  REQUIRE(sc.exemptions.size() == 1);
  CHECK(sc.exemptions[0].ns == "kube-system");
  CHECK(sc.exemptions[0].controller_names == std::vector<std::string>{"coredns"});
  CHECK(sc.exemptions[0].container_names == std::vector<std::string>{"sidecar"});
  CHECK(sc.exemptions[0].rules ==
        std::vector<std::string>{std::string(scan::FindCheck("hostNetworkSet")->id)});
  CHECK(sc.disallow_exemptions);
  CHECK(sc.disallow_config_exemptions);
  CHECK(sc.disallow_annotation_exemptions);
  REQUIRE(sc.custom_checks.size() == 2);
  std::vector<std::string> names;
  for (const auto& c : sc.custom_checks) names.push_back(c->name());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"imageFromRegistry", "noLatestTag"});
  for (const auto& c : sc.custom_checks) {
    if (c->name() != "imageFromRegistry") continue;
    CHECK(c->target() == scan::CustomTarget::kContainer);
    CHECK(c->schema_target_pod_spec());
    CHECK(c->Info(scan::Severity::kDanger).failure_message ==
          "Image must come from registry.example");
    CHECK(c->Validate(*json::Parse(R"({"containers":[{"image":"registry.example/app:1"}]})")));
    CHECK_FALSE(c->Validate(*json::Parse(R"({"containers":[{"image":"docker.io/app:1"}]})")));
  }
  CHECK(s->actions.scale);
  CHECK(s->actions.restart);
  CHECK(s->actions.delete_pods);
  CHECK(s->actions.nodes);
  CHECK(s->actions.apply_manifests);
  CHECK(s->actions.helm);
  CHECK(s->actions.namespaces == std::vector<std::string>{"shop", "payments"});
}

TEST_CASE("config.json: unknown fields are ignored and reported", "[agent_config_file]") {
  std::string error;
  std::vector<std::string> unknown;
  auto s = ParseAgentSettings(
      json::Dump(MinimalWith(R"({"future": {"x": 1}, "backend": {"compression": "zstd"},
                                 "tunnel": {"backoff": {"jitter": "full"}}})")),
      &error, &unknown);
  INFO(error);
  REQUIRE(s);
  std::sort(unknown.begin(), unknown.end());
  CHECK(unknown ==
        std::vector<std::string>{"backend.compression", "future", "tunnel.backoff.jitter"});
}

TEST_CASE("config.json: errors name the field", "[agent_config_file]") {
  CHECK(ParseError("{").find("invalid JSON") != std::string::npos);
  CHECK(ParseError("[]") == "the configuration must be a JSON object");
  CHECK(ParseErrorOf(R"({"version": null})") == "version: required");
  CHECK(ParseErrorOf(R"({"version": 2})") ==
        "version: unsupported version 2 (this agent reads version 1)");
  CHECK(ParseErrorOf(R"({"version": "1"})") == "version: must be an integer");
  CHECK(ParseErrorOf(R"({"backend": null})") == "backend: required");
  CHECK(ParseErrorOf(R"({"backend": "wss://x"})") == "backend: must be an object");
  CHECK(ParseErrorOf(R"({"backend": {"url": 5}})") == "backend.url: must be a string");
  CHECK(ParseErrorOf(R"({"backend": {"url": ""}})") == "backend.url: must not be empty");
  CHECK(ParseErrorOf(R"({"backend": {"url": "https://x"}})") ==
        "backend.url: must start with wss:// (or ws:// with backend.insecure)");
  CHECK(ParseErrorOf(R"({"backend": {"url": "ws://x"}})") ==
        "backend.url: ws:// needs backend.insecure: true");
  CHECK(ParseErrorOf(R"({"backend": {"insecure": "yes"}})") ==
        "backend.insecure: must be true or false");
  CHECK(ParseErrorOf(R"({"backend": {"proxy": {"noProxy": []}}})") ==
        "backend.proxy.url: required");
  CHECK(ParseErrorOf(R"({"backend": {"proxy": {"url": "http://p:1", "noProxy": [".a", 3]}}})") ==
        "backend.proxy.noProxy[1]: must be a string");
  CHECK(ParseErrorOf(R"({"tokenFile": null})") == "tokenFile: required");
  CHECK(ParseErrorOf(R"({"logLevel": "verbose"})") ==
        "logLevel: \"verbose\" is not one of debug, info, warn, error");
  CHECK(ParseErrorOf(R"({"healthPort": 70000})") == "healthPort: 70000 is out of range [1, 65535]");
  CHECK(ParseErrorOf(R"({"leaderElection": null})") == "leaderElection: required");
  CHECK(ParseErrorOf(R"({"leaderElection": {"leaseName": null}})") ==
        "leaderElection.leaseName: required");
  CHECK(ParseErrorOf(R"({"leaderElection": {"retryPeriodMs": 0}})") ==
        "leaderElection.retryPeriodMs: 0 is out of range [1, 2592000000]");
  CHECK(ParseErrorOf(R"({"leaderElection": {"leaseDurationMs": 1.5}})") ==
        "leaderElection.leaseDurationMs: must be an integer");
  CHECK(ParseErrorOf(R"({"leaderElection": {"leaseDurationMs": 5000}})") ==
        "leaderElection: leaseDuration (5000ms) must be greater than renewDeadline (10000ms)");
  CHECK(ParseErrorOf(R"({"tunnel": {"maxMessageBytes": 10}})") ==
        "tunnel.maxMessageBytes: 10 is out of range [65536, 2147483647]");
  // The protocol's floor (docs/protocol.md, "Limits"), as in the CRD.
  CHECK(ParseErrorOf(R"({"tunnel": {"maxMessageBytes": 65535}})") ==
        "tunnel.maxMessageBytes: 65535 is out of range [65536, 2147483647]");
  CHECK(ParseErrorOf(R"({"tunnel": {"backoff": {"multiplier": 0.5}}})") ==
        "tunnel.backoff.multiplier: 0.5 is out of range [1, 10]");
  CHECK(ParseErrorOf(R"({"tunnel": {"backoff": {"initialMs": 5000, "maxMs": 1000}}})") ==
        "tunnel.backoff.maxMs: 1000 must not be less than initialMs (5000)");
  CHECK(ParseErrorOf(R"({"collection": {"excludedNamespaces": "a"}})") ==
        "collection.excludedNamespaces: must be an array of strings");
  CHECK(ParseErrorOf(R"({"actions": {"helm": 1}})") == "actions.helm: must be true or false");
  CHECK(ParseErrorOf(R"({"scans": {"config": []}})") == "scans.config: must be an object");
  // A hand-edited ConfigMap the engine rejects: the agent does not start
  // with a configuration other than the one written.
  CHECK(ParseErrorOf(R"({"scans": {"config": {"checks": {"noSuchCheck": "danger"}}}})") ==
        "scans.config: checks.noSuchCheck: no such check");
}

TEST_CASE("config.json: LoadAgentSettings reports the path", "[agent_config_file]") {
  testing::TempDir dir;
  std::string error;
  CHECK_FALSE(agent::LoadAgentSettings(dir.File("missing.json"), &error));
  CHECK(error == dir.File("missing.json") + ": cannot open the configuration file");

  testing::WriteFile(dir.File("bad.json"), R"({"version": 1})");
  CHECK_FALSE(agent::LoadAgentSettings(dir.File("bad.json"), &error));
  CHECK(error == dir.File("bad.json") + ": backend: required");

  testing::WriteFile(dir.File("config.json"), kMinimal);
  auto s = agent::LoadAgentSettings(dir.File("config.json"), &error);
  REQUIRE(s);
  CHECK(s->leader_election.lease_name == "srexpert-agent-leader");
}

TEST_CASE("config.json: collection and stream tuning knobs parse with defaults and bounds",
          "[agent_config_file]") {
  std::string error;
  auto defaults = ParseAgentSettings(kMinimal, &error);
  REQUIRE(defaults);
  CHECK(defaults->collection.metrics_interval == milliseconds(60000));
  CHECK(defaults->collection.events_per_second == 50);
  CHECK(defaults->collection.event_burst == 200);
  CHECK(defaults->stream.max_unacked_bytes == 4 * 1024 * 1024);
  CHECK(defaults->stream.max_unacked_messages == 256);
  CHECK(defaults->stream.batch_interval == milliseconds(50));

  auto tuned = ParseAgentSettings(R"({
    "version": 1,
    "backend": {"url": "wss://hub.example.com/api/v1/tunnel"},
    "tokenFile": "/t",
    "leaderElection": {"leaseName": "l"},
    "collection": {"metricsIntervalMs": 5000, "eventsPerSecond": 10.5, "eventBurst": 20},
    "stream": {"maxUnackedBytes": 1048576, "maxUnackedMessages": 16, "batchIntervalMs": 10}
  })",
                                  &error);
  INFO(error);
  REQUIRE(tuned);
  CHECK(tuned->collection.metrics_interval == milliseconds(5000));
  CHECK(tuned->collection.events_per_second == 10.5);
  CHECK(tuned->collection.event_burst == 20);
  CHECK(tuned->stream.max_unacked_bytes == 1048576);
  CHECK(tuned->stream.max_unacked_messages == 16);
  CHECK(tuned->stream.batch_interval == milliseconds(10));

  auto bad = ParseAgentSettings(R"({
    "version": 1,
    "backend": {"url": "wss://hub.example.com/api/v1/tunnel"},
    "tokenFile": "/t",
    "leaderElection": {"leaseName": "l"},
    "stream": {"maxUnackedMessages": 0}
  })",
                                &error);
  CHECK_FALSE(bad);
  CHECK(error.find("stream.maxUnackedMessages") != std::string::npos);
}
