// Score, summary and the three output formats (operator/scan/score.h,
// operator/scan/output.h).
#include <catch2/catch.hpp>

#include "common/json.h"
#include "scan/output.h"
#include "scan/score.h"
#include "test/scan/scan_test_support.h"

using namespace srexpert;
using namespace srexpert::scan;
using namespace srexpert::testing::scan;

TEST_CASE("Polaris' score: 2p / (2p + w + 2d), truncated", "[scan][score]") {
  CHECK(Counts{}.Score() == 100);
  CHECK((Counts{10, 0, 0}).Score() == 100);
  CHECK((Counts{0, 3, 0}).Score() == 0);
  CHECK((Counts{3, 1, 1}).Score() == 66);   // 6 / 9
  CHECK((Counts{1, 1, 0}).Score() == 66);   // 2 / 3
  CHECK((Counts{2, 0, 1}).Score() == 66);   // 4 / 6
  CHECK((Counts{7, 2, 1}).Score() == 77);   // 14 / 18
}

TEST_CASE("the summary counts per category and namespace", "[scan][score]") {
  auto s = ScanText(ModelStream(R"({"image":"x:latest"})") +
                    "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: w}\n"
                    "rules: [{apiGroups: ['*'], resources: [pods], verbs: [get]}]\n");
  Summary sum = Summarize(s->report);
  CHECK(sum.total.Total() == s->report.findings.size());
  CHECK(sum.total.dangers == 1);  // image-tag
  CHECK(sum.total.warnings == 1);  // rbac-wildcard
  CHECK(sum.by_category.at(Category::kReliability).dangers == 1);
  CHECK(sum.by_category.at(Category::kRbac).warnings == 1);
  CHECK(sum.by_namespace.size() == 1);  // the ClusterRole is cluster-scoped
  CHECK(sum.by_namespace.at("apps").dangers == 1);
  CHECK(HasFailures(s->report, Severity::kWarning));
  CHECK(HasFailures(s->report, Severity::kDanger));
}

TEST_CASE("JSON output has exactly the documented shape", "[scan][output]") {
  auto s = ScanText(ModelStream("{}", R"({"hostIPC":true})"));
  Summary sum = Summarize(s->report);
  std::string text = RenderJson(s->report, sum);
  CHECK(text.back() == '\n');
  auto doc = json::Parse(text);
  REQUIRE(doc);
  std::vector<std::string> top;
  for (auto& m : doc->GetObject()) top.emplace_back(m.name.GetString());
  CHECK(top == std::vector<std::string>{"score", "summary", "results"});
  CHECK((*doc)["score"].GetInt() == sum.total.Score());
  CHECK((*doc)["results"].Size() == s->report.findings.size());
  const auto& summary = (*doc)["summary"];
  CHECK(summary["total"].GetUint64() == s->report.findings.size());
  CHECK(summary["namespaces"]["apps"]["podSecurity"]["meets"] == "privileged");
  bool found_ipc = false, found_container = false;
  for (const auto& r : (*doc)["results"].GetArray()) {
    std::vector<std::string> keys;
    for (auto& m : r.GetObject()) keys.emplace_back(m.name.GetString());
    bool per_container = r.HasMember("container");
    std::vector<std::string> expected = {"check", "aliases", "severity", "passed", "object"};
    if (per_container) expected.push_back("container");
    expected.push_back("message");
    CHECK(keys == expected);
    std::vector<std::string> object_keys;
    for (auto& m : r["object"].GetObject()) object_keys.emplace_back(m.name.GetString());
    CHECK(object_keys == std::vector<std::string>{"apiVersion", "kind", "namespace", "name"});
    if (r["check"] == "host-ipc") {
      found_ipc = true;
      CHECK(json::Dump(r) ==
            R"({"check":"host-ipc","aliases":{"polaris":"hostIPCSet","pss":"Host Namespaces","pssLevel":"baseline","cis":"5.2.4","nsa":"Kubernetes Pod security: Pod security enforcement"},)"
            R"("severity":"danger","passed":false,"object":{"apiVersion":"apps/v1","kind":"Deployment","namespace":"apps","name":"target"},"message":"Host IPC should not be configured"})");
    }
    if (r["check"] == "cpu-limits") {
      found_container = true;
      CHECK(r["container"] == "app");
    }
  }
  CHECK(found_ipc);
  CHECK(found_container);
}

TEST_CASE("SARIF 2.1.0: rules for the checks with results, one result per failure", "[scan][output]") {
  auto s = ScanText(ModelStream(R"({"image":"x:latest"})", R"({"hostPID":true})"));
  auto doc = json::Parse(RenderSarif(s->report, "1.2.3"));
  REQUIRE(doc);
  CHECK((*doc)["version"] == "2.1.0");
  const auto& run = (*doc)["runs"][0];
  CHECK(run["tool"]["driver"]["name"] == "srexpert-scan");
  CHECK(run["tool"]["driver"]["version"] == "1.2.3");
  const auto& rules = run["tool"]["driver"]["rules"];
  const auto& results = run["results"];
  size_t failures = 0;
  for (const auto& f : s->report.findings) failures += !f.passed;
  CHECK(results.Size() == failures);
  for (const auto& r : results.GetArray()) {
    size_t index = r["ruleIndex"].GetUint64();
    REQUIRE(index < rules.Size());
    CHECK(rules[static_cast<rapidjson::SizeType>(index)]["id"] == r["ruleId"]);
    const auto& loc = r["locations"][0];
    CHECK(loc["physicalLocation"]["artifactLocation"]["uri"] == "test.yaml");
    CHECK(loc["physicalLocation"]["region"]["startLine"].GetInt() == 1);
    if (r["ruleId"] == "host-pid") {
      CHECK(r["level"] == "error");
      CHECK(loc["logicalLocations"][0]["fullyQualifiedName"] == "apps/Deployment/target");
    }
  }
}

TEST_CASE("the table lists failures, the score and the namespaces' readiness", "[scan][output]") {
  auto s = ScanText(ModelStream(R"({"image":"x:latest"})"));
  std::string table = RenderTable(s->report, Summarize(s->report));
  CHECK(table.find("danger    image-tag") != std::string::npos);
  CHECK(table.find("Deployment apps/target") != std::string::npos);
  CHECK(table.find("Score ") != std::string::npos);
  CHECK(table.find("Pod Security readiness:") != std::string::npos);
  CHECK(table.find("apps") != std::string::npos);
  auto clean = ScanText(ModelStream());
  CHECK(RenderTable(clean->report, Summarize(clean->report)).rfind("No failed checks.", 0) == 0);
}
