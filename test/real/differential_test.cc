// Differential scenarios of the API surface: Status errors, optimistic
// concurrency, patches, server-side apply, defaulting of workloads,
// generation, the scale subresource, discovery, lists and selectors. Each
// runs on the real kube-apiserver and on the loopback test server; see
// differential.h for how observations are normalized and compared.
#include "test/real/differential.h"

#include <algorithm>
#include <string_view>

using namespace srexpert;
using namespace srexpert::testing::diff;

namespace {

std::string Cm(const std::string& name, const std::string& data = R"({"k":"v"})",
               const std::string& extra_meta = "") {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + "\"" +
         extra_meta + R"(},"data":)" + data + "}";
}

std::string Secret(const std::string& name, const std::string& labels = "{}") {
  return R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":")" + name +
         R"(","labels":)" + labels + R"(},"type":"Opaque","stringData":{"k":"v"}})";
}

std::string Role(const std::string& name, const std::string& rules) {
  return R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":")" +
         name + R"("},"rules":)" + rules + "}";
}

// A workload of `kind` whose pod template runs `containers`.
std::string Workload(const std::string& kind, const std::string& name,
                     const std::string& containers, const std::string& extra_spec = "") {
  return R"({"apiVersion":"apps/v1","kind":")" + kind + R"(","metadata":{"name":")" + name +
         R"("},"spec":{)" + extra_spec + R"("selector":{"matchLabels":{"app":")" + name +
         R"("}},"template":{"metadata":{"labels":{"app":")" + name +
         R"("}},"spec":{"containers":)" + containers + "}}}}";
}

std::string Rv(const Response& r) { return json::GetString(r.body, {"metadata", "resourceVersion"}); }

// StatusOf with details.causes sorted: the order of server-side apply
// conflicts is a Go map's (the message lists them sorted).
json::Document ConflictOf(Api& api, const Response& r) {
  json::Document d = StatusOf(api, r);
  if (auto* causes = json::FindMutable(d, {"details", "causes"}); causes && causes->IsArray()) {
    std::sort(causes->Begin(), causes->End(), [](const json::Value& x, const json::Value& y) {
      return json::GetString(x, {"field"}) + "\n" + json::GetString(x, {"message"}) <
             json::GetString(y, {"field"}) + "\n" + json::GetString(y, {"message"});
    });
  }
  return d;
}

// `r`'s object with `patch` merged in (RFC 7386), as the next PUT body.
std::string Edited(const Response& r, const std::string& patch) {
  json::Document d = json::Clone(r.body);
  json::Document p = Json(patch);
  json::MergePatch(d, p, d.GetAllocator());
  return json::Dump(d);
}

// Names of a list's items, in the order served.
json::Document Names(Api& api, const Response& r) {
  if (r.code != 200) return StatusOf(api, r);
  json::Document d(rapidjson::kArrayType);
  if (const auto* items = json::Find(r.body, {"items"}); items && items->IsArray()) {
    for (const auto& item : items->GetArray()) {
      d.PushBack(json::String(api.NormString(json::GetString(item, {"metadata", "name"})),
                              d.GetAllocator()),
                 d.GetAllocator());
    }
  }
  return d;
}

// A list page: item names, whether a continue token came, remainingItemCount.
json::Document Page(Api& api, const Response& r) {
  if (r.code != 200) return StatusOf(api, r);
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Set(d, "names", json::Value(Names(api, r), a), a);
  json::Set(d, "continue", json::Value(!json::GetString(r.body, {"metadata", "continue"}).empty()), a);
  json::Set(d, "remainingItemCount", json::Value(At(api, r.body, "metadata.remainingItemCount"), a), a);
  return d;
}

std::string Query(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Everything a Deployment/StatefulSet/DaemonSet/ReplicaSet create returns
// under spec, which is where the server's defaulting shows.
const std::vector<std::string> kSpec = {"spec", "status", "metadata.generation"};

}  // namespace

// --- Status errors -----------------------------------------------------------

DIFF_SCENARIO("errors.notfound", "a missing object is 404 NotFound naming the resource") {
  Observation o;
  o.Set("get configmap", StatusOf(api, api.Get(api.Path("v1", "configmaps", "missing"))));
  o.Set("get deployment", StatusOf(api, api.Get(api.Path("apps/v1", "deployments", "missing"))));
  o.Set("get role", StatusOf(api, api.Get(api.Path("rbac.authorization.k8s.io/v1", "roles", "missing"))));
  o.Set("get clusterrole", StatusOf(api, api.Get("/apis/rbac.authorization.k8s.io/v1/clusterroles/" + api.ns() + "-missing")));
  o.Set("delete configmap", StatusOf(api, api.Delete(api.Path("v1", "configmaps", "missing"))));
  o.Set("merge patch", StatusOf(api, api.Patch(api.Path("v1", "configmaps", "missing"), R"({"data":{"a":"b"}})",
                                                "application/merge-patch+json")));
  o.Set("put", StatusOf(api, api.Put(api.Path("v1", "configmaps", "missing"), Cm("missing"))));
  std::string gone_ns = "/api/v1/namespaces/" + api.ns() + "-gone/configmaps";
  o.Set("create in a missing namespace", StatusOf(api, api.Post(gone_ns, Cm("a"))));
  o.Set("list in a missing namespace", Names(api, api.Get(gone_ns)));
  o.Set("get in a missing namespace", StatusOf(api, api.Get(gone_ns + "/a")));
  return o;
}

