// The engine around the checks (operator/scan/engine.cc): selection,
// configured severities, exemptions, owned objects, context-only objects
// and deterministic output.
#include <catch2/catch.hpp>

#include <map>

#include "scan/config.h"
#include "scan/engine.h"
#include "test/scan/scan_test_support.h"

using namespace srexpert;
using namespace srexpert::scan;
using namespace srexpert::testing::scan;

namespace {

std::shared_ptr<ScanConfig> Config(const std::string& yaml) {
  auto c = std::make_shared<ScanConfig>();
  std::string error = ParseConfig(yaml, c.get());
  INFO(yaml);
  REQUIRE(error == "");
  return c;
}

const std::string kBadPod =
    "apiVersion: v1\nkind: Pod\nmetadata: {name: target, namespace: apps%s}\n"
    "spec: {hostIPC: true, containers: [{name: app, image: 'i:1'}, {name: sidecar, image: 'i:1'}]}\n";

std::string BadPod(const std::string& annotations = "") {
  std::string s = kBadPod;
  s.replace(s.find("%s"), 2, annotations.empty() ? "" : ", annotations: " + annotations);
  return s;
}

}  // namespace

TEST_CASE("only and skip take ids, Polaris names and categories", "[scan][engine]") {
  ScanOptions only;
  only.only = {"hostIPCSet", "rbac"};
  auto s = ScanText(BadPod(), only);
  for (const auto& f : s->report.findings) {
    CHECK((s->report.Check(f).id == "host-ipc" || s->report.Check(f).category == Category::kRbac));
  }
  CHECK(Results(*s, "host-ipc").size() == 1);
  ScanOptions skip;
  skip.skip = {"security", "reliability"};
  auto s2 = ScanText(BadPod(), skip);
  CHECK(Results(*s2, "host-ipc").empty());
  CHECK(Results(*s2, "cpu-limits").size() == 2);
  ScanOptions bad;
  bad.only = {"no-such-check"};
  CHECK(ValidateSelection(bad) == "no check or category named \"no-such-check\"");
}

TEST_CASE("a Polaris config selects checks and sets severities", "[scan][engine][config]") {
  ScanOptions o;
  o.config = Config("checks:\n  hostIPCSet: warning\n  cpu-limits: ignore\n  pss-privileged: ignore\n");
  auto s = ScanText(BadPod(), o);
  auto ipc = Results(*s, "host-ipc");
  REQUIRE(ipc.size() == 1);
  CHECK(ipc[0]->severity == Severity::kWarning);
  CHECK(Results(*s, "cpu-limits").empty());
  CHECK(Results(*s, "image-tag").empty());  // a Polaris check the config does not list
  CHECK(Results(*s, "pss-privileged").empty());
  CHECK(Results(*s, "pss-host-namespaces").size() == 1);  // not a Polaris check: still runs
}

TEST_CASE("exemptions: annotations, per check or all", "[scan][engine][exemptions]") {
  auto ipc = [](const std::string& annotations, ScanOptions o = {}) {
    auto s = ScanText(BadPod(annotations), o);
    return Results(*s, "host-ipc").size();
  };
  CHECK(ipc("") == 1);
  CHECK(ipc("{polaris.fairwinds.com/hostIPCSet-exempt: 'true'}") == 0);
  CHECK(ipc("{polaris.fairwinds.com/host-ipc-exempt: 'TRUE'}") == 0);
  CHECK(ipc("{polaris.fairwinds.com/hostIPCSet-exempt: 'false'}") == 1);
  CHECK(ipc("{polaris.fairwinds.com/exempt: 'true'}") == 0);
  CHECK(ipc("{scan.srexpert.io/exempt: 'cpu-limits, host-ipc'}") == 0);
  CHECK(ipc("{scan.srexpert.io/exempt: '*'}") == 0);
  ScanOptions strict;
  strict.config = Config("disallowAnnotationExemptions: true\n");
  CHECK(ipc("{scan.srexpert.io/exempt: host-ipc}", strict) == 1);
}

TEST_CASE("exemptions: configuration by namespace, controller and container prefix", "[scan][engine][exemptions]") {
  ScanOptions o;
  o.config = Config(
      "exemptions:\n"
      "  - namespace: apps\n    controllerNames: [targ]\n    rules: [hostIPCSet]\n"
      "  - containerNames: [side]\n    rules: [cpu-limits]\n"
      "  - namespace: other\n    rules: [image-pull-policy]\n");
  auto s = ScanText(BadPod(), o);
  CHECK(Results(*s, "host-ipc").empty());
  CHECK(Results(*s, "cpu-limits", "target", "sidecar").empty());
  CHECK(Results(*s, "cpu-limits", "target", "app").size() == 1);
  CHECK(Results(*s, "image-pull-policy").size() == 2);
  o.config = Config(
      "disallowExemptions: true\nexemptions:\n  - rules: [hostIPCSet]\n");
  auto s2 = ScanText(BadPod("{polaris.fairwinds.com/exempt: 'true'}"), o);
  CHECK(Results(*s2, "host-ipc").size() == 1);
}

