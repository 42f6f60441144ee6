#include "stream/projection.h"

#include <catch2/catch.hpp>
#include <set>

#include "common/json.h"
#include "controller/permissions.h"
#include "test/stream/realistic_objects.h"

using namespace srexpert;
using srexpert::testing::ParseFixture;

namespace {

json::Document RealisticPod(int index = 3) {
  return testing::RealisticPod("team-03", "orders-0003", testing::PodName("orders-0003", index),
                               "node-0042", index);
}

std::string MustProject(std::string_view kind, const json::Value& object) {
  auto out = stream::Project(kind, object);
  INFO(kind);
  REQUIRE(out.has_value());
  return *out;
}

json::Document MustParse(const std::string& text) {
  auto doc = json::Parse(text);
  INFO(text);
  REQUIRE(doc.has_value());
  return std::move(*doc);
}

}  // namespace

TEST_CASE("The realistic pod fixture is about 9 KB of JSON like a real pod", "[projection]") {
  const std::string pod = testing::RealisticPodJson(
      "team-03", "orders-0003", testing::PodName("orders-0003", 3), "node-0042", 3);
  INFO(pod.size());
  CHECK(pod.size() >= 8 * 1024);
  CHECK(pod.size() <= 10 * 1024);
  auto doc = MustParse(pod);
  CHECK(doc["metadata"]["managedFields"].Size() == 2);
  CHECK(doc["spec"]["containers"].Size() == 2);
  CHECK(json::GetString(doc["metadata"]["ownerReferences"][0], {"kind"}) == "ReplicaSet");
  CHECK(json::GetString(doc["metadata"]["ownerReferences"][0], {"uid"}) ==
        testing::FixtureUid("ReplicaSet", "team-03", testing::ReplicaSetName("orders-0003")));
}

TEST_CASE("Projection removes managedFields, resourceVersion and the last-applied annotation",
          "[projection]") {
  const std::string out = MustProject("Pod", RealisticPod());
  CHECK(out.find("managedFields") == std::string::npos);
  CHECK(out.find("fieldsV1") == std::string::npos);
  CHECK(out.find("last-applied-configuration") == std::string::npos);
  CHECK(out.find("resourceVersion") == std::string::npos);
  auto doc = MustParse(out);
  // Other annotations stay.
  CHECK(json::GetString(doc, {"metadata", "annotations", "prometheus.io/port"}) == "9090");
}

TEST_CASE("Projection never contains an env var value, only names and references", "[projection]") {
  auto pod = RealisticPod(7);
  const std::string out = MustProject("Pod", pod);
  for (const auto& value : testing::RealisticPodLiteralEnvValues()) {
    INFO(value);
    CHECK(out.find(value) == std::string::npos);
  }
  CHECK(out.find("\"value\"") == std::string::npos);
  auto doc = MustParse(out);
  const auto& env = doc["spec"]["containers"][0]["env"];
  std::set<std::string> names;
  for (const auto& e : env.GetArray()) names.insert(e["name"].GetString());
  CHECK(names ==
        std::set<std::string>{"DATABASE_URL", "API_KEY", "DATABASE_PASSWORD", "LOG_LEVEL"});
  CHECK(json::GetString(env[2], {"valueFrom", "secretKeyRef", "name"}) == "orders-0003-db");
  CHECK(json::GetString(env[2], {"valueFrom", "secretKeyRef", "key"}) == "password");
  // Same for a workload's pod template.
  const std::string deployment = testing::RealisticDeploymentJson("team-03", "orders-0003", 10, 3);
  const std::string projected = MustProject("Deployment", ParseFixture(deployment));
  for (const auto& value : testing::RealisticPodLiteralEnvValues()) {
    INFO(value);
    CHECK(deployment.find(value) != std::string::npos);
    CHECK(projected.find(value) == std::string::npos);
  }
}

