#include "api/agent_config.h"

#include <catch2/catch.hpp>
#include <regex>

#include "api/validation.h"
#include "scan/config.h"
#include "test/api/agent_config_fixture.h"
#include "test/api/crd_schema.h"
#include "test/api/invalid_agent_configs.h"

using namespace srexpert;
using namespace std::chrono_literals;

namespace {

bool HasError(const api::ParseResult& r, const std::string& path, const std::string& fragment) {
  for (const auto& e : r.errors) {
    if (e.path == path && e.message.find(fragment) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("A minimal AgentConfig parses to the documented defaults", "[api]") {
  auto r = api::Parse(testing::MinimalAgentConfig());
  INFO(r.Summary());
  REQUIRE(r.ok());
  const auto& c = r.config;
  CHECK(c.meta.name == "srexpert-agent");
  CHECK(c.meta.namespace_ == "srexpert-system");
  CHECK(c.meta.uid == "0b6c3c2e-ac00-4d5e-9f00-000000000001");
  CHECK(c.meta.generation == 3);
  CHECK_FALSE(c.meta.deleting);
  const auto& s = c.spec;
  CHECK(s.backend.url == "wss://connect.example.com/agent");
  CHECK_FALSE(s.backend.insecure);
  CHECK(s.backend.ca_bundle.empty());
  CHECK_FALSE(s.backend.proxy);
  CHECK(s.token.value == std::string(testing::kTestToken));
  CHECK_FALSE(s.token.secret_ref);
  CHECK(s.cluster_name == "prod-eu-1");
  CHECK(s.agent.image.empty());
  CHECK(s.agent.image_pull_policy == "IfNotPresent");
  CHECK(s.agent.image_pull_secrets.empty());
  CHECK(s.agent.resources.requests ==
        std::map<std::string, std::string>{{"cpu", "50m"}, {"memory", "64Mi"}});
  CHECK(s.agent.resources.limits == std::map<std::string, std::string>{{"memory", "256Mi"}});
  CHECK(s.agent.node_selector == std::map<std::string, std::string>{{"kubernetes.io/os", "linux"}});
  REQUIRE(s.agent.tolerations.size() == 1);
  CHECK(s.agent.tolerations[0].op == "Exists");
  CHECK(s.agent.tolerations[0].key.empty());
  CHECK(s.agent.log_level == "info");
  CHECK(s.leader_election.lease_duration == 15s);
  CHECK(s.leader_election.renew_deadline == 10s);
  CHECK(s.leader_election.retry_period == 2s);
  CHECK(s.tunnel.ping_interval == 20s);
  CHECK(s.tunnel.pong_timeout == 10s);
  CHECK(s.tunnel.backoff.initial == 1s);
  CHECK(s.tunnel.backoff.max == 60s);
  CHECK(s.tunnel.backoff.multiplier == 2.0);
  CHECK(s.tunnel.max_message_bytes == 16777216);
  CHECK(s.collection.events);
  CHECK(s.collection.metrics);
  CHECK(s.collection.excluded_namespaces.empty());
  CHECK(s.scans.enabled);
  CHECK(s.scans.interval == 1h);
  CHECK_FALSE(s.scans.HasPolarisConfig());
  CHECK(api::PolarisConfigJson(s.scans).empty());
  CHECK_FALSE(s.actions.scale);
  CHECK_FALSE(s.actions.restart);
  CHECK_FALSE(s.actions.delete_pods);
  CHECK_FALSE(s.actions.nodes);
  CHECK_FALSE(s.actions.apply_manifests);
  CHECK_FALSE(s.actions.helm);
  CHECK(s.actions.namespaces.empty());
}

TEST_CASE("Every spec field of a full AgentConfig is read", "[api]") {
  auto r = api::Parse(testing::FullAgentConfig());
  INFO(r.Summary());
  REQUIRE(r.ok());
  const auto& s = r.config.spec;
  CHECK(s.backend.url == "ws://hub.dev.example.com:8080/agent");
  CHECK(s.backend.insecure);
  CHECK(s.backend.ca_bundle == testing::kTestCaPem);
  REQUIRE(s.backend.proxy);
  CHECK(s.backend.proxy->url == "http://proxy.corp.example:3128");
  CHECK(s.backend.proxy->no_proxy == std::vector<std::string>{"10.0.0.0/8", ".svc"});
  REQUIRE(s.token.secret_ref);
  CHECK(s.token.secret_ref->name == "srexpert-registration");
  CHECK(s.token.secret_ref->key == "registration-token");
  CHECK_FALSE(s.token.value);
  CHECK(s.cluster_name == "edge-1");
  CHECK(s.agent.image == "registry.example.com/srexpert/agent:1.2.3");
  CHECK(s.agent.image_pull_policy == "Always");
  CHECK(s.agent.image_pull_secrets == std::vector<std::string>{"regcred"});
  CHECK(s.agent.resources.requests ==
        std::map<std::string, std::string>{{"cpu", "100m"}, {"memory", "128Mi"}});
  CHECK(s.agent.resources.limits ==
        std::map<std::string, std::string>{{"cpu", "1"}, {"memory", "512Mi"}});
  CHECK(s.agent.node_selector ==
        std::map<std::string, std::string>{{"node-role.example.com/edge", "true"}});
  REQUIRE(s.agent.tolerations.size() == 1);
  CHECK(s.agent.tolerations[0].key == "dedicated");
  CHECK(s.agent.tolerations[0].op == "Equal");
  CHECK(s.agent.tolerations[0].value == "edge");
  CHECK(s.agent.tolerations[0].effect == "NoExecute");
  CHECK(s.agent.tolerations[0].toleration_seconds == 300);
  CHECK(s.agent.priority_class_name == "system-node-critical");
  CHECK(s.agent.pod_labels == std::map<std::string, std::string>{{"team", "sre"}});
  CHECK(s.agent.pod_annotations ==
        std::map<std::string, std::string>{{"example.com/scrape", "false"}});
  CHECK(s.agent.log_level == "debug");
  CHECK(s.leader_election.lease_duration == 30s);
  CHECK(s.leader_election.renew_deadline == 20s);
  CHECK(s.leader_election.retry_period == 4s);
  CHECK(s.tunnel.ping_interval == 15s);
  CHECK(s.tunnel.pong_timeout == 5s);
  CHECK(s.tunnel.backoff.initial == 500ms);
  CHECK(s.tunnel.backoff.max == 2min);
  CHECK(s.tunnel.backoff.multiplier == 1.5);
  CHECK(s.tunnel.max_message_bytes == 1048576);
  CHECK_FALSE(s.collection.events);
  CHECK_FALSE(s.collection.metrics);
  CHECK(s.collection.excluded_namespaces == std::vector<std::string>{"kube-public"});
  CHECK_FALSE(s.scans.enabled);
  CHECK(s.scans.interval == 6h);
  CHECK(s.scans.checks == std::map<std::string, std::string>{{"hostIPCSet", "warning"},
                                                             {"pss-volume-types", "ignore"},
                                                             {"imageFromRegistry", "danger"},
                                                             {"noLatestTag", "warning"}});
  REQUIRE(s.scans.exemptions.size() == 1);
  CHECK(s.scans.exemptions[0].ns == "kube-system");
  CHECK(s.scans.exemptions[0].controller_names == std::vector<std::string>{"coredns"});
  CHECK(s.scans.exemptions[0].container_names == std::vector<std::string>{"sidecar"});
  CHECK(s.scans.exemptions[0].rules == std::vector<std::string>{"hostNetworkSet"});
  CHECK(s.scans.disallow_exemptions);
  CHECK(s.scans.disallow_config_exemptions);
  CHECK(s.scans.disallow_annotation_exemptions);
  REQUIRE(s.scans.custom_checks.size() == 2);
  auto custom = json::Parse(s.scans.custom_checks.at("imageFromRegistry"));
  REQUIRE(custom);
  CHECK(json::GetString(*custom, {"target"}) == "Container");
  CHECK(json::GetString(*custom, {"schemaTarget"}) == "PodSpec");
  CHECK(json::GetString(*custom, {"schema", "properties", "containers", "items", "properties",
                                  "image", "pattern"}) == "^registry\\.example/");
  CHECK(json::Dump(*json::Find(*custom, {"controllers"})) ==
        R"({"include":["Deployment"],"exclude":["Job"]})");
  CHECK(json::Parse(s.scans.custom_checks.at("noLatestTag"))->HasMember("schemaString"));
  CHECK(s.actions.scale);
  CHECK(s.actions.restart);
  CHECK(s.actions.delete_pods);
  CHECK(s.actions.nodes);
  CHECK(s.actions.apply_manifests);
  CHECK(s.actions.helm);
  CHECK(s.actions.namespaces == std::vector<std::string>{"shop", "payments"});
}

TEST_CASE("Null fields count as absent and get their defaults", "[api]") {
  auto doc =
      testing::Patched(testing::MinimalAgentConfig(), R"({"spec":{"agent":{"logLevel":null}}})");
  // MergePatch deletes on null; set an explicit null the way a client may send it.
  json::Set(*json::FindMutable(doc, {"spec"}), "tunnel", json::Value(), doc.GetAllocator());
  auto r = api::Parse(doc);
  INFO(r.Summary());
  REQUIRE(r.ok());
  CHECK(r.config.spec.tunnel.ping_interval == 20s);
}

TEST_CASE("A deletionTimestamp marks the AgentConfig as being deleted", "[api]") {
  auto r =
      api::Parse(testing::Patched(testing::MinimalAgentConfig(),
                                  R"({"metadata":{"deletionTimestamp":"2024-05-01T10:00:00Z"}})"));
  REQUIRE(r.ok());
  CHECK(r.config.meta.deleting);
}

// Where a rule is enforced: by the OpenAPI schema alone, by a CEL rule of
// the CRD, or only by the operator (reported as Degraded/InvalidSpec).
TEST_CASE("Invalid AgentConfigs are rejected with the field path and the reason", "[api]") {
  const auto& cases = testing::InvalidAgentConfigCases();
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto doc = testing::Patched(testing::MinimalAgentConfig(), c.patch);
      auto r = api::Parse(doc);
      INFO("errors: " << r.Summary());
      CHECK_FALSE(r.ok());
      CHECK(HasError(r, c.path, c.fragment));
      CHECK(r.Summary().find(testing::kTestToken) == std::string::npos);

      // The same input against the CRD: the schema rejects what it can
      // express; CEL-only rules must exist where the case says.
      json::Document defaulted = json::Clone(doc);
      testing::ApplySchemaDefaults(root, defaulted, defaulted.GetAllocator());
      auto schema_errors = testing::SchemaErrors(root, defaulted, "");
      INFO("schema errors: " << schema_errors.size());
      if (c.enforced == testing::Enforced::kSchema) {
        CHECK_FALSE(schema_errors.empty());
      } else {
        CHECK(schema_errors.empty());
      }
      if (c.enforced == testing::Enforced::kCel) {
        YAML::Node node =
            std::string(c.cel_node).empty() ? root : testing::SchemaAt(root, c.cel_node);
        REQUIRE(node);
        REQUIRE(node["x-kubernetes-validations"]);
        bool found = false;
        for (const auto& rule : node["x-kubernetes-validations"]) {
          found |= rule["message"].as<std::string>().find(c.cel_message) != std::string::npos;
        }
        CHECK(found);
      }
    }
  }
}

TEST_CASE("A wrong apiVersion, kind or missing metadata is reported", "[api]") {
  auto r = api::Parse(testing::Patched(
      testing::MinimalAgentConfig(),
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"uid":null,"namespace":null}})"));
  CHECK(HasError(r, "apiVersion", "agent.srexpert.io/v1alpha1"));
  CHECK(HasError(r, "kind", "AgentConfig"));
  CHECK(HasError(r, "metadata.uid", "required"));
  CHECK(HasError(r, "metadata.namespace", "required"));
  CHECK_FALSE(api::Parse(*json::Parse("[]")).ok());
}

TEST_CASE("Several invalid fields are all reported at once", "[api]") {
  auto r = api::Parse(testing::Patched(
      testing::MinimalAgentConfig(),
      R"({"spec":{"clusterName":"X","agent":{"logLevel":"loud"},"tunnel":{"maxMessageBytes":1}}})"));
  CHECK(r.errors.size() == 3);
  CHECK(r.Summary().find("spec.clusterName: ") != std::string::npos);
  CHECK(r.Summary().find("; ") != std::string::npos);
}

TEST_CASE("A resolved token is checked without being echoed", "[api]") {
  CHECK(api::ValidateToken(testing::kTestToken, "secret").empty());
  auto with_newline = api::ValidateToken("abc\n", "Secret srexpert-system/reg key token");
  REQUIRE(with_newline.size() == 1);
  CHECK(with_newline[0].path == "Secret srexpert-system/reg key token");
  CHECK(with_newline[0].message.find("abc") == std::string::npos);
  CHECK(api::ValidateToken("", "t").size() == 1);
  CHECK(api::ValidateToken(std::string(4097, 'a'), "t").size() == 1);
  CHECK(api::ValidateToken(std::string(4096, 'a'), "t").empty());
  CHECK(api::ValidateToken("t\xc3\xa9", "t").size() == 1);
}

TEST_CASE("Durations use Go syntax restricted to h, m, s and ms", "[api]") {
  CHECK(api::ParseDuration("15s") == 15s);
  CHECK(api::ParseDuration("1m30s") == 90s);
  CHECK(api::ParseDuration("500ms") == 500ms);
  CHECK(api::ParseDuration("2h") == 2h);
  CHECK(api::ParseDuration("1h1m1s1ms") == 3661001ms);
  CHECK(api::ParseDuration("0s") == 0ms);
  for (const char* bad :
       {"", "15", "s", "1.5s", "-1s", "1d", "1us", "1 s", "1s ", "99999999999h"}) {
    INFO(bad);
    CHECK_FALSE(api::ParseDuration(bad));
  }
  CHECK(api::FormatDuration(90s) == "1m30s");
  CHECK(api::FormatDuration(500ms) == "500ms");
  CHECK(api::FormatDuration(0ms) == "0s");
  CHECK(api::FormatDuration(3661001ms) == "1h1m1s1ms");
  CHECK(api::FormatDuration(1h) == "1h");
}

TEST_CASE("Duration syntax agrees with the CRD pattern", "[api][crd]") {
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  const std::regex pattern(
      testing::SchemaAt(root, "spec.leaderElection.leaseDuration")["pattern"].as<std::string>());
  for (const char* s :
       {"15s", "1m30s", "500ms", "2h", "0s", "", "15", "1.5s", "-1s", "1d", "1us", "1 s"}) {
    INFO(s);
    CHECK(std::regex_search(std::string(s), pattern) == api::ParseDuration(s).has_value());
  }
}

TEST_CASE("An invalid inline token is reported without its value", "[api][token]") {
  const std::string secretish = "s3cr3t-value-with space";
  json::Document doc = testing::MinimalAgentConfig();
  json::SetString(*json::FindMutable(doc, {"spec", "token"}), "value", secretish,
                  doc.GetAllocator());
  auto r = api::Parse(doc);
  REQUIRE_FALSE(r.ok());
  CHECK(r.Summary().find("s3cr3t") == std::string::npos);
  CHECK(r.Summary().find("spec.token.value") != std::string::npos);
}

TEST_CASE("spec.scans reaches the scan engine as the Polaris configuration it is", "[api][scans]") {
  auto r = api::Parse(testing::FullAgentConfig());
  INFO(r.Summary());
  REQUIRE(r.ok());
  const std::string text = api::PolarisConfigJson(r.config.spec.scans);
  scan::ScanConfig config;
  REQUIRE(scan::ParseConfig(text, &config).empty());
  // Polaris names are resolved to ids by the engine, exactly as for a file.
  REQUIRE(config.checks);
  const scan::CheckInfo* host_ipc = scan::FindCheck("hostIPCSet");
  REQUIRE(host_ipc != nullptr);
  CHECK(config.checks->at(std::string(host_ipc->id)) == scan::Severity::kWarning);
  CHECK(config.checks->at("pss-volume-types") == scan::Severity::kIgnore);
  CHECK(config.checks->at("imageFromRegistry") == scan::Severity::kDanger);
  REQUIRE(config.exemptions.size() == 1);
  CHECK(config.exemptions[0].ns == "kube-system");
  CHECK(config.exemptions[0].rules ==
        std::vector<std::string>{std::string(scan::FindCheck("hostNetworkSet")->id)});
  CHECK(config.disallow_exemptions);
  CHECK(config.disallow_config_exemptions);
  CHECK(config.disallow_annotation_exemptions);
  REQUIRE(config.custom_checks.size() == 2);
  // The schemaString was compiled too: a Deployment without labels fails it.
  const scan::CustomCheck* labels = nullptr;
  for (const auto& c : config.custom_checks) {
    if (c->name() == "noLatestTag") labels = c.get();
  }
  REQUIRE(labels != nullptr);
  CHECK(labels->target() == scan::CustomTarget::kKind);
  CHECK_FALSE(labels->Validate(*json::Parse(R"({"metadata":{"name":"x"}})")));
  CHECK(labels->Validate(*json::Parse(R"({"metadata":{"name":"x","labels":{}}})")));
}

TEST_CASE("An empty spec.scans.checks is kept: Polaris runs only what it lists", "[api][scans]") {
  // Polaris' rule, kept by the engine: a `checks` section present but empty
  // switches off every Polaris-named check. Dropping the empty map would
  // silently turn them all back on.
  auto r = api::Parse(
      testing::Patched(testing::MinimalAgentConfig(), R"({"spec":{"scans":{"checks":{}}}})"));
  REQUIRE(r.ok());
  REQUIRE(r.config.spec.scans.checks);
  CHECK(r.config.spec.scans.checks->empty());
  CHECK(api::PolarisConfigJson(r.config.spec.scans) == R"({"checks":{}})");
}

TEST_CASE("Fields of a custom check the CRD does not declare are dropped, as the apiserver prunes",
          "[api][scans]") {
  auto r = api::Parse(testing::Patched(testing::MinimalAgentConfig(), R"({"spec":{"scans":{
      "customChecks":{"c1":{"target":"Container","schema":{"x-anything":{"kept":true}},
                            "mutations":[{"op":"add"}],"id":"c1"}}}}})"));
  INFO(r.Summary());
  REQUIRE(r.ok());
  // Unknown members of the schema itself stay (x-kubernetes-preserve-unknown-fields).
  CHECK(r.config.spec.scans.custom_checks.at("c1") ==
        R"({"target":"Container","schema":{"x-anything":{"kept":true}}})");
}

TEST_CASE("Several scan configuration problems are all reported, each at its path",
          "[api][scans]") {
  auto r = api::Parse(testing::Patched(testing::MinimalAgentConfig(), R"({"spec":{"scans":{
      "checks":{"nope":"danger","c1":"warning"},
      "customChecks":{"c1":{"target":"Container","schema":{"prefixItems":[]}}}}}})"));
  CHECK_FALSE(r.ok());
  // The custom check is defined, just invalid: "c1" in checks is not also an
  // unknown name.
  CHECK(r.errors.size() == 2);
  CHECK(r.Summary().find("spec.scans.checks[nope]: no such check") != std::string::npos);
  CHECK(r.Summary().find("spec.scans.customChecks[c1]: ") != std::string::npos);
  CHECK(r.Summary().find("prefixItems") != std::string::npos);
}
