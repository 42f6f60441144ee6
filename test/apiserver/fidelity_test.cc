// What the differential suite (test/real/differential*.cc) found kube-apiserver
// doing and the loopback server now does too, pinned here so it holds
// without a real control plane: the scale subresource, defaulting of apps/v1
// workloads, validation of metadata and RBAC, strategic merge patch, the
// selector parser, YAML 1.1, request-option errors, the watch window of
// custom resources and managedFields order.
#include <catch2/catch.hpp>

#include "test/apiserver/api_server.h"
#include "test/apiserver/defaults.h"
#include "test/apiserver/selectors.h"
#include "test/apiserver/server_fixture.h"
#include "test/apiserver/test_client.h"
#include "test/apiserver/yaml_json.h"

using srexpert::testing::ApiServer;
using srexpert::testing::CanonicalQuantity;
using srexpert::testing::LabelSelector;
using srexpert::testing::LabelSelectorString;
using srexpert::testing::TestClient;
namespace json = srexpert::json;

namespace {

const std::string kDeployments = "/apis/apps/v1/namespaces/default/deployments";
const std::string kRoles = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles";
const std::string kCms = "/api/v1/namespaces/default/configmaps";

std::string Deployment(const std::string& name, const std::string& containers) {
  return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" + name +
         R"("},"spec":{"selector":{"matchLabels":{"app":")" + name +
         R"("}},"template":{"metadata":{"labels":{"app":")" + name +
         R"("}},"spec":{"containers":)" + containers + "}}}}";
}

using Fixture = srexpert::testing::ServerFixture;

std::string Message(const srexpert::testing::TestResponse& r) {
  return json::GetString(r.Json(), {"message"});
}

}  // namespace

TEST_CASE_METHOD(Fixture, "a Deployment is defaulted like kube-apiserver does on create", "[apiserver][defaults]") {
  auto r = client.Post(kDeployments, Deployment("d", R"([{"name":"c","image":"nginx","ports":[{"containerPort":80}],
      "resources":{"requests":{"cpu":"0.5","memory":"1024Mi"}}}])"));
  REQUIRE(r.status == 201);
  auto d = r.Json();
  CHECK(json::GetInt(d, {"spec", "replicas"}) == 1);
  CHECK(json::GetInt(d, {"spec", "revisionHistoryLimit"}) == 10);
  CHECK(json::GetInt(d, {"spec", "progressDeadlineSeconds"}) == 600);
  CHECK(json::GetString(d, {"spec", "strategy", "type"}) == "RollingUpdate");
  CHECK(json::GetString(d, {"spec", "strategy", "rollingUpdate", "maxSurge"}) == "25%");
  const auto* tmpl_meta = json::Find(d, {"spec", "template", "metadata"});
  REQUIRE(tmpl_meta != nullptr);
  CHECK((*tmpl_meta)["creationTimestamp"].IsNull());
  const auto& pod = *json::Find(d, {"spec", "template", "spec"});
  CHECK(json::GetString(pod, {"restartPolicy"}) == "Always");
  CHECK(json::GetString(pod, {"dnsPolicy"}) == "ClusterFirst");
  CHECK(json::GetString(pod, {"schedulerName"}) == "default-scheduler");
  CHECK(json::GetInt(pod, {"terminationGracePeriodSeconds"}) == 30);
  const auto& c = (*json::Find(pod, {"containers"}))[0];
  CHECK(json::GetString(c, {"imagePullPolicy"}) == "Always");  // no tag: latest
  CHECK(json::GetString(c, {"terminationMessagePath"}) == "/dev/termination-log");
  CHECK(json::GetString((*json::Find(c, {"ports"}))[0], {"protocol"}) == "TCP");
  CHECK(json::GetString(c, {"resources", "requests", "cpu"}) == "500m");
  CHECK(json::GetString(c, {"resources", "requests", "memory"}) == "1Gi");
  // A field a patch drops comes back with its default.
  auto patched = client.Patch(kDeployments + "/d", R"({"spec":{"revisionHistoryLimit":null}})",
                              "application/merge-patch+json");
  CHECK(json::GetInt(patched.Json(), {"spec", "revisionHistoryLimit"}) == 10);
}