TEST_CASE("Projection is deterministic whatever the input's member order", "[projection]") {
  auto pod = RealisticPod();
  const std::string first = MustProject("Pod", pod);
  CHECK(MustProject("Pod", pod) == first);
  CHECK(MustProject("Pod", RealisticPod()) == first);

  // Reverse the member order of metadata.labels and metadata.annotations,
  // as a client that does not sort map keys would send them.
  auto reversed = json::Clone(pod);
  auto& a = reversed.GetAllocator();
  for (const char* map : {"labels", "annotations"}) {
    auto& src = reversed["metadata"][map];
    json::Value flipped(rapidjson::kObjectType);
    for (auto it = src.MemberEnd(); it != src.MemberBegin();) {
      --it;
      flipped.AddMember(json::Value(it->name, a), json::Value(it->value, a), a);
    }
    src = flipped;
  }
  CHECK(MustProject("Pod", reversed) == first);
}

TEST_CASE("A change of resourceVersion alone leaves the projection unchanged", "[projection]") {
  auto pod = RealisticPod();
  const std::string before = MustProject("Pod", pod);
  json::SetString(pod["metadata"], "resourceVersion", "99999999", pod.GetAllocator());
  // managedFields time also moves on every write.
  json::SetString(pod["metadata"]["managedFields"][1], "time", "2026-11-24T21:00:00Z",
                  pod.GetAllocator());
  CHECK(MustProject("Pod", pod) == before);

  // A real change is seen.
  pod["status"]["containerStatuses"][0]["restartCount"].SetInt(42);
  CHECK(MustProject("Pod", pod) != before);
}

TEST_CASE("A node heartbeat alone leaves the node's projection unchanged", "[projection]") {
  auto node = ParseFixture(testing::RealisticNodeJson("node-0042", 42));
  const std::string before = MustProject("Node", node);
  CHECK(before.find("lastHeartbeatTime") == std::string::npos);
  CHECK(before.find("images") == std::string::npos);
  CHECK(before.find("sha256") == std::string::npos);
  for (auto& c : node["status"]["conditions"].GetArray()) {
    json::SetString(c, "lastHeartbeatTime", "2026-11-24T21:05:00Z", node.GetAllocator());
  }
  json::SetString(node["metadata"], "resourceVersion", "123456789", node.GetAllocator());
  CHECK(MustProject("Node", node) == before);

  // A condition turning is seen.
  json::SetString(node["status"]["conditions"][3], "status", "False", node.GetAllocator());
  CHECK(MustProject("Node", node) != before);

  auto doc = MustParse(before);
  CHECK(json::GetString(doc, {"spec", "providerID"}).rfind("aws:///", 0) == 0);
  CHECK(json::GetString(doc, {"status", "allocatable", "pods"}) == "110");
  CHECK(json::GetString(doc, {"status", "nodeInfo", "kubeletVersion"}) == "v1.30.2");
  CHECK(doc["status"]["conditions"].MemberCount() == 4);  // keyed by type
  CHECK(json::GetString(doc, {"status", "conditions", "Ready", "status"}) == "True");
  CHECK(doc["status"]["addresses"].Size() == 3);
}