DIFF_SCENARIO("errors.alreadyexists", "creating an existing object is 409 AlreadyExists") {
  Observation o;
  api.Post(api.Path("v1", "configmaps"), Cm("a"));
  o.Set("configmap", StatusOf(api, api.Post(api.Path("v1", "configmaps"), Cm("a"))));
  api.Post(api.Path("rbac.authorization.k8s.io/v1", "roles"),
           Role("r", R"([{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}])"));
  o.Set("role", StatusOf(api, api.Post(api.Path("rbac.authorization.k8s.io/v1", "roles"),
                                       Role("r", R"([{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}])"))));
  o.Set("namespace", StatusOf(api, api.Post("/api/v1/namespaces",
                                            R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" +
                                                api.ns() + R"("}})")));
  return o;
}

DIFF_SCENARIO("errors.conflict", "a stale resourceVersion is 409 Conflict") {
  Observation o;
  auto created = api.Post(api.Path("v1", "configmaps"), Cm("a"));
  auto updated = api.Put(api.Path("v1", "configmaps", "a"), Edited(created, R"({"data":{"k":"2"}})"));
  o.Set("update", Fields(api, updated, {"metadata.resourceVersion", "data"}));
  o.Set("stale update", StatusOf(api, api.Put(api.Path("v1", "configmaps", "a"),
                                              Edited(created, R"({"data":{"k":"3"}})"))));
  o.Set("stale delete precondition",
        StatusOf(api, api.Delete(api.Path("v1", "configmaps", "a"),
                                 R"({"preconditions":{"resourceVersion":")" + Rv(created) + R"("}})")));
  o.Set("wrong uid delete precondition",
        StatusOf(api, api.Delete(api.Path("v1", "configmaps", "a"),
                                 R"({"preconditions":{"uid":"00000000-0000-0000-0000-000000000000"}})")));
  std::string rules = R"([{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}])";
  auto role = api.Post(api.Path("rbac.authorization.k8s.io/v1", "roles"), Role("r", rules));
  api.Put(api.Path("rbac.authorization.k8s.io/v1", "roles", "r"), Edited(role, R"({"metadata":{"labels":{"x":"1"}}})"));
  o.Set("stale role update", StatusOf(api, api.Put(api.Path("rbac.authorization.k8s.io/v1", "roles", "r"),
                                                   Edited(role, R"({"metadata":{"labels":{"x":"2"}}})"))));
  return o;
}

DIFF_SCENARIO("errors.invalid", "invalid names and metadata are 422 Invalid with causes") {
  Observation o;
  o.Set("configmap with a bad name", StatusOf(api, api.Post(api.Path("v1", "configmaps"), Cm("Bad_Name"))));
  o.Set("configmap without a name",
        StatusOf(api, api.Post(api.Path("v1", "configmaps"), R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{}})")));
  o.Set("namespace with a bad name",
        StatusOf(api, api.Post("/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a.b"}})")));
  o.Set("deployment with a bad name",
        StatusOf(api, api.Post(api.Path("apps/v1", "deployments"),
                               Workload("Deployment", "Bad", R"([{"name":"c","image":"nginx"}])"))));
  o.Set("bad label value",
        StatusOf(api, api.Post(api.Path("v1", "configmaps"), Cm("l", "{}", R"(,"labels":{"a":"b c"})"))));
  o.Set("bad label key",
        StatusOf(api, api.Post(api.Path("v1", "configmaps"), Cm("l", "{}", R"(,"labels":{"-a":"b"})"))));
  o.Set("bad annotation key",
        StatusOf(api, api.Post(api.Path("v1", "configmaps"), Cm("l", "{}", R"(,"annotations":{"a b":"c"})"))));
  o.Set("bad finalizer",
        StatusOf(api, api.Post(api.Path("v1", "configmaps"), Cm("l", "{}", R"(,"finalizers":["nodomain"])"))));
  o.Set("bad data key", StatusOf(api, api.Post(api.Path("v1", "configmaps"), Cm("d", R"({"a b":"c"})"))));
  return o;
}

DIFF_SCENARIO("errors.invalid.rbac", "RBAC rules and bindings are validated") {
  Observation o;
  auto roles = api.Path("rbac.authorization.k8s.io/v1", "roles");
  o.Set("rule without verbs", StatusOf(api, api.Post(roles, Role("a", R"([{"apiGroups":[""],"resources":["pods"]}])"))));
  o.Set("rule without resources", StatusOf(api, api.Post(roles, Role("b", R"([{"apiGroups":[""],"verbs":["get"]}])"))));
  o.Set("rule without apiGroups", StatusOf(api, api.Post(roles, Role("c", R"([{"resources":["pods"],"verbs":["get"]}])"))));
  o.Set("namespaced rule with nonResourceURLs",
        StatusOf(api, api.Post(roles, Role("d", R"([{"nonResourceURLs":["/healthz"],"verbs":["get"]}])"))));
  o.Set("second rule without verbs",
        StatusOf(api, api.Post(roles, Role("e", R"([{"apiGroups":[""],"resources":["pods"],"verbs":["get"]},{"apiGroups":["apps"],"resources":["deployments"],"verbs":[]}])"))));
  o.Set("valid role", Fields(api, api.Post(roles, Role("ok", R"([{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}])")), {"rules"}));
  std::string cr_name = api.ns() + "-cr";
  auto cr = api.Post("/apis/rbac.authorization.k8s.io/v1/clusterroles",
                     R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":")" + cr_name +
                         R"("},"rules":[{"nonResourceURLs":["/healthz"],"verbs":["get"]},{"apiGroups":[""],"resources":["pods"],"nonResourceURLs":["/x"],"verbs":["get"]}]})");
  if (cr.code < 300) api.DeleteAfterwards("/apis/rbac.authorization.k8s.io/v1/clusterroles/" + cr_name);
  o.Set("clusterrole mixing resources and nonResourceURLs", StatusOf(api, cr));
  auto bindings = api.Path("rbac.authorization.k8s.io/v1", "rolebindings");
  auto binding = [&](const std::string& name, const std::string& role_ref, const std::string& subjects) {
    return R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":")" + name +
           R"("},"roleRef":)" + role_ref + R"(,"subjects":)" + subjects + "}";
  };
  std::string sa = R"([{"kind":"ServiceAccount","name":"default","namespace":"x"}])";
  o.Set("binding without roleRef name",
        StatusOf(api, api.Post(bindings, binding("a", R"({"apiGroup":"rbac.authorization.k8s.io","kind":"Role"})", sa))));
  o.Set("binding with a bad roleRef kind",
        StatusOf(api, api.Post(bindings, binding("b", R"({"apiGroup":"rbac.authorization.k8s.io","kind":"Pod","name":"ok"})", sa))));
  o.Set("binding with a bad subject kind",
        StatusOf(api, api.Post(bindings, binding("c", R"({"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"ok"})",
                                                 R"([{"kind":"Robot","name":"x"}])"))));
  auto ok = api.Post(bindings, binding("ok", R"({"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"ok"})", sa));
  o.Set("valid binding", Fields(api, ok, {"roleRef", "subjects"}));
  o.Set("changing roleRef",
        StatusOf(api, api.Put(api.Path("rbac.authorization.k8s.io/v1", "rolebindings", "ok"),
                              Edited(ok, R"({"roleRef":{"name":"other"}})"))));
  return o;
}

