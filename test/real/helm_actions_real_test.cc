// The helm.* action kinds (operator/actions/helm_actions.h) through the
// ActionRegistry, with the real Helm binary against a real kube-apiserver,
// side by side with a user running plain `helm` with default settings:
// what the agent installs, upgrades, rolls back and uninstalls is what the
// user's `helm list` / `helm history` show, the agent's helm.list sees the
// user's release, and each executed request leaves its audit Event on the
// release. Chart: test/actions/testdata/charts/configmap-only (ConfigMaps
// only: no kubelet needed); Helm: scripts/install-deps.sh's ($HELM overrides).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>

#include "actions/helm_actions.h"
#include "actions/process.h"
#include "common/base64.h"
#include "common/json.h"
#include "test/real/helm_user.h"
#include "test/real/real_cluster.h"

using namespace srexpert;
using namespace srexpert::actions;
namespace fs = std::filesystem;
using srexpert::testing::real::HelmBinary;
using srexpert::testing::real::HelmUser;
using User = srexpert::testing::real::HelmUser;
const std::string& kChartDir = srexpert::testing::real::kConfigMapChartDir;

namespace {

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

json::Document JsonOf(const ProcessResult& r) {
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  auto doc = json::Parse(r.out);
  REQUIRE(doc);
  return std::move(*doc);
}

// One namespace, a user, and the agent's registry with helm on for that
// namespace only, recording its audit Events with the admin client.
struct World {
  fs::path tmp;
  std::unique_ptr<User> user;
  std::string ns;
  std::string archive_b64;
  helm::HelmConfig config;
  std::unique_ptr<ActionRegistry> registry;
  int next_id = 0;

  explicit World(const std::string& namespace_name) : ns(namespace_name) {
    char tmpl[] = "/tmp/srx-helm-actions-real-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    tmp = tmpl;
    user = std::make_unique<User>(tmp / "user");
    auto pkg = user->Helm({"package", kChartDir, "--destination", tmp.string()});
    INFO(pkg.err);
    REQUIRE(pkg.ok());
    archive_b64 = base64::Encode(Slurp(tmp / "configmap-only-0.1.0.tgz"));
    user->Kubectl({"delete", "namespace", ns, "--wait=true", "--ignore-not-found"});
    auto created = user->Kubectl({"create", "namespace", ns});
    INFO(created.err);
    REQUIRE(created.ok());

    config.binary = HelmBinary();
    config.home = (tmp / "agent-helm").string();
    config.kubeconfig = testing::real::AdminKubeconfig();
    ActionPolicy policy;
    policy.switches["helm"] = true;
    policy.namespaces = {ns};
    policy.agent_namespace = "srexpert-system";
    auto client = testing::real::AdminClient();
    REQUIRE(client.ok());
    registry = std::make_unique<ActionRegistry>(policy, *client);
    for (auto& k : HelmActionKinds(config)) registry->Register(std::move(k));
  }
  ~World() {
    registry.reset();
    user->Kubectl({"delete", "namespace", ns, "--wait=false"});
    fs::remove_all(tmp);
  }

  protocol::Response Call(const std::string& kind, const std::string& payload) {
    std::promise<protocol::Response> p;
    auto f = p.get_future();
    registry->Handle(protocol::Request{"req-" + std::to_string(++next_id), kind, 180000, payload},
                     [&p](protocol::Response r) { p.set_value(std::move(r)); });
    REQUIRE(f.wait_for(std::chrono::seconds(200)) == std::future_status::ready);
    return f.get();
  }
  json::Document Ok(const std::string& kind, const std::string& payload) {
    auto r = Call(kind, payload);
    INFO(kind << ": " << r.error.code << ": " << r.error.message);
    REQUIRE(r.ok);
    auto doc = json::Parse(r.payload);
    REQUIRE(doc);
    return json::Clone(*json::Find(*doc, {"result"}));
  }
  std::string InstallPayload(const std::string& release, const std::string& values) {
    return R"({"namespace":")" + ns + R"(","release":")" + release + R"(","chart":{"archive":")" +
           archive_b64 + R"("},"values":)" + values +
           R"(,"wait":true,"timeoutSeconds":60,"requestedBy":"alice@example.com"})";
  }
  std::string Release(const std::string& release, const std::string& extra = "") {
    return R"({"namespace":")" + ns + R"(","release":")" + release +
           R"(","requestedBy":"alice@example.com")" + extra + "}";
  }
  std::string ConfigMapValue(const std::string& name) {
    auto r = user->Kubectl({"get", "configmap", name, "-n", ns, "-o", "jsonpath={.data.greeting}"});
    return r.ok() ? r.out : "<" + r.err + ">";
  }
};

}  // namespace