TEST_CASE("objects whose controller is scanned are reported through it", "[scan][engine]") {
  std::string yaml = ModelDeployment() +
                     "\n---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: target-1, namespace: apps, "
                     "ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: target, uid: u, controller: true}]}\n"
                     "spec: {template: {spec: {containers: [{name: app, image: 'i:1'}]}}}\n---\n"
                     "apiVersion: v1\nkind: Pod\nmetadata: {name: target-1-x, namespace: apps, ownerReferences: "
                     "[{apiVersion: apps/v1, kind: ReplicaSet, name: target-1, uid: u, controller: true}]}\n"
                     "spec: {hostPID: true, containers: [{name: app, image: 'i:1'}]}\n---\n"
                     "apiVersion: v1\nkind: Pod\nmetadata: {name: orphan, namespace: apps, ownerReferences: "
                     "[{apiVersion: apps/v1, kind: ReplicaSet, name: gone, uid: u, controller: true}]}\n"
                     "spec: {containers: [{name: app, image: 'i:1'}]}\n";
  auto s = ScanText(yaml);
  CHECK(Results(*s, "host-pid", "target-1-x").empty());
  CHECK(Results(*s, "host-pid", "target-1").empty());
  CHECK(Results(*s, "host-pid", "orphan").size() == 1);
  // Readiness still counts every Pod.
  REQUIRE(s->report.namespaces.size() == 1);
  CHECK(s->report.namespaces[0].pods == 2);
  CHECK(s->report.namespaces[0].meets == PssLevel::kPrivileged);
  ScanOptions all;
  all.skip_owned = false;
  auto s2 = ScanText(yaml, all);
  CHECK(Results(*s2, "host-pid", "target-1-x").size() == 1);
}

TEST_CASE("context-only objects are used for lookups and never reported", "[scan][engine]") {
  auto role = json::Parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"r"},"rules":[{"apiGroups":[""],"resources":["pods/exec"],"verbs":["create"]}]})");
  auto binding = json::Parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"b","namespace":"apps"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"r"},"subjects":[{"kind":"User","name":"u"}]})");
  std::vector<Object> objects = {MakeObject(*role), MakeObject(*binding)};
  objects[0].context_only = true;
  Report r = Scan(objects, {});
  bool role_reported = false, exec_failed = false;
  for (const auto& f : r.findings) {
    role_reported |= f.object == 0;
    exec_failed |= r.Check(f).id == "rolebinding-clusterrole-pod-exec-attach" && !f.passed;
  }
  CHECK_FALSE(role_reported);
  CHECK(exec_failed);
}

TEST_CASE("objects without apiVersion and kind take the ones the caller knows", "[scan][engine]") {
  // The leader's cached objects carry neither.
  auto pod = json::Parse(R"({"metadata":{"name":"p","namespace":"n"},"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"i:1"}]}})");
  Object o = MakeObject(*pod, "Pod", "v1");
  CHECK(o.ref.kind == "Pod");
  CHECK(o.ref.api_version == "v1");
  CHECK(o.ref.ns == "n");
  Report r = Scan({o}, {});
  bool failed = false;
  for (const auto& f : r.findings) failed |= r.Check(f).id == "host-network" && !f.passed;
  CHECK(failed);
}

TEST_CASE("the same input gives the same report", "[scan][engine]") {
  auto a = ScanText(ModelStream("{\"image\":\"x\"}") + "---\n" + BadPod());
  auto b = ScanText(ModelStream("{\"image\":\"x\"}") + "---\n" + BadPod());
  REQUIRE(a->report.findings.size() == b->report.findings.size());
  for (size_t i = 0; i < a->report.findings.size(); ++i) {
    CHECK(a->report.findings[i].check == b->report.findings[i].check);
    CHECK(a->report.findings[i].passed == b->report.findings[i].passed);
    CHECK(a->report.Message(a->report.findings[i]) == b->report.Message(b->report.findings[i]));
  }
}

TEST_CASE("the leader's projected objects are read where they differ from manifests", "[scan][engine]") {
  // docs/streaming.md: volumes keep a type, probes their handler kind,
  // ConfigMaps their key names.
  auto pod = json::Parse(
      R"({"metadata":{"name":"p","namespace":"n"},"spec":{"volumes":[{"name":"h","type":"hostPath","path":"/"},)"
      R"({"name":"s","type":"nfs","server":"x","path":"/"}],)"
      R"("containers":[{"name":"c","image":"i:1","probes":{"readiness":"httpGet"}}]}})");
  auto cm = json::Parse(R"({"metadata":{"name":"cm","namespace":"n"},"dataKeys":["db-password"]})");
  Report r = Scan({MakeObject(*pod, "Pod", "v1"), MakeObject(*cm, "ConfigMap", "v1")}, {});
  std::map<std::string, bool> verdict;
  for (const auto& f : r.findings) verdict[std::string(r.Check(f).id)] = f.passed;
  CHECK_FALSE(verdict.at("host-path"));
  CHECK_FALSE(verdict.at("pss-host-path-volumes"));
  CHECK_FALSE(verdict.at("pss-volume-types"));
  CHECK(verdict.at("readiness-probe"));
  CHECK_FALSE(verdict.at("liveness-probe"));
  CHECK_FALSE(verdict.at("sensitive-configmap-content"));
}
