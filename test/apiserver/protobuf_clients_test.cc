// The real clients that send protobuf bodies (issue #13) against the test
// server: Helm 4 stores its releases as Secrets through a typed client
// (create, update, delete in application/vnd.kubernetes.protobuf), and
// kubectl's `create <generator>` commands do the same for the kinds they
// build.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "test/apiserver/api_server.h"
#include "test/apiserver/kubectl_runner.h"
#include "test/apiserver/server_fixture.h"
#include "test/apiserver/test_client.h"

using srexpert::testing::ApiServer;
using srexpert::testing::Kubectl;
using srexpert::testing::TestClient;
namespace json = srexpert::json;

namespace {

// $HELM, else the binary scripts/install-deps.sh puts into .tools.
std::string HelmPath() {
  const char* env = std::getenv("HELM");
  return env ? env : SRX_SOURCE_DIR "/.tools/helm/helm";
}

const char kChart[] = SRX_SOURCE_DIR "/test/actions/testdata/charts/configmap-only";

using Fixture = srexpert::testing::ServerFixture;

// The release Secrets of `release` in `ns` (Helm's default storage driver).
size_t ReleaseSecrets(TestClient& client, const std::string& ns, const std::string& release) {
  auto r = client.Get("/api/v1/namespaces/" + ns + "/secrets?labelSelector=owner%3Dhelm,name%3D" +
                      release);
  REQUIRE(r.status == 200);
  return json::Find(r.Json(), {"items"})->Size();
}

}  // namespace

TEST_CASE_METHOD(Fixture, "helm installs, upgrades, rolls back and uninstalls a chart on the test server",
                 "[apiserver][protobuf][helm]") {
  INFO("helm binary: " << HelmPath() << " (scripts/install-deps.sh installs it)");
  REQUIRE(std::filesystem::exists(HelmPath()));
  Kubectl helm(server.KubeconfigFile(), HelmPath());

  auto install = helm.Run({"install", "demo", kChart, "-n", "default", "--set", "greeting=hi"});
  INFO(install.output);
  REQUIRE(install.exit_code == 0);
  auto cm = client.Get("/api/v1/namespaces/default/configmaps/demo-settings");
  INFO(cm.body);
  REQUIRE(cm.status == 200);
  CHECK(json::GetString(cm.Json(), {"data", "greeting"}) == "hi");
  auto secret = client.Get("/api/v1/namespaces/default/secrets/sh.helm.release.v1.demo.v1").Json();
  CHECK(json::GetString(secret, {"type"}) == "helm.sh/release.v1");
  CHECK(json::GetString(secret, {"metadata", "labels", "status"}) == "deployed");
  CHECK_FALSE(json::GetString(secret, {"data", "release"}).empty());

  auto upgrade = helm.Run({"upgrade", "demo", kChart, "-n", "default", "--set", "greeting=ho"});
  INFO(upgrade.output);
  REQUIRE(upgrade.exit_code == 0);
  CHECK(ReleaseSecrets(client, "default", "demo") == 2);
  auto first = client.Get("/api/v1/namespaces/default/secrets/sh.helm.release.v1.demo.v1").Json();
  CHECK(json::GetString(first, {"metadata", "labels", "status"}) == "superseded");

  auto list = helm.Run({"list", "-n", "default", "-o", "json"});
  REQUIRE(list.exit_code == 0);
  CHECK(list.output.find(R"("status":"deployed")") != std::string::npos);

  // Back to revision 1's values, as revision 3.
  auto rollback = helm.Run({"rollback", "demo", "1", "-n", "default"});
  INFO(rollback.output);
  REQUIRE(rollback.exit_code == 0);
  CHECK(ReleaseSecrets(client, "default", "demo") == 3);
  auto rolled = client.Get("/api/v1/namespaces/default/configmaps/demo-settings");
  CHECK(json::GetString(rolled.Json(), {"data", "greeting"}) == "hi");
  auto third = client.Get("/api/v1/namespaces/default/secrets/sh.helm.release.v1.demo.v3").Json();
  CHECK(json::GetString(third, {"metadata", "labels", "status"}) == "deployed");

  auto uninstall = helm.Run({"uninstall", "demo", "-n", "default"});
  INFO(uninstall.output);
  REQUIRE(uninstall.exit_code == 0);
  CHECK(ReleaseSecrets(client, "default", "demo") == 0);
  CHECK(client.Get("/api/v1/namespaces/default/configmaps/demo-settings").status == 404);
}

TEST_CASE_METHOD(Fixture, "kubectl create generators send protobuf the test server decodes",
                 "[apiserver][protobuf][kubectl]") {
  Kubectl kubectl(server.KubeconfigFile());
  auto run = [&](std::vector<std::string> args) {
    auto r = kubectl.Run(args);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    return r.output;
  };
  run({"create", "namespace", "gen"});
  run({"-n", "gen", "create", "secret", "generic", "s", "--from-literal=password=hunter2"});
  run({"-n", "gen", "create", "configmap", "c", "--from-literal=k=v"});
  run({"-n", "gen", "create", "serviceaccount", "sa"});
  run({"-n", "gen", "create", "role", "r", "--verb=get", "--resource=pods"});
  run({"-n", "gen", "create", "rolebinding", "rb", "--role=r", "--serviceaccount=gen:sa"});
  run({"-n", "gen", "create", "service", "clusterip", "svc", "--tcp=80:8080"});
  run({"-n", "gen", "create", "deployment", "web", "--image=nginx", "--port=80", "--replicas=2"});
  run({"-n", "gen", "run", "p", "--image=nginx", "--env=A=b", "--restart=Never"});
  // The decoded objects are what the same commands store on kube-apiserver
  // v1.26 (compared by hand with `kubectl get -o json`: identical but for
  // the Service and Pod defaults the test server does not model).
  auto first = [](const json::Value& v,
                  std::initializer_list<std::string_view> path) -> const json::Value& {
    const auto* list = json::Find(v, path);
    REQUIRE(list != nullptr);
    REQUIRE(list->IsArray());
    REQUIRE(list->Size() > 0);
    return (*list)[0];
  };
  auto deployment = client.Get("/apis/apps/v1/namespaces/gen/deployments/web").Json();
  CHECK(json::GetInt(deployment, {"spec", "replicas"}) == 2);
  const auto& container = first(deployment, {"spec", "template", "spec", "containers"});
  CHECK(json::GetInt(first(container, {"ports"}), {"containerPort"}) == 80);
  auto svc = client.Get("/api/v1/namespaces/gen/services/svc").Json();
  CHECK(json::GetInt(first(svc, {"spec", "ports"}), {"targetPort"}) == 8080);
  auto binding =
      client.Get("/apis/rbac.authorization.k8s.io/v1/namespaces/gen/rolebindings/rb").Json();
  CHECK(json::GetString(binding, {"roleRef", "name"}) == "r");
  CHECK(json::GetString(first(binding, {"subjects"}), {"kind"}) == "ServiceAccount");
  auto pod = client.Get("/api/v1/namespaces/gen/pods/p").Json();
  CHECK(json::GetString(first(first(pod, {"spec", "containers"}), {"env"}), {"value"}) == "b");
  // A typed delete sends its DeleteOptions in protobuf too.
  run({"-n", "gen", "delete", "configmap", "c"});
  CHECK(client.Get("/api/v1/namespaces/gen/configmaps/c").status == 404);
}
