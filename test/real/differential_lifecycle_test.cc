// Differential scenarios of object lifecycles: watches, finalizers, garbage
// collection, namespace deletion and custom resources. See differential.h.
#include "test/real/differential.h"

#include <algorithm>
#include <string_view>

using namespace srexpert;
using namespace srexpert::testing::diff;
using namespace std::chrono_literals;

namespace {

std::string Cm(const std::string& name, const std::string& extra_meta = "") {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + "\"" + extra_meta +
         R"(},"data":{"k":"v"}})";
}

std::string Secret(const std::string& name, const std::string& labels = "{}") {
  return R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":")" + name + R"(","labels":)" +
         labels + R"(},"type":"Opaque"})";
}

std::string Rv(const Response& r) { return json::GetString(r.body, {"metadata", "resourceVersion"}); }

// StatusOf for schema violations of several properties: kube-openapi
// visits properties in Go map order, so the causes (and the message's list)
// come in any order. Causes are sorted and a multi-cause message is cut to
// `... is invalid: [...]`.
json::Document SchemaErrorOf(Api& api, const Response& r) {
  json::Document d = StatusOf(api, r);
  auto* causes = json::FindMutable(d, {"details", "causes"});
  if (causes == nullptr || !causes->IsArray() || causes->Size() < 2) return d;
  std::sort(causes->Begin(), causes->End(), [](const json::Value& x, const json::Value& y) {
    return json::GetString(x, {"field"}) + "\n" + json::GetString(x, {"message"}) <
           json::GetString(y, {"field"}) + "\n" + json::GetString(y, {"message"});
  });
  std::string message = json::GetString(d, {"message"});
  json::SetString(d, "message", message.substr(0, message.find(" is invalid: ")) + " is invalid: [...]",
                  d.GetAllocator());
  return d;
}
std::string Uid(const Response& r) { return json::GetString(r.body, {"metadata", "uid"}); }

// One watch event as observed: type, object name, resourceVersion label and
// labels (ERROR: the Status).
json::Document Event(Api& api, const json::Value& e) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  std::string type = json::GetString(e, {"type"});
  json::SetString(d, "type", type, a);
  const json::Value* obj = json::Find(e, {"object"});
  if (obj == nullptr) return d;
  if (type == "ERROR") {
    for (const char* key : {"kind", "status", "reason", "message", "code"}) {
      json::Document v = At(api, *obj, key);
      if (!(v.IsString() && std::string_view(v.GetString()) == "<absent>")) json::Set(d, key, json::Value(v, a), a);
    }
    return d;
  }
  json::SetString(d, "kind", json::GetString(*obj, {"kind"}), a);
  json::SetString(d, "name", api.NormString(json::GetString(*obj, {"metadata", "name"})), a);
  json::Set(d, "resourceVersion", json::Value(At(api, *obj, "metadata.resourceVersion"), a), a);
  json::Set(d, "labels", json::Value(At(api, *obj, "metadata.labels"), a), a);
  return d;
}

// Reads events up to and including the one naming `sentinel` (a write the
// scenario makes last, so everything before it has been delivered), or
// until nothing arrives for 20 s.
json::Document EventsUntil(Api& api, Api::Watch& w, const std::string& sentinel) {
  json::Document d(rapidjson::kArrayType);
  while (auto e = w.Next(20s)) {
    d.PushBack(json::Value(Event(api, *e), d.GetAllocator()), d.GetAllocator());
    if (json::GetString(*e, {"object", "metadata", "name"}) == sentinel) return d;
  }
  d.PushBack(json::String(w.ended() ? "<stream ended>" : "<nothing for 20 s>", d.GetAllocator()),
             d.GetAllocator());
  return d;
}

