// srexpert-scan (operator/scan/cli/): formats, exit codes, inputs from
// files, directories and stdin, and bad input — in process through
// RunScanCli and through the real binary.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json.h"
#include "scan/cli/scan_cli.h"
#include "test/packaging/packaging_support.h"

using namespace srexpert;
using namespace srexpert::scan::cli;

namespace {

struct Outcome {
  int code;
  std::string out, err;
};

Outcome Run(CliOptions o, const std::string& stdin_text = "") {
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  int code = RunScanCli(o, in, out, err);
  return {code, out.str(), err.str()};
}

const std::string kDangerousPod =
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\n"
    "spec: {hostNetwork: true, containers: [{name: c, image: 'i:1'}]}\n";
const std::string kWarningOnlyCm = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: n}\n"
                                   "rules: [{apiGroups: [''], resources: [pods], verbs: ['*']}]\n";

CliOptions Stdin(const std::string& output = "json") {
  CliOptions o;
  o.files = {"-"};
  o.output = output;
  return o;
}

}  // namespace

TEST_CASE("srexpert-scan reads stdin and prints JSON", "[scan][cli]") {
  auto r = Run(Stdin(), kDangerousPod);
  INFO(r.err);
  REQUIRE(r.code == kExitOk);
  auto doc = json::Parse(r.out);
  REQUIRE(doc);
  CHECK((*doc)["results"].Size() > 10);
  CHECK(r.err.empty());
}

TEST_CASE("fail-on turns findings at that level into exit code 3", "[scan][cli]") {
  CliOptions o = Stdin("table");
  o.fail_on = "danger";
  CHECK(Run(o, kDangerousPod).code == kExitFindings);
  CHECK(Run(o, kWarningOnlyCm).code == kExitOk);
  o.fail_on = "warning";
  CHECK(Run(o, kWarningOnlyCm).code == kExitFindings);
  o.fail_on.clear();
  CHECK(Run(o, kDangerousPod).code == kExitOk);
}

TEST_CASE("every output format", "[scan][cli]") {
  auto table = Run(Stdin("table"), kDangerousPod);
  CHECK(table.out.find("host-network") != std::string::npos);
  auto sarif = Run(Stdin("sarif"), kDangerousPod);
  auto doc = json::Parse(sarif.out);
  REQUIRE(doc);
  CHECK((*doc)["runs"][0]["results"].Size() > 0);
  CHECK((*doc)["runs"][0]["results"][0]["locations"][0].HasMember("physicalLocation") == false);  // stdin
}

TEST_CASE("invalid options exit 2 with a message", "[scan][cli]") {
  auto usage = [](CliOptions o) {
    auto r = Run(o, kDangerousPod);
    CHECK(r.code == kExitUsage);
    CHECK(r.out.empty());
    return r.err;
  };
  CliOptions o = Stdin();
  o.output = "xml";
  CHECK(usage(o) == "srexpert-scan: -o xml: use table, json or sarif\n");
  o = Stdin();
  o.fail_on = "error";
  CHECK(usage(o) == "srexpert-scan: --fail-on error: use danger or warning\n");
  o = Stdin();
  o.pss_version = "1.25";
  CHECK(usage(o) == "srexpert-scan: --pss-version 1.25: use latest or v1.<minor>\n");
  o = Stdin();
  o.pss_level = "strict";
  CHECK(usage(o) == "srexpert-scan: --pss-level strict: use baseline, restricted or privileged\n");
  o = Stdin();
  o.only = {"hostIPCSet", "nope"};
  CHECK(usage(o) == "srexpert-scan: --only/--skip: no check or category named \"nope\"\n");
  CHECK(usage(CliOptions{}) == "srexpert-scan: nothing to scan: give -f FILE|DIR|- or --kubeconfig\n");
  o = Stdin();
  o.ns = "x";
  CHECK(usage(o) == "srexpert-scan: --namespace needs --kubeconfig\n");
}

