// Polaris-compatible configuration files (operator/scan/config.h).
#include <catch2/catch.hpp>

#include "scan/config.h"

using namespace srexpert::scan;

TEST_CASE("a Polaris config file parses", "[scan][config]") {
  ScanConfig c;
  std::string error = ParseConfig(R"(
checks:
  hostIPCSet: danger
  runAsRootAllowed: warning
  pss-sysctls: ignore
  myCheck: warning
customChecks:
  myCheck:
    successMessage: ok
    failureMessage: bad
    category: Reliability
    target: Container
    schema:
      '$schema': http://json-schema.org/draft/2019-09/schema
      type: object
      required: [image]
exemptions:
  - namespace: kube-system
    controllerNames: [coredns]
    rules: [hostIPCSet, cpu-limits]
  - controllerNames: [metrics-server]
mutations: [pullPolicyNotAlways]
displayName: anything Polaris knows but we do not use
disallowAnnotationExemptions: true
)",
                                  &c);
  REQUIRE(error == "");
  REQUIRE(c.checks);
  CHECK(c.checks->at("host-ipc") == Severity::kDanger);
  CHECK(c.checks->at("run-as-root") == Severity::kWarning);
  CHECK(c.checks->at("pss-sysctls") == Severity::kIgnore);
  CHECK(c.checks->at("myCheck") == Severity::kWarning);
  REQUIRE(c.exemptions.size() == 2);
  CHECK(c.exemptions[0].ns == "kube-system");
  CHECK(c.exemptions[0].rules == std::vector<std::string>{"host-ipc", "cpu-limits"});
  CHECK(c.exemptions[1].rules.empty());
  CHECK(c.disallow_annotation_exemptions);
  CHECK_FALSE(c.disallow_exemptions);
  REQUIRE(c.custom_checks.size() == 1);
  CHECK(c.custom_checks[0]->name() == "myCheck");
}

TEST_CASE("config errors name what is wrong", "[scan][config]") {
  auto error = [](const std::string& yaml) {
    ScanConfig c;
    return ParseConfig(yaml, &c);
  };
  CHECK(error("checks:\n  noSuchCheck: danger\n") == "checks.noSuchCheck: no such check");
  CHECK(error("checks:\n  hostIPCSet: critical\n") == "checks.hostIPCSet: severity must be danger, warning or ignore");
  CHECK(error("checks: [a]\n") == "checks must be a mapping of check name to severity");
  CHECK(error("exemptions:\n  - rules: hostIPCSet\n") == "exemptions[0].rules must be a list of strings");
  CHECK(error("- a\n") == "the configuration must be a mapping");
  CHECK(error("checks: {a: [}\n").rfind("invalid YAML at line", 0) == 0);
  CHECK(error("customChecks:\n  hostIPCSet: {target: Container, schema: {}}\n") ==
        "custom check hostIPCSet: the name is a built-in check");
  CHECK(error("customChecks:\n  x: {target: Container, schemaString: '{{ .Polaris }}'}\n") ==
        "custom check x: Go templates in schemaString are not supported");
  CHECK(error("") == "");
}