// A Widget CRD of a group unique to the scenario's namespace, Established
// and served; deleted after the scenario. Returns the plural's path prefix
// in the namespace (…/namespaces/<ns>/widgets). `cel`: with an
// x-kubernetes-validations rule on spec (kube-apiserver then also reports
// skipped rules next to schema errors, so only crd.cel asks for it).
std::string InstallWidgetCrd(Api& api, bool cel = false) {
  std::string group = api.ns() + ".diff.srexpert.io";
  std::string crd = R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"widgets.)" + group + R"("},
    "spec":{"group":")" + group + R"(","scope":"Namespaced",
      "names":{"plural":"widgets","singular":"widget","kind":"Widget","listKind":"WidgetList"},
      "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
        "schema":{"openAPIV3Schema":{"type":"object","properties":{
          "spec":{"type":"object",)" +
                    (cel ? R"("x-kubernetes-validations":[{"rule":"self.min <= self.max","message":"min must not exceed max"}],)" : "") +
                    R"("properties":{
              "size":{"type":"integer","default":1,"minimum":1},
              "mode":{"type":"string","enum":["a","b"],"default":"a"},
              "min":{"type":"integer","default":0},
              "max":{"type":"integer","default":10},
              "name":{"type":"string","maxLength":5,"pattern":"^[a-z]+$"},
              "tags":{"type":"array","items":{"type":"string"},"x-kubernetes-list-type":"set"},
              "options":{"type":"object","default":{},"properties":{"retries":{"type":"integer","default":3}}},
              "free":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}},
          "status":{"type":"object","properties":{"ready":{"type":"boolean"}}}}}}}]}})";
  auto created = api.Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  INFO(created.text);
  REQUIRE(created.code == 201);
  api.DeleteAfterwards("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets." + group);
  std::string path = "/apis/" + group + "/v1/namespaces/" + api.ns() + "/widgets";
  // The real apiextensions controllers establish and serve it a moment later.
  bool served = Eventually([&] {
    auto crd_now = api.Get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets." + group);
    bool established = false;
    if (const auto* conds = json::Find(crd_now.body, {"status", "conditions"}); conds && conds->IsArray()) {
      for (const auto& c : conds->GetArray()) {
        established |= json::GetString(c, {"type"}) == "Established" && json::GetString(c, {"status"}) == "True";
      }
    }
    return established && api.Get(path).code == 200;
  });
  REQUIRE(served);
  return path;
}

std::string Widget(const std::string& name, const std::string& spec, const std::string& extra = "") {
  return R"({"apiVersion":")" + std::string("GROUP") + R"(/v1","kind":"Widget","metadata":{"name":")" + name +
         R"("},"spec":)" + spec + extra + "}";
}

// The Widget body for the CRD installed by InstallWidgetCrd.
std::string WidgetFor(Api& api, const std::string& name, const std::string& spec, const std::string& extra = "") {
  std::string w = Widget(name, spec, extra);
  w.replace(w.find("GROUP"), 5, api.ns() + ".diff.srexpert.io");
  return w;
}

}  // namespace

// --- Watch ------------------------------------------------------------------

DIFF_SCENARIO("watch.events", "a watch from a resourceVersion sees ADDED, MODIFIED, DELETED in order") {
  Observation o;
  auto secrets = api.Path("v1", "secrets");
  auto list = api.Get(secrets);
  auto w = api.OpenWatch(secrets + "?watch=1&resourceVersion=" + json::GetString(list.body, {"metadata", "resourceVersion"}));
  auto created = api.Post(secrets, Secret("a"));
  o.Set("create", Fields(api, created, {"metadata.resourceVersion"}));
  o.Set("update", Fields(api, api.Patch(api.Path("v1", "secrets", "a"), R"({"metadata":{"labels":{"x":"1"}}})",
                                        "application/merge-patch+json"),
                         {"metadata.resourceVersion"}));
  o.Set("delete", StatusOf(api, api.Delete(api.Path("v1", "secrets", "a"))));
  api.Post(secrets, Secret("zz-end"));
  o.Set("events", EventsUntil(api, *w, "zz-end"));
  return o;
}