DIFF_SCENARIO("errors.badrequest", "undecodable or mismatched requests are 400 BadRequest") {
  Observation o;
  auto cms = api.Path("v1", "configmaps");
  o.Set("kind mismatch", StatusOf(api, api.Post(cms, R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"a"}})")));
  o.Set("apiVersion mismatch",
        StatusOf(api, api.Post(api.Path("apps/v1", "deployments"),
                               R"({"apiVersion":"apps/v2","kind":"Deployment","metadata":{"name":"a"}})")));
  o.Set("namespace mismatch",
        StatusOf(api, api.Post(cms, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"other"}})")));
  api.Post(cms, Cm("a"));
  o.Set("name mismatch on update", StatusOf(api, api.Put(api.Path("v1", "configmaps", "a"), Cm("b"))));
  auto malformed = api.Post(cms, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b")");
  // The tail of the message is Go's JSON decoder's own wording.
  std::string message = json::GetString(malformed.body, {"message"});
  o.Set("malformed body", std::to_string(malformed.code) + " " + json::GetString(malformed.body, {"reason"}) + ": " +
                              message.substr(0, message.find("json parse error")));
  auto bad_patch = api.Patch(api.Path("v1", "configmaps", "a"), "{nope", "application/merge-patch+json");
  message = json::GetString(bad_patch.body, {"message"});
  o.Set("malformed merge patch", std::to_string(bad_patch.code) + " " + json::GetString(bad_patch.body, {"reason"}) +
                                     ": " + message.substr(0, message.find(':')));
  o.Set("bad label selector", StatusOf(api, api.Get(cms + "?labelSelector=" + Query("a b"))));
  o.Set("unsupported field selector", StatusOf(api, api.Get(cms + "?fieldSelector=" + Query("data.k=v"))));
  o.Set("bad dryRun", StatusOf(api, api.Post(cms + "?dryRun=Some", Cm("c"))));
  o.Set("bad propagationPolicy",
        StatusOf(api, api.Delete(api.Path("v1", "configmaps", "a"), R"({"propagationPolicy":"Sometimes"})")));
  return o;
}

// --- Optimistic concurrency -------------------------------------------------

DIFF_SCENARIO("concurrency.update", "updates are conditional on the resourceVersion they carry") {
  Observation o;
  auto created = api.Post(api.Path("v1", "configmaps"), Cm("a"));
  o.Set("create", Fields(api, created, {"metadata.resourceVersion", "metadata.uid", "metadata.generation"}));
  auto path = api.Path("v1", "configmaps", "a");
  auto current = api.Put(path, Edited(created, R"({"data":{"k":"2"}})"));
  o.Set("update with the current version", Fields(api, current, {"metadata.resourceVersion", "data"}));
  o.Set("update with the old version", StatusOf(api, api.Put(path, Edited(created, R"({"data":{"k":"3"}})"))));
  auto latest_before = api.Get(path);
  json::Document unconditional = json::Clone(latest_before.body);
  json::Remove(unconditional["metadata"], "resourceVersion");
  json::SetString(unconditional["data"], "k", "4", unconditional.GetAllocator());
  o.Set("unconditional update", Fields(api, api.Put(path, json::Dump(unconditional)),
                                       {"metadata.resourceVersion", "data"}));
  auto latest = api.Get(path);
  o.Set("no-op update keeps the version", Fields(api, api.Put(path, json::Dump(latest.body)),
                                                 {"metadata.resourceVersion"}));
  o.Set("get", Fields(api, api.Get(path), {"metadata.resourceVersion", "metadata.uid", "data"}));
  return o;
}