TEST_CASE(
    "A projected realistic pod is a quarter of its API size and keeps what the backend "
    "views need",
    "[projection]") {
  const std::string in = testing::RealisticPodJson(
      "team-03", "orders-0003", testing::PodName("orders-0003", 3), "node-0042", 3);
  const std::string out = MustProject("Pod", ParseFixture(in));
  INFO(in.size() << " -> " << out.size() << ": " << out);
  // Measured: 9.6 KiB -> 2.6 KB (2.5 KB before the scan checks' inputs:
  // imagePullPolicy and the two literal-value flags of sensitive-env-var).
  // The fields docs/streaming.md keeps for this two-container pod cost that
  // much in Kubernetes-shaped JSON; 2 KB would need dropping documented
  // fields or an opaque encoding. The bound is a size regression guard, not
  // a timing.
  CHECK(out.size() <= 2650);
  CHECK(out.size() * 100 <= in.size() * 27);

  auto doc = MustParse(out);
  CHECK(json::GetString(doc, {"metadata", "name"}) == testing::PodName("orders-0003", 3));
  CHECK(json::GetString(doc, {"metadata", "namespace"}) == "team-03");
  CHECK(json::GetString(doc["metadata"]["ownerReferences"][0], {"name"}) ==
        testing::ReplicaSetName("orders-0003"));
  CHECK(json::GetString(doc, {"spec", "nodeName"}) == "node-0042");
  CHECK(json::GetString(doc, {"spec", "serviceAccountName"}) == "orders-0003");
  const auto& app = doc["spec"]["containers"][0];
  CHECK(json::GetString(app, {"resources", "limits", "memory"}) == "512Mi");
  CHECK(json::GetString(app, {"probes", "liveness"}) == "httpGet");
  CHECK(json::GetBool(app, {"securityContext", "readOnlyRootFilesystem"}));
  CHECK(app["ports"].Size() == 2);
  // The token mount is summarised by the projected volume.
  CHECK(app["volumeMounts"].Size() == 2);
  CHECK(out.find("/var/run/secrets/kubernetes.io/serviceaccount") == std::string::npos);
  const auto& volumes = doc["spec"]["volumes"];
  CHECK(json::GetString(volumes[0], {"type"}) == "configMap");
  CHECK(json::GetString(volumes[0], {"name"}) == "config");
  CHECK(json::GetString(volumes[0], {"configMapName"}) == "orders-0003-config");
  CHECK(json::GetString(volumes[3], {"type"}) == "projected");
  CHECK(json::GetBool(volumes[3], {"serviceAccountToken"}));
  CHECK(json::GetString(doc, {"status", "phase"}) == "Running");
  CHECK(json::GetString(doc, {"status", "qosClass"}) == "Burstable");
  // Status lists are keyed by their list-map key (type, name).
  CHECK(doc["status"]["conditions"].MemberCount() == 5);
  CHECK(json::GetString(doc, {"status", "conditions", "Ready", "status"}) == "True");
  CHECK_FALSE(doc["status"]["conditions"]["Ready"].HasMember("lastTransitionTime"));
  REQUIRE(doc["status"]["containerStatuses"].IsObject());
  const auto& cs = doc["status"]["containerStatuses"].MemberBegin()->value;
  CHECK(json::GetBool(cs, {"ready"}));
  CHECK(cs.HasMember("restartCount"));
  CHECK(cs["state"].HasMember("running"));
  CHECK(json::GetString(cs, {"lastState", "terminated", "reason"}) == "OOMKilled");
  CHECK(json::GetInt(cs, {"lastState", "terminated", "exitCode"}) == 137);
}

TEST_CASE("Pod specs keep pull policy, spread constraints and handler hosts, not handlers",
          "[projection]") {
  const std::string out = MustProject(
      "Pod",
      ParseFixture(
          R"({"metadata":{"name":"p","namespace":"n"},"spec":{"topologySpreadConstraints":[)"
          R"({"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule",)"
          R"("labelSelector":{"matchLabels":{"app":"p"}}}],"containers":[{"name":"a","image":"i:1",)"
          R"("imagePullPolicy":"IfNotPresent","readinessProbe":{"httpGet":{"host":"10.1.2.3",)"
          R"("path":"/secret-path","port":8080,"httpHeaders":[{"name":"X-Token","value":"t0k"}]}},)"
          R"("lifecycle":{"postStart":{"tcpSocket":{"host":"node.local","port":22}},)"
          R"("preStop":{"exec":{"command":["/bin/stop"]}}}},)"
          R"({"name":"b","image":"i:2","livenessProbe":{"tcpSocket":{"port":80}}}]}})"));
  auto doc = MustParse(out);
  const auto& spread = doc["spec"]["topologySpreadConstraints"];
  REQUIRE(spread.Size() == 1);
  CHECK(json::GetString(spread[0], {"topologyKey"}) == "zone");
  CHECK(json::GetInt(spread[0], {"maxSkew"}) == 1);
  CHECK_FALSE(spread[0].HasMember("labelSelector"));
  const auto& a = doc["spec"]["containers"][0];
  CHECK(json::GetString(a, {"imagePullPolicy"}) == "IfNotPresent");
  REQUIRE(a["handlerHosts"].Size() == 2);
  CHECK(std::string(a["handlerHosts"][0].GetString()) == "10.1.2.3");
  CHECK(std::string(a["handlerHosts"][1].GetString()) == "node.local");
  CHECK_FALSE(a.HasMember("lifecycle"));
  // A handler without a host adds nothing.
  CHECK_FALSE(doc["spec"]["containers"][1].HasMember("handlerHosts"));
  for (std::string_view dropped : {"/secret-path", "X-Token", "t0k", "/bin/stop", "8080"}) {
    CHECK(out.find(dropped) == std::string::npos);
  }
}