DIFF_SCENARIO("watch.initial", "a watch without resourceVersion starts with ADDED for what exists") {
  Observation o;
  auto secrets = api.Path("v1", "secrets");
  o.Set("create a", Fields(api, api.Post(secrets, Secret("a")), {"metadata.resourceVersion"}));
  o.Set("create b", Fields(api, api.Post(secrets, Secret("b")), {"metadata.resourceVersion"}));
  auto w = api.OpenWatch(secrets + "?watch=1");
  api.Post(secrets, Secret("zz-end"));
  json::Document events = EventsUntil(api, *w, "zz-end");
  // The synthetic ADDED events come in no particular order (the watch
  // cache's); only the sentinel is known to come last.
  if (events.Size() > 1) {
    std::sort(events.Begin(), events.End() - 1, [](const json::Value& x, const json::Value& y) {
      return json::Dump(x) < json::Dump(y);
    });
  }
  o.Set("events", events);
  return o;
}

DIFF_SCENARIO("watch.selector", "a selector watch turns objects entering and leaving it into ADDED and DELETED") {
  Observation o;
  auto secrets = api.Path("v1", "secrets");
  auto list = api.Get(secrets);
  auto w = api.OpenWatch(secrets + "?watch=1&labelSelector=app%3Dx&resourceVersion=" +
                         json::GetString(list.body, {"metadata", "resourceVersion"}));
  api.Post(secrets, Secret("a"));
  const std::string merge = "application/merge-patch+json";
  api.Patch(api.Path("v1", "secrets", "a"), R"({"metadata":{"labels":{"app":"x"}}})", merge);
  api.Patch(api.Path("v1", "secrets", "a"), R"({"metadata":{"labels":{"app":"x","more":"1"}}})", merge);
  api.Patch(api.Path("v1", "secrets", "a"), R"({"metadata":{"labels":{"app":"y"}}})", merge);
  api.Delete(api.Path("v1", "secrets", "a"));
  api.Post(secrets, Secret("zz-end", R"({"app":"x"})"));
  o.Set("events", EventsUntil(api, *w, "zz-end"));
  return o;
}

DIFF_SCENARIO("watch.expired", "a watch from before the resource's watch window is a 410 Expired ERROR event") {
  // kube-apiserver's watch cache of a resource starts when the resource is
  // first served: for a custom resource, when its CRD is established. A
  // resourceVersion from before that (here: the namespace's creation) is
  // outside the window, however few writes happened since.
  Observation o;
  auto ns = api.Get("/api/v1/namespaces/" + api.ns());
  std::string path = InstallWidgetCrd(api);
  auto w = api.OpenWatch(path + "?watch=1&resourceVersion=" + Rv(ns));
  json::Document events(rapidjson::kArrayType);
  while (auto e = w->Next(10s)) events.PushBack(json::Value(Event(api, *e), events.GetAllocator()), events.GetAllocator());
  o.Set("events", events);
  o.Set("stream ended", w->ended());
  return o;
}