DIFF_SCENARIO("concurrency.lease", "Lease updates are optimistic and PUT creates a missing Lease") {
  Observation o;
  auto leases = api.Path("coordination.k8s.io/v1", "leases");
  std::string lease = R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},
    "spec":{"holderIdentity":"a","leaseDurationSeconds":15,"acquireTime":"2024-01-01T00:00:00.000000Z",
            "renewTime":"2024-01-01T00:00:01.000000Z","leaseTransitions":0}})";
  auto created = api.Post(leases, lease);
  o.Set("create", Fields(api, created, {"metadata.resourceVersion", "metadata.generation", "spec"}));
  auto path = api.Path("coordination.k8s.io/v1", "leases", "l");
  auto renewed = api.Put(path, Edited(created, R"({"spec":{"renewTime":"2024-01-01T00:00:05.000000Z"}})"));
  o.Set("renew", Fields(api, renewed, {"metadata.resourceVersion", "spec.renewTime"}));
  o.Set("takeover from the old version",
        StatusOf(api, api.Put(path, Edited(created, R"({"spec":{"holderIdentity":"b","leaseTransitions":1}})"))));
  o.Set("takeover from the current version",
        Fields(api, api.Put(path, Edited(renewed, R"({"spec":{"holderIdentity":"b","leaseTransitions":1}})")),
               {"metadata.resourceVersion", "spec.holderIdentity", "spec.leaseTransitions"}));
  std::string other = R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"m"},"spec":{"holderIdentity":"c"}})";
  o.Set("put creates", Fields(api, api.Put(api.Path("coordination.k8s.io/v1", "leases", "m"), other),
                              {"metadata.resourceVersion", "spec"}));
  return o;
}

// --- Patches ----------------------------------------------------------------

DIFF_SCENARIO("patch.merge", "JSON merge patch (RFC 7386) with resourceVersion preconditions") {
  Observation o;
  auto created = api.Post(api.Path("v1", "configmaps"), Cm("p", R"({"a":"1","b":"2"})", R"(,"labels":{"x":"1"})"));
  o.Set("create", Fields(api, created, {"metadata.resourceVersion"}));
  auto path = api.Path("v1", "configmaps", "p");
  const std::string merge = "application/merge-patch+json";
  o.Set("patch", Fields(api, api.Patch(path, R"({"data":{"a":null,"c":"3"},"metadata":{"labels":{"y":"2"}}})", merge),
                        {"metadata.resourceVersion", "metadata.labels", "data"}));
  o.Set("no-op patch", Fields(api, api.Patch(path, R"({"data":{"c":"3"}})", merge), {"metadata.resourceVersion"}));
  o.Set("stale resourceVersion", StatusOf(api, api.Patch(path, R"({"metadata":{"resourceVersion":")" +
                                                                   Rv(created) + R"("},"data":{"d":"4"}})", merge)));
  auto now = api.Get(path);
  o.Set("current resourceVersion",
        Fields(api, api.Patch(path, R"({"metadata":{"resourceVersion":")" + Rv(now) + R"("},"data":{"d":"4"}})", merge),
               {"metadata.resourceVersion", "data"}));
  o.Set("renaming", StatusOf(api, api.Patch(path, R"({"metadata":{"name":"q"}})", merge)));
  o.Set("unknown patch type", StatusOf(api, api.Patch(path, R"({"data":{}})", "application/xml-patch")));
  return o;
}

DIFF_SCENARIO("patch.json", "JSON patch (RFC 6902) operations and failures") {
  Observation o;
  api.Post(api.Path("v1", "configmaps"), Cm("p", R"({"a":"1","b":"2"})"));
  auto path = api.Path("v1", "configmaps", "p");
  const std::string jp = "application/json-patch+json";
  o.Set("add replace remove",
        Fields(api, api.Patch(path, R"([{"op":"add","path":"/data/c","value":"3"},{"op":"replace","path":"/data/a","value":"9"},
                                         {"op":"remove","path":"/data/b"},{"op":"test","path":"/data/c","value":"3"},
                                         {"op":"copy","from":"/data/c","path":"/data/d"},{"op":"move","from":"/data/d","path":"/data/e"}])", jp),
               {"metadata.resourceVersion", "data"}));
  o.Set("failed test", StatusOf(api, api.Patch(path, R"([{"op":"test","path":"/data/a","value":"0"}])", jp)));
  o.Set("remove of a missing member", StatusOf(api, api.Patch(path, R"([{"op":"remove","path":"/data/zz"}])", jp)));
  o.Set("unknown operation", StatusOf(api, api.Patch(path, R"([{"op":"frobnicate","path":"/data/a"}])", jp)));
  o.Set("unchanged after failures", Fields(api, api.Get(path), {"metadata.resourceVersion", "data"}));
  return o;
}

DIFF_SCENARIO("patch.strategic", "strategic merge patch merges keyed lists of built-in kinds") {
  Observation o;
  auto created = api.Post(api.Path("apps/v1", "deployments"),
                          Workload("Deployment", "d", R"([{"name":"a","image":"nginx:1","env":[{"name":"X","value":"1"}]}])",
                                   R"("replicas":0,)"));
  o.Set("create", Fields(api, created, {"metadata.generation"}));
  auto path = api.Path("apps/v1", "deployments", "d");
  const std::string smp = "application/strategic-merge-patch+json";
  o.Set("add a container", Fields(api, api.Patch(path, R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"busybox:1"}]}}}})", smp),
                                  {"spec.template.spec.containers", "metadata.generation"}));
  o.Set("change an env var", Fields(api, api.Patch(path, R"({"spec":{"template":{"spec":{"containers":[{"name":"a","env":[{"name":"Y","value":"2"}]}]}}}})", smp),
                                    {"spec.template.spec.containers"}));
  o.Set("delete a container", Fields(api, api.Patch(path, R"({"spec":{"template":{"spec":{"containers":[{"name":"b","$patch":"delete"}]}}}})", smp),
                                     {"spec.template.spec.containers"}));
  return o;
}