TEST_CASE("Workloads keep replicas, selector, strategy, the projected template and status",
          "[projection]") {
  const std::string out =
      MustProject("Deployment",
                  ParseFixture(testing::RealisticDeploymentJson("team-03", "orders-0003", 10, 3)));
  auto doc = MustParse(out);
  CHECK(json::GetInt(doc, {"spec", "replicas"}) == 10);
  CHECK(json::GetString(doc, {"spec", "selector", "matchLabels", "app.kubernetes.io/name"}) ==
        "orders-0003");
  CHECK(json::GetString(doc, {"spec", "strategy", "type"}) == "RollingUpdate");
  CHECK(json::GetString(doc["spec"]["template"]["spec"]["containers"][0], {"name"}) == "app");
  CHECK(json::GetInt(doc, {"status", "readyReplicas"}) == 10);
  CHECK(json::GetInt(doc, {"status", "observedGeneration"}) == 4);
  CHECK(doc["status"]["conditions"].MemberCount() == 2);
  CHECK(out.find("managedFields") == std::string::npos);

  auto rs = MustParse(MustProject("ReplicaSet", ParseFixture(testing::RealisticReplicaSetJson(
                                                    "team-03", "orders-0003", 10, 3))));
  CHECK(json::GetString(rs["metadata"]["ownerReferences"][0], {"kind"}) == "Deployment");
  CHECK(json::GetInt(rs, {"status", "fullyLabeledReplicas"}) == 10);

  auto svc = MustParse(MustProject(
      "Service", ParseFixture(testing::RealisticServiceJson("team-03", "orders-0003", 3))));
  CHECK(json::GetString(svc, {"spec", "type"}) == "ClusterIP");
  CHECK(json::GetString(svc, {"spec", "selector", "app.kubernetes.io/name"}) == "orders-0003");
  CHECK(svc["spec"]["ports"].Size() == 1);

  auto ns = MustParse(
      MustProject("Namespace", ParseFixture(testing::RealisticNamespaceJson("team-03", 3))));
  CHECK(json::GetString(ns, {"status", "phase"}) == "Active");
  CHECK(json::GetString(ns, {"metadata", "labels", "team"}) == "team-03");
}

TEST_CASE("Every collected kind projects a minimal object with or without apiVersion and kind",
          "[projection]") {
  std::set<std::string> seen;
  for (const auto& k : stream::CollectedKinds()) {
    INFO(k.kind);
    CHECK(seen.insert(k.kind).second);
    CHECK(stream::FindCollectedKind(k.kind) == &k);
    const std::string ns = k.namespaced ? R"(,"namespace":"default")" : "";
    auto bare =
        ParseFixture(R"({"metadata":{"name":"x","uid":"u-1","resourceVersion":"7")" + ns + "}}");
    auto typed = ParseFixture(R"({"apiVersion":")" + k.api_version + R"(","kind":")" + k.kind +
                              R"(","metadata":{"name":"x","uid":"u-1")" + ns + "}}");
    const std::string out = MustProject(k.kind, bare);
    CHECK(MustProject(k.kind, typed) == out);
    auto doc = MustParse(out);
    CHECK(json::GetString(doc, {"metadata", "name"}) == "x");
    CHECK(json::GetString(doc, {"metadata", "uid"}) == "u-1");
    CHECK(json::GetString(doc, {"metadata", "namespace"}) == (k.namespaced ? "default" : ""));
  }
  CHECK(seen.size() == 22);
  CHECK(stream::CollectedKinds().front().kind == "Node");
  CHECK(stream::FindCollectedKind("Ingress")->api_version == "networking.k8s.io/v1");
  CHECK(stream::FindCollectedKind("HorizontalPodAutoscaler")->api_version == "autoscaling/v2");
}

