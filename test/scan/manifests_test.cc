// Manifest text to objects (operator/scan/manifests.h): YAML streams and
// JSON lists, scalar typing, and hostile input that must give an error
// naming the source and document — never a crash.
#include <catch2/catch.hpp>

#include <string>

#include "scan/json_access.h"
#include "scan/manifests.h"

using namespace srexpert::scan;

namespace {

std::string Parse(const std::string& text, std::vector<Manifest>* out = nullptr, ManifestLimits limits = {}) {
  std::vector<Manifest> local;
  return ParseManifests(text, "in.yaml", limits, out ? out : &local);
}

}  // namespace

TEST_CASE("YAML streams: documents, lines, empty documents and Lists", "[scan][manifests]") {
  std::vector<Manifest> m;
  REQUIRE(Parse("# comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n"
                "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n"
                "- {apiVersion: v1, kind: Service, metadata: {name: c}}\n",
                &m) == "");
  REQUIRE(m.size() == 3);
  CHECK(Str(Get(m[0].value, "kind")) == "ConfigMap");
  CHECK(m[0].document == 1);
  CHECK(m[0].line == 3);
  CHECK(m[1].document == 3);
  CHECK(Str(Path(m[2].value, {"metadata", "name"})) == "c");
  CHECK(m[0].source == "in.yaml");
}

TEST_CASE("JSON: one object, a List or an array, parsed without the YAML parser", "[scan][manifests]") {
  std::vector<Manifest> m;
  REQUIRE(Parse(R"({"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}]})", &m) == "");
  REQUIRE(m.size() == 1);
  m.clear();
  REQUIRE(Parse(R"([{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}},{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q"}}])", &m) == "");
  CHECK(m.size() == 2);
  CHECK(Parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"a":1,"a":2})") ==
        "in.yaml: an object repeats a member name");
}

TEST_CASE("plain scalars are typed as Kubernetes reads manifests", "[scan][manifests]") {
  std::vector<Manifest> m;
  REQUIRE(Parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                "x: {a: yes, b: 'yes', c: 0644, d: 0x1F, e: 1_000, f: 1.5e3, g: ~, h: '', i: on, j: 12abc, k: !!str 3}\n",
                &m) == "");
  const JsonValue* x = Get(m[0].value, "x");
  CHECK(IsTrue(Get(x, "a")));
  CHECK(Str(Get(x, "b")) == "yes");
  CHECK(*Int(Get(x, "c")) == 420);
  CHECK(*Int(Get(x, "d")) == 31);
  CHECK(*Int(Get(x, "e")) == 1000);
  CHECK(*Number(Get(x, "f")) == 1500.0);
  CHECK(Get(x, "g")->IsNull());
  CHECK(Str(Get(x, "h")) == "");
  CHECK(IsTrue(Get(x, "i")));
  CHECK(Str(Get(x, "j")) == "12abc");
  CHECK(Str(Get(x, "k")) == "3");
  CHECK(YamlPlainScalarIsString("web"));
  CHECK_FALSE(YamlPlainScalarIsString("1"));
  CHECK_FALSE(YamlPlainScalarIsString("true"));
  CHECK_FALSE(YamlPlainScalarIsString(""));
}

TEST_CASE("bad input gives an error naming the source and document", "[scan][manifests]") {
  CHECK(Parse("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\nkey: [unclosed\n") ==
        "in.yaml: document 2 (line 6): invalid YAML: end of sequence flow not found");
  CHECK(Parse("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: b}\n") ==
        "in.yaml: document 2 (line 5): unknown kind \"Deploymnet\" for apiVersion apps/v1");
  CHECK(Parse("just: a map\n") == "in.yaml: document 1 (line 1): no kind: not a Kubernetes object");
  CHECK(Parse("kind: Pod\nmetadata: {name: a}\n") == "in.yaml: document 1 (line 1): kind Pod has no apiVersion");
  CHECK(Parse("apiVersion: v1\nkind: Pod\nmetadata: {}\n") == "in.yaml: document 1 (line 1): Pod has no metadata.name");
  CHECK(Parse("- 1\n- 2\n") == "in.yaml: document 1 (line 1): not an object");
  CHECK(Parse("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: 1\nspec: 2\n") ==
        "in.yaml: document 1 (line 1): line 5: mapping key \"spec\" appears twice");
  CHECK(Parse(R"({"apiVersion": "v1", "kind": )") == "in.yaml: invalid JSON at offset 29: Invalid value.");
  // Custom resources and kinds of unknown groups are accepted.
  CHECK(Parse("apiVersion: agent.srexpert.io/v1alpha1\nkind: AgentConfig\nmetadata: {name: a}\n") == "");
}

TEST_CASE("hostile input is bounded before parsing", "[scan][manifests]") {
  ManifestLimits small;
  small.max_bytes = 100;
  CHECK(Parse(std::string(101, ' '), nullptr, small) == "in.yaml: 101 bytes is more than the limit of 100 bytes");
  CHECK(Parse(std::string(100000, '[') + std::string(100000, ']')) ==
        "in.yaml: nested 100000 levels deep, more than the limit of 100");
  CHECK(Parse("a: " + std::string(5000, '[')) == "in.yaml: nested 5001 levels deep, more than the limit of 100");
  std::string block;
  for (int i = 0; i < 200; ++i) block += std::string(i, ' ') + "k:\n";
  CHECK(Parse(block).find("levels deep, more than the limit of 100") != std::string::npos);
  std::string dashes = "a:\n  " + std::string(0, ' ');
  for (int i = 0; i < 150; ++i) dashes += "- ";
  dashes += "x\n";
  CHECK(Parse(dashes).find("levels deep") != std::string::npos);
  // A billion-laughs alias bomb stops at the node budget.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string prev = "a";
  for (int i = 0; i < 9; ++i) {
    std::string name = "l" + std::to_string(i);
    bomb += name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
    prev = name;
  }
  CHECK(Parse(bomb) == "in.yaml: document 1 (line 1): too many values (YAML aliases expand beyond the limit)");
  // Block scalars may be deeply indented text without counting as nesting.
  std::string script = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  run.sh: |\n";
  for (int i = 0; i < 300; ++i) script += std::string(4 + i, ' ') + "echo [ {\n";
  CHECK(Parse(script) == "");
}

TEST_CASE("nesting depth counts flow and block nesting", "[scan][manifests]") {
  CHECK(YamlNestingDepth("a: 1\n") == 1);
  CHECK(YamlNestingDepth("a:\n  b:\n    c: [1, {d: 2}]\n") == 5);
  CHECK(YamlNestingDepth("msg: \"[[[[\"\nb: 'it''s [ ok'\n") == 1);
  CHECK(YamlNestingDepth("a: it's [not a flow\n") == 1);
  CHECK(YamlNestingDepth("# [[[[\n") == 0);
}