DIFF_SCENARIO("watch.bookmarks", "allowWatchBookmarks: bookmarks carry only a resourceVersion, never replace events") {
  // How often bookmarks come is not compared: kube-apiserver v1.26 sent none
  // at all within 75 s on a quiet collection (docs/testing.md), the test
  // server sends one per bookmark interval. What both must do: no other
  // event on a quiet collection, BOOKMARK objects with only kind, apiVersion
  // and metadata.resourceVersion, and a clean end at timeoutSeconds.
  Observation o;
  auto secrets = api.Path("v1", "secrets");
  auto created = api.Post(secrets, Secret("a"));
  auto w = api.OpenWatch(secrets + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion=" + Rv(created));
  json::Document others(rapidjson::kArrayType);
  bool well_formed = true;
  while (auto e = w->Next(30s)) {
    if (json::GetString(*e, {"type"}) != "BOOKMARK") {
      others.PushBack(json::Value(Event(api, *e), others.GetAllocator()), others.GetAllocator());
      continue;
    }
    const json::Value& obj = (*e)["object"];
    for (const auto& m : obj.GetObject()) {
      std::string key = m.name.GetString();
      well_formed &= key == "kind" || key == "apiVersion" || key == "metadata";
    }
    for (const auto& m : obj["metadata"].GetObject()) {
      std::string key = m.name.GetString();
      // A typed bookmark carries the zero creationTimestamp as null.
      well_formed &= key == "resourceVersion" || (key == "creationTimestamp" && m.value.IsNull());
    }
    well_formed &= json::GetString(obj, {"kind"}) == "Secret" && json::GetString(obj, {"apiVersion"}) == "v1";
  }
  o.Set("other events", others);
  o.Set("bookmarks well formed", well_formed);
  o.Set("ended at timeoutSeconds", w->ended());
  return o;
}

// --- Finalizers ---------------------------------------------------------------

DIFF_SCENARIO("finalizers", "delete with a finalizer marks the object, removing the last finalizer deletes it") {
  Observation o;
  auto cms = api.Path("v1", "configmaps");
  auto created = api.Post(cms, Cm("f", R"(,"finalizers":["example.com/hold"])"));
  o.Set("create", Fields(api, created, {"metadata.finalizers", "metadata.resourceVersion"}));
  auto path = api.Path("v1", "configmaps", "f");
  auto deleted = api.Delete(path);
  o.Set("delete", Fields(api, deleted, {"kind", "metadata.deletionTimestamp", "metadata.deletionGracePeriodSeconds",
                                        "metadata.finalizers", "metadata.resourceVersion"}));
  o.Set("get", Fields(api, api.Get(path), {"metadata.deletionTimestamp", "metadata.finalizers", "metadata.resourceVersion"}));
  o.Set("delete again", Fields(api, api.Delete(path), {"kind", "metadata.resourceVersion"}));
  o.Set("adding a finalizer", StatusOf(api, api.Patch(path, R"({"metadata":{"finalizers":["example.com/hold","example.com/more"]}})",
                                                      "application/merge-patch+json")));
  o.Set("editing data", Fields(api, api.Patch(path, R"({"data":{"k":"2"}})", "application/merge-patch+json"),
                               {"data", "metadata.resourceVersion"}));
  o.Set("removing the finalizer", Fields(api, api.Patch(path, R"({"metadata":{"finalizers":null}})", "application/merge-patch+json"),
                                         {"kind", "metadata.finalizers", "metadata.deletionTimestamp"}));
  o.Set("get after", StatusOf(api, api.Get(path)));
  api.Post(cms, Cm("plain"));
  o.Set("delete without finalizers", StatusOf(api, api.Delete(api.Path("v1", "configmaps", "plain"))));
  o.Set("delete twice", StatusOf(api, api.Delete(api.Path("v1", "configmaps", "plain"))));
  api.Post(cms, Cm("kept"));
  o.Set("dry-run delete", StatusOf(api, api.Delete(api.Path("v1", "configmaps", "kept") + "?dryRun=All")));
  o.Set("after a dry-run delete", Fields(api, api.Get(api.Path("v1", "configmaps", "kept")), {"metadata.name"}));
  o.Set("dry-run delete of a missing object",
        StatusOf(api, api.Delete(api.Path("v1", "configmaps", "missing") + "?dryRun=All")));
  return o;
}

// --- Garbage collection -------------------------------------------------------

namespace {

std::string OwnerRef(const Response& owner, bool block) {
  return R"(,"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":")" +
         json::GetString(owner.body, {"metadata", "name"}) + R"(","uid":")" + Uid(owner) + "\"" +
         (block ? R"(,"blockOwnerDeletion":true)" : "") + "}]";
}

}  // namespace