TEST_CASE("helm actions through the registry make ordinary releases the user manages",
          "[real][helm][actions]") {
  World w("helm-actions-agent");

  auto installed = w.Ok("helm.install", w.InstallPayload("web", R"({"greeting":"from-agent"})"));
  CHECK(json::GetString(installed, {"name"}) == "web");
  CHECK(json::GetString(installed, {"namespace"}) == w.ns);
  CHECK(json::GetInt(installed, {"revision"}) == 1);
  CHECK(json::GetString(installed, {"status"}) == "deployed");
  CHECK(json::GetString(installed, {"chart", "name"}) == "configmap-only");
  CHECK(json::GetString(installed, {"chart", "appVersion"}) == "1.0");
  CHECK(json::Find(installed, {"notes"}) == nullptr);
  CHECK(json::Dump(installed).find("from-agent") == std::string::npos);  // values not echoed
  CHECK(w.ConfigMapValue("web-settings") == "from-agent");

  // The user's `helm list` / `helm history` see it as any release.
  auto list = JsonOf(w.user->Helm({"list", "-n", w.ns, "-o", "json"}));
  REQUIRE(list.Size() == 1);
  CHECK(json::GetString(list[0], {"name"}) == "web");
  CHECK(json::GetString(list[0], {"status"}) == "deployed");

  // helm.install of a name in use is a conflict; helm.upgrade upgrades it.
  auto again = w.Call("helm.install", w.InstallPayload("web", "{}"));
  CHECK(again.error.code == "conflict");
  auto upgraded = w.Ok("helm.upgrade", w.InstallPayload("web", R"({"greeting":"second"})"));
  CHECK(json::GetInt(upgraded, {"revision"}) == 2);
  CHECK(w.ConfigMapValue("web-settings") == "second");

  auto rolled = w.Ok("helm.rollback", w.Release("web", R"(,"revision":1,"wait":true)"));
  CHECK(json::GetInt(rolled, {"revision"}) == 3);
  CHECK(json::GetString(rolled, {"status"}) == "deployed");
  CHECK(w.ConfigMapValue("web-settings") == "from-agent");

  auto history = JsonOf(w.user->Helm({"history", "web", "-n", w.ns, "-o", "json"}));
  REQUIRE(history.Size() == 3);
  CHECK(json::GetString(history[0], {"status"}) == "superseded");
  CHECK(json::GetString(history[2], {"description"}) == "Rollback to 1");

  auto agent_history = w.Ok("helm.history", w.Release("web"));
  REQUIRE(agent_history["revisions"].Size() == 3);
  CHECK(json::GetString(agent_history["revisions"][2], {"status"}) == "deployed");
  auto status = w.Ok("helm.status", w.Release("web"));
  CHECK(json::GetInt(status, {"revision"}) == 3);
  CHECK(json::GetString(status, {"chart", "version"}) == "0.1.0");

  // Every executed request left its audit Event on the release.
  auto events = JsonOf(w.user->Kubectl(
      {"get", "events", "-n", w.ns, "--field-selector", "reason=SRExpertAction", "-o", "json"}));
  int on_release = 0;
  for (const auto& ev : events["items"].GetArray()) {
    if (json::GetString(ev, {"involvedObject", "kind"}) == "HelmRelease" &&
        json::GetString(ev, {"involvedObject", "name"}) == "web") {
      ++on_release;
      CHECK(json::GetString(ev, {"message"}).find("alice@example.com") != std::string::npos);
    }
  }
  CHECK(on_release >= 6);  // install, install (conflict), upgrade, rollback, history, status

  auto un = w.Ok("helm.uninstall", w.Release("web", R"(,"wait":true)"));
  CHECK(json::GetBool(un, {"uninstalled"}));
  CHECK(JsonOf(w.user->Helm({"list", "-n", w.ns, "-o", "json"})).Size() == 0);
  CHECK(w.ConfigMapValue("web-settings").rfind("<", 0) == 0);  // gone
  auto gone = w.Call("helm.status", w.Release("web"));
  CHECK(gone.error.code == "not_found");
  CHECK(fs::is_empty(fs::path(w.config.home) / "tmp"));  // no chart or values left behind
}

TEST_CASE("the agent's helm.list sees a release the user installed with plain helm",
          "[real][helm][actions]") {
  World w("helm-actions-user");
  auto install =
      w.user->Helm({"install", "mine", kChartDir, "-n", w.ns, "--set", "greeting=by-user"});
  INFO(install.err);
  REQUIRE(install.ok());

  auto list = w.Ok("helm.list", R"({"namespace":")" + w.ns + "\"}");
  REQUIRE(list["releases"].Size() == 1);
  CHECK(json::GetString(list["releases"][0], {"name"}) == "mine");
  CHECK(json::GetString(list["releases"][0], {"namespace"}) == w.ns);
  CHECK(json::GetInt(list["releases"][0], {"revision"}) == 1);
  CHECK(json::GetString(list["releases"][0], {"status"}) == "deployed");
  CHECK(json::GetString(list["releases"][0], {"chart"}) == "configmap-only-0.1.0");

  // The agent upgrades the user's release; the user sees revision 2.
  w.Ok("helm.upgrade", w.InstallPayload("mine", R"({"greeting":"by-agent"})"));
  CHECK(w.ConfigMapValue("mine-settings") == "by-agent");
  auto user_list = JsonOf(w.user->Helm({"list", "-n", w.ns, "-o", "json"}));
  REQUIRE(user_list.Size() == 1);
  CHECK(json::GetString(user_list[0], {"revision"}) == "2");

  // helm.list's audit Event lands on the Namespace it listed.
  auto events = JsonOf(w.user->Kubectl(
      {"get", "events", "-n", w.ns, "--field-selector", "reason=SRExpertAction", "-o", "json"}));
  bool on_namespace = false;
  for (const auto& ev : events["items"].GetArray()) {
    on_namespace |= json::GetString(ev, {"involvedObject", "kind"}) == "Namespace" &&
                    json::GetString(ev, {"message"}).find("helm.list") != std::string::npos;
  }
  CHECK(on_namespace);

  // Outside spec.actions.namespaces the registry refuses before Helm runs.
  auto other = w.Call("helm.list", R"({"namespace":"default"})");
  CHECK(other.error.code == "forbidden");
}
