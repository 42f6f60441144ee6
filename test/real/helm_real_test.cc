// The Helm driver (operator/actions/helm.h) with the real Helm binary against
// a real kube-apiserver, side by side with a user running plain `helm` with
// default settings: releases the driver makes are ordinary Helm releases the
// user lists, inspects and uninstalls, and releases the user makes are ones
// the driver lists, upgrades and rolls back. Helm is the one the project
// fetches (scripts/install-deps.sh; $HELM overrides), the chart is
// test/actions/testdata/charts/configmap-only (ConfigMaps only: no kubelet).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "actions/helm.h"
#include "actions/process.h"
#include "common/json.h"
#include "test/real/helm_user.h"
#include "test/real/real_cluster.h"

using namespace srexpert;
using namespace srexpert::actions;
using namespace srexpert::actions::helm;
namespace fs = std::filesystem;
using srexpert::testing::real::HelmBinary;
using srexpert::testing::real::HelmUser;
using User = srexpert::testing::real::HelmUser;
const std::string& kChartDir = srexpert::testing::real::kConfigMapChartDir;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/srx-helm-real-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
};

json::Document JsonOf(const ProcessResult& r) {
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  auto doc = json::Parse(r.out);
  REQUIRE(doc);
  return std::move(*doc);
}

std::string ConfigMapValue(User& user, const std::string& ns, const std::string& name) {
  auto r = user.Kubectl({"get", "configmap", name, "-n", ns, "-o", "jsonpath={.data.greeting}"});
  return r.ok() ? r.out : "<" + r.err + ">";
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct World {
  TempDir tmp;
  User user{tmp.path / "user"};
  HelmConfig config;
  std::string archive;
  std::string ns;

  explicit World(const std::string& namespace_name) : ns(namespace_name) {
    fs::create_directories(tmp.path / "user");
    config.binary = HelmBinary();
    config.home = (tmp.path / "agent-helm").string();
    config.kubeconfig = testing::real::AdminKubeconfig();
    // The backend sends the chart as a .tgz: `helm package` makes one.
    auto pkg = user.Helm({"package", kChartDir, "--destination", tmp.path.string()});
    INFO(pkg.err);
    REQUIRE(pkg.ok());
    archive = Slurp(tmp.path / "configmap-only-0.1.0.tgz");
    REQUIRE(archive.size() > 100);
    user.Kubectl({"delete", "namespace", ns, "--wait=true", "--ignore-not-found"});
    auto created = user.Kubectl({"create", "namespace", ns});
    INFO(created.err);
    REQUIRE(created.ok());
  }
  ~World() { user.Kubectl({"delete", "namespace", ns, "--wait=false"}); }

  InstallRequest Install(const std::string& release, const std::string& values) {
    InstallRequest req;
    req.upgrade = true;
    req.release = release;
    req.namespace_ = ns;
    req.chart.archive = archive;
    req.values_json = values;
    req.wait = true;
    req.timeout = std::chrono::seconds(60);
    return req;
  }
};

}  // namespace

