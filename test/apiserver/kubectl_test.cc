// Real kubectl (/usr/bin/kubectl) against an in-process server, with a
// generated kubeconfig and a throw-away HOME.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test/apiserver/api_server.h"
#include "test/apiserver/kubectl_runner.h"
#include "test/apiserver/test_client.h"

using srexpert::testing::ApiServer;
using srexpert::testing::Eventually;
using srexpert::testing::Kubectl;
namespace fs = std::filesystem;

namespace {

ApiServer& Started(ApiServer& s) {
  s.Start();
  return s;
}

struct Fixture {
  ApiServer server;
  Kubectl kubectl{Started(server).KubeconfigFile()};
};

const char kConfigMap[] = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
  labels: {app: demo}
data:
  key: one
)";

}  // namespace

TEST_CASE_METHOD(Fixture, "kubectl get lists namespaces and -o yaml prints objects", "[apiserver][kubectl]") {
  auto r = kubectl.Run({"get", "namespaces"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("kube-system") != std::string::npos);
  r = kubectl.Run({"get", "namespace", "default", "-o", "yaml"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("kind: Namespace") != std::string::npos);
  CHECK(r.output.find("phase: Active") != std::string::npos);
}

TEST_CASE_METHOD(Fixture, "kubectl create -f, get and delete a ConfigMap", "[apiserver][kubectl]") {
  auto file = kubectl.Write("cm.yaml", kConfigMap);
  auto r = kubectl.Run({"create", "-f", file});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("configmap/demo created") != std::string::npos);
  r = kubectl.Run({"create", "-f", file});
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("AlreadyExists") != std::string::npos);
  r = kubectl.Run({"get", "configmap", "demo", "-o", "jsonpath={.data.key}"});
  CHECK(r.output == "one");
  r = kubectl.Run({"delete", "configmap", "demo"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  r = kubectl.Run({"get", "configmap", "demo"});
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("NotFound") != std::string::npos);
}

TEST_CASE_METHOD(Fixture, "kubectl apply --server-side is idempotent and reports conflicts", "[apiserver][kubectl][ssa]") {
  auto file = kubectl.Write("cm.yaml", kConfigMap);
  auto r = kubectl.Run({"apply", "--server-side", "-f", file});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("configmap/demo serverside-applied") != std::string::npos);
  r = kubectl.Run({"apply", "--server-side", "-f", file});
  REQUIRE(r.exit_code == 0);
  // Another manager takes the field over...
  r = kubectl.Run({"patch", "configmap", "demo", "--type=merge", "-p", R"({"data":{"key":"two"}})"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // ...so re-applying the old value conflicts until forced.
  r = kubectl.Run({"apply", "--server-side", "-f", file});
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("Apply failed with 1 conflict") != std::string::npos);
  CHECK(r.output.find(".data.key") != std::string::npos);
  r = kubectl.Run({"apply", "--server-side", "--force-conflicts", "-f", file});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  r = kubectl.Run({"get", "configmap", "demo", "-o", "jsonpath={.data.key}"});
  CHECK(r.output == "one");
  r = kubectl.Run({"get", "configmap", "demo", "-o", "yaml", "--show-managed-fields"});
  CHECK(r.output.find("operation: Apply") != std::string::npos);
}

TEST_CASE_METHOD(Fixture, "kubectl get -w streams changes", "[apiserver][kubectl][watch]") {
  auto file = kubectl.Write("cm.yaml", kConfigMap);
  REQUIRE(kubectl.Run({"create", "-f", file}).exit_code == 0);
  std::string out = kubectl.home() + "/watch.txt";
  pid_t pid = kubectl.Spawn({"get", "configmaps", "-w", "--output-watch-events"}, out);
  CHECK(Eventually([&] { return Kubectl::Slurp(out).find("demo") != std::string::npos; }));
  REQUIRE(kubectl.Run({"label", "configmap", "demo", "tier=web"}).exit_code == 0);
  CHECK(Eventually([&] { return Kubectl::Slurp(out).find("MODIFIED") != std::string::npos; }));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
}

TEST_CASE_METHOD(Fixture, "kubectl delete namespace removes it and its content", "[apiserver][kubectl][namespaces]") {
  // `kubectl create namespace` would send protobuf (unsupported, 415), so
  // create it from a manifest like GitOps tools do.
  auto ns = kubectl.Write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n");
  REQUIRE(kubectl.Run({"create", "-f", ns}).exit_code == 0);
  auto file = kubectl.Write("cm.yaml", kConfigMap);
  auto r = kubectl.Run({"create", "-n", "team", "-f", file});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  r = kubectl.Run({"delete", "namespace", "team"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("namespace \"team\" deleted") != std::string::npos);
  r = kubectl.Run({"get", "namespace", "team"});
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("NotFound") != std::string::npos);
  CHECK(kubectl.Run({"get", "configmaps", "-n", "team", "-o", "name"}).output.empty());
}

TEST_CASE_METHOD(Fixture, "kubectl applies a CRD and then a custom resource of it", "[apiserver][kubectl][crd]") {
  auto crd = kubectl.Write("crd.yaml", R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
)");
  auto r = kubectl.Run({"apply", "--server-side", "-f", crd});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto cr = kubectl.Write("cr.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n");
  r = kubectl.Run({"apply", "--server-side", "-f", cr});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("widget.example.com/w1 serverside-applied") != std::string::npos);
  r = kubectl.Run({"get", "wd", "w1", "-o", "jsonpath={.spec.size}"});
  INFO(r.output);
  CHECK(r.output == "3");
}