TEST_CASE("An object without metadata.name does not project", "[projection]") {
  CHECK_FALSE(stream::Project("Pod", ParseFixture(R"({"metadata":{"namespace":"a"}})")));
  CHECK_FALSE(stream::Project("Pod", ParseFixture(R"({"spec":{}})")));
  CHECK_FALSE(stream::Project("Pod", ParseFixture(R"([])")));
}

TEST_CASE("Uncollected kinds, Secrets above all, do not project", "[projection]") {
  const auto secret = ParseFixture(
      R"({"metadata":{"name":"db","namespace":"a"},"data":{"password":"aHVudGVyMg=="}})");
  CHECK_FALSE(stream::Project("Secret", secret));
  CHECK(stream::FindCollectedKind("Secret") == nullptr);
  CHECK_FALSE(stream::Project("Lease", secret));
  CHECK_FALSE(stream::Project("pod", RealisticPod()));  // kinds are case-sensitive
}

TEST_CASE("ConfigMaps project to metadata and key names, never data", "[projection]") {
  const auto cm = ParseFixture(R"({"metadata":{"name":"app","namespace":"a","uid":"u"},
      "data":{"zeta":"secret-ish-value","alpha":"other-value"},"binaryData":{"blob":"AAEC"}})");
  const std::string out = MustProject("ConfigMap", cm);
  CHECK(out.find("secret-ish-value") == std::string::npos);
  CHECK(out.find("other-value") == std::string::npos);
  CHECK(out.find("AAEC") == std::string::npos);
  CHECK(out.find("\"data\"") == std::string::npos);
  CHECK(out == R"({"metadata":{"name":"app","namespace":"a","uid":"u"},)"
               R"("dataKeys":["alpha","blob","zeta"]})");
}