TEST_CASE("resource quantities are printed in resource.Quantity's canonical form", "[apiserver][defaults]") {
  CHECK(CanonicalQuantity("0.5") == "500m");
  CHECK(CanonicalQuantity("1000m") == "1");
  CHECK(CanonicalQuantity("1500m") == "1500m");
  CHECK(CanonicalQuantity("2000") == "2k");
  CHECK(CanonicalQuantity("1024Mi") == "1Gi");
  CHECK(CanonicalQuantity("1.5Gi") == "1536Mi");
  CHECK(CanonicalQuantity("512") == "512");
  CHECK(CanonicalQuantity("0.5Ki") == "512");  // below 1024: decimal
  CHECK(CanonicalQuantity("1e3") == "1e3");
  CHECK(CanonicalQuantity("0") == "0");
  CHECK(CanonicalQuantity("0.1m") == "100u");
  CHECK(CanonicalQuantity("1.5x") == std::nullopt);
}

TEST_CASE_METHOD(Fixture, "Deployments serve an autoscaling/v1 Scale", "[apiserver][scale]") {
  REQUIRE(client.Post(kDeployments, Deployment("d", R"([{"name":"c","image":"nginx:1"}])")).status == 201);
  auto scale = client.Get(kDeployments + "/d/scale");
  REQUIRE(scale.status == 200);
  CHECK(json::GetString(scale.Json(), {"kind"}) == "Scale");
  CHECK(json::GetString(scale.Json(), {"apiVersion"}) == "autoscaling/v1");
  CHECK(json::GetInt(scale.Json(), {"spec", "replicas"}) == 1);
  CHECK(json::GetString(scale.Json(), {"status", "selector"}) == "app=d");
  auto put = client.Put(kDeployments + "/d/scale",
                        R"({"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"d"},"spec":{"replicas":3}})");
  CHECK(json::GetInt(put.Json(), {"spec", "replicas"}) == 3);
  auto d = client.Get(kDeployments + "/d").Json();
  CHECK(json::GetInt(d, {"spec", "replicas"}) == 3);
  CHECK(json::GetInt(d, {"metadata", "generation"}) == 2);
  auto patched = client.Patch(kDeployments + "/d/scale", R"({"spec":{"replicas":0}})", "application/merge-patch+json");
  CHECK(json::Find(patched.Json(), {"spec", "replicas"}) == nullptr);  // omitempty at 0
  auto negative = client.Put(kDeployments + "/d/scale", R"({"metadata":{"name":"d"},"spec":{"replicas":-1}})");
  CHECK(negative.status == 422);
  CHECK(Message(negative) ==
        "Scale.autoscaling \"d\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0");
  auto missing = client.Get(kDeployments + "/missing/scale");
  CHECK(missing.status == 404);
  CHECK(Message(missing) == "deployments/scale.apps \"missing\" not found");
  bool listed = false;
  auto discovery = client.Get("/apis/apps/v1").Json();  // Find() points into it
  for (const auto& r : json::Find(discovery, {"resources"})->GetArray()) {
    if (json::GetString(r, {"name"}) == "deployments/scale") {
      listed = json::GetString(r, {"group"}) == "autoscaling" && json::GetString(r, {"kind"}) == "Scale";
    }
  }
  CHECK(listed);
  CHECK(client.Get("/apis/apps/v1/namespaces/default/daemonsets/x/scale").status == 404);
}