DIFF_SCENARIO("gc.background", "deleting an owner (Background) deletes its dependents") {
  Observation o;
  auto cms = api.Path("v1", "configmaps");
  auto owner = api.Post(cms, Cm("owner"));
  auto dependent = api.Post(cms, Cm("dependent", OwnerRef(owner, false)));
  o.Set("dependent", Fields(api, dependent, {"metadata.ownerReferences"}));
  o.Set("delete owner", StatusOf(api, api.Delete(api.Path("v1", "configmaps", "owner"))));
  o.Set("dependent collected", Eventually([&] { return api.Get(api.Path("v1", "configmaps", "dependent")).code == 404; }));
  // A dependent of an owner that never existed is collected as well.
  api.Post(cms, Cm("orphaned", R"(,"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"ghost","uid":"00000000-0000-0000-0000-000000000001"}])"));
  o.Set("dependent of a missing owner collected",
        Eventually([&] { return api.Get(api.Path("v1", "configmaps", "orphaned")).code == 404; }));
  return o;
}

DIFF_SCENARIO("gc.foreground", "Foreground deletion removes dependents first, then the owner") {
  Observation o;
  auto cms = api.Path("v1", "configmaps");
  auto owner = api.Post(cms, Cm("owner"));
  api.Post(cms, Cm("dependent", OwnerRef(owner, true) + R"(,"finalizers":["example.com/hold"])"));
  auto deleted = api.Delete(api.Path("v1", "configmaps", "owner"), R"({"propagationPolicy":"Foreground"})");
  o.Set("delete owner", Fields(api, deleted, {"kind", "metadata.finalizers", "metadata.deletionTimestamp"}));
  // The dependent's finalizer holds it, and with it the owner.
  o.Set("dependent being deleted",
        Eventually([&] { return !json::GetString(api.Get(api.Path("v1", "configmaps", "dependent")).body,
                                                 {"metadata", "deletionTimestamp"}).empty(); }));
  o.Set("owner waits", Fields(api, api.Get(api.Path("v1", "configmaps", "owner")), {"metadata.finalizers"}));
  api.Patch(api.Path("v1", "configmaps", "dependent"), R"({"metadata":{"finalizers":null}})", "application/merge-patch+json");
  o.Set("dependent gone", Eventually([&] { return api.Get(api.Path("v1", "configmaps", "dependent")).code == 404; }));
  o.Set("owner gone", Eventually([&] { return api.Get(api.Path("v1", "configmaps", "owner")).code == 404; }));
  return o;
}

DIFF_SCENARIO("gc.orphan", "Orphan deletion keeps dependents and removes their ownerReferences") {
  Observation o;
  auto cms = api.Path("v1", "configmaps");
  auto owner = api.Post(cms, Cm("owner"));
  api.Post(cms, Cm("dependent", OwnerRef(owner, false)));
  auto deleted = api.Delete(api.Path("v1", "configmaps", "owner"), R"({"propagationPolicy":"Orphan"})");
  o.Set("delete owner", Fields(api, deleted, {"kind", "metadata.finalizers", "metadata.deletionTimestamp"}));
  o.Set("owner gone", Eventually([&] { return api.Get(api.Path("v1", "configmaps", "owner")).code == 404; }));
  o.Set("dependent kept without ownerReferences", Eventually([&] {
          auto d = api.Get(api.Path("v1", "configmaps", "dependent"));
          return d.code == 200 && json::Find(d.body, {"metadata", "ownerReferences"}) == nullptr;
        }));
  return o;
}

// --- Namespaces -----------------------------------------------------------------

