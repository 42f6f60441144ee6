#include <catch2/catch.hpp>
#include <functional>
#include <regex>
#include <set>
#include <sstream>

#include "api/agent_config.h"
#include "api/status.h"
#include "test/api/agent_config_fixture.h"
#include "test/api/crd_schema.h"

using namespace srexpert;

TEST_CASE("The CRD declares a namespaced v1alpha1 AgentConfig with a status subresource", "[crd]") {
  const YAML::Node crd = testing::LoadCrd();
  CHECK(crd["apiVersion"].as<std::string>() == "apiextensions.k8s.io/v1");
  CHECK(crd["metadata"]["name"].as<std::string>() == "agentconfigs.agent.srexpert.io");
  CHECK(crd["spec"]["group"].as<std::string>() == api::kGroup);
  CHECK(crd["spec"]["scope"].as<std::string>() == "Namespaced");
  CHECK(crd["spec"]["names"]["kind"].as<std::string>() == api::kKind);
  CHECK(crd["spec"]["names"]["plural"].as<std::string>() == api::kPlural);
  REQUIRE(crd["spec"]["versions"].size() == 1);
  const YAML::Node v = crd["spec"]["versions"][0];
  CHECK(v["name"].as<std::string>() == api::kVersion);
  CHECK(v["served"].as<bool>());
  CHECK(v["storage"].as<bool>());
  CHECK(v["subresources"]["status"].IsMap());
}

TEST_CASE("Every field of the CRD schema has a description", "[crd]") {
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  REQUIRE(root["description"]);
  auto properties = testing::Properties(root, "");
  CHECK(properties.size() > 80);
  for (const auto& [path, node] : properties) {
    INFO(path);
    // The apiserver forbids anything but name/generateName restrictions on
    // metadata — a description included (structural schema invariants).
    if (path == "metadata") {
      CHECK_FALSE(node["description"]);
      continue;
    }
    REQUIRE(node["description"]);
    CHECK(node["description"].as<std::string>().size() >= 10);
  }
}

TEST_CASE("Printer columns show cluster, READY, LEADER, TUNNEL, SCORE and AGE", "[crd]") {
  const YAML::Node columns = testing::LoadCrd()["spec"]["versions"][0]["additionalPrinterColumns"];
  std::map<std::string, std::string> by_name;
  for (const auto& c : columns)
    by_name[c["name"].as<std::string>()] = c["jsonPath"].as<std::string>();
  CHECK(by_name["Cluster"] == ".spec.clusterName");
  CHECK(by_name["Ready"] == R"(.status.conditions[?(@.type=="Ready")].status)");
  CHECK(by_name["Leader"] == ".status.leader");
  CHECK(by_name["Tunnel"] == ".status.tunnel");
  CHECK(by_name["Score"] == ".status.scan.score");
  CHECK(by_name["Age"] == ".metadata.creationTimestamp");
  // Every column points at a field the schema declares.
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  for (const auto& [name, path] : by_name) {
    if (name == "Age" || name == "Ready") continue;
    INFO(path);
    CHECK(testing::SchemaAt(root, path.substr(1)));
  }
  CHECK(testing::SchemaAt(root, "status.conditions[].status"));
}

TEST_CASE("The CRD and the operator apply the same defaults", "[crd][defaults]") {
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  const YAML::Node spec_schema = root["properties"]["spec"];
  // Specs that reach every defaulted field: absent sections, empty sections,
  // and the optional objects whose members have defaults.
  const std::vector<std::string> inputs = {
      R"({})",
      R"({"backend":{"url":"wss://x"},"token":{"value":"t"},"clusterName":"c"})",
      R"({"backend":{},"token":{"secretRef":{"name":"s"}},"agent":{},"leaderElection":{},
          "tunnel":{"backoff":{}},"collection":{},"scans":{},"actions":{}})",
      R"({"agent":{"tolerations":[{"key":"a"},{"key":"b","operator":"Exists"}],"resources":{}},
          "tunnel":{}})",
      R"({"agent":{"nodeSelector":{},"tolerations":[]},"leaderElection":{"leaseDuration":"1m"},
          "tunnel":{"backoff":{"max":"5m"}},"actions":{"helm":true}})",
      R"({"agent":null,"tunnel":null})",
  };
  std::set<std::string> reached;
  std::function<void(const json::Value&, const std::string&)> collect =
      [&](const json::Value& v, const std::string& path) {
        if (v.IsObject()) {
          for (const auto& m : v.GetObject()) {
            std::string p = path.empty() ? m.name.GetString() : path + "." + m.name.GetString();
            reached.insert(p);
            collect(m.value, p);
          }
        } else if (v.IsArray()) {
          for (const auto& item : v.GetArray()) collect(item, path + "[]");
        }
      };
  for (const auto& input : inputs) {
    INFO(input);
    auto ours = *json::Parse(input);
    api::ApplyDefaults(ours, ours.GetAllocator());
    auto apiserver = *json::Parse(input);
    testing::ApplySchemaDefaults(spec_schema, apiserver, apiserver.GetAllocator());
    INFO("operator:  " << json::Dump(ours));
    INFO("apiserver: " << json::Dump(apiserver));
    CHECK(json::Equal(ours, apiserver));
    collect(apiserver, "spec");
  }
  // Every default the CRD declares was exercised by some input above.
  for (const auto& path : testing::DefaultedPaths(spec_schema, "spec")) {
    INFO(path);
    CHECK(reached.count(path) == 1);
  }
}