TEST_CASE("Env values and ConfigMap data are reduced to the sensitive-data checks' verdicts",
          "[projection]") {
  const auto pod = ParseFixture(R"({"metadata":{"name":"p","namespace":"a"},"spec":{"containers":[
      {"name":"app","image":"i","env":[{"name":"DB_PASSWORD","value":"hunter2"},
        {"name":"TLS","value":"-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34\n-----END RSA PRIVATE KEY-----"},
        {"name":"EMPTY","value":""},{"name":"REF","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}]}})");
  const std::string out = MustProject("Pod", pod);
  CHECK(out.find("hunter2") == std::string::npos);
  CHECK(out.find("MIIBOgIBAAJBAKj34") == std::string::npos);
  CHECK(out.find("BEGIN") == std::string::npos);
  auto doc = MustParse(out);
  const auto& env = doc["spec"]["containers"][0]["env"];
  REQUIRE(env.Size() == 4);
  CHECK(env[0]["literal"].IsTrue());
  CHECK_FALSE(env[0].HasMember("privateKey"));
  CHECK(env[1]["literal"].IsTrue());
  CHECK(env[1]["privateKey"].IsTrue());
  CHECK_FALSE(env[2].HasMember("literal"));  // an empty value is no value
  CHECK_FALSE(env[3].HasMember("literal"));

  const auto cm = ParseFixture(R"({"metadata":{"name":"tls","namespace":"a"},"data":{
      "tls.key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----",
      "greeting":"hello"}})");
  const std::string cm_out = MustProject("ConfigMap", cm);
  CHECK(cm_out.find("MIIEvQIBADANBgkq") == std::string::npos);
  CHECK(cm_out.find("hello") == std::string::npos);
  CHECK(cm_out == R"({"metadata":{"name":"tls","namespace":"a"},)"
                  R"("dataKeys":["greeting","tls.key"],"privateKeyKeys":["tls.key"]})");
}

TEST_CASE("RBAC objects and NetworkPolicies keep rules, bindings and spec in full",
          "[projection]") {
  const auto role = ParseFixture(R"({"metadata":{"name":"r","namespace":"a"},
      "rules":[{"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]}]})");
  CHECK(MustProject("Role", role) ==
        R"({"metadata":{"name":"r","namespace":"a"},)"
        R"("rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]}]})");
  const auto binding = ParseFixture(R"({"metadata":{"name":"b"},
      "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"admin"},
      "subjects":[{"kind":"ServiceAccount","name":"ci","namespace":"build"}]})");
  auto b = MustParse(MustProject("ClusterRoleBinding", binding));
  CHECK(json::GetString(b, {"roleRef", "name"}) == "admin");
  CHECK(json::GetString(b["subjects"][0], {"namespace"}) == "build");
  const auto np = ParseFixture(R"({"metadata":{"name":"deny","namespace":"a"},
      "spec":{"podSelector":{},"policyTypes":["Ingress"],
              "ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"x"}}}]}]}})");
  auto n = MustParse(MustProject("NetworkPolicy", np));
  CHECK(n["spec"]["policyTypes"][0] == "Ingress");
  CHECK(json::GetString(n["spec"]["ingress"][0]["from"][0],
                        {"namespaceSelector", "matchLabels", "team"}) == "x");
}