DIFF_SCENARIO("namespace.delete", "a deleted namespace refuses new content, is emptied, then goes") {
  Observation o;
  std::string ns = api.ns() + "-x";
  auto created = api.Post("/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns + R"("}})");
  o.Set("create", Fields(api, created, {"metadata.labels", "spec", "status"}));
  std::string cms = "/api/v1/namespaces/" + ns + "/configmaps";
  api.Post(cms, Cm("held", R"(,"finalizers":["example.com/hold"])"));
  api.Post("/api/v1/namespaces/" + ns + "/secrets", Secret("s"));
  auto deleted = api.Delete("/api/v1/namespaces/" + ns);
  o.Set("delete", Fields(api, deleted, {"kind", "spec", "status.phase", "metadata.finalizers"}));
  o.Set("get", Fields(api, api.Get("/api/v1/namespaces/" + ns), {"spec", "status.phase"}));
  o.Set("create in it", StatusOf(api, api.Post(cms, Cm("new"))));
  o.Set("content deleted", Eventually([&] {
          return api.Get("/api/v1/namespaces/" + ns + "/secrets/s").code == 404 &&
                 !json::GetString(api.Get(cms + "/held").body, {"metadata", "deletionTimestamp"}).empty();
        }));
  o.Set("held by the finalizer", Fields(api, api.Get("/api/v1/namespaces/" + ns), {"status.phase"}));
  api.Patch(cms + "/held", R"({"metadata":{"finalizers":null}})", "application/merge-patch+json");
  o.Set("namespace gone", Eventually([&] { return api.Get("/api/v1/namespaces/" + ns).code == 404; }, 120s));
  return o;
}

// --- Custom resources -----------------------------------------------------------

DIFF_SCENARIO("crd.defaulting", "structural defaults are applied on create") {
  Observation o;
  std::string path = InstallWidgetCrd(api);
  o.Set("empty spec", Fields(api, api.Post(path, WidgetFor(api, "a", "{}")), {"spec", "metadata.generation"}));
  o.Set("partial spec", Fields(api, api.Post(path, WidgetFor(api, "b", R"({"size":3,"options":{}})")), {"spec"}));
  o.Set("no spec", Fields(api, api.Post(path, R"({"apiVersion":")" + api.ns() + R"(.diff.srexpert.io/v1","kind":"Widget","metadata":{"name":"c"}})"),
                          {"spec"}));
  o.Set("status dropped on create", Fields(api, api.Post(path, WidgetFor(api, "d", "{}", R"(,"status":{"ready":true})")), {"status"}));
  return o;
}

DIFF_SCENARIO("crd.pruning", "unknown fields are pruned (or refused under fieldValidation=Strict)") {
  Observation o;
  std::string path = InstallWidgetCrd(api);
  o.Set("pruned", Fields(api, api.Post(path, WidgetFor(api, "a", R"({"extra":1,"free":{"any":{"thing":1}}})", R"(,"top":1)")),
                         {"spec", "top"}));
  o.Set("strict", StatusOf(api, api.Post(path + "?fieldValidation=Strict", WidgetFor(api, "b", R"({"extra":1})"))));
  o.Set("ignore", Fields(api, api.Post(path + "?fieldValidation=Ignore", WidgetFor(api, "c", R"({"extra":1})")), {"spec"}));
  return o;
}

DIFF_SCENARIO("crd.validation", "OpenAPI schema violations are 422 Invalid with one cause each") {
  Observation o;
  std::string path = InstallWidgetCrd(api);
  o.Set("enum and minimum", SchemaErrorOf(api, api.Post(path, WidgetFor(api, "a", R"({"size":0,"mode":"c"})"))));
  o.Set("type", SchemaErrorOf(api, api.Post(path, WidgetFor(api, "b", R"({"size":"big"})"))));
  o.Set("pattern", StatusOf(api, api.Post(path, WidgetFor(api, "c", R"({"name":"ABC"})"))));
  // A string's first failing check (maxLength, minLength, pattern) hides
  // the rest.
  // (Only reasons and fields: the wording is compared in crd.validation.maxlength.)
  auto too_long = api.Post(path, WidgetFor(api, "e", R"({"name":"ABCDEFG"})"));
  json::Document causes(rapidjson::kArrayType);
  if (const auto* cs = json::Find(too_long.body, {"details", "causes"}); cs && cs->IsArray()) {
    for (const auto& c : cs->GetArray()) {
      causes.PushBack(json::String(json::GetString(c, {"field"}) + " " + json::GetString(c, {"reason"}),
                                   causes.GetAllocator()),
                      causes.GetAllocator());
    }
  }
  o.Set("maxLength hides pattern", causes);
  o.Set("set duplicates", StatusOf(api, api.Post(path, WidgetFor(api, "d", R"({"tags":["x","x"]})"))));
  auto ok = api.Post(path, WidgetFor(api, "ok", "{}"));
  o.Set("invalid update", StatusOf(api, api.Put(path + "/ok", [&] {
                                     json::Document d = json::Clone(ok.body);
                                     json::Set(d["spec"], "size", json::Value(-1), d.GetAllocator());
                                     return json::Dump(d);
                                   }())));
  o.Set("invalid merge patch", StatusOf(api, api.Patch(path + "/ok", R"({"spec":{"mode":"z"}})", "application/merge-patch+json")));
  return o;
}

DIFF_SCENARIO("crd.validation.maxlength", "the wording of a maxLength violation") {
  Observation o;
  std::string path = InstallWidgetCrd(api);
  o.Set("too long", StatusOf(api, api.Post(path, WidgetFor(api, "a", R"({"name":"abcdefg"})"))));
  return o;
}

DIFF_SCENARIO("crd.cel", "x-kubernetes-validations rules are enforced") {
  Observation o;
  std::string path = InstallWidgetCrd(api, true);
  o.Set("rule broken", StatusOf(api, api.Post(path, WidgetFor(api, "a", R"({"min":5,"max":1})"))));
  o.Set("rule holds", Fields(api, api.Post(path, WidgetFor(api, "b", R"({"min":1,"max":5})")), {"spec.min", "spec.max"}));
  return o;
}

DIFF_SCENARIO("crd.writes", "custom resource updates: conditional PUT, status subresource, generation") {
  Observation o;
  std::string path = InstallWidgetCrd(api);
  auto created = api.Post(path, WidgetFor(api, "w", "{}"));
  o.Set("create", Fields(api, created, {"metadata.generation", "metadata.resourceVersion"}));
  json::Document body = json::Clone(created.body);
  json::Remove(body["metadata"], "resourceVersion");
  o.Set("unconditional update", StatusOf(api, api.Put(path + "/w", json::Dump(body))));
  json::Document status = json::Clone(created.body);
  json::Set(status, "status", json::Value(Json(R"({"ready":true})"), status.GetAllocator()), status.GetAllocator());
  auto st = api.Put(path + "/w/status", json::Dump(status));
  o.Set("status update", Fields(api, st, {"metadata.generation", "metadata.resourceVersion", "status"}));
  json::Document labelled = json::Clone(st.body);
  json::Set(labelled["metadata"], "labels", json::Value(Json(R"({"a":"b"})"), labelled.GetAllocator()),
            labelled.GetAllocator());
  auto meta = api.Put(path + "/w", json::Dump(labelled));
  o.Set("metadata update", Fields(api, meta, {"metadata.generation", "metadata.resourceVersion", "status"}));
  o.Set("spec patch", Fields(api, api.Patch(path + "/w", R"({"spec":{"size":2}})", "application/merge-patch+json"),
                             {"metadata.generation", "spec.size"}));
  o.Set("strategic merge patch", StatusOf(api, api.Patch(path + "/w", R"({"spec":{"size":3}})",
                                                         "application/strategic-merge-patch+json")));
  o.Set("apply", Fields(api, api.Patch(path + "/w?fieldManager=m", WidgetFor(api, "w", R"({"size":4})"), "application/apply-patch+yaml"),
                        {"metadata.generation", "spec", "metadata.managedFields"}));
  o.Set("delete", Fields(api, api.Delete(path + "/w"), {"kind", "metadata.name"}));
  return o;
}