// --- Server-side apply ------------------------------------------------------

DIFF_SCENARIO("ssa.create", "apply creates, re-applying the same is a no-op, dropping a field removes it") {
  Observation o;
  auto path = api.Path("v1", "configmaps", "s") + "?fieldManager=m1";
  const std::string apply = "application/apply-patch+yaml";
  o.Set("create", Fields(api, api.Patch(path, Cm("s", R"({"a":"1","b":"2"})"), apply),
                         {"metadata.resourceVersion", "metadata.managedFields", "data"}));
  o.Set("same again", Fields(api, api.Patch(path, Cm("s", R"({"a":"1","b":"2"})"), apply),
                             {"metadata.resourceVersion", "metadata.managedFields"}));
  o.Set("b dropped", Fields(api, api.Patch(path, Cm("s", R"({"a":"1"})"), apply),
                            {"metadata.resourceVersion", "metadata.managedFields", "data"}));
  o.Set("yaml body", Fields(api, api.Patch(path, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\ndata:\n  a: \"1\"\n  y: yaml\n", apply),
                            {"data"}));
  o.Set("without fieldManager", StatusOf(api, api.Patch(api.Path("v1", "configmaps", "s"), Cm("s"), apply)));
  o.Set("name mismatch", StatusOf(api, api.Patch(path, Cm("t"), apply)));
  return o;
}

DIFF_SCENARIO("ssa.conflict", "a second manager conflicts, force takes the field over") {
  Observation o;
  const std::string apply = "application/apply-patch+yaml";
  auto base = api.Path("v1", "configmaps", "s");
  api.Patch(base + "?fieldManager=m1", Cm("s", R"({"a":"1","b":"2"})"), apply);
  o.Set("conflict", ConflictOf(api, api.Patch(base + "?fieldManager=m2", Cm("s", R"({"a":"x"})"), apply)));
  o.Set("same value is shared", Fields(api, api.Patch(base + "?fieldManager=m3", Cm("s", R"({"b":"2"})"), apply),
                                       {"metadata.managedFields"}));
  o.Set("force", Fields(api, api.Patch(base + "?fieldManager=m2&force=true", Cm("s", R"({"a":"x"})"), apply),
                        {"metadata.managedFields", "data"}));
  auto live = api.Get(base);
  o.Set("update by another manager",
        Fields(api, api.Put(base + "?fieldManager=editor", Edited(live, R"({"data":{"b":"edited"}})")),
               {"metadata.managedFields", "data"}));
  o.Set("conflict with an Update manager", ConflictOf(api, api.Patch(base + "?fieldManager=m1", Cm("s", R"({"a":"1","b":"2"})"), apply)));
  return o;
}

// --- Defaulting of workloads ------------------------------------------------

// Containers covering imagePullPolicy by tag, ports, probes, env fieldRef
// and resources as the operator's DaemonSet uses them.
const char kContainers[] = R"([
  {"name":"untagged","image":"nginx"},
  {"name":"latest","image":"nginx:latest"},
  {"name":"tagged","image":"registry.example.com:5000/nginx:1.25",
   "ports":[{"name":"http","containerPort":8080}],
   "env":[{"name":"NODE","valueFrom":{"fieldRef":{"fieldPath":"spec.nodeName"}}}],
   "livenessProbe":{"httpGet":{"path":"/healthz","port":"http"}},
   "readinessProbe":{"tcpSocket":{"port":8080},"periodSeconds":5},
   "resources":{"requests":{"cpu":"0.5","memory":"1024Mi"},"limits":{"cpu":"1000m","memory":"1.5Gi"}}},
  {"name":"digest","image":"nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000"}])";

const char kVolumes[] = R"("volumes":[{"name":"cm","configMap":{"name":"c"}},{"name":"sec","secret":{"secretName":"s"}},
  {"name":"tmp","emptyDir":{}},{"name":"host","hostPath":{"path":"/var/log"}}],)";

DIFF_SCENARIO("defaults.deployment", "apps/v1 Deployment defaults") {
  Observation o;
  std::string body = Workload("Deployment", "d", kContainers);
  o.Set("create", Fields(api, api.Post(api.Path("apps/v1", "deployments"), body), kSpec));
  std::string with_volumes = Workload("Deployment", "v", R"([{"name":"c","image":"nginx:1"}])");
  with_volumes.insert(with_volumes.find(R"("containers")"), kVolumes);
  o.Set("volumes", Fields(api, api.Post(api.Path("apps/v1", "deployments"), with_volumes), {"spec.template.spec.volumes"}));
  o.Set("recreate strategy",
        Fields(api, api.Post(api.Path("apps/v1", "deployments"),
                             Workload("Deployment", "r", R"([{"name":"c","image":"nginx:1"}])", R"("strategy":{"type":"Recreate"},)")),
               {"spec.strategy"}));
  return o;
}

DIFF_SCENARIO("defaults.statefulset", "apps/v1 StatefulSet defaults") {
  Observation o;
  o.Set("create", Fields(api, api.Post(api.Path("apps/v1", "statefulsets"), Workload("StatefulSet", "s", kContainers)), kSpec));
  o.Set("OnDelete strategy",
        Fields(api, api.Post(api.Path("apps/v1", "statefulsets"),
                             Workload("StatefulSet", "o", R"([{"name":"c","image":"nginx:1"}])", R"("updateStrategy":{"type":"OnDelete"},)")),
               {"spec.updateStrategy"}));
  return o;
}

