// The helm.* kinds (operator/actions/helm_actions.h) behind the action
// registry, without a cluster: payload validation, refusal by switch and
// namespace before Helm runs, the argv each kind gives Helm (recorded by
// testdata/fake-helm.sh), and Helm stopped when the request's deadline
// passes. The real binary against a real API server through the registry:
// test/real/helm_real_test.cc.
#include "actions/helm_actions.h"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>

#include "common/base64.h"
#include "common/json.h"
#include "test/actions/testdata.h"

namespace fs = std::filesystem;
using srexpert::actions::testing::Slurp;
using srexpert::actions::testing::Testdata;
using namespace srexpert;
using namespace srexpert::actions;

namespace {

// A minimal gzip stream: passes the archive sniffing, the fake never unpacks it.
const std::string kGzip(
    "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);

struct FakeHelm {
  fs::path home;
  helm::HelmConfig config;
  FakeHelm() {
    char tmpl[] = "/tmp/srx-helm-actions-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    home = tmpl;
    config.binary = srexpert::actions::testing::TestdataPath("fake-helm.sh").string();
    config.home = home.string();
    config.kubeconfig = "/etc/srx-test/kubeconfig";
    config.max_archive_bytes = 4096;
  }
  ~FakeHelm() { fs::remove_all(home); }
  void Mode(const std::string& mode, const std::string& out = "", const std::string& err = "") {
    std::ofstream(home / "mode") << mode;
    std::ofstream(home / "stdout") << out;
    std::ofstream(home / "stderr") << err;
  }
  bool Ran() const { return fs::exists(home / "record"); }
  std::vector<std::string> Args() {
    std::vector<std::string> lines;
    std::istringstream in(Slurp(home / "record"));
    for (std::string l; std::getline(in, l);) {
      if (l.rfind("arg:", 0) == 0) lines.push_back(l.substr(4));
    }
    return lines;
  }
};

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The value following `flag` in argv, or "<absent>".
std::string After(const std::vector<std::string>& v, const std::string& flag) {
  auto it = std::find(v.begin(), v.end(), flag);
  return it == v.end() || it + 1 == v.end() ? "<absent>" : *(it + 1);
}

const ActionKind& Kind(const std::vector<ActionKind>& kinds, const std::string& name) {
  for (const auto& k : kinds)
    if (k.name == name) return k;
  FAIL("no kind " << name);
  return kinds.front();
}

// The `invalid` message the parser gives, or "" when it accepts.
std::string Refusal(const std::vector<ActionKind>& kinds, const std::string& kind,
                    const std::string& payload) {
  auto doc = json::Parse(payload);
  REQUIRE(doc);
  auto outcome = Kind(kinds, kind).parse(*doc);
  if (auto* message = std::get_if<std::string>(&outcome)) return *message;
  return "";
}

std::string ArchivePayload(const std::string& extra = "") {
  return R"({"namespace":"team-a","release":"web","chart":{"archive":")" + base64::Encode(kGzip) +
         "\"}" + extra + "}";
}

ActionPolicy Policy(bool on = true, std::vector<std::string> namespaces = {}) {
  ActionPolicy p;
  p.switches["helm"] = on;
  p.namespaces = std::move(namespaces);
  p.agent_namespace = "srexpert";
  return p;
}

protocol::Response Call(ActionRegistry& r, const std::string& id, const std::string& kind,
                        const std::string& payload, int64_t timeout_ms = 0) {
  std::promise<protocol::Response> p;
  auto f = p.get_future();
  r.Handle(protocol::Request{id, kind, timeout_ms, payload},
           [&p](protocol::Response resp) { p.set_value(std::move(resp)); });
  REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return f.get();
}

json::Document Result(const protocol::Response& resp) {
  INFO(resp.error.code << ": " << resp.error.message);
  REQUIRE(resp.ok);
  auto doc = json::Parse(resp.payload);
  REQUIRE(doc);
  REQUIRE(json::Find(*doc, {"result"}) != nullptr);
  return json::Clone(*json::Find(*doc, {"result"}));
}

}  // namespace

TEST_CASE("the seven helm kinds all hang on the helm switch", "[helm][actions]") {
  FakeHelm fake;
  auto kinds = HelmActionKinds(fake.config);
  std::vector<std::string> names;
  for (const auto& k : kinds) {
    names.push_back(k.name);
    CHECK(k.switch_name == "helm");
  }
  CHECK(names == std::vector<std::string>{"helm.install", "helm.upgrade", "helm.rollback",
                                          "helm.uninstall", "helm.status", "helm.history",
                                          "helm.list"});
}