TEST_CASE_METHOD(Fixture, "RBAC rules and role bindings are validated", "[apiserver][validation]") {
  auto r = client.Post(kRoles, R"({"metadata":{"name":"r"},"rules":[{"apiGroups":[""],"resources":["pods"]}]})");
  CHECK(r.status == 422);
  CHECK(Message(r) == "Role.rbac.authorization.k8s.io \"r\" is invalid: rules[0].verbs: Required value: verbs "
                      "must contain at least one value");
  CHECK(json::GetString(r.Json(), {"details", "kind"}) == "Role");
  r = client.Post(kRoles, R"({"metadata":{"name":"r"},"rules":[{"nonResourceURLs":["/healthz"],"verbs":["get"]}]})");
  CHECK(Message(r) == "Role.rbac.authorization.k8s.io \"r\" is invalid: rules[0].nonResourceURLs: Invalid value: "
                      "[]string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs");
  const std::string bindings = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings";
  std::string binding = R"({"metadata":{"name":"b"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"x"},
                            "subjects":[{"kind":"ServiceAccount","name":"default","namespace":"default"}]})";
  auto created = client.Post(bindings, binding);
  REQUIRE(created.status == 201);
  auto doc = created.Json();
  json::SetString(doc["roleRef"], "name", "y", doc.GetAllocator());
  auto changed = client.Put(bindings + "/b", json::Dump(doc));
  CHECK(changed.status == 422);
  CHECK(Message(changed) ==
        "RoleBinding.rbac.authorization.k8s.io \"b\" is invalid: roleRef: Invalid value: "
        "rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"y\"}: cannot change roleRef");
}

TEST_CASE_METHOD(Fixture, "labels, annotations, finalizers and ConfigMap keys are validated", "[apiserver][validation]") {
  auto r = client.Post(kCms, R"({"metadata":{"name":"a","labels":{"a":"b c"}}})");
  CHECK(r.status == 422);
  CHECK(Message(r).rfind("ConfigMap \"a\" is invalid: metadata.labels: Invalid value: \"b c\": a valid label must be", 0) == 0);
  r = client.Post(kCms, R"({"metadata":{"name":"a","finalizers":["nodomain"]}})");
  CHECK(Message(r) == "ConfigMap \"a\" is invalid: metadata.finalizers[0]: Invalid value: \"nodomain\": name is "
                      "neither a standard finalizer name nor is it fully qualified");
  r = client.Post(kCms, R"({"metadata":{"name":"a"},"data":{"a b":"c"}})");
  CHECK(json::GetString((*json::Find(r.Json(), {"details", "causes"}))[0], {"field"}) == "data[a b]");
  // Empty maps are omitted, as Go's omitempty encoding does.
  auto ok = client.Post(kCms, R"({"metadata":{"name":"ok","labels":{}},"data":{}})").Json();
  CHECK(json::Find(ok, {"metadata", "labels"}) == nullptr);
  CHECK(json::Find(ok, {"data"}) == nullptr);
}

TEST_CASE_METHOD(Fixture, "request options and bodies fail with kube-apiserver's wording", "[apiserver][errors]") {
  auto r = client.Post(kCms + "?dryRun=Some", R"({"metadata":{"name":"a"}})");
  CHECK(r.status == 422);
  CHECK(Message(r) == "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Some\"}: "
                      "supported values: \"All\"");
  r = client.Post(kCms, R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"a"}})");
  CHECK(Message(r) == "Secret in version \"v1\" cannot be handled as a ConfigMap: converting (v1.Secret) to "
                      "(core.ConfigMap): unknown conversion");
  REQUIRE(client.Post(kCms, R"({"metadata":{"name":"a"}})").status == 201);
  r = client.Patch(kCms + "/a", R"({"metadata":{"name":"b"}})", "application/merge-patch+json");
  CHECK(r.status == 400);
  CHECK(Message(r) == "the name of the object (b) does not match the name on the URL (a)");
  r = client.Patch(kCms + "/a", R"([{"op":"remove","path":"/data/x"}])", "application/json-patch+json");
  CHECK(r.status == 422);
  CHECK(Message(r) == "the server rejected our request due to an error in our request");
  r = client.Patch(kCms + "/a", "{}", "application/xml-patch");
  CHECK(r.status == 415);
  CHECK(Message(r) == "415: Unsupported Media Type");
  r = client.Delete(kCms + "/a", R"({"preconditions":{"resourceVersion":"1"}})");
  CHECK(r.status == 409);
  CHECK(json::GetString(r.Json(), {"details", "kind"}) == "ConfigMap");
}