TEST_CASE("bad input exits 1 naming the file and document", "[scan][cli]") {
  packaging::TempDir dir;
  std::string bad = dir.Write("bad.yaml", kDangerousPod + "---\nmetadata: [\n");
  CliOptions o;
  o.files = {bad};
  auto r = Run(o);
  CHECK(r.code == kExitError);
  CHECK(r.err == "srexpert-scan: " + bad + ": document 2 (line 7): invalid YAML: end of sequence flow not found\n");
  o.files = {dir.path() + "/missing.yaml"};
  CHECK(Run(o).err == "srexpert-scan: " + dir.path() + "/missing.yaml: no such file or directory\n");
  // A 1 GiB (sparse) file is refused before a byte is read.
  std::string huge = dir.path() + "/huge.yaml";
  { std::ofstream(huge).put('a'); }
  std::filesystem::resize_file(huge, 1ull << 30);
  o.files = {huge};
  r = Run(o);
  CHECK(r.code == kExitError);
  CHECK(r.err == "srexpert-scan: " + huge + ": 1073741824 bytes is more than the limit of 67108864 bytes\n");
  // Deeply nested JSON on stdin.
  r = Run(Stdin(), std::string(1000000, '[') + std::string(1000000, ']'));
  CHECK(r.code == kExitError);
  CHECK(r.err == "srexpert-scan: <stdin>: nested 1000000 levels deep, more than the limit of 100\n");
  // Too much on stdin.
  CliOptions limited = Stdin();
  limited.max_file_bytes = 1000;
  CHECK(Run(limited, std::string(2000, '#')).err == "srexpert-scan: <stdin>: more than the limit of 1000 bytes\n");
  // An unknown kind of a built-in group.
  r = Run(Stdin(), "apiVersion: v1\nkind: Podd\nmetadata: {name: x}\n");
  CHECK(r.err == "srexpert-scan: <stdin>: document 1 (line 1): unknown kind \"Podd\" for apiVersion v1\n");
  // A broken configuration names the configuration file.
  std::string config = dir.Write("polaris.yaml", "checks:\n  nope: danger\n");
  CliOptions c = Stdin();
  c.config_file = config;
  CHECK(Run(c, kDangerousPod).err == "srexpert-scan: " + config + ": checks.nope: no such check\n");
}

TEST_CASE("directories are read recursively in sorted order", "[scan][cli]") {
  packaging::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/sub");
  dir.Write("b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: n}\ndata: {x: y}\n");
  dir.Write("sub/a.yml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\ndata: {x: y}\n");
  dir.Write("c.json", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"n"}})");
  dir.Write("notes.txt", "not a manifest: [");
  CliOptions o;
  o.files = {dir.path()};
  o.output = "json";
  auto r = Run(o);
  INFO(r.err);
  REQUIRE(r.code == kExitOk);
  auto doc = json::Parse(r.out);
  REQUIRE(doc);
  std::vector<std::string> names;
  for (const auto& res : (*doc)["results"].GetArray()) names.push_back(res["object"]["name"].GetString());
  CHECK(names == std::vector<std::string>{"b", "c", "a"});
}

TEST_CASE("the srexpert-scan binary: flags, stdin, exit codes", "[scan][cli][binary]") {
  auto r = packaging::Run({SRX_SCAN_BINARY, "-f", "-", "-o", "json", "--fail-on", "danger"}, kDangerousPod);
  CHECK(r.exit_code == kExitFindings);
  auto doc = json::Parse(r.out);
  REQUIRE(doc);
  CHECK((*doc)["summary"]["dangers"].GetInt() > 0);
  r = packaging::Run({SRX_SCAN_BINARY, "-f", "-", "--only", "host-network,cpu-limits", "-o", "json"}, kDangerousPod);
  REQUIRE(r.exit_code == 0);
  doc = json::Parse(r.out);
  REQUIRE(doc);
  CHECK((*doc)["results"].Size() == 2);
  r = packaging::Run({SRX_SCAN_BINARY, "--help"});
  CHECK(r.exit_code == 0);
  for (std::string flag : {"--filename", "--kubeconfig", "--namespace", "--output", "--config", "--fail-on",
                           "--only", "--skip", "--pss-level", "--pss-version", "--kubernetes-version"}) {
    CHECK(r.out.find(flag) != std::string::npos);
  }
  r = packaging::Run({SRX_SCAN_BINARY, "--no-such-flag"});
  CHECK(r.exit_code != 0);
  r = packaging::Run({SRX_SCAN_BINARY, "-f", "-", "--kubernetes-version", "v1.26", "-o", "json"},
                     "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {securityContext: {sysctls: "
                     "[{name: net.ipv4.ip_local_reserved_ports, value: '1'}]}, containers: [{name: c, image: 'i:1'}]}\n");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find(R"("check":"pss-sysctls","aliases":{"pss":"Sysctls","pssLevel":"baseline","nsa":"Kubernetes Pod security: Hardening container environments"},"severity":"danger","passed":false)") !=
        std::string::npos);
}