TEST_CASE("helm payloads are validated before anything runs", "[helm][actions]") {
  FakeHelm fake;
  auto kinds = HelmActionKinds(fake.config);

  CHECK(Refusal(kinds, "helm.install", ArchivePayload()) == "");
  CHECK(Refusal(
            kinds, "helm.upgrade",
            R"({"namespace":"team-a","release":"web","requestedBy":"alice",)"
            R"("chart":{"repoURL":"https://charts.example.com","name":"nginx","version":"1.2.3"},)"
            R"("values":{"a":1},"wait":true,"atomic":true,"dryRun":true,"timeoutSeconds":60})") ==
        "");

  SECTION("release names follow Helm's rule") {
    for (const std::string bad : {"Web", "-web", "web-", "web_app", "--kubeconfig=/x", ""}) {
      std::string p = R"({"namespace":"team-a","release":")" + bad + R"(","revision":1})";
      CHECK_THAT(Refusal(kinds, "helm.rollback", p), Catch::Contains("release"));
    }
    std::string long_name(54, 'a');
    CHECK_THAT(
        Refusal(kinds, "helm.status", R"({"namespace":"team-a","release":")" + long_name + "\"}"),
        Catch::Contains("longer than 53"));
    CHECK(Refusal(kinds, "helm.status",
                  R"({"namespace":"team-a","release":")" + std::string(53, 'a') + "\"}") == "");
    CHECK_THAT(Refusal(kinds, "helm.uninstall", R"({"namespace":"team-a"})"),
               Catch::Contains("release is required"));
  }
  SECTION("exactly one chart source") {
    CHECK_THAT(Refusal(kinds, "helm.install", R"({"namespace":"team-a","release":"web"})"),
               Catch::Contains("chart is required"));
    CHECK_THAT(
        Refusal(kinds, "helm.install", R"({"namespace":"team-a","release":"web","chart":{}})"),
        Catch::Contains("exactly one of archive or repoURL+name"));
    CHECK_THAT(Refusal(kinds, "helm.install",
                       R"({"namespace":"team-a","release":"web","chart":{"archive":")" +
                           base64::Encode(kGzip) +
                           R"(","repoURL":"https://charts.example.com","name":"nginx"}})"),
               Catch::Contains("exactly one of archive or repoURL+name"));
    CHECK_THAT(
        Refusal(kinds, "helm.install", R"({"namespace":"team-a","release":"web","chart":"nginx"})"),
        Catch::Contains("chart is required"));
    // The driver's flat form is not the wire form.
    CHECK_THAT(Refusal(kinds, "helm.install",
                       R"({"namespace":"team-a","release":"web","chartArchive":")" +
                           base64::Encode(kGzip) + "\"}"),
               Catch::Contains("unknown field \"chartArchive\""));
    CHECK_THAT(
        Refusal(
            kinds, "helm.install",
            R"({"namespace":"team-a","release":"web","chart":{"repoURL":"https://u:pw@x.example","name":"n"}})"),
        Catch::Contains("chart.repoURL must be"));
    CHECK_THAT(
        Refusal(
            kinds, "helm.install",
            R"({"namespace":"team-a","release":"web","chart":{"repoURL":"https://u:pw@x.example","name":"n"}})"),
        !Catch::Contains("pw@"));  // refusals are logged: never echo credentials
    CHECK_THAT(
        Refusal(
            kinds, "helm.install",
            R"({"namespace":"team-a","release":"web","chart":{"repoURL":"https://x.example"}})"),
        Catch::Contains("chart.name is required with chart.repoURL"));
    CHECK_THAT(Refusal(kinds, "helm.install",
                       ArchivePayload().replace(ArchivePayload().find("\"}"), 2,
                                                R"(","version":"1.0.0"})")),
               Catch::Contains("repository charts only"));
    CHECK_THAT(Refusal(kinds, "helm.install",
                       R"({"namespace":"team-a","release":"web","chart":{"archive":")" +
                           base64::Encode(kGzip) + R"(","path":"/etc"}})"),
               Catch::Contains("unknown field \"chart.path\""));
  }
  SECTION("archives: base64, gzip, bounded") {
    CHECK_THAT(Refusal(kinds, "helm.install",
                       R"({"namespace":"team-a","release":"web","chart":{"archive":"!!!"}})"),
               Catch::Contains("not valid base64"));
    CHECK_THAT(Refusal(kinds, "helm.install",
                       R"({"namespace":"team-a","release":"web","chart":{"archive":")" +
                           base64::Encode("plain text") + "\"}}"),
               Catch::Contains("not a gzip"));
    // Just over the configured bound (4096): refused after decoding...
    std::string over = kGzip + std::string(4096 - kGzip.size() + 1, 'x');
    CHECK_THAT(Refusal(kinds, "helm.install",
                       R"({"namespace":"team-a","release":"web","chart":{"archive":")" +
                           base64::Encode(over) + "\"}}"),
               Catch::Contains("the limit is 4096"));
    // ...and far over it: refused before decoding.
    std::string huge(100000, 'A');
    CHECK_THAT(
        Refusal(kinds, "helm.install",
                R"({"namespace":"team-a","release":"web","chart":{"archive":")" + huge + "\"}}"),
        Catch::Contains("larger than 4096 bytes"));
    std::string at_limit = kGzip + std::string(4096 - kGzip.size(), 'x');
    CHECK(Refusal(kinds, "helm.install",
                  R"({"namespace":"team-a","release":"web","chart":{"archive":")" +
                      base64::Encode(at_limit) + "\"}}") == "");
  }
  SECTION("values, flags and unknown members") {
    CHECK_THAT(Refusal(kinds, "helm.install", ArchivePayload(R"(,"values":[1,2])")),
               Catch::Contains("values must be a JSON object"));
    CHECK_THAT(Refusal(kinds, "helm.install", ArchivePayload(R"(,"values":"a: 1")")),
               Catch::Contains("values must be a JSON object"));
    CHECK_THAT(Refusal(kinds, "helm.upgrade", ArchivePayload(R"(,"dryrun":true)")),
               Catch::Contains("unknown field \"dryrun\""));
    CHECK_THAT(Refusal(kinds, "helm.upgrade", ArchivePayload(R"(,"wait":"yes")")),
               Catch::Contains("wait must be a boolean"));
    CHECK_THAT(Refusal(kinds, "helm.upgrade", ArchivePayload(R"(,"timeoutSeconds":0)")),
               Catch::Contains("timeoutSeconds"));
    CHECK_THAT(
        Refusal(kinds, "helm.rollback", R"({"namespace":"team-a","release":"web","revision":0})"),
        Catch::Contains("revision"));
    CHECK_THAT(Refusal(kinds, "helm.status", R"({"namespace":"team-a","release":"web","max":3})"),
               Catch::Contains("unknown field \"max\""));
    CHECK_THAT(
        Refusal(kinds, "helm.history", R"({"namespace":"team-a","release":"web","revision":3})"),
        Catch::Contains("unknown field \"revision\""));
    CHECK_THAT(Refusal(kinds, "helm.install", "[]"), Catch::Contains("JSON object"));
  }
  SECTION("list: one namespace, never all") {
    CHECK(Refusal(kinds, "helm.list", R"({"namespace":"team-a","requestedBy":"bob"})") == "");
    CHECK_THAT(Refusal(kinds, "helm.list", "{}"), Catch::Contains("namespace is required"));
    CHECK_THAT(Refusal(kinds, "helm.list", R"({"namespace":""})"),
               Catch::Contains("namespace is required"));
    CHECK_THAT(Refusal(kinds, "helm.list", R"({"namespace":"--all-namespaces"})"),
               Catch::Contains("not a valid DNS-1123 label"));
    CHECK_THAT(Refusal(kinds, "helm.list", R"({"namespace":"a","allNamespaces":true})"),
               Catch::Contains("unknown field"));
  }
  CHECK_FALSE(fake.Ran());
}