DIFF_SCENARIO("defaults.daemonset", "apps/v1 DaemonSet defaults") {
  Observation o;
  o.Set("create", Fields(api, api.Post(api.Path("apps/v1", "daemonsets"), Workload("DaemonSet", "d", kContainers)), kSpec));
  o.Set("OnDelete strategy",
        Fields(api, api.Post(api.Path("apps/v1", "daemonsets"),
                             Workload("DaemonSet", "o", R"([{"name":"c","image":"nginx:1"}])", R"("updateStrategy":{"type":"OnDelete"},)")),
               {"spec.updateStrategy"}));
  o.Set("partial rollingUpdate",
        Fields(api, api.Post(api.Path("apps/v1", "daemonsets"),
                             Workload("DaemonSet", "p", R"([{"name":"c","image":"nginx:1"}])",
                                      R"("updateStrategy":{"rollingUpdate":{"maxUnavailable":"10%"}},)")),
               {"spec.updateStrategy"}));
  return o;
}

DIFF_SCENARIO("defaults.replicaset", "apps/v1 ReplicaSet defaults") {
  Observation o;
  o.Set("create", Fields(api, api.Post(api.Path("apps/v1", "replicasets"), Workload("ReplicaSet", "r", kContainers)), kSpec));
  return o;
}

// --- Generation and the status subresource ----------------------------------

DIFF_SCENARIO("generation.status", "status writes and metadata edits leave generation alone, spec edits bump it") {
  // An Ingress: it has generation and /status, and no controller of the
  // control plane writes it (a Deployment's controller would race us).
  Observation o;
  auto ingresses = api.Path("networking.k8s.io/v1", "ingresses");
  std::string ing = R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"},
    "spec":{"defaultBackend":{"service":{"name":"s","port":{"number":80}}}},
    "status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.1"}]}}})";
  auto created = api.Post(ingresses, ing);
  o.Set("create drops status", Fields(api, created, {"metadata.generation", "metadata.resourceVersion", "status"}));
  auto path = api.Path("networking.k8s.io/v1", "ingresses", "i");
  auto status = api.Put(path + "/status", Edited(created, R"({"status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.2"}]}},"spec":{"defaultBackend":{"service":{"name":"ignored"}}}})"));
  o.Set("status update", Fields(api, status, {"metadata.generation", "metadata.resourceVersion", "status", "spec.defaultBackend.service.name"}));
  auto labelled = api.Put(path, Edited(status, R"({"metadata":{"labels":{"a":"b"}},"status":{"loadBalancer":{}}})"));
  o.Set("metadata update", Fields(api, labelled, {"metadata.generation", "metadata.resourceVersion", "status"}));
  auto spec = api.Put(path, Edited(labelled, R"({"spec":{"defaultBackend":{"service":{"name":"t"}}}})"));
  o.Set("spec update", Fields(api, spec, {"metadata.generation", "metadata.resourceVersion"}));
  o.Set("status merge patch", Fields(api, api.Patch(path + "/status", R"({"status":{"loadBalancer":{"ingress":[{"hostname":"h"}]}}})",
                                                    "application/merge-patch+json"),
                                     {"metadata.generation", "status"}));
  o.Set("spec merge patch", Fields(api, api.Patch(path, R"({"spec":{"defaultBackend":{"service":{"name":"u"}}}})",
                                                  "application/merge-patch+json"),
                                   {"metadata.generation"}));
  o.Set("status of a missing object", StatusOf(api, api.Get(api.Path("networking.k8s.io/v1", "ingresses", "missing") + "/status")));
  return o;
}

// --- The scale subresource --------------------------------------------------

namespace {

Observation ScaleScenario(Api& api, const std::string& kind, const std::string& resource) {
  Observation o;
  auto created = api.Post(api.Path("apps/v1", resource),
                          Workload(kind, "w", R"([{"name":"c","image":"nginx:1"}])",
                                   R"("replicas":1,)"));
  o.Set("create", Fields(api, created, {"metadata.uid", "metadata.generation", "spec.replicas"}));
  auto scale = api.Path("apps/v1", resource, "w") + "/scale";
  const std::vector<std::string> fields = {"apiVersion", "kind", "metadata.name", "metadata.namespace",
                                           "metadata.uid", "spec", "status.selector"};
  o.Set("get", Fields(api, api.Get(scale), fields));
  o.Set("put", Fields(api, api.Put(scale, R"({"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"w"},"spec":{"replicas":3}})"), fields));
  o.Set("parent after put", Fields(api, api.Get(api.Path("apps/v1", resource, "w")), {"metadata.generation", "spec.replicas"}));
  o.Set("merge patch", Fields(api, api.Patch(scale, R"({"spec":{"replicas":2}})", "application/merge-patch+json"), fields));
  o.Set("json patch", Fields(api, api.Patch(scale, R"([{"op":"replace","path":"/spec/replicas","value":4}])", "application/json-patch+json"), fields));
  o.Set("parent after patches", Fields(api, api.Get(api.Path("apps/v1", resource, "w")), {"metadata.generation", "spec.replicas"}));
  o.Set("negative replicas", StatusOf(api, api.Put(scale, R"({"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"w"},"spec":{"replicas":-1}})")));
  o.Set("stale resourceVersion",
        StatusOf(api, api.Put(scale, R"({"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"w","resourceVersion":")" +
                                         Rv(created) + R"("},"spec":{"replicas":5}})")));
  o.Set("missing parent", StatusOf(api, api.Get(api.Path("apps/v1", resource, "missing") + "/scale")));
  return o;
}

}  // namespace