TEST_CASE("Storage, autoscaling, batch and service accounts keep their key fields",
          "[projection]") {
  auto pv = MustParse(MustProject("PersistentVolume", ParseFixture(R"({"metadata":{"name":"pv1"},
      "spec":{"capacity":{"storage":"10Gi"},"accessModes":["ReadWriteOnce"],"hostPath":{"path":"/data","type":""},
              "persistentVolumeReclaimPolicy":"Retain","storageClassName":"manual",
              "claimRef":{"kind":"PersistentVolumeClaim","namespace":"a","name":"c","uid":"u","resourceVersion":"9"}},
      "status":{"phase":"Bound"}})")));
  CHECK(json::GetString(pv, {"spec", "source", "type"}) == "hostPath");
  CHECK(json::GetString(pv, {"spec", "source", "path"}) == "/data");
  CHECK(json::GetString(pv, {"spec", "claimRef", "name"}) == "c");
  CHECK(json::GetString(pv, {"spec", "persistentVolumeReclaimPolicy"}) == "Retain");
  CHECK(json::GetString(pv, {"status", "phase"}) == "Bound");

  auto hpa = MustParse(MustProject("HorizontalPodAutoscaler",
                                   ParseFixture(R"({"metadata":{"name":"h","namespace":"a"},
      "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},"minReplicas":2,"maxReplicas":9,
              "metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":70}}}]},
      "status":{"currentReplicas":3,"desiredReplicas":4}})")));
  CHECK(json::GetString(hpa, {"spec", "scaleTargetRef", "name"}) == "web");
  CHECK(json::GetInt(hpa, {"spec", "maxReplicas"}) == 9);
  CHECK(json::GetInt(hpa, {"status", "desiredReplicas"}) == 4);

  auto cron =
      MustParse(MustProject("CronJob", ParseFixture(R"({"metadata":{"name":"c","namespace":"a"},
      "spec":{"schedule":"*/5 * * * *","jobTemplate":{"spec":{"backoffLimit":2,"template":{"spec":{
              "containers":[{"name":"j","image":"busybox","env":[{"name":"T","value":"hunter2"}]}]}}}}}})")));
  CHECK(json::GetString(cron, {"spec", "schedule"}) == "*/5 * * * *");
  CHECK(json::GetInt(cron, {"spec", "jobTemplate", "spec", "backoffLimit"}) == 2);
  CHECK(json::Dump(cron).find("hunter2") == std::string::npos);

  auto sa = MustParse(
      MustProject("ServiceAccount", ParseFixture(R"({"metadata":{"name":"s","namespace":"a"},
      "secrets":[{"name":"s-token"}],"automountServiceAccountToken":false})")));
  CHECK(json::GetString(sa["secrets"][0], {"name"}) == "s-token");
  CHECK_FALSE(json::GetBool(sa, {"automountServiceAccountToken"}, true));
}

TEST_CASE("Events from core v1 and events.k8s.io v1 normalise to the same shape",
          "[projection][events]") {
  const auto core = ParseFixture(R"({"apiVersion":"v1","kind":"Event",
      "metadata":{"name":"web-0.17a","namespace":"default","uid":"e-1","resourceVersion":"5"},
      "involvedObject":{"kind":"Pod","namespace":"default","name":"web-0","uid":"p-1","fieldPath":"spec.containers{app}"},
      "reason":"BackOff","message":"Back-off restarting failed container","type":"Warning","count":7,
      "firstTimestamp":"2026-11-24T20:00:00Z","lastTimestamp":"2026-11-24T20:30:00Z","eventTime":null,
      "source":{"component":"kubelet","host":"node-a"},"reportingComponent":"","action":""})");
  const auto modern = ParseFixture(R"({"apiVersion":"events.k8s.io/v1","kind":"Event",
      "metadata":{"name":"web-0.17a","namespace":"default","uid":"e-1","resourceVersion":"5"},
      "regarding":{"kind":"Pod","namespace":"default","name":"web-0","uid":"p-1"},
      "reason":"BackOff","note":"Back-off restarting failed container","type":"Warning",
      "eventTime":"2026-11-24T20:00:00.000000Z",
      "series":{"count":7,"lastObservedTime":"2026-11-24T20:30:00.000000Z"},
      "reportingController":"kubelet","reportingInstance":"node-a","action":"Restarting"})");
  auto c = stream::ProjectEvent(core);
  auto m = stream::ProjectEvent(modern);
  REQUIRE(c);
  REQUIRE(m);
  CHECK(*c == R"({"uid":"e-1","namespace":"default","name":"web-0.17a","type":"Warning",)"
              R"("reason":"BackOff","message":"Back-off restarting failed container","count":7,)"
              R"("firstTimestamp":"2026-11-24T20:00:00Z","lastTimestamp":"2026-11-24T20:30:00Z",)"
              R"("regarding":{"kind":"Pod","namespace":"default","name":"web-0","uid":"p-1"},)"
              R"("reportingController":"kubelet"})");
  auto md = MustParse(*m);
  CHECK(json::GetInt(md, {"count"}) == 7);
  CHECK(json::GetString(md, {"message"}) == "Back-off restarting failed container");
  CHECK(json::GetString(md, {"lastTimestamp"}) == "2026-11-24T20:30:00.000000Z");
  CHECK(json::GetString(md, {"firstTimestamp"}) == "2026-11-24T20:00:00.000000Z");
  CHECK(json::GetString(md, {"regarding", "name"}) == "web-0");
  CHECK(json::GetString(md, {"reportingController"}) == "kubelet");
  CHECK(json::GetString(md, {"action"}) == "Restarting");

  // events.k8s.io's view of an old-style event: deprecated* fields.
  auto old = MustParse(*stream::ProjectEvent(ParseFixture(R"({
      "metadata":{"name":"n","namespace":"default","uid":"e-2"},"regarding":{"kind":"Node","name":"a"},
      "reason":"Rebooted","note":"x","type":"Warning","deprecatedCount":3,
      "deprecatedFirstTimestamp":"2026-11-24T19:00:00Z","deprecatedLastTimestamp":"2026-11-24T19:10:00Z"})")));
  CHECK(json::GetInt(old, {"count"}) == 3);
  CHECK(json::GetString(old, {"firstTimestamp"}) == "2026-11-24T19:00:00Z");
  CHECK(json::GetString(old, {"lastTimestamp"}) == "2026-11-24T19:10:00Z");
}

