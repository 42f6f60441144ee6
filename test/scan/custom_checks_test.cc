// Polaris custom checks validated with RapidJSON's schema validator
// (operator/scan/custom_checks.h): the draft 2019-09 → draft-04 translation
// keeps each keyword's meaning, and custom checks run on their targets.
#include <catch2/catch.hpp>

#include "common/json.h"
#include "scan/config.h"
#include "scan/custom_checks.h"
#include "test/scan/scan_test_support.h"

using namespace srexpert;
using namespace srexpert::scan;
using namespace srexpert::testing::scan;

namespace {

std::unique_ptr<CustomCheck> Compile(const std::string& schema_json, const std::string& extra = "") {
  auto def = json::Parse(R"({"target":"Container","successMessage":"ok","failureMessage":"bad",)" + extra +
                         R"("schema":)" + schema_json + "}");
  REQUIRE(def);
  std::string error;
  auto c = CustomCheck::Compile("t", *def, &error);
  INFO(error);
  REQUIRE(c);
  return c;
}

bool Valid(const CustomCheck& c, const std::string& value) {
  auto v = json::Parse(value);
  REQUIRE(v);
  return c.Validate(*v);
}

}  // namespace

TEST_CASE("draft 2019-09 keywords keep their meaning", "[scan][custom]") {
  auto constant = Compile(R"({"properties":{"a":{"const":"x"}}})");
  CHECK(Valid(*constant, R"({"a":"x"})"));
  CHECK_FALSE(Valid(*constant, R"({"a":"y"})"));
  CHECK(Valid(*constant, R"({})"));

  auto contains = Compile(R"({"properties":{"l":{"type":"array","contains":{"const":"ALL"}}}})");
  CHECK(Valid(*contains, R"({"l":["x","ALL"]})"));
  CHECK_FALSE(Valid(*contains, R"({"l":["x"]})"));
  CHECK_FALSE(Valid(*contains, R"({"l":[]})"));
  auto contains_any = Compile(R"({"properties":{"l":{"contains":{"const":"ALL"}}}})");
  CHECK(Valid(*contains_any, R"({"l":"not an array"})"));  // contains ignores non-arrays

  auto cond = Compile(R"({"if":{"properties":{"kind":{"const":"a"}}},"then":{"required":["x"]},"else":{"required":["y"]}})");
  CHECK(Valid(*cond, R"({"kind":"a","x":1})"));
  CHECK_FALSE(Valid(*cond, R"({"kind":"a","y":1})"));
  CHECK(Valid(*cond, R"({"kind":"b","y":1})"));
  CHECK_FALSE(Valid(*cond, R"({"kind":"b","x":1})"));

  auto exclusive = Compile(R"({"properties":{"n":{"exclusiveMinimum":2,"exclusiveMaximum":5}}})");
  CHECK(Valid(*exclusive, R"({"n":3})"));
  CHECK_FALSE(Valid(*exclusive, R"({"n":2})"));
  CHECK_FALSE(Valid(*exclusive, R"({"n":5})"));

  auto defs = Compile(R"({"$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s"}}})");
  CHECK(Valid(*defs, R"({"a":"x"})"));
  CHECK_FALSE(Valid(*defs, R"({"a":1})"));

  auto boolean = Compile(R"({"properties":{"a":false,"b":true}})");
  CHECK(Valid(*boolean, R"({"b":1})"));
  CHECK_FALSE(Valid(*boolean, R"({"a":1})"));

  auto dependent = Compile(R"({"dependentRequired":{"a":["b"]}})");
  CHECK(Valid(*dependent, R"({"a":1,"b":2})"));
  CHECK_FALSE(Valid(*dependent, R"({"a":1})"));
}

TEST_CASE("Go patterns: (?i) and character classes", "[scan][custom]") {
  auto p = Compile(R"({"properties":{"image":{"pattern":"(?i)^registry\\.example/[a-z]+:\\d+$"}}})");
  CHECK(Valid(*p, R"({"image":"REGISTRY.example/App:12"})"));
  CHECK_FALSE(Valid(*p, R"({"image":"docker.io/app:12"})"));
  std::string ecma;
  CHECK(TranslatePattern("(?i)ab[c-d]\\s", &ecma) == "");
  CHECK(ecma == "[aA][bB][c-dC-D]\\s");
  CHECK(TranslatePattern("(?s).", &ecma) != "");
  CHECK(TranslatePattern("a(", &ecma) == "pattern \"a(\" is not a valid regular expression");
}

TEST_CASE("what the translation cannot express is an error", "[scan][custom]") {
  for (std::string schema : {R"({"propertyNames":{"pattern":"a"}})", R"({"properties":{"a":{"unevaluatedProperties":false}}})",
                             R"({"resourceMinimum":"100m"})", R"({"items":{"prefixItems":[]}})"}) {
    auto def = json::Parse(R"({"target":"Container","schema":)" + schema + "}");
    std::string error;
    CHECK_FALSE(CustomCheck::Compile("t", *def, &error));
    INFO(schema);
    CHECK(error.find("is not supported") != std::string::npos);
  }
  auto def = json::Parse(R"({"target":"Container","additionalSchemas":{},"schema":{}})");
  std::string error;
  CHECK_FALSE(CustomCheck::Compile("t", *def, &error));
  CHECK(error == "custom check t: additionalSchemas are not supported");
}

TEST_CASE("custom checks run on their targets with the configured severity", "[scan][custom]") {
  auto config = std::make_shared<ScanConfig>();
  std::string error = ParseConfig(R"(
checks:
  imageFromRegistry: danger
  hasOwnerLabel: warning
  cmHasTeam: warning
  unlisted: ignore
customChecks:
  imageFromRegistry:
    successMessage: Image comes from the company registry
    failureMessage: Image must come from registry.example
    category: Security
    target: Container
    containers: {exclude: [initContainer]}
    schema:
      properties:
        image: {pattern: '^registry\.example/'}
  hasOwnerLabel:
    target: Controller
    controllers: {include: [Deployment]}
    category: Reliability
    schemaString: |
      required: [metadata]
      properties:
        metadata:
          required: [labels]
          properties:
            labels: {required: [owner]}
  cmHasTeam:
    target: /ConfigMap
    category: Efficiency
    schema: {properties: {data: {required: [team]}}}
  unlisted:
    target: PodSpec
    schema: {required: [nothing]}
)",
                              config.get());
  REQUIRE(error == "");
  ScanOptions o;
  o.config = config;
  auto s = ScanText(ModelStream("{}", R"({"initContainers":[{"name":"init","image":"docker.io/x:1"}]})") +
                        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: target, namespace: apps}\ndata: {a: b}\n",
                    o);
  auto image = Results(*s, "imageFromRegistry", "target", "app");
  REQUIRE(image.size() == 1);
  CHECK(image[0]->passed);
  CHECK(image[0]->severity == Severity::kDanger);
  CHECK(s->report.Message(*image[0]) == "Image comes from the company registry");
  CHECK(Results(*s, "imageFromRegistry", "target", "init").empty());
  auto owner = Results(*s, "hasOwnerLabel");
  REQUIRE(owner.size() == 1);
  CHECK_FALSE(owner[0]->passed);
  CHECK(s->report.Check(*owner[0]).category == Category::kReliability);
  auto cm = Results(*s, "cmHasTeam");
  REQUIRE(cm.size() == 1);
  CHECK_FALSE(cm[0]->passed);
  CHECK(Results(*s, "unlisted").empty());
  // Built-in Polaris checks not listed in `checks` do not run.
  CHECK(Results(*s, "image-tag").empty());
}