TEST_CASE("targets: one per release, the namespace for list", "[helm][actions]") {
  FakeHelm fake;
  auto kinds = HelmActionKinds(fake.config);
  auto prepared = [&](const std::string& kind, const std::string& payload) {
    auto doc = json::Parse(payload);
    REQUIRE(doc);
    auto outcome = Kind(kinds, kind).parse(*doc);
    REQUIRE(std::holds_alternative<PreparedAction>(outcome));
    return std::get<PreparedAction>(std::move(outcome));
  };
  auto a = prepared("helm.install", ArchivePayload());
  REQUIRE(a.targets.size() == 1);
  CHECK(a.targets[0].Key() == "helm.sh/release.v1/HelmRelease/team-a/web");
  // Every kind on one release serialises on the same key.
  CHECK(prepared("helm.uninstall", R"({"namespace":"team-a","release":"web"})").targets[0].Key() ==
        a.targets[0].Key());
  CHECK(prepared("helm.history", R"({"namespace":"team-a","release":"web"})").targets[0].Key() ==
        a.targets[0].Key());
  auto l = prepared("helm.list", R"({"namespace":"team-a"})");
  REQUIRE(l.targets.size() == 1);
  CHECK(l.targets[0].Key() == "v1/Namespace/team-a/team-a");
}