DIFF_SCENARIO("scale.deployment", "Deployments serve autoscaling/v1 Scale") {
  return ScaleScenario(api, "Deployment", "deployments");
}

DIFF_SCENARIO("scale.statefulset", "StatefulSets serve autoscaling/v1 Scale") {
  return ScaleScenario(api, "StatefulSet", "statefulsets");
}

DIFF_SCENARIO("scale.replicaset", "ReplicaSets serve autoscaling/v1 Scale") {
  return ScaleScenario(api, "ReplicaSet", "replicasets");
}

DIFF_SCENARIO("discovery.apps", "apps/v1 discovery lists the workloads with their status and scale subresources") {
  Observation o;
  auto r = api.Get("/apis/apps/v1");
  for (const char* name : {"deployments", "deployments/status", "deployments/scale", "statefulsets",
                           "statefulsets/status", "statefulsets/scale", "replicasets", "replicasets/status",
                           "replicasets/scale", "daemonsets", "daemonsets/status"}) {
    json::Document entry;
    entry.SetString("<absent>", entry.GetAllocator());
    if (const auto* resources = json::Find(r.body, {"resources"}); resources && resources->IsArray()) {
      for (const auto& res : resources->GetArray()) {
        if (json::GetString(res, {"name"}) != name) continue;
        entry.SetObject();
        auto& a = entry.GetAllocator();
        // singularName is left out: kube-apiserver fills it from v1.27 on.
        for (const char* key : {"kind", "group", "version", "namespaced", "verbs", "shortNames", "categories"}) {
          if (res.HasMember(key)) json::Set(entry, key, json::Value(res[key], a), a);
        }
      }
    }
    o.Set(name, entry);
  }
  return o;
}

// --- Lists ------------------------------------------------------------------

DIFF_SCENARIO("list.pagination", "limit/continue pages a consistent snapshot") {
  // Secrets: a real namespace gets a ConfigMap (kube-root-ca.crt) and a
  // ServiceAccount from controllers, but no Secret.
  Observation o;
  auto secrets = api.Path("v1", "secrets");
  for (const char* n : {"s1", "s2", "s3", "s4", "s5"}) api.Post(secrets, Secret(n));
  auto p1 = api.Get(secrets + "?limit=2");
  o.Set("page 1", Page(api, p1));
  // Changes after the first page do not show in later pages.
  api.Post(secrets, Secret("s0"));
  api.Delete(api.Path("v1", "secrets", "s5"));
  auto p2 = api.Get(secrets + "?limit=2&continue=" + Query(json::GetString(p1.body, {"metadata", "continue"})));
  o.Set("page 2", Page(api, p2));
  auto p3 = api.Get(secrets + "?limit=2&continue=" + Query(json::GetString(p2.body, {"metadata", "continue"})));
  o.Set("page 3", Page(api, p3));
  o.Set("pages share the first page's resourceVersion",
        json::GetString(p1.body, {"metadata", "resourceVersion"}) == json::GetString(p2.body, {"metadata", "resourceVersion"}) &&
            json::GetString(p1.body, {"metadata", "resourceVersion"}) == json::GetString(p3.body, {"metadata", "resourceVersion"}));
  o.Set("fresh list", Page(api, api.Get(secrets + "?limit=10")));
  o.Set("exact resourceVersion of page 1",
        Page(api, api.Get(secrets + "?resourceVersion=" + json::GetString(p1.body, {"metadata", "resourceVersion"}) +
                          "&resourceVersionMatch=Exact")));
  // "nope" in base64: what follows "is not valid: " is Go's JSON decoder's wording.
  auto bad = api.Get(secrets + "?limit=2&continue=bm9wZQ");
  std::string message = json::GetString(bad.body, {"message"});
  o.Set("bad continue token", std::to_string(bad.code) + " " + json::GetString(bad.body, {"reason"}) + ": " +
                                  message.substr(0, message.find("is not valid:")));
  o.Set("limit with a selector", Page(api, api.Get(secrets + "?limit=2&labelSelector=" + Query("!missing"))));
  return o;
}

DIFF_SCENARIO("list.rv0", "resourceVersion=0 lists from the cache") {
  Observation o;
  auto secrets = api.Path("v1", "secrets");
  for (const char* n : {"s1", "s2", "s3"}) api.Post(secrets, Secret(n));
  // Eventually: the watch cache may lag the writes by a moment.
  Response r;
  Eventually([&] {
    r = api.Get(secrets + "?resourceVersion=0&limit=2");
    const json::Value* items = json::Find(r.body, {"items"});
    return r.code != 200 || (items && items->IsArray() && items->Size() >= 3);
  });
  // The watch cache serves its items in no particular order.
  json::Document page = Page(api, r);
  if (auto* names = json::FindMutable(page, {"names"}); names && names->IsArray()) {
    std::sort(names->Begin(), names->End(), [](const json::Value& x, const json::Value& y) {
      return std::string_view(x.GetString()) < std::string_view(y.GetString());
    });
  }
  o.Set("limit 2", page);
  return o;
}