TEST_CASE("a release the driver installs is an ordinary release for plain helm", "[real][helm]") {
  World w("helm-real-agent");
  HelmDriver driver(w.config);

  auto installed = driver.Install(w.Install("web", R"({"greeting":"from-agent"})"));
  INFO((installed.error ? installed.error->message : ""));
  REQUIRE(installed.ok());
  CHECK(json::GetInt(installed.body, {"revision"}) == 1);
  CHECK(json::GetString(installed.body, {"status"}) == "deployed");
  CHECK(json::GetString(installed.body, {"chart", "name"}) == "configmap-only");
  CHECK(ConfigMapValue(w.user, w.ns, "web-settings") == "from-agent");

  // Stored as Helm's default driver stores it: a release Secret.
  auto secrets = w.user.Kubectl({"get", "secrets", "-n", w.ns, "-l", "owner=helm,name=web", "-o",
                                 "jsonpath={.items[*].type}"});
  CHECK(secrets.out == "helm.sh/release.v1");
  auto cms = w.user.Kubectl({"get", "configmaps", "-n", w.ns, "-l", "owner=helm", "-o", "name"});
  CHECK(cms.out.empty());

  // The user sees it with `helm list`.
  auto list = JsonOf(w.user.Helm({"list", "-n", w.ns, "-o", "json"}));
  REQUIRE(list.IsArray());
  REQUIRE(list.Size() == 1);
  CHECK(json::GetString(list[0], {"name"}) == "web");
  CHECK(json::GetString(list[0], {"status"}) == "deployed");

  // An upgrade, a dry run (which changes nothing) and a rollback by the driver...
  auto upgraded = driver.Install(w.Install("web", R"({"greeting":"second","extra":true})"));
  REQUIRE(upgraded.ok());
  CHECK(json::GetInt(upgraded.body, {"revision"}) == 2);
  CHECK(ConfigMapValue(w.user, w.ns, "web-settings") == "second");

  auto dry = w.Install("web", R"({"greeting":"never"})");
  dry.dry_run = true;
  auto dry_run = driver.Install(dry);
  INFO((dry_run.error ? dry_run.error->message : ""));
  REQUIRE(dry_run.ok());
  CHECK(json::GetBool(dry_run.body, {"dryRun"}));
  CHECK(json::GetString(dry_run.body, {"manifest"}).find("never") != std::string::npos);
  CHECK(ConfigMapValue(w.user, w.ns, "web-settings") == "second");

  auto rolled = driver.Rollback({"web", w.ns, 1, false, true, std::chrono::seconds(60)});
  INFO((rolled.error ? rolled.error->message : ""));
  REQUIRE(rolled.ok());
  CHECK(json::GetInt(rolled.body, {"revision"}) == 3);
  CHECK(json::GetString(rolled.body, {"chart", "name"}) == "configmap-only");
  CHECK(ConfigMapValue(w.user, w.ns, "web-settings") == "from-agent");

  // ...are the user's `helm history`.
  auto history = JsonOf(w.user.Helm({"history", "web", "-n", w.ns, "-o", "json"}));
  REQUIRE(history.Size() == 3);
  CHECK(json::GetString(history[0], {"status"}) == "superseded");
  CHECK(json::GetString(history[2], {"description"}) == "Rollback to 1");

  // The user uninstalls it; the driver sees it gone.
  auto un = w.user.Helm({"uninstall", "web", "-n", w.ns});
  INFO(un.err);
  REQUIRE(un.ok());
  auto after = driver.List({w.ns});
  REQUIRE(after.ok());
  CHECK(after.body["releases"].Size() == 0);
  auto status = driver.Status({"web", w.ns, 0, 0});
  REQUIRE_FALSE(status.ok());
  CHECK(status.error->code == HelmError::Code::kNotFound);
  CHECK(ConfigMapValue(w.user, w.ns, "web-settings").rfind("<", 0) == 0);  // gone
  CHECK(fs::is_empty(fs::path(w.config.home) / "tmp"));  // no chart or values left behind
}

TEST_CASE("a release the user installs with plain helm is one the driver manages", "[real][helm]") {
  World w("helm-real-user");
  HelmDriver driver(w.config);

  auto install =
      w.user.Helm({"install", "mine", kChartDir, "-n", w.ns, "--set", "greeting=by-user"});
  INFO(install.err);
  REQUIRE(install.ok());

  auto list = driver.List({w.ns});
  REQUIRE(list.ok());
  REQUIRE(list.body["releases"].Size() == 1);
  CHECK(json::GetString(list.body["releases"][0], {"name"}) == "mine");
  CHECK(json::GetInt(list.body["releases"][0], {"revision"}) == 1);

  auto status = driver.Status({"mine", w.ns, 0, 0});
  REQUIRE(status.ok());
  CHECK(json::GetString(status.body, {"notes"}) == "mine says by-user.\n");

  // A plain install (not install-or-upgrade) of an existing name is a conflict.
  auto again = w.Install("mine", "{}");
  again.upgrade = false;
  auto conflict = driver.Install(again);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error->code == HelmError::Code::kConflict);

  auto upgraded = driver.Install(w.Install("mine", R"({"greeting":"by-agent"})"));
  INFO((upgraded.error ? upgraded.error->message : ""));
  REQUIRE(upgraded.ok());
  CHECK(json::GetInt(upgraded.body, {"revision"}) == 2);
  CHECK(ConfigMapValue(w.user, w.ns, "mine-settings") == "by-agent");

  auto rolled = driver.Rollback({"mine", w.ns, 0, false, false, std::nullopt});
  REQUIRE(rolled.ok());
  CHECK(ConfigMapValue(w.user, w.ns, "mine-settings") == "by-user");

  auto history = driver.History({"mine", w.ns, 0, 0});
  REQUIRE(history.ok());
  REQUIRE(history.body["revisions"].Size() == 3);
  CHECK(json::GetString(history.body["revisions"][2], {"status"}) == "deployed");

  auto dry = driver.Uninstall({"mine", w.ns, true});
  REQUIRE(dry.ok());
  CHECK(JsonOf(w.user.Helm({"list", "-n", w.ns, "-o", "json"})).Size() == 1);
  auto un = driver.Uninstall({"mine", w.ns});
  REQUIRE(un.ok());
  CHECK(json::GetBool(un.body, {"uninstalled"}));
  CHECK(JsonOf(w.user.Helm({"list", "-n", w.ns, "-o", "json"})).Size() == 0);
}