TEST_CASE_METHOD(Fixture, "strategic merge patch merges keyed lists and puts new items first", "[apiserver][patch]") {
  REQUIRE(client.Post(kDeployments, Deployment("d", R"([{"name":"a","image":"nginx:1","env":[{"name":"X","value":"1"}]}])")).status == 201);
  const std::string smp = "application/strategic-merge-patch+json";
  auto r = client.Patch(kDeployments + "/d", R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"busybox:1"}]}}}})", smp);
  REQUIRE(r.status == 200);
  auto containers = [&](const srexpert::testing::TestResponse& resp) {
    std::vector<std::string> names;
    auto obj = resp.Json();
    for (const auto& c : json::Find(obj, {"spec", "template", "spec", "containers"})->GetArray()) {
      names.push_back(json::GetString(c, {"name"}));
    }
    return names;
  };
  CHECK(containers(r) == std::vector<std::string>{"b", "a"});
  r = client.Patch(kDeployments + "/d", R"({"spec":{"template":{"spec":{"containers":[{"name":"a","env":[{"name":"Y","value":"2"}]}]}}}})", smp);
  CHECK(containers(r) == std::vector<std::string>{"b", "a"});
  auto obj = r.Json();
  const auto& a = (*json::Find(obj, {"spec", "template", "spec", "containers"}))[1];
  CHECK(json::GetString(a, {"image"}) == "nginx:1");
  CHECK(json::Find(a, {"env"})->Size() == 2);
  r = client.Patch(kDeployments + "/d", R"({"spec":{"template":{"spec":{"containers":[{"name":"b","$patch":"delete"}]}}}})", smp);
  CHECK(containers(r) == std::vector<std::string>{"a"});
}

TEST_CASE("label selectors parse like apimachinery's parser", "[apiserver][selectors]") {
  std::string err;
  CHECK_FALSE(LabelSelector::Parse("a b", &err));
  CHECK(err == "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
  CHECK_FALSE(LabelSelector::Parse("app=a b", &err));
  CHECK(err == "found 'b', expected: ',' or 'end of string'");
  CHECK_FALSE(LabelSelector::Parse("a,", &err));
  CHECK(err == "found '', expected: identifier after ','");
  CHECK(LabelSelector::Parse("app in ()", &err));  // the value set {""}
  CHECK(LabelSelector::Parse("a>1,!b,c notin (x,y)", &err));
}

TEST_CASE("a LabelSelector renders as LabelSelectorAsSelector(...).String()", "[apiserver][selectors]") {
  auto sel = [](const char* text) {
    auto d = json::Parse(text);
    REQUIRE(d);
    return LabelSelectorString(&*d);
  };
  CHECK(sel(R"({"matchLabels":{"b":"2","a":"1"},"matchExpressions":[
      {"key":"c","operator":"In","values":["y","x"]},{"key":"a","operator":"Exists"},
      {"key":"d","operator":"NotIn","values":["z"]},{"key":"e","operator":"DoesNotExist"}]})") ==
        "a=1,a,b=2,c in (x,y),d notin (z),!e");
  CHECK(sel("{}") == "");
  CHECK(LabelSelectorString(nullptr) == "");
  CHECK_FALSE(sel(R"({"matchExpressions":[{"key":"a","operator":"Gt","values":["1"]}]})"));
}