DIFF_SCENARIO("events.versions", "core v1 and events.k8s.io/v1 Events are one resource") {
  Observation o;
  const std::vector<std::string> core_fields = {
      "apiVersion", "kind", "involvedObject.kind", "involvedObject.name", "reason", "message", "type",
      "count", "source", "firstTimestamp", "lastTimestamp", "eventTime", "action",
      "reportingComponent", "reportingInstance", "regarding", "note"};
  const std::vector<std::string> events_fields = {
      "apiVersion", "kind", "regarding.kind", "regarding.name", "reason", "note", "type",
      "deprecatedCount", "deprecatedSource", "deprecatedFirstTimestamp", "deprecatedLastTimestamp",
      "eventTime", "action", "reportingController", "reportingInstance", "involvedObject", "message"};
  // Written as core v1, as kubectl and the agent's audit write it (the
  // involved object in the Event's namespace: the real server validates that).
  auto core = api.Post(api.Path("v1", "events"),
                       R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"core-1"},)"
                       R"("involvedObject":{"kind":"ConfigMap","name":"cm","namespace":")" + api.ns() + R"("},"reason":"SRExpertAction",)"
                       R"("message":"scaled","type":"Normal","count":2,"source":{"component":"srexpert-agent"},)"
                       R"("firstTimestamp":"2026-01-02T15:04:05Z","lastTimestamp":"2026-01-02T15:05:05Z"})");
  o.Set("core create", Fields(api, core, core_fields));
  o.Set("core read as events.k8s.io", Fields(api, api.Get(api.Path("events.k8s.io/v1", "events", "core-1")), events_fields));
  // Written as events.k8s.io/v1, as a newer controller writes it.
  auto ev = api.Post(api.Path("events.k8s.io/v1", "events"),
                     R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"ev-1"},)"
                     R"("eventTime":"2026-01-02T15:04:05.000000Z","reportingController":"example.com/ctl",)"
                     R"("reportingInstance":"ctl-1","action":"Scale","reason":"Scaled","note":"to 3","type":"Normal",)"
                     R"("regarding":{"kind":"ConfigMap","name":"cm","namespace":")" + api.ns() + R"("}})");
  o.Set("events.k8s.io create", Fields(api, ev, events_fields));
  o.Set("events.k8s.io read as core", Fields(api, api.Get(api.Path("v1", "events", "ev-1")), core_fields));
  o.Set("listed as events.k8s.io", Names(api, api.Get(api.Path("events.k8s.io/v1", "events"))));
  o.Set("listed as core", Names(api, api.Get(api.Path("v1", "events"))));
  // Through events.k8s.io only the series may change.
  o.Set("note patched through events.k8s.io",
        StatusOf(api, api.Patch(api.Path("events.k8s.io/v1", "events", "core-1"), R"({"note":"scaled again"})",
                                "application/merge-patch+json")));
  auto patched = api.Patch(api.Path("events.k8s.io/v1", "events", "core-1"),
                           R"({"series":{"count":3,"lastObservedTime":"2026-01-02T15:06:05.000000Z"}})",
                           "application/merge-patch+json");
  o.Set("series patched through events.k8s.io", Fields(api, patched, {"note", "series"}));
  o.Set("patch read as core", Fields(api, api.Get(api.Path("v1", "events", "core-1")), {"message", "series"}));
  return o;
}

DIFF_SCENARIO("list.selectors", "label and field selectors") {
  Observation o;
  auto secrets = api.Path("v1", "secrets");
  api.Post(secrets, Secret("s1", R"({"app":"a","tier":"x"})"));
  api.Post(secrets, Secret("s2", R"({"app":"b"})"));
  api.Post(secrets, Secret("s3", R"({"app":"a","tier":"y"})"));
  api.Post(secrets, Secret("s4"));
  for (const char* sel : {"app=a", "app==a", "app!=a", "app in (a,b)", "app notin (a)", "tier", "!tier",
                          "app=a,tier=y", "app=a,!tier", "app"}) {
    o.Set(std::string("label ") + sel, Names(api, api.Get(secrets + "?labelSelector=" + Query(sel))));
  }
  for (const char* sel : {"metadata.name=s2", "metadata.name==s2", "metadata.name!=s2"}) {
    o.Set(std::string("field ") + sel, Names(api, api.Get(secrets + "?fieldSelector=" + Query(sel))));
  }
  o.Set("field metadata.namespace across namespaces",
        Names(api, api.Get("/api/v1/secrets?fieldSelector=" + Query("metadata.namespace=" + api.ns() + ",metadata.name!=s1"))));
  o.Set("label and field", Names(api, api.Get(secrets + "?labelSelector=app%3Da&fieldSelector=" + Query("metadata.name!=s1"))));
  o.Set("bad label value", StatusOf(api, api.Get(secrets + "?labelSelector=" + Query("app=a b"))));
  o.Set("bad field selector operator", StatusOf(api, api.Get(secrets + "?fieldSelector=" + Query("metadata.name in (a)"))));
  o.Set("field label of Secrets", Names(api, api.Get(secrets + "?fieldSelector=" + Query("type=Opaque,metadata.name!=s1"))));
  o.Set("unsupported field label", StatusOf(api, api.Get(secrets + "?fieldSelector=" + Query("spec.x=y"))));
  o.Set("bad label key", StatusOf(api, api.Get(secrets + "?labelSelector=" + Query("-a=b"))));
  o.Set("gt", Names(api, api.Get(secrets + "?labelSelector=" + Query("app gt 1"))));
  o.Set("empty in", Names(api, api.Get(secrets + "?labelSelector=" + Query("app in ()"))));
  o.Set("unclosed in", StatusOf(api, api.Get(secrets + "?labelSelector=" + Query("app in (a"))));
  return o;
}

TEST_CASE("every known gap in docs/testing.md names a differential scenario", "[real][differential]") {
  const auto& ids = ScenarioIds();
  for (const auto& [id, reason] : KnownGaps()) {
    INFO(id << ": " << reason);
    CHECK(ids.count(id) == 1);
    CHECK(!reason.empty());
  }
}
