// The Helm driver without a cluster: request validation, Helm 4's JSON
// outputs (captured from helm v4.1.4 in testdata/helm4-*.json) turned into
// responses, and the mechanics around the binary (arguments, environment,
// values file, temp-dir clean-up, timeout, cancellation) shown with
// testdata/fake-helm.sh standing in for helm. The real binary against a real
// API server: test/real/helm_real_test.cc.
#include "actions/helm.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/base64.h"
#include "common/json.h"
#include "test/actions/testdata.h"

namespace fs = std::filesystem;
using srexpert::actions::testing::Slurp;
using srexpert::actions::testing::Testdata;
using namespace srexpert;
using namespace srexpert::actions::helm;
using Code = HelmError::Code;

namespace {

json::Document Payload(const std::string& text) {
  auto doc = json::Parse(text);
  REQUIRE(doc);
  return std::move(*doc);
}

// A minimal gzip stream: enough for the archive sniffing, not a chart.
const std::string kGzip(
    "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);

// A home directory and a fake helm per test.
struct FakeHelm {
  fs::path home;
  HelmConfig config;
  FakeHelm() {
    char tmpl[] = "/tmp/srx-helm-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    home = tmpl;
    config.binary = srexpert::actions::testing::TestdataPath("fake-helm.sh").string();
    config.home = home.string();
    config.kubeconfig = "/etc/srx-test/kubeconfig";
  }
  ~FakeHelm() { fs::remove_all(home); }
  void Mode(const std::string& mode, const std::string& out = "", const std::string& err = "") {
    std::ofstream(home / "mode") << mode;
    std::ofstream(home / "stdout") << out;
    std::ofstream(home / "stderr") << err;
  }
  std::vector<std::string> Lines(const std::string& prefix) {
    std::vector<std::string> lines;
    std::istringstream in(Slurp(home / "record"));
    for (std::string l; std::getline(in, l);) {
      if (l.rfind(prefix, 0) == 0) lines.push_back(l.substr(prefix.size()));
    }
    return lines;
  }
  std::vector<std::string> RequestDirs() {
    std::vector<std::string> dirs;
    for (auto& e : fs::directory_iterator(home / "tmp")) dirs.push_back(e.path().string());
    return dirs;
  }
};

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("release names follow Helm's rule", "[helm]") {
  CHECK_FALSE(ValidateReleaseName("web"));
  CHECK_FALSE(ValidateReleaseName("my-app.v2"));
  CHECK_FALSE(ValidateReleaseName(std::string(53, 'a')));
  CHECK(ValidateReleaseName(std::string(54, 'a')));
  CHECK(ValidateReleaseName(""));
  CHECK(ValidateReleaseName("Web"));
  CHECK(ValidateReleaseName("-web"));
  CHECK(ValidateReleaseName("web-"));
  CHECK(ValidateReleaseName("web_app"));
  CHECK(ValidateReleaseName("--kubeconfig=/etc/x"));
}

TEST_CASE("namespaces must be DNS-1123 labels", "[helm]") {
  CHECK_FALSE(ValidateNamespace("team-a"));
  CHECK(ValidateNamespace(""));
  CHECK(ValidateNamespace("a.b"));
  CHECK(ValidateNamespace(std::string(64, 'a')));
  CHECK(ValidateNamespace("--all-namespaces"));
}

TEST_CASE("chart sources: an archive or a remote repository, never a local path", "[helm]") {
  const std::size_t cap = 1 << 20;
  CHECK_FALSE(ValidateChartSource({kGzip, "", "", ""}, cap));
  CHECK_FALSE(
      ValidateChartSource({"", "https://charts.example.com/stable", "nginx", "1.2.3"}, cap));
  CHECK_FALSE(
      ValidateChartSource({"", "oci://registry.example.com/charts", "nginx", "v1.2.3-rc.1"}, cap));
  CHECK_FALSE(ValidateChartSource({"", "http://10.0.0.1:8080", "nginx", ""}, cap));

  CHECK(ValidateChartSource({"", "", "", ""}, cap));                           // nothing
  CHECK(ValidateChartSource({kGzip, "https://x.example", "nginx", ""}, cap));  // both
  CHECK(ValidateChartSource({"not gzip", "", "", ""}, cap));
  CHECK(ValidateChartSource({kGzip + std::string(cap, 'x'), "", "", ""}, cap));
  CHECK(ValidateChartSource({"", "file:///etc", "passwd", ""}, cap));
  CHECK(ValidateChartSource({"", "/var/run/secrets", "token", ""}, cap));
  CHECK(ValidateChartSource({"", "https://user:pw@charts.example.com", "nginx", ""}, cap));
  CHECK(ValidateChartSource({"", "https://charts.example.com?x=1", "nginx", ""}, cap));
  CHECK(ValidateChartSource({"", "https://charts.example.com", "../../etc", ""}, cap));
  CHECK(ValidateChartSource({"", "https://charts.example.com", "a/b", ""}, cap));
  CHECK(ValidateChartSource({"", "https://charts.example.com", "-nginx", ""}, cap));
  CHECK(ValidateChartSource({"", "https://charts.example.com", "nginx", ">=1.0"}, cap));
  CHECK(ValidateChartSource({"", "https://charts.example.com", "nginx", "--devel"}, cap));
}

TEST_CASE("install payloads are parsed strictly", "[helm]") {
  std::string error;
  SECTION("an archive with values and options") {
    auto p = Payload(
        R"({"release":"web","namespace":"team-a","chartArchive":")" + base64::Encode(kGzip) +
        R"(","values":{"replicas":2,"db":{"password":"x"}},"dryRun":true,"wait":true,"atomic":true,"timeoutSeconds":90})");
    InstallRequest req;
    REQUIRE(ParseInstall(p, true, &req, &error));
    CHECK(req.upgrade);
    CHECK(req.release == "web");
    CHECK(req.namespace_ == "team-a");
    CHECK(req.chart.archive == kGzip);
    CHECK(req.values_json == R"({"replicas":2,"db":{"password":"x"}})");
    CHECK(req.dry_run);
    CHECK(req.wait);
    CHECK(req.atomic);
    CHECK(req.timeout == std::chrono::seconds(90));
  }
  SECTION("a repository reference") {
    auto p = Payload(
        R"({"release":"web","namespace":"team-a","repoURL":"https://charts.example.com","chart":"nginx","version":"1.2.3"})");
    InstallRequest req;
    REQUIRE(ParseInstall(p, false, &req, &error));
    CHECK(req.chart.chart == "nginx");
    CHECK(req.values_json == "{}");
    CHECK_FALSE(req.dry_run);
  }
  SECTION("refusals name the problem") {
    auto refuse = [&](const std::string& text, const std::string& expect) {
      InstallRequest req;
      error.clear();
      CHECK_FALSE(ParseInstall(Payload(text), true, &req, &error));
      CHECK_THAT(error, Catch::Matchers::Contains(expect));
    };
    refuse(
        R"({"release":"web","namespace":"a","repoURL":"https://c.example","chart":"x","dryrun":true})",
        "unknown field \"dryrun\"");
    refuse(R"({"namespace":"a","repoURL":"https://c.example","chart":"x"})", "release is required");
    refuse(R"({"release":"Web","namespace":"a","repoURL":"https://c.example","chart":"x"})",
           "release name \"Web\" is invalid");
    refuse(
        R"({"release":"web","namespace":"a","repoURL":"https://c.example","chart":"x","values":"a: 1"})",
        "values must be a JSON object");
    refuse(R"({"release":"web","namespace":"a","chartArchive":"!!!"})", "not valid base64");
    refuse(R"({"release":"web","namespace":"a","repoURL":"file:///","chart":"x"})", "repoURL");
    refuse(
        R"({"release":"web","namespace":"a","repoURL":"https://c.example","chart":"x","dryRun":"yes"})",
        "dryRun must be a boolean");
    refuse(
        R"({"release":"web","namespace":"a","repoURL":"https://c.example","chart":"x","timeoutSeconds":0})",
        "timeoutSeconds must be an integer");
    refuse(R"([1])", "payload must be a JSON object");
  }
}

TEST_CASE("rollback, uninstall, status, history and list payloads", "[helm]") {
  std::string error;
  RollbackRequest rb;
  REQUIRE(ParseRollback(Payload(R"({"release":"web","namespace":"a","revision":2,"dryRun":true})"),
                        &rb, &error));
  CHECK(rb.revision == 2);
  CHECK(rb.dry_run);
  CHECK_FALSE(
      ParseRollback(Payload(R"({"release":"web","namespace":"a","revision":0})"), &rb, &error));

  UninstallRequest un;
  REQUIRE(ParseUninstall(Payload(R"({"release":"web","namespace":"a","keepHistory":true})"), &un,
                         &error));
  CHECK(un.keep_history);
  CHECK_FALSE(ParseUninstall(Payload(R"({"release":"web"})"), &un, &error));
  CHECK(error == "namespace is required");

  ReleaseQuery q;
  REQUIRE(ParseReleaseQuery(Payload(R"({"release":"web","namespace":"a","max":5})"), &q, &error));
  CHECK(q.max == 5);

  ListRequest l;
  REQUIRE(ParseList(Payload(R"({"namespace":"a"})"), &l, &error));
  CHECK_FALSE(ParseList(Payload(R"({"namespace":"A"})"), &l, &error));
  CHECK_FALSE(ParseList(Payload(R"({})"), &l, &error));
}

TEST_CASE("helm status JSON becomes a summary without values, manifest or resources", "[helm]") {
  auto helm_json = Testdata("helm4-status.json");
  REQUIRE(helm_json.find("s3cret-value") != std::string::npos);  // the capture holds a "credential"
  json::Document body;
  std::string error;
  REQUIRE(ReleaseSummaryFromHelm(helm_json, &body, &error));
  CHECK(json::GetString(body, {"name"}) == "web");
  CHECK(json::GetString(body, {"namespace"}) == "demo");
  CHECK(json::GetInt(body, {"revision"}) == 2);
  CHECK(json::GetString(body, {"status"}) == "deployed");
  CHECK(json::GetString(body, {"description"}) == "Upgrade complete");
  CHECK(json::Find(body, {"chart"}) == nullptr);  // Helm 4's status has none...
  REQUIRE(
      AddChartFromMetadata(Testdata("helm4-metadata.json"), &body, &error));  // ...get metadata has
  CHECK(json::GetString(body, {"chart", "name"}) == "configmap-only");
  CHECK(json::GetString(body, {"chart", "version"}) == "0.1.0");
  CHECK(json::GetString(body, {"chart", "appVersion"}) == "1.0");
  CHECK_FALSE(AddChartFromMetadata("{}", &body, &error));
  CHECK(json::GetString(body, {"notes"}) == "web says hi.\n");
  CHECK_FALSE(json::GetString(body, {"lastDeployed"}).empty());
  auto dumped = json::Dump(body);
  CHECK(dumped.find("s3cret-value") == std::string::npos);
  CHECK(json::Find(body, {"config"}) == nullptr);
  CHECK(json::Find(body, {"manifest"}) == nullptr);

  CHECK_FALSE(ReleaseSummaryFromHelm("Error: nope", &body, &error));
  CHECK_FALSE(ReleaseSummaryFromHelm("{}", &body, &error));
}

TEST_CASE("helm list and history JSON become release and revision lists", "[helm]") {
  json::Document body;
  std::string error;
  REQUIRE(ListFromHelm(Testdata("helm4-list.json"), &body, &error));
  const auto& releases = body["releases"];
  REQUIRE(releases.Size() == 1);
  CHECK(json::GetString(releases[0], {"name"}) == "web");
  CHECK(json::GetInt(releases[0], {"revision"}) == 2);  // a string in helm list's JSON
  CHECK(json::GetString(releases[0], {"chart"}) == "configmap-only-0.1.0");
  CHECK(json::GetString(releases[0], {"appVersion"}) == "1.0");
  REQUIRE(ListFromHelm("[]", &body, &error));
  CHECK(body["releases"].Size() == 0);

  REQUIRE(HistoryFromHelm(Testdata("helm4-history.json"), &body, &error));
  const auto& revisions = body["revisions"];
  REQUIRE(revisions.Size() == 2);
  CHECK(json::GetInt(revisions[0], {"revision"}) == 1);
  CHECK(json::GetString(revisions[0], {"status"}) == "superseded");
  CHECK(json::GetString(revisions[1], {"description"}) == "Upgrade complete");
  CHECK_FALSE(HistoryFromHelm("{\"a\":1}", &body, &error));
}

TEST_CASE("Helm's failures are classified from its exit and stderr", "[helm]") {
  using O = actions::ProcessResult::Outcome;
  auto failed = [](const std::string& err) {
    actions::ProcessResult r;
    r.outcome = O::kExited;
    r.exit_code = 1;
    r.err = err;
    return ClassifyFailure(r);
  };
  CHECK(failed("Error: release: not found\n").code == Code::kNotFound);
  CHECK(failed("Error: INSTALLATION FAILED: cannot re-use a name that is still in use\n").code ==
        Code::kConflict);
  CHECK(failed("level=ERROR msg=\"release name check failed\" error=\"cannot reuse a name that is "
               "still in use\"\n"
               "Error: INSTALLATION FAILED: release name check failed: cannot reuse a name that is "
               "still in use\n")
            .code == Code::kConflict);  // Helm 4's wording
  CHECK(failed("Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress")
            .code == Code::kConflict);
  CHECK(failed("Error: list: failed to list: secrets is forbidden: User "
               "\"system:serviceaccount:x:y\" cannot list")
            .code == Code::kForbidden);
  CHECK(failed("Error: UPGRADE FAILED: context deadline exceeded").code == Code::kTimeout);
  auto other = failed("Error: chart requires kubeVersion: >=1.40\n");
  CHECK(other.code == Code::kFailed);
  CHECK(other.message == "Error: chart requires kubeVersion: >=1.40");
  CHECK(failed("").message == "helm exited with code 1");
  CHECK(failed(std::string(10000, 'e')).message.size() < 2100);

  actions::ProcessResult timed;
  timed.outcome = O::kTimedOut;
  CHECK(ClassifyFailure(timed).code == Code::kTimeout);
  CHECK(ClassifyFailure(timed).retryable());
  actions::ProcessResult spawn;
  spawn.error = "No such file";
  CHECK(ClassifyFailure(spawn).code == Code::kInternal);
}

TEST_CASE("the driver hands Helm the chart and values as private files and removes them",
          "[helm]") {
  FakeHelm fake;
  fake.Mode("ok", Testdata("helm4-status.json"));
  HelmDriver driver(fake.config);
  InstallRequest req;
  req.upgrade = true;
  req.release = "web";
  req.namespace_ = "demo";
  req.chart.archive = kGzip;
  req.values_json = R"({"password":"s3cret-value"})";
  req.wait = true;
  req.atomic = true;
  req.timeout = std::chrono::seconds(120);
  auto result = driver.Install(req);
  REQUIRE(result.ok());
  CHECK(json::GetString(result.body, {"name"}) == "web");
  CHECK(json::GetBool(result.body, {"dryRun"}, true) == false);

  auto args = fake.Lines("arg:");
  REQUIRE(args.size() >= 4);
  CHECK(args[0] == "upgrade");
  CHECK(args[1] == "--install");
  CHECK(args[2] == "web");
  CHECK(args[3].find("/chart.tgz") != std::string::npos);
  CHECK(Contains(args, "--wait=watcher"));
  CHECK(Contains(args, "--rollback-on-failure"));
  CHECK(Contains(args, "120s"));
  CHECK(Contains(args, "/etc/srx-test/kubeconfig"));
  for (const auto& a : args)
    CHECK(a.find("s3cret") == std::string::npos);  // never on the command line
  CHECK(Slurp(fake.home / "values-seen") == req.values_json);
  CHECK(Slurp(fake.home / "chart-seen.tgz") == kGzip);
  CHECK(Slurp(fake.home / "values-dir-mode") == "drwx------\n");
  CHECK(fake.RequestDirs().empty());  // cleaned up after success...

  fake.Mode("fail", "", "Error: INSTALLATION FAILED: cannot re-use a name that is still in use\n");
  req.upgrade = false;
  auto failed = driver.Install(req);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error->code == Code::kConflict);
  CHECK(fake.Lines("arg:")[0] == "install");
  CHECK(fake.RequestDirs().empty());  // ...and after failure
}

TEST_CASE("a dry run asks Helm for a server-side dry run with Secrets hidden", "[helm]") {
  FakeHelm fake;
  fake.Mode("ok", Testdata("helm4-status.json"));
  HelmDriver driver(fake.config);
  InstallRequest req;
  req.release = "web";
  req.namespace_ = "demo";
  req.chart = {"", "https://charts.example.com", "nginx", "1.2.3"};
  req.dry_run = true;
  auto result = driver.Install(req);
  REQUIRE(result.ok());
  CHECK(json::GetBool(result.body, {"dryRun"}));
  CHECK(json::Find(result.body, {"manifest"}) != nullptr);
  auto args = fake.Lines("arg:");
  CHECK(Contains(args, "--dry-run=server"));
  CHECK(Contains(args, "--hide-secret"));
  CHECK(Contains(args, "--repo"));
  CHECK(Contains(args, "https://charts.example.com"));
  CHECK(Contains(args, "1.2.3"));
  CHECK(Contains(args, "300s"));  // the default timeout
}

TEST_CASE("Helm's environment is built from nothing but what it needs", "[helm]") {
  FakeHelm fake;
  fake.Mode("ok", Testdata("helm4-list.json"));
  ::setenv("SRX_HELM_TEST_SECRET", "must-not-leak", 1);
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("HTTPS_PROXY", "http://proxy.example:3128", 1);
  HelmDriver driver(fake.config);
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("HTTPS_PROXY");
  auto result = driver.List({"demo"});
  REQUIRE(result.ok());
  CHECK(result.body["releases"].Size() == 1);
  auto env = fake.Lines("env:");
  CHECK(Contains(env, "HELM_DRIVER=secret"));
  CHECK(Contains(env, "HOME=" + fake.home.string()));
  CHECK(Contains(env, "HELM_CACHE_HOME=" + fake.home.string() + "/cache"));
  CHECK(Contains(env, "HELM_CONFIG_HOME=" + fake.home.string() + "/config"));
  CHECK(Contains(env, "HELM_DATA_HOME=" + fake.home.string() + "/data"));
  CHECK(Contains(env, "KUBERNETES_SERVICE_HOST=10.96.0.1"));
  CHECK(Contains(env, "HTTPS_PROXY=http://proxy.example:3128"));
  for (const auto& e : env) CHECK(e.find("SRX_HELM_TEST_SECRET") == std::string::npos);
  auto args = fake.Lines("arg:");
  CHECK(args[0] == "list");
  CHECK(Contains(args, "demo"));
}

TEST_CASE("invalid requests never start Helm", "[helm]") {
  FakeHelm fake;
  fake.Mode("ok");
  HelmDriver driver(fake.config);
  InstallRequest bad;
  bad.release = "Bad_Name";
  bad.namespace_ = "demo";
  bad.chart.archive = kGzip;
  auto r = driver.Install(bad);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error->code == Code::kInvalid);
  CHECK_FALSE(fs::exists(fake.home / "record"));
  CHECK(driver.Status({"web", "Bad NS", 0, 0}).error->code == Code::kInvalid);
  CHECK(driver.Uninstall({"", "demo"}).error->code == Code::kInvalid);
  CHECK_FALSE(fs::exists(fake.home / "record"));
}

TEST_CASE("a Helm that outlives its timeout is killed and reported as a timeout", "[helm]") {
  FakeHelm fake;
  fake.Mode("hang");
  fake.config.process_slack = std::chrono::seconds(0);
  HelmDriver driver(fake.config);
  InstallRequest req;
  req.release = "web";
  req.namespace_ = "demo";
  req.chart.archive = kGzip;
  req.timeout = std::chrono::seconds(1);
  auto r = driver.Install(req);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error->code == Code::kTimeout);
  CHECK(fake.RequestDirs().empty());
}

TEST_CASE("a cancelled request stops Helm and says so", "[helm]") {
  FakeHelm fake;
  fake.Mode("hang");
  HelmDriver driver(fake.config);
  actions::ProcessCancel cancel;
  cancel.Cancel();
  auto r = driver.Rollback({"web", "demo", 0, false, false, std::nullopt}, &cancel);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error->code == Code::kCancelled);
}

TEST_CASE("helm status of a missing release is notFound", "[helm]") {
  FakeHelm fake;
  fake.Mode("fail", "", "Error: release: not found\n");
  HelmDriver driver(fake.config);
  auto r = driver.Status({"web", "demo", 0, 0});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error->code == Code::kNotFound);
  CHECK(fake.Lines("arg:")[0] == "status");
}
