// Our own install must be clean: srexpert-scan finds no danger in the Helm
// chart's output (every values file under helm/srexpert-agent/ci) or in
// manifests/install.yaml. Warnings are listed in the test output.
#include <catch2/catch.hpp>

#include "common/json.h"
#include "test/packaging/packaging_support.h"

using namespace srexpert;
using namespace srexpert::packaging;

namespace {

// The failed results of `json` as "severity check Kind/name: message".
std::string Failures(const json::Document& doc) {
  std::string out;
  for (const auto& r : doc["results"].GetArray()) {
    if (r["passed"].GetBool()) continue;
    out += std::string(r["severity"].GetString()) + " " + r["check"].GetString() + " " +
           r["object"]["kind"].GetString() + "/" + r["object"]["name"].GetString() +
           (r.HasMember("container") ? std::string(" ") + r["container"].GetString() : "") + ": " +
           r["message"].GetString() + "\n";
  }
  return out;
}

void ExpectNoDanger(const CommandResult& scan) {
  INFO(scan.err);
  auto doc = json::Parse(scan.out);
  REQUIRE(doc);
  std::string failures = Failures(*doc);
  WARN("score " << (*doc)["score"].GetInt() << "; failed checks:\n" << failures);
  CHECK((*doc)["summary"]["dangers"].GetInt() == 0);
  CHECK(scan.exit_code == 0);  // --fail-on danger
  CHECK((*doc)["results"].Size() > 30);
}

}  // namespace

TEST_CASE("the Helm chart renders without dangers", "[scan][chart]") {
  for (std::string values : {"default-values.yaml", "full-values.yaml", "existing-secret-values.yaml"}) {
    DYNAMIC_SECTION(values) {
      ChartRender render;
      render.values_files = {SourcePath("helm/srexpert-agent/ci/" + values)};
      CommandResult rendered = HelmTemplate(render);
      INFO(rendered.Describe());
      REQUIRE(rendered.exit_code == 0);
      ExpectNoDanger(Run({SRX_SCAN_BINARY, "-f", "-", "-o", "json", "--fail-on", "danger"}, rendered.out));
    }
  }
}

TEST_CASE("manifests/install.yaml has no dangers and meets restricted", "[scan][chart]") {
  CommandResult scan = Run({SRX_SCAN_BINARY, "-f", SourcePath("manifests/install.yaml"), "-o", "json", "--fail-on", "danger"});
  ExpectNoDanger(scan);
  auto doc = json::Parse(scan.out);
  REQUIRE(doc);
  const auto& ns = (*doc)["summary"]["namespaces"]["srexpert-system"]["podSecurity"];
  CHECK(ns["meets"] == "restricted");
  CHECK(ns["enforce"] == "restricted");
}