TEST_CASE("An event without uid or namespace is not projected, and long messages are cut",
          "[projection][events]") {
  CHECK_FALSE(stream::ProjectEvent(ParseFixture(R"({"metadata":{"name":"n","namespace":"a"}})")));
  CHECK_FALSE(stream::ProjectEvent(ParseFixture(R"({"metadata":{"name":"n","uid":"u"}})")));

  // 1023 ASCII bytes then a 3-byte character: the cut must not split it.
  std::string message(1023, 'x');
  message += "\xE2\x82\xAC and more";
  json::Document e(rapidjson::kObjectType);
  auto& a = e.GetAllocator();
  json::EnsureObject(e, {"metadata"}, a);
  json::SetString(e["metadata"], "uid", "u", a);
  json::SetString(e["metadata"], "namespace", "a", a);
  json::SetString(e, "message", message, a);
  auto out = stream::ProjectEvent(e);
  REQUIRE(out);
  auto doc = MustParse(*out);
  CHECK(json::GetString(doc, {"message"}) == std::string(1023, 'x'));
  CHECK(json::GetInt(doc, {"count"}) == 1);
}

TEST_CASE(
    "The agent's permission catalogue lets it list and watch every collected kind, and only "
    "Helm, in its listed namespaces, reads Secrets",
    "[projection][permissions]") {
  const auto catalogue = controller::PermissionCatalogue("srexpert-agent-leader");
  auto grants = [&](const std::string& group, const std::string& resource,
                    const std::string& verb) {
    for (const auto& p : catalogue) {
      if (p.feature != controller::Feature::kCollection || p.api_group != group) continue;
      for (const auto& r : p.resources) {
        for (const auto& v : p.verbs) {
          if (r == resource && v == verb && p.resource_names.empty()) return true;
        }
      }
    }
    return false;
  };
  for (const auto& k : stream::CollectedKinds()) {
    const auto slash = k.api_version.find('/');
    const std::string group = slash == std::string::npos ? "" : k.api_version.substr(0, slash);
    INFO(k.kind << " " << group << "/" << k.resource);
    CHECK(grants(group, k.resource, "list"));
    CHECK(grants(group, k.resource, "watch"));
  }
  // ConfigMaps are kept as metadata only and never read one by one.
  CHECK_FALSE(grants("", "configmaps", "get"));
  for (const auto& p : catalogue) {
    for (const auto& r : p.resources) {
      INFO(r << " for " << controller::FeatureSwitch(p.feature));
      // Helm's release storage is its default Secrets driver; it is granted
      // only by an administrator's per-namespace binding of the install's
      // ClusterRole.
      if (r == "secrets") {
        CHECK(p.feature == controller::Feature::kHelm);
        CHECK(p.scope == controller::Scope::kHelmStorage);
      }
      CHECK(r.rfind("secrets/", 0) != 0);
      CHECK(r != "*");
    }
  }
}

TEST_CASE("Status lists are keyed by type or name, and a repeated key is kept once",
          "[projection]") {
  auto pod = ParseFixture(R"({"metadata":{"name":"p","namespace":"n"},"status":{
    "conditions":[{"type":"Ready","status":"True"},{"type":"Ready","status":"False"},{"status":"True"}],
    "containerStatuses":[{"name":"app","ready":true,"restartCount":1},{"name":"app","ready":false}]}})");
  auto doc = MustParse(MustProject("Pod", pod));
  REQUIRE(doc["status"]["conditions"].IsObject());
  CHECK(doc["status"]["conditions"].MemberCount() == 1);
  CHECK(json::GetString(doc, {"status", "conditions", "Ready", "status"}) == "True");
  CHECK(doc["status"]["containerStatuses"].MemberCount() == 1);
  CHECK(json::GetInt(doc, {"status", "containerStatuses", "app", "restartCount"}) == 1);
}