TEST_CASE("the registry refuses helm by switch and namespace before Helm runs", "[helm][actions]") {
  FakeHelm fake;
  fake.Mode("ok", Testdata("helm4-list.json"));
  SECTION("switch off") {
    ActionRegistry r(Policy(false), nullptr);
    for (auto& k : HelmActionKinds(fake.config)) r.Register(std::move(k));
    auto resp = Call(r, "s1", "helm.list", R"({"namespace":"team-a"})");
    CHECK_FALSE(resp.ok);
    CHECK(resp.error.code == "forbidden");
  }
  SECTION("namespace outside the allow-list") {
    ActionRegistry r(Policy(true, {"team-b"}), nullptr);
    for (auto& k : HelmActionKinds(fake.config)) r.Register(std::move(k));
    auto resp = Call(r, "n1", "helm.install", ArchivePayload());
    CHECK_FALSE(resp.ok);
    CHECK(resp.error.code == "forbidden");
    CHECK_THAT(resp.error.message, Catch::Contains("team-a"));
  }
  SECTION("protected namespaces, even when allow-listed") {
    ActionRegistry r(Policy(true, {"kube-system", "srexpert"}), nullptr);
    for (auto& k : HelmActionKinds(fake.config)) r.Register(std::move(k));
    for (const std::string ns : {"kube-system", "kube-public", "kube-node-lease", "srexpert"}) {
      auto resp =
          Call(r, "p-" + ns, "helm.uninstall", R"({"namespace":")" + ns + R"(","release":"web"})");
      CHECK_FALSE(resp.ok);
      CHECK(resp.error.code == "forbidden");
      auto list = Call(r, "l-" + ns, "helm.list", R"({"namespace":")" + ns + "\"}");
      CHECK(list.error.code == "forbidden");
    }
  }
  SECTION("a bad payload is invalid") {
    ActionRegistry r(Policy(), nullptr);
    for (auto& k : HelmActionKinds(fake.config)) r.Register(std::move(k));
    auto resp = Call(r, "i1", "helm.install", ArchivePayload(R"(,"values":5)"));
    CHECK(resp.error.code == "invalid");
  }
  CHECK_FALSE(fake.Ran());
}