TEST_CASE_METHOD(Fixture, "field selectors take the labels each kind registers", "[apiserver][selectors]") {
  REQUIRE(client.Post("/api/v1/namespaces/default/secrets", R"({"metadata":{"name":"s"},"type":"Opaque"})").status == 201);
  auto r = client.Get("/api/v1/namespaces/default/secrets?fieldSelector=type%3DOpaque");
  REQUIRE(r.status == 200);
  CHECK(json::Find(r.Json(), {"items"})->Size() == 1);
  r = client.Get(kCms + "?fieldSelector=type%3DOpaque");
  CHECK(r.status == 400);
  CHECK(Message(r) == "\"type\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
}

TEST_CASE("YAML is read by YAML 1.1 rules, as kube-apiserver's go-yaml does", "[apiserver][yaml]") {
  std::string err;
  auto doc = srexpert::testing::YamlToJson("y: yes\nn: off\nquoted: \"yes\"\n", &err);
  REQUIRE(doc);
  CHECK(json::GetBool(*doc, {"true"}));
  CHECK_FALSE(json::GetBool(*doc, {"false"}, true));
  CHECK(json::GetString(*doc, {"quoted"}) == "yes");
}

TEST_CASE_METHOD(Fixture, "a watch of a custom resource from before its CRD is 410 Expired", "[apiserver][watch][crd]") {
  std::string before = json::GetString(client.Get(kCms).Json(), {"metadata", "resourceVersion"});
  REQUIRE(client.Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                      R"({"metadata":{"name":"gizmos.example.com"},"spec":{"group":"example.com","scope":"Namespaced",
                          "names":{"plural":"gizmos","kind":"Gizmo"},
                          "versions":[{"name":"v1","served":true,"storage":true}]}})").status == 201);
  auto w = client.Watch("/apis/example.com/v1/namespaces/default/gizmos?watch=1&resourceVersion=" + before);
  auto e = w->Next();
  REQUIRE(e);
  CHECK(json::GetString(*e, {"type"}) == "ERROR");
  CHECK(json::GetInt(*e, {"object", "code"}) == 410);
  CHECK(json::GetString(*e, {"object", "reason"}) == "Expired");
  CHECK(w->Ended());
}

TEST_CASE_METHOD(Fixture, "managedFields are ordered and a no-op apply stamps no time", "[apiserver][ssa]") {
  const std::string apply = "application/apply-patch+yaml";
  std::string cm = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s"},"data":{"a":"1"}})";
  REQUIRE(client.Patch(kCms + "/s?fieldManager=zz", cm, apply).status == 201);
  auto shared = client.Patch(kCms + "/s?fieldManager=aa", cm, apply);
  REQUIRE(shared.status == 200);
  auto obj = shared.Json();
  const auto& mf = *json::Find(obj, {"metadata", "managedFields"});
  REQUIRE(mf.Size() == 2);
  // aa's apply changed nothing: no time, so it sorts first.
  CHECK(json::GetString(mf[0], {"manager"}) == "aa");
  CHECK(json::Find(mf[0], {"time"}) == nullptr);
  CHECK(json::GetString(mf[1], {"manager"}) == "zz");
}

TEST_CASE_METHOD(Fixture, "a new pod is Pending with its QoS class and a new PDB's status has zeros",
                 "[apiserver][defaults]") {
  auto pod = [&](const std::string& name, const std::string& resources) {
    auto r = client.Post("/api/v1/namespaces/default/pods",
                         R"({"metadata":{"name":")" + name +
                             R"("},"spec":{"containers":[{"name":"c","image":"nginx","resources":)" +
                             resources + R"(}]},"status":{"phase":"Running"}})");
    REQUIRE(r.status == 201);
    auto body = r.Json();
    CHECK(json::GetString(body, {"status", "phase"}) == "Pending");
    return json::GetString(body, {"status", "qosClass"});
  };
  // As kube-apiserver v1.26 answered these creates.
  CHECK(pod("best", "{}") == "BestEffort");
  CHECK(pod("guaranteed", R"({"limits":{"cpu":"1","memory":"1Gi"}})") == "Guaranteed");
  CHECK(pod("same", R"({"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"1000m","memory":"1Gi"}})") ==
        "Guaranteed");
  CHECK(pod("burstable", R"({"requests":{"cpu":"1"}})") == "Burstable");
  CHECK(pod("cpu-only-limit", R"({"limits":{"cpu":"1"}})") == "Burstable");

  auto pdb = client.Post("/apis/policy/v1/namespaces/default/poddisruptionbudgets",
                         R"({"metadata":{"name":"b"},"spec":{"minAvailable":1,"selector":{"matchLabels":{"a":"b"}}}})");
  REQUIRE(pdb.status == 201);
  CHECK(json::Dump(*json::Find(pdb.Json(), {"status"})) ==
        R"({"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0})");
}