TEST_CASE("The fixtures are valid for the CRD schema", "[crd]") {
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  for (auto make : {testing::MinimalAgentConfig, testing::FullAgentConfig}) {
    json::Document doc = make();
    testing::ApplySchemaDefaults(root, doc, doc.GetAllocator());
    auto errors = testing::SchemaErrors(root, doc, "");
    for (const auto& e : errors) FAIL_CHECK(e);
  }
}

TEST_CASE("The full fixture sets every spec field of the CRD", "[crd]") {
  // Keeps FullAgentConfig (which the controller tests route to children)
  // complete when a field is added to the CRD.
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  const auto full = testing::FullAgentConfig();
  for (const auto& [path, node] : testing::Properties(root["properties"]["spec"], "spec")) {
    INFO(path);
    // The one field that excludes another: MinimalAgentConfig covers it.
    if (path == "spec.token.value") continue;
    // Walk the fixture along the path; "[]" steps into the first item, "{}"
    // into any value of a map (custom checks carry schema or schemaString,
    // never both, so each field needs only one of them).
    std::vector<std::string> steps;
    std::stringstream ss(path);
    for (std::string step; std::getline(ss, step, '.');) steps.push_back(step);
    std::function<bool(const json::Value&, size_t)> reaches = [&](const json::Value& v, size_t i) {
      if (i == steps.size()) return true;
      std::string step = steps[i];
      const bool item = step.ends_with("[]"), values = step.ends_with("{}");
      if (item || values) step.resize(step.size() - 2);
      const json::Value* next = json::Find(v, {step});
      if (next == nullptr) return false;
      if (item) return next->IsArray() && !next->Empty() && reaches((*next)[0], i + 1);
      if (values) {
        if (!next->IsObject()) return false;
        for (const auto& m : next->GetObject()) {
          if (reaches(m.value, i + 1)) return true;
        }
        return false;
      }
      return reaches(*next, i + 1);
    };
    CHECK(reaches(full, 0));
  }
}

TEST_CASE("CEL rules refer only to fields their object declares", "[crd]") {
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  std::vector<std::pair<std::string, YAML::Node>> nodes = {{"", root}};
  for (auto& p : testing::Properties(root, "")) nodes.push_back(p);
  for (const auto& [path, node] : testing::Properties(root, "")) {
    if (node["items"]) nodes.emplace_back(path + "[]", node["items"]);
    if (node["additionalProperties"] && node["additionalProperties"].IsMap()) {
      nodes.emplace_back(path + "{}", node["additionalProperties"]);
    }
  }
  // self.<field>, but not self.<method>(...) such as self.all(...).
  const std::regex field(R"(self\.([A-Za-z]+)\b(?!\s*\())");
  int rules = 0;
  for (const auto& [path, node] : nodes) {
    if (!node["x-kubernetes-validations"]) continue;
    for (const auto& rule : node["x-kubernetes-validations"]) {
      ++rules;
      const std::string text = rule["rule"].as<std::string>();
      INFO(path << ": " << text);
      CHECK(rule["message"]);
      for (std::sregex_iterator it(text.begin(), text.end(), field), end; it != end; ++it) {
        CHECK((node["properties"] && node["properties"][(*it)[1].str()]));
      }
    }
  }
  CHECK(rules >= 12);
}

TEST_CASE("A status built by the operator is valid for the CRD schema", "[crd][status]") {
  api::AgentConfigStatus status;
  status.observed_generation = 4;
  api::SetCondition(&status.conditions, {"Ready", "True", "AgentsReady", "3/3 agents ready", "", 4},
                    "2024-05-01T10:00:00Z");
  api::SetCondition(&status.conditions, {"Degraded", "False", "AsExpected", "", "", 4},
                    "2024-05-01T10:00:00Z");
  status.daemon_set = {3, 3, 3};
  status.leader = "srexpert-agent-x7k2p";
  status.tunnel = "Connected";
  status.scan = api::ScanStatus{87, 2, 11, "2024-05-01T10:00:00Z"};
  status.managed_resources = {
      {"v1", "ConfigMap", "srexpert-agent-config", "srexpert-system"},
      {"rbac.authorization.k8s.io/v1", "ClusterRole", "srexpert-agent", ""}};
  json::Document d;
  json::Value v = api::StatusToJson(status, d.GetAllocator());
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  auto errors = testing::SchemaErrors(root["properties"]["status"], v, "status");
  for (const auto& e : errors) FAIL_CHECK(e);
}

TEST_CASE("docs/agentconfig.md carries the field reference generated from the CRD", "[crd][docs]") {
  const std::string reference =
      testing::RenderFieldReference(testing::RootSchema(testing::LoadCrd()));
  CHECK(reference.find("`spec.leaderElection.renewDeadline`") != std::string::npos);
  const std::string problem = testing::CheckGeneratedSection(
      std::string(SRX_SOURCE_DIR) + "/docs/agentconfig.md",
      "<!-- BEGIN GENERATED FIELD REFERENCE (test/api/crd_test.cc) -->",
      "<!-- END GENERATED FIELD REFERENCE -->", reference);
  INFO(problem);
  CHECK(problem.empty());
}