TEST_CASE("the driver works with exactly the RBAC docs/helm.md lists, and nothing else",
          "[real][helm]") {
  World w("helm-real-rbac");
  // A ServiceAccount holding only the documented namespaced rules: release
  // storage (Secrets) and the chart's kinds (ConfigMaps for this chart).
  const std::string role = R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role",
    "metadata":{"name":"helm-actions","namespace":")" +
                           w.ns + R"("},
    "rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get","list","create","update","delete"]},
             {"apiGroups":[""],"resources":["configmaps"],"verbs":["get","list","watch","create","update","patch","delete"]}]})";
  std::ofstream(w.tmp.path / "role.json") << role;
  REQUIRE(w.user.Kubectl({"apply", "-f", (w.tmp.path / "role.json").string()}).ok());
  REQUIRE(w.user.Kubectl({"create", "serviceaccount", "agent", "-n", w.ns}).ok());
  REQUIRE(w.user
              .Kubectl({"create", "rolebinding", "helm-actions", "-n", w.ns, "--role=helm-actions",
                        "--serviceaccount=" + w.ns + ":agent"})
              .ok());
  auto token = w.user.Kubectl({"create", "token", "agent", "-n", w.ns});
  INFO(token.err);
  REQUIRE(token.ok());
  // The admin kubeconfig's cluster, the ServiceAccount's token.
  const std::string kc = (w.tmp.path / "agent.kubeconfig").string();
  fs::copy_file(testing::real::AdminKubeconfig(), kc);
  auto as_sa = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "kubectl", "--kubeconfig", kc});
    ProcessSpec spec;
    spec.argv = std::move(args);
    spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + w.tmp.path.string()};
    return RunProcess(spec);
  };
  std::string tok = token.out;
  while (!tok.empty() && tok.back() == '\n') tok.pop_back();
  REQUIRE(as_sa({"config", "set-credentials", "agent-sa", "--token=" + tok}).ok());
  REQUIRE(as_sa({"config", "set-context", "--current", "--user=agent-sa"}).ok());
  w.config.kubeconfig = kc;
  HelmDriver driver(w.config);

  auto installed = driver.Install(w.Install("scoped", R"({"greeting":"least-privilege"})"));
  INFO((installed.error ? installed.error->message : ""));
  REQUIRE(installed.ok());
  CHECK(ConfigMapValue(w.user, w.ns, "scoped-settings") == "least-privilege");
  REQUIRE(driver.Install(w.Install("scoped", R"({"greeting":"again","extra":true})")).ok());
  auto status = driver.Status({"scoped", w.ns, 0, 0});
  INFO((status.error ? status.error->message : ""));
  REQUIRE(status.ok());
  REQUIRE(driver.History({"scoped", w.ns, 0, 0}).ok());
  REQUIRE(driver.Rollback({"scoped", w.ns, 1, false, true, std::chrono::seconds(60)}).ok());
  auto list = driver.List({w.ns});
  REQUIRE(list.ok());
  CHECK(list.body["releases"].Size() == 1);

  // Another namespace is out of reach: forbidden, reported as such.
  auto elsewhere = driver.List({"default"});
  REQUIRE_FALSE(elsewhere.ok());
  CHECK(elsewhere.error->code == HelmError::Code::kForbidden);

  REQUIRE(driver.Uninstall({"scoped", w.ns, false, false, true, std::chrono::seconds(60)}).ok());
  CHECK(JsonOf(w.user.Helm({"list", "-n", w.ns, "-o", "json"})).Size() == 0);
}

namespace {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool Listening(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("a chart from a repository reference is fetched by helm itself", "[real][helm]") {
  World w("helm-real-repo");
  // A chart repository: the packaged chart and Helm's index.yaml, served over HTTP.
  fs::path repo = w.tmp.path / "repo";
  fs::create_directories(repo);
  fs::copy_file(w.tmp.path / "configmap-only-0.1.0.tgz", repo / "configmap-only-0.1.0.tgz");
  const int port = FreePort();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto index = w.user.Helm({"repo", "index", repo.string(), "--url", url});
  INFO(index.err);
  REQUIRE(index.ok());
  ProcessCancel stop_server;
  std::thread server([&] {
    ProcessSpec spec;
    spec.argv = {"/usr/bin/python3", "-m",        "http.server",
                 "--bind",           "127.0.0.1", std::to_string(port)};
    spec.working_dir = repo.string();
    spec.timeout = std::chrono::seconds(300);
    RunProcess(spec, &stop_server);
  });
  for (int i = 0; i < 100 && !Listening(port); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));

  HelmDriver driver(w.config);
  auto req = w.Install("fetched", R"({"greeting":"from-repo"})");
  req.chart = {"", url, "configmap-only", "0.1.0"};
  auto installed = driver.Install(req);
  auto missing_req = req;
  missing_req.release = "missing";
  missing_req.chart.version = "9.9.9";
  auto missing = driver.Install(missing_req);
  stop_server.Cancel();
  server.join();

  INFO((installed.error ? installed.error->message : ""));
  REQUIRE(installed.ok());
  CHECK(json::GetString(installed.body, {"chart", "version"}) == "0.1.0");
  CHECK(ConfigMapValue(w.user, w.ns, "fetched-settings") == "from-repo");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error->code == HelmError::Code::kFailed);
  CHECK_THAT(missing.error->message, Catch::Matchers::Contains("9.9.9"));
  CHECK(fs::is_empty(fs::path(w.config.home) / "tmp"));
}