TEST_CASE("each helm kind's argv: no shell, values by file, --namespace always",
          "[helm][actions]") {
  FakeHelm fake;
  ActionRegistry r(Policy(), nullptr);
  for (auto& k : HelmActionKinds(fake.config)) r.Register(std::move(k));

  SECTION("install: archive and values as private files; nothing secret echoed") {
    fake.Mode("ok", Testdata("helm4-status.json"));
    auto result = Result(Call(r, "i1", "helm.install",
                              ArchivePayload(R"(,"values":{"password":"s3cret-value"},"wait":true,)"
                                             R"("atomic":true,"timeoutSeconds":20)"),
                              60000));
    auto args = fake.Args();
    REQUIRE(args.size() > 3);
    CHECK(args[0] == "install");
    CHECK(args[1] == "web");
    CHECK(args[2].find("/tmp/req-") != std::string::npos);
    CHECK(args[2].substr(args[2].size() - 10) == "/chart.tgz");
    CHECK(After(args, "--namespace") == "team-a");
    CHECK(After(args, "--values").substr(After(args, "--values").size() - 12) == "/values.json");
    CHECK(After(args, "--timeout") == "20s");
    CHECK(After(args, "--kubeconfig") == "/etc/srx-test/kubeconfig");
    CHECK(Contains(args, "--wait=watcher"));
    CHECK(Contains(args, "--rollback-on-failure"));
    for (const auto& a : args) CHECK(a.find("s3cret") == std::string::npos);
    CHECK(Slurp(fake.home / "values-seen") == R"({"password":"s3cret-value"})");
    CHECK(Slurp(fake.home / "chart-seen.tgz") == kGzip);
    CHECK(fs::is_empty(fake.home / "tmp"));  // request directory removed
    CHECK(json::GetString(result, {"name"}) == "web");
    CHECK(json::GetInt(result, {"revision"}) > 0);
    CHECK(json::Find(result, {"notes"}) == nullptr);  // rendered from values
    CHECK(json::Dump(result).find("s3cret") == std::string::npos);
  }
  SECTION("upgrade: install-or-upgrade from a repository, timeout cut to the deadline") {
    fake.Mode("ok", Testdata("helm4-status.json"));
    Result(Call(
        r, "u1", "helm.upgrade",
        R"({"namespace":"team-a","release":"web","chart":{"repoURL":"https://charts.example.com",)"
        R"("name":"nginx","version":"1.2.3"},"dryRun":true})",
        30000));
    auto args = fake.Args();
    REQUIRE(args.size() > 3);
    CHECK(args[0] == "upgrade");
    CHECK(args[1] == "--install");
    CHECK(args[2] == "web");
    CHECK(args[3] == "nginx");
    CHECK(After(args, "--repo") == "https://charts.example.com");
    CHECK(After(args, "--version") == "1.2.3");
    CHECK(After(args, "--namespace") == "team-a");
    CHECK(Contains(args, "--dry-run=server"));
    CHECK(Contains(args, "--hide-secret"));
    CHECK(After(args, "--values") != "<absent>");  // "{}": always a file, never --set
    // No timeoutSeconds: Helm's default 300 s is cut to the request's 30 s
    // deadline less the margin Helm needs to record the release.
    std::string t = After(args, "--timeout");
    int seconds = std::stoi(t.substr(0, t.size() - 1));
    CHECK(seconds <= 28);
    CHECK(seconds >= 25);
    for (const auto& a : args) CHECK(a != "--set");
  }
  SECTION("rollback (dry run: one helm call)") {
    fake.Mode("ok", "");
    auto result =
        Result(Call(r, "r1", "helm.rollback",
                    R"({"namespace":"team-a","release":"web","revision":2,"dryRun":true})"));
    auto args = fake.Args();
    REQUIRE(args.size() > 2);
    CHECK(args[0] == "rollback");
    CHECK(args[1] == "web");
    CHECK(args[2] == "2");
    CHECK(After(args, "--namespace") == "team-a");
    CHECK(Contains(args, "--dry-run=server"));
    CHECK(json::GetBool(result, {"dryRun"}));
  }
  SECTION("uninstall") {
    fake.Mode("ok", "release \"web\" uninstalled\n");
    auto result = Result(Call(r, "d1", "helm.uninstall",
                              R"({"namespace":"team-a","release":"web","keepHistory":true})"));
    auto args = fake.Args();
    CHECK(args[0] == "uninstall");
    CHECK(args[1] == "web");
    CHECK(After(args, "--namespace") == "team-a");
    CHECK(Contains(args, "--keep-history"));
    CHECK(json::GetBool(result, {"uninstalled"}));
  }
  SECTION("history") {
    fake.Mode("ok", Testdata("helm4-history.json"));
    auto result =
        Result(Call(r, "h1", "helm.history", R"({"namespace":"team-a","release":"web","max":5})"));
    auto args = fake.Args();
    CHECK(args[0] == "history");
    CHECK(args[1] == "web");
    CHECK(After(args, "--namespace") == "team-a");
    CHECK(After(args, "--max") == "5");
    CHECK(After(args, "--output") == "json");
    REQUIRE(json::Find(result, {"revisions"}) != nullptr);
    CHECK(json::Find(result, {"revisions"})->Size() == 2);
  }
  SECTION("list: that namespace only") {
    fake.Mode("ok", Testdata("helm4-list.json"));
    auto result = Result(Call(r, "l1", "helm.list", R"({"namespace":"team-a"})"));
    auto args = fake.Args();
    CHECK(args[0] == "list");
    CHECK(After(args, "--namespace") == "team-a");
    for (const auto& a : args) {
      CHECK(a != "--all-namespaces");
      CHECK(a != "-A");
    }
    REQUIRE(json::Find(result, {"releases"}) != nullptr);
    CHECK(json::GetString((*json::Find(result, {"releases"}))[0], {"name"}) == "web");
  }
  SECTION("Helm's failures keep their codes") {
    fake.Mode("fail", "", "Error: release: not found\n");
    auto nf = Call(r, "f1", "helm.status", R"({"namespace":"team-a","release":"gone"})");
    CHECK(nf.error.code == "not_found");
    fake.Mode("fail", "", "Error: INSTALLATION FAILED: cannot reuse a name that is still in use\n");
    auto used = Call(r, "f2", "helm.install", ArchivePayload());
    CHECK(used.error.code == "conflict");
    fake.Mode("fail", "", "Error: parse error at (web/templates/cm.yaml:3): bad\n");
    auto broken = Call(r, "f3", "helm.upgrade", ArchivePayload());
    CHECK(broken.error.code == "internal");
    CHECK_THAT(broken.error.message, Catch::Contains("parse error"));
    CHECK(fs::is_empty(fake.home / "tmp"));
  }
}

