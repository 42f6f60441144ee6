#include "api/agent_config.h"

#include <catch2/catch.hpp>
#include <regex>

#include "api/validation.h"
#include "test/api/agent_config_fixture.h"
#include "test/api/crd_schema.h"

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
  CHECK_FALSE(s.actions.scale);
  CHECK_FALSE(s.actions.restart);
  CHECK_FALSE(s.actions.apply_manifests);
  CHECK_FALSE(s.actions.helm);
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
  CHECK(s.actions.scale);
  CHECK(s.actions.restart);
  CHECK(s.actions.apply_manifests);
  CHECK(s.actions.helm);
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
enum class Enforced { kSchema, kCel, kOperator };

struct InvalidCase {
  const char* name;
  const char* patch;     // merge patch onto MinimalAgentConfig
  const char* path;      // expected FieldError path
  const char* fragment;  // expected message fragment
  Enforced enforced;
  const char* cel_node = "";     // kCel: schema path holding the rule
  const char* cel_message = "";  // kCel: fragment of the rule's message
};

TEST_CASE("Invalid AgentConfigs are rejected with the field path and the reason", "[api]") {
  const std::vector<InvalidCase> cases = {
      {"no spec", R"({"spec":null})", "spec", "required", Enforced::kSchema},
      {"no backend", R"({"spec":{"backend":null}})", "spec.backend", "required", Enforced::kSchema},
      {"no backend url", R"({"spec":{"backend":{"url":null}}})", "spec.backend.url", "required",
       Enforced::kSchema},
      {"http backend", R"({"spec":{"backend":{"url":"https://x.example.com"}}})",
       "spec.backend.url", "wss://", Enforced::kSchema},
      {"backend url without host", R"({"spec":{"backend":{"url":"wss:///agent"}}})",
       "spec.backend.url", "host", Enforced::kSchema},
      {"backend url with user info", R"({"spec":{"backend":{"url":"wss://u:p@x.example.com/"}}})",
       "spec.backend.url", "user info", Enforced::kSchema},
      {"ws:// without insecure", R"({"spec":{"backend":{"url":"ws://x.example.com"}}})",
       "spec.backend.url", "unless spec.backend.insecure", Enforced::kCel, "spec.backend",
       "unless insecure"},
      {"insecure not a bool", R"({"spec":{"backend":{"insecure":"yes"}}})", "spec.backend.insecure",
       "boolean", Enforced::kSchema},
      {"caBundle not PEM", R"({"spec":{"backend":{"caBundle":"hello"}}})", "spec.backend.caBundle",
       "PEM", Enforced::kSchema},
      {"caBundle with a corrupt certificate",
       R"({"spec":{"backend":{"caBundle":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}}})",
       "spec.backend.caBundle", "X.509", Enforced::kOperator},
      {"proxy without url", R"({"spec":{"backend":{"proxy":{"noProxy":["a"]}}}})",
       "spec.backend.proxy.url", "required", Enforced::kSchema},
      {"socks proxy", R"({"spec":{"backend":{"proxy":{"url":"socks5://p:1080"}}}})",
       "spec.backend.proxy.url", "http://", Enforced::kSchema},
      {"proxy with a path", R"({"spec":{"backend":{"proxy":{"url":"http://p:3128/x"}}}})",
       "spec.backend.proxy.url", "http://", Enforced::kSchema},
      {"noProxy with a comma",
       R"({"spec":{"backend":{"proxy":{"url":"http://p:3128","noProxy":["a,b"]}}}})",
       "spec.backend.proxy.noProxy[0]", "commas", Enforced::kSchema},
      {"no token", R"({"spec":{"token":null}})", "spec.token", "required", Enforced::kSchema},
      {"both token sources", R"({"spec":{"token":{"secretRef":{"name":"s"}}}})", "spec.token",
       "exactly one", Enforced::kCel, "spec.token", "exactly one"},
      {"no token source", R"({"spec":{"token":{"value":null}}})", "spec.token", "exactly one",
       Enforced::kCel, "spec.token", "exactly one"},
      {"token with a space", R"({"spec":{"token":{"value":"two words"}}})", "spec.token.value",
       "printable", Enforced::kSchema},
      {"empty token", R"({"spec":{"token":{"value":""}}})", "spec.token.value", "empty",
       Enforced::kSchema},
      {"secretRef with a bad name",
       R"({"spec":{"token":{"value":null,"secretRef":{"name":"Bad_Name"}}}})",
       "spec.token.secretRef.name", "DNS subdomain", Enforced::kSchema},
      {"secretRef with a bad key",
       R"({"spec":{"token":{"value":null,"secretRef":{"name":"s","key":"a/b"}}}})",
       "spec.token.secretRef.key", "data key", Enforced::kSchema},
      {"no clusterName", R"({"spec":{"clusterName":null}})", "spec.clusterName", "required",
       Enforced::kSchema},
      {"clusterName not a DNS label", R"({"spec":{"clusterName":"Prod EU"}})", "spec.clusterName",
       "DNS label", Enforced::kSchema},
      {"image with a space", R"({"spec":{"agent":{"image":"a b"}}})", "spec.agent.image",
       "image reference", Enforced::kSchema},
      {"unknown pull policy", R"({"spec":{"agent":{"imagePullPolicy":"Sometimes"}}})",
       "spec.agent.imagePullPolicy", "one of", Enforced::kSchema},
      {"pull secret without name", R"({"spec":{"agent":{"imagePullSecrets":[{}]}}})",
       "spec.agent.imagePullSecrets[0].name", "required", Enforced::kSchema},
      {"bad quantity", R"({"spec":{"agent":{"resources":{"requests":{"cpu":"lots"}}}}})",
       "spec.agent.resources.requests[cpu]", "not a quantity", Enforced::kSchema},
      {"negative quantity", R"({"spec":{"agent":{"resources":{"requests":{"cpu":"-1"}}}}})",
       "spec.agent.resources.requests[cpu]", "negative", Enforced::kOperator},
      {"limit below request",
       R"({"spec":{"agent":{"resources":{"requests":{"memory":"1Gi"},"limits":{"memory":"512Mi"}}}}})",
       "spec.agent.resources.limits[memory]", "at least the request (1Gi)", Enforced::kOperator},
      {"bad resource name", R"({"spec":{"agent":{"resources":{"limits":{"-cpu-":"1"}}}}})",
       "spec.agent.resources.limits[-cpu-]", "resource name", Enforced::kOperator},
      {"bad nodeSelector key", R"({"spec":{"agent":{"nodeSelector":{"a b":"x"}}}})",
       "spec.agent.nodeSelector[a b]", "qualified name", Enforced::kOperator},
      {"bad nodeSelector value", R"({"spec":{"agent":{"nodeSelector":{"a":"-x-"}}}})",
       "spec.agent.nodeSelector[a]", "label value", Enforced::kOperator},
      {"toleration operator", R"({"spec":{"agent":{"tolerations":[{"key":"k","operator":"In"}]}}})",
       "spec.agent.tolerations[0].operator", "one of", Enforced::kSchema},
      {"toleration effect", R"({"spec":{"agent":{"tolerations":[{"key":"k","effect":"Evict"}]}}})",
       "spec.agent.tolerations[0].effect", "one of", Enforced::kSchema},
      {"Exists with a value",
       R"({"spec":{"agent":{"tolerations":[{"operator":"Exists","value":"v"}]}}})",
       "spec.agent.tolerations[0].value", "empty when operator is Exists", Enforced::kCel,
       "spec.agent.tolerations[]", "Exists"},
      {"Equal without key", R"({"spec":{"agent":{"tolerations":[{"value":"v"}]}}})",
       "spec.agent.tolerations[0].key", "operator is Equal", Enforced::kCel,
       "spec.agent.tolerations[]", "Equal"},
      {"tolerationSeconds without NoExecute",
       R"({"spec":{"agent":{"tolerations":[{"key":"k","tolerationSeconds":5}]}}})",
       "spec.agent.tolerations[0].tolerationSeconds", "NoExecute", Enforced::kCel,
       "spec.agent.tolerations[]", "NoExecute"},
      {"negative tolerationSeconds",
       R"({"spec":{"agent":{"tolerations":[{"key":"k","effect":"NoExecute","tolerationSeconds":-1}]}}})",
       "spec.agent.tolerations[0].tolerationSeconds", "between", Enforced::kSchema},
      {"bad priorityClassName", R"({"spec":{"agent":{"priorityClassName":"High"}}})",
       "spec.agent.priorityClassName", "DNS subdomain", Enforced::kSchema},
      {"podLabels overriding ours",
       R"({"spec":{"agent":{"podLabels":{"app.kubernetes.io/instance":"x"}}}})",
       "spec.agent.podLabels[app.kubernetes.io/instance]", "set by the operator", Enforced::kCel,
       "spec.agent.podLabels", "app.kubernetes.io/"},
      {"podLabels with a bad value", R"({"spec":{"agent":{"podLabels":{"team":"a b"}}}})",
       "spec.agent.podLabels[team]", "label value", Enforced::kOperator},
      {"reserved podAnnotation",
       R"({"spec":{"agent":{"podAnnotations":{"agent.srexpert.io/config-checksum":"x"}}}})",
       "spec.agent.podAnnotations[agent.srexpert.io/config-checksum]", "reserved", Enforced::kCel,
       "spec.agent.podAnnotations", "reserved"},
      {"unknown log level", R"({"spec":{"agent":{"logLevel":"trace"}}})", "spec.agent.logLevel",
       "one of", Enforced::kSchema},
      {"duration without unit", R"({"spec":{"leaderElection":{"leaseDuration":"15"}}})",
       "spec.leaderElection.leaseDuration", "duration", Enforced::kSchema},
      {"duration as a number", R"({"spec":{"leaderElection":{"leaseDuration":15}}})",
       "spec.leaderElection.leaseDuration", "string", Enforced::kSchema},
      {"renewDeadline not below leaseDuration",
       R"({"spec":{"leaderElection":{"renewDeadline":"15s"}}})",
       "spec.leaderElection.renewDeadline", "must be less than leaseDuration (15s)", Enforced::kCel,
       "spec.leaderElection", "renewDeadline must be less than leaseDuration"},
      {"retryPeriod not below renewDeadline",
       R"({"spec":{"leaderElection":{"retryPeriod":"10s"}}})", "spec.leaderElection.retryPeriod",
       "less than renewDeadline (10s)", Enforced::kCel, "spec.leaderElection",
       "retryPeriod must be less than renewDeadline"},
      {"zero retryPeriod", R"({"spec":{"leaderElection":{"retryPeriod":"0s"}}})",
       "spec.leaderElection.retryPeriod", "positive", Enforced::kCel, "spec.leaderElection",
       "retryPeriod must be positive"},
      {"renewDeadline within client-go's jitter of retryPeriod",
       R"({"spec":{"leaderElection":{"retryPeriod":"9s"}}})", "spec.leaderElection.renewDeadline",
       "1.2 × retryPeriod (9s)", Enforced::kOperator},
      {"zero pingInterval", R"({"spec":{"tunnel":{"pingInterval":"0ms"}}})",
       "spec.tunnel.pingInterval", "positive", Enforced::kCel, "spec.tunnel",
       "pingInterval must be positive"},
      {"zero pongTimeout", R"({"spec":{"tunnel":{"pongTimeout":"0s"}}})", "spec.tunnel.pongTimeout",
       "positive", Enforced::kCel, "spec.tunnel", "pongTimeout must be positive"},
      {"backoff initial above max", R"({"spec":{"tunnel":{"backoff":{"initial":"2m"}}}})",
       "spec.tunnel.backoff.initial", "must not exceed max (1m)", Enforced::kCel,
       "spec.tunnel.backoff", "initial must not exceed max"},
      {"multiplier below 1", R"({"spec":{"tunnel":{"backoff":{"multiplier":0.5}}}})",
       "spec.tunnel.backoff.multiplier", "between 1 and 10", Enforced::kSchema},
      {"maxMessageBytes too small", R"({"spec":{"tunnel":{"maxMessageBytes":1024}}})",
       "spec.tunnel.maxMessageBytes", "between 65536", Enforced::kSchema},
      {"events not a bool", R"({"spec":{"collection":{"events":"true"}}})",
       "spec.collection.events", "boolean", Enforced::kSchema},
      {"excluded namespace invalid",
       R"({"spec":{"collection":{"excludedNamespaces":["Kube_System"]}}})",
       "spec.collection.excludedNamespaces[0]", "DNS label", Enforced::kSchema},
      {"excluded namespace twice", R"({"spec":{"collection":{"excludedNamespaces":["a","a"]}}})",
       "spec.collection.excludedNamespaces[1]", "duplicate", Enforced::kOperator},
      {"metricsInterval below 1s", R"({"spec":{"collection":{"metricsInterval":"500ms"}}})",
       "spec.collection.metricsInterval", "at least 1s", Enforced::kCel, "spec.collection",
       "metricsInterval must be at least 1s"},
      {"eventsPerSecond zero", R"({"spec":{"collection":{"eventsPerSecond":0}}})",
       "spec.collection.eventsPerSecond", "between 0.1 and 100000", Enforced::kSchema},
      {"eventBurst zero", R"({"spec":{"collection":{"eventBurst":0}}})", "spec.collection.eventBurst",
       "between 1", Enforced::kSchema},
      {"maxUnackedBytes too small", R"({"spec":{"stream":{"maxUnackedBytes":1024}}})",
       "spec.stream.maxUnackedBytes", "between 65536", Enforced::kSchema},
      {"maxUnackedMessages zero", R"({"spec":{"stream":{"maxUnackedMessages":0}}})",
       "spec.stream.maxUnackedMessages", "between 1", Enforced::kSchema},
      {"batchInterval over a minute", R"({"spec":{"stream":{"batchInterval":"2m"}}})",
       "spec.stream.batchInterval", "between 1ms and 1m", Enforced::kCel, "spec.stream",
       "batchInterval must be between 1ms and 1m"},
      {"scan interval too short", R"({"spec":{"scans":{"interval":"30s"}}})", "spec.scans.interval",
       "at least 1m", Enforced::kCel, "spec.scans", "at least 1m"},
      {"action not a bool", R"({"spec":{"actions":{"helm":1}}})", "spec.actions.helm", "boolean",
       Enforced::kSchema},
      {"name too long for a label",
       R"({"metadata":{"name":"a234567890123456789012345678901234567890123456789012345678901234"}})",
       "metadata.name", "63", Enforced::kCel, "", "63 characters"},
  };
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
      if (c.enforced == Enforced::kSchema) {
        CHECK_FALSE(schema_errors.empty());
      } else {
        CHECK(schema_errors.empty());
      }
      if (c.enforced == Enforced::kCel) {
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