TEST_CASE("Helm is killed when the request's deadline passes or the tunnel ends",
          "[helm][actions]") {
  FakeHelm fake;
  fake.Mode("hang");  // the fake execs `sleep 60`
  SECTION("deadline") {
    ActionRegistry r(Policy(), nullptr);
    for (auto& k : HelmActionKinds(fake.config)) r.Register(std::move(k));
    auto start = std::chrono::steady_clock::now();
    // Queries have a 120 s hard limit of their own: only the token stops this.
    auto resp = Call(r, "t1", "helm.list", R"({"namespace":"team-a"})", 1500);
    auto took = std::chrono::steady_clock::now() - start;
    CHECK_FALSE(resp.ok);
    CHECK(resp.error.code == "timeout");
    CHECK(took < std::chrono::seconds(10));
    auto install = Call(r, "t2", "helm.install", ArchivePayload(), 4000);
    CHECK(install.error.code == "timeout");
    CHECK(fs::is_empty(fake.home / "tmp"));
  }
  SECTION("registry destroyed (tunnel ended)") {
    std::promise<protocol::Response> p;
    auto f = p.get_future();
    auto start = std::chrono::steady_clock::now();
    {
      ActionRegistry r(Policy(), nullptr);
      for (auto& k : HelmActionKinds(fake.config)) r.Register(std::move(k));
      r.Handle(protocol::Request{"c1", "helm.history", 60000,
                                 R"({"namespace":"team-a","release":"web"})"},
               [&p](protocol::Response resp) { p.set_value(std::move(resp)); });
      // Let helm start before the tunnel "ends".
      for (int i = 0; i < 200 && !fake.Ran(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      REQUIRE(fake.Ran());
    }
    REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    auto resp = f.get();
    CHECK(resp.error.code == "cancelled");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(15));
  }
}

TEST_CASE("an explicit proxy reaches Helm, and the environment's proxy then does not",
          "[helm][actions]") {
  ::setenv("HTTPS_PROXY", "http://env-proxy.example:3128", 1);
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  FakeHelm fake;
  fake.config.proxy_url = "http://proxy.corp.example:8080";
  fake.config.no_proxy = {".svc", "10.0.0.0/8"};
  fake.Mode("ok", Testdata("helm4-list.json"));
  ActionRegistry r(Policy(), nullptr);
  for (auto& k : HelmActionKinds(fake.config)) r.Register(std::move(k));
  Result(Call(r, "x1", "helm.list", R"({"namespace":"team-a"})"));
  std::vector<std::string> env;
  std::istringstream in(Slurp(fake.home / "record"));
  for (std::string l; std::getline(in, l);)
    if (l.rfind("env:", 0) == 0) env.push_back(l.substr(4));
  ::unsetenv("HTTPS_PROXY");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  CHECK(Contains(env, "HTTPS_PROXY=http://proxy.corp.example:8080"));
  CHECK(Contains(env, "http_proxy=http://proxy.corp.example:8080"));
  CHECK(Contains(env, "NO_PROXY=.svc,10.0.0.0/8,10.96.0.1"));
  CHECK(Contains(env, "KUBERNETES_SERVICE_HOST=10.96.0.1"));
  for (const auto& e : env) CHECK(e.find("env-proxy") == std::string::npos);
}
