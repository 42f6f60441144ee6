#include "test/apiserver/rest_storage.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/base64.h"
#include "common/time_format.h"
#include "test/apiserver/apply.h"
#include "test/apiserver/defaults.h"
#include "test/apiserver/event_versions.h"
#include "test/apiserver/validation.h"
#include "test/apiserver/json_patch.h"
#include "test/apiserver/object_meta.h"
#include "test/apiserver/schema.h"
#include "test/apiserver/selectors.h"
#include "test/apiserver/strategic_merge.h"
#include "test/apiserver/yaml_json.h"

namespace srexpert::testing {
namespace {

constexpr char kCrdCleanupFinalizer[] = "customresourcecleanup.apiextensions.k8s.io";

bool IsNamespaces(const ResourceType& t) { return t.group.empty() && t.resource == "namespaces"; }
bool IsSecrets(const ResourceType& t) { return t.group.empty() && t.resource == "secrets"; }

// Like the real server's Secret strategy: stringData is write-only input,
// merged into data (base64) on every write and never stored.
void MergeStringData(const ResourceType& type, json::Document& obj) {
  if (!IsSecrets(type) || !obj.IsObject() || !obj.HasMember("stringData")) return;
  auto& a = obj.GetAllocator();
  if (obj["stringData"].IsObject()) {
    if (!obj.HasMember("data") || !obj["data"].IsObject()) {
      json::Set(obj, "data", json::Value(rapidjson::kObjectType), a);
    }
    for (auto& m : obj["stringData"].GetObject()) {
      if (!m.value.IsString()) continue;
      json::SetString(obj["data"], m.name.GetString(),
                      base64::Encode({m.value.GetString(), m.value.GetStringLength()}), a);
    }
  }
  json::Remove(obj, "stringData");
}

bool IsCrd(const ResourceType& t) {
  return t.group == "apiextensions.k8s.io" && t.resource == "customresourcedefinitions";
}

// Kinds whose registry returns the deleted object rather than a Status from
// DELETE (ReturnDeletedObject in their REST storage).
bool ReturnsDeletedObject(const ResourceType& t) {
  return IsCrd(t) || IsNamespaces(t) ||
         (t.group.empty() && (t.resource == "pods" || t.resource == "services"));
}

// Kinds whose strategy allows PUT to create a missing object.
bool AllowCreateOnUpdate(const ResourceType& t) {
  return (t.group == "coordination.k8s.io" && t.resource == "leases") ||
         (t.group.empty() && t.resource == "events");
}


std::unique_ptr<ssa::Schema> SchemaFor(const ResourceType& t) {
  return t.custom ? ssa::CrdSchema(t.schema) : ssa::BuiltinSchema(t.kind);
}

ssa::Scope ScopeFor(const ResourceType& t, const std::string& subresource) {
  if (subresource == "status") return ssa::Scope::kStatusOnly;
  return t.has_status ? ssa::Scope::kMain : ssa::Scope::kAll;
}

json::Document WithoutManagedFields(const json::Value& obj) {
  json::Document d = json::Clone(obj);
  if (auto* meta = json::FindMutable(d, {"metadata"}); meta && meta->IsObject()) {
    json::Remove(*meta, "managedFields");
  }
  return d;
}

std::string ItemKey(const json::Value& obj) { return Namespace(obj) + "/" + Name(obj); }

// Everything but metadata and status: what metadata.generation tracks
// (for built-in kinds that is the spec; for custom resources every
// top-level field except metadata/status, as the CRD strategy does).
bool SpecChanged(const json::Value& a, const json::Value& b) {
  std::set<std::string> keys;
  for (const auto* v : {&a, &b}) {
    for (const auto& m : v->GetObject()) keys.insert(m.name.GetString());
  }
  for (const auto& k : keys) {
    if (k == "metadata" || k == "status" || k == "apiVersion" || k == "kind") continue;
    auto ia = a.FindMember(k.c_str());
    auto ib = b.FindMember(k.c_str());
    bool ha = ia != a.MemberEnd(), hb = ib != b.MemberEnd();
    if (ha != hb) return true;
    if (ha && !json::Equal(ia->value, ib->value)) return true;
  }
  return false;
}

void CopyMember(json::Document& dst, const json::Value& src, std::initializer_list<std::string_view> path_to_obj,
                const char* key) {
  auto& a = dst.GetAllocator();
  const json::Value* from = json::Find(src, path_to_obj);
  json::Value& to = json::EnsureObject(dst, path_to_obj, a);
  json::Remove(to, key);
  if (from != nullptr && from->IsObject()) {
    auto it = from->FindMember(key);
    if (it != from->MemberEnd()) json::Set(to, key, json::Value(it->value, a), a);
  }
}

void CopyTopLevel(json::Document& dst, const json::Value& src, const char* key) {
  auto& a = dst.GetAllocator();
  json::Remove(dst, key);
  auto it = src.FindMember(key);
  if (it != src.MemberEnd()) json::Set(dst, key, json::Value(it->value, a), a);
}

// The status a CRD reports once its names are accepted and it is served;
// the real apiextensions controllers write this shortly after creation.
void SetCrdStatus(json::Document& crd, const std::string& now) {
  auto& a = crd.GetAllocator();
  json::Value status(rapidjson::kObjectType);
  json::Value conditions(rapidjson::kArrayType);
  for (const auto& [type, reason, message] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"NamesAccepted", "NoConflicts", "no conflicts found"},
           {"Established", "InitialNamesAccepted", "the initial names have been accepted"}}) {
    json::Value c(rapidjson::kObjectType);
    json::SetString(c, "type", type, a);
    json::SetString(c, "status", "True", a);
    json::SetString(c, "lastTransitionTime", now, a);
    json::SetString(c, "reason", reason, a);
    json::SetString(c, "message", message, a);
    conditions.PushBack(c, a);
  }
  json::Set(status, "conditions", std::move(conditions), a);
  if (const auto* names = json::Find(crd, {"spec", "names"})) {
    json::Set(status, "acceptedNames", json::Value(*names, a), a);
  }
  json::Value stored(rapidjson::kArrayType);
  if (const auto* versions = json::Find(crd, {"spec", "versions"}); versions && versions->IsArray()) {
    for (const auto& v : versions->GetArray()) {
      if (json::GetBool(v, {"storage"})) stored.PushBack(json::String(json::GetString(v, {"name"}), a), a);
    }
  }
  json::Set(status, "storedVersions", std::move(stored), a);
  json::Set(crd, "status", std::move(status), a);
}

// Objects are stored in the form of the resource's storage version: an
// events.k8s.io Event as the core Event it is (event_versions.h). Writes
// convert here, after the type meta was checked; reads convert in Render.
void StorageForm(const ResourceType& type, json::Document& body) {
  if (!IsEventsApiEvent(type) || !body.IsObject()) return;
  EventsV1ToCore(body, body.GetAllocator());
  json::SetString(body, "apiVersion", "v1", body.GetAllocator());
}

}  // namespace

RestStorage::RestStorage(Store& store, ResourceRegistry& registry, Clock& clock)
    : store_(store), registry_(registry), clock_(clock) {}

json::Document RestStorage::Render(const ResourceType& type, const std::string& version,
                                   const json::Value& obj) const {
  json::Document out = json::Clone(obj);
  if (IsEventsApiEvent(type)) CoreToEventsV1(out, out.GetAllocator());
  if (IsEventsApiEvent(type) || IsCoreEvent(type)) {
    AddUnsetEventMembers(out, IsEventsApiEvent(type), out.GetAllocator());
  }
  json::SetString(out, "apiVersion", type.ApiVersion(version), out.GetAllocator());
  json::SetString(out, "kind", type.kind, out.GetAllocator());
  return out;
}

std::optional<ApiError> RestStorage::CheckTypeMeta(const ResourceType& type,
                                                   const std::string& version, json::Value& body,
                                                   json::Allocator& a) const {
  // The decoder defaults a missing apiVersion/kind from the endpoint and
  // rejects a body for another kind.
  std::string want_av = type.ApiVersion(version);
  std::string av = json::GetString(body, {"apiVersion"});
  std::string kind = json::GetString(body, {"kind"});
  if (type.custom) {
    if (!av.empty() && av != want_av) {
      return BadRequest(fmt::format(
          "the API version in the data ({}) does not match the expected API version ({})", av,
          want_av));
    }
    if (!kind.empty() && kind != type.kind) {
      return BadRequest(fmt::format(
          "the kind in the data ({}) does not match the expected kind ({})", kind, type.kind));
    }
  } else if ((!av.empty() && av != want_av) || (!kind.empty() && kind != type.kind)) {
    // The typed decoder: the body's kind is decoded as what it says, then
    // converted to the endpoint's internal type.
    std::string body_av = av.empty() ? want_av : av;
    std::string body_kind = kind.empty() ? type.kind : kind;
    std::string body_version = body_av.substr(body_av.find('/') + 1);
    std::string prefix = fmt::format("{} in version \"{}\" cannot be handled as a {}: ", body_kind,
                                     body_version, type.kind);
    if (!registry_.FindByKind(body_av, body_kind)) {
      return BadRequest(prefix + fmt::format("no kind \"{}\" is registered for version \"{}\" in "
                                             "scheme \"pkg/runtime/scheme.go:100\"",
                                             body_kind, body_av));
    }
    // Internal packages: core, apps, rbac, ... (events.k8s.io shares core's).
    std::string internal = type.group.empty() || type.group == "events.k8s.io"
                               ? "core"
                               : type.group.substr(0, type.group.find('.'));
    return BadRequest(prefix + fmt::format("converting ({}.{}) to ({}.{}): unknown conversion",
                                           body_version, body_kind, internal, type.kind));
  }
  json::SetString(body, "apiVersion", want_av, a);
  json::SetString(body, "kind", type.kind, a);
  if (!json::Find(body, {"metadata"}) || !json::Find(body, {"metadata"})->IsObject()) {
    json::Set(body, "metadata", json::Value(rapidjson::kObjectType), a);
  }
  return std::nullopt;
}

Outcome RestStorage::Get(const ResourceType& type, const std::string& version,
                         const std::string& ns, const std::string& name) {
  ObjectPtr obj;
  {
    auto txn = store_.Begin();
    obj = txn.Get(type.StorageKey(), ns, name);
  }
  if (!obj) return Outcome::Error(NotFound(type.Gr(), name));
  Outcome o;
  o.body = Render(type, version, *obj);
  return o;
}

Outcome RestStorage::List(const ResourceType& type, const std::string& version,
                          const std::string& ns, const ListOptions& options) {
  std::string err;
  auto labels = LabelSelector::Parse(options.label_selector, &err);
  if (!labels) return Outcome::Error(BadRequest(err));
  auto fields = FieldSelector::Parse(options.field_selector, &type, &err);
  if (!fields) return Outcome::Error(BadRequest(err));

  uint64_t at_rv = 0;
  std::string start_after;
  // resourceVersion=0 is served from the watch cache, which (up to v1.32)
  // ignores limit: one page with everything.
  int64_t limit = options.resource_version == "0" && options.continue_token.empty() ? 0 : options.limit;
  if (!options.continue_token.empty()) {
    // etcd3's decodeContinue, wrapped as the list handler does. The detail
    // after "is not valid: " of undecodable tokens is ours, not Go's.
    auto invalid = [](const std::string& why) {
      return Outcome::Error(BadRequest("invalid continue token: continue key is not valid: " + why));
    };
    auto raw = base64::DecodeUrl(options.continue_token);
    if (!raw) return invalid("illegal base64 data");
    std::string perr;
    auto token = json::Parse(*raw, &perr);
    if (!token || !token->IsObject()) return invalid(perr.empty() ? "not a JSON object" : perr);
    if (std::string v = json::GetString(*token, {"v"}); v != "meta.k8s.io/v1") {
      return invalid(fmt::format("server does not recognize this encoded version \"{}\"", v));
    }
    at_rv = static_cast<uint64_t>(json::GetInt(*token, {"rv"}));
    start_after = json::GetString(*token, {"start"});
    if (at_rv == 0) return invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
    if (start_after.empty()) return invalid("encoded start key empty (version meta.k8s.io/v1)");
  } else if (options.resource_version_match == "Exact") {
    at_rv = std::strtoull(options.resource_version.c_str(), nullptr, 10);
  }
  auto snap = store_.ListAt(type.StorageKey(), ns, at_rv);
  if (!snap) {
    if (!options.continue_token.empty()) {
      return Outcome::Error(Expired(
          "The provided continue parameter is too old to display a consistent list result. You "
          "can start a new list without the continue parameter, or use the continue token in "
          "this response to retrieve the remainder of the results. Continuing with the provided "
          "token results in an inconsistent list - objects that were created, modified, or "
          "deleted between the time the first chunk was returned and now may show up in the "
          "list."));
    }
    return Outcome::Error(Expired(fmt::format("too old resource version: {} ({})", at_rv,
                                              store_.CurrentRv())));
  }
  Outcome o;
  auto& a = o.body.GetAllocator();
  o.body.SetObject();
  json::SetString(o.body, "kind", type.list_kind, a);
  json::SetString(o.body, "apiVersion", type.ApiVersion(version), a);
  json::Value items(rapidjson::kArrayType);
  int64_t count = 0;
  int64_t remaining = 0;
  std::string last_key;
  bool more = false;
  for (const auto& obj : snap->items) {
    std::string key = ItemKey(*obj);
    if (!start_after.empty() && key <= start_after) continue;
    if (!labels->Matches(*obj) || !fields->Matches(*obj)) continue;
    if (limit > 0 && count >= limit) {
      more = true;
      remaining++;
      continue;
    }
    // Real list responses carry kind/apiVersion per item only for custom
    // resources (unstructured); built-in items omit them.
    json::Value item(*obj, a);
    if (IsEventsApiEvent(type)) CoreToEventsV1(item, a);
    if (IsEventsApiEvent(type) || IsCoreEvent(type)) AddUnsetEventMembers(item, IsEventsApiEvent(type), a);
    if (type.custom) {
      json::SetString(item, "apiVersion", type.ApiVersion(version), a);
    } else {
      json::Remove(item, "apiVersion");
      json::Remove(item, "kind");
    }
    items.PushBack(item, a);
    last_key = key;
    count++;
  }
  json::Value meta(rapidjson::kObjectType);
  json::SetString(meta, "resourceVersion", std::to_string(snap->rv), a);
  if (more) {
    json::Document token(rapidjson::kObjectType);
    json::SetString(token, "v", "meta.k8s.io/v1", token.GetAllocator());
    json::Set(token, "rv", json::Value(static_cast<int64_t>(snap->rv)), token.GetAllocator());
    // etcd continues from the key after the last one returned.
    json::SetString(token, "start", last_key, token.GetAllocator());
    json::SetString(meta, "continue", base64::EncodeUrl(json::Dump(token)), a);
    // Like the real server, the count is only given when no selector can
    // make it inexact.
    if (labels->Empty() && fields->Empty()) {
      json::Set(meta, "remainingItemCount", json::Value(remaining), a);
    }
  }
  json::Set(o.body, "metadata", std::move(meta), a);
  json::Set(o.body, "items", std::move(items), a);
  return o;
}

std::variant<json::Document, ApiError> RestStorage::PrepareCreate(Store::Txn& txn,
                                                                 const ResourceType& type,
                                                                 const std::string& version,
                                                                 const std::string& ns,
                                                                 json::Document body,
                                                                 const std::string& field_validation,
                                                                 std::vector<std::string>* warnings) {
  auto& a = body.GetAllocator();
  if (!body.IsObject()) return BadRequest("the body of the request was not a JSON object");
  if (auto e = CheckTypeMeta(type, version, body, a)) return *e;
  StorageForm(type, body);
  MergeStringData(type, body);
  auto& meta = body["metadata"];
  if (type.namespaced) {
    std::string body_ns = json::GetString(meta, {"namespace"});
    if (!body_ns.empty() && body_ns != ns) {
      return BadRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    json::SetString(meta, "namespace", ns, a);
  } else {
    json::Remove(meta, "namespace");
  }
  std::string name = json::GetString(meta, {"name"});
  std::string generate = json::GetString(meta, {"generateName"});
  if (name.empty() && !generate.empty()) {
    // Retry on the (unlikely) collision rather than failing the request,
    // which is what the real server's generateName retry amounts to.
    for (int i = 0; i < 8; ++i) {
      name = generate + RandomSuffix();
      if (!txn.Get(type.StorageKey(), ns, name)) break;
    }
    json::SetString(meta, "name", name, a);
  }
  if (name.empty()) {
    return Invalid(type.group, type.kind, "",
                   {RequiredValue("metadata.name", "name or generateName is required")});
  }
  if (auto cause = ValidateName(type, name)) return Invalid(type.group, type.kind, name, {*cause});
  if (!json::GetString(meta, {"resourceVersion"}).empty()) {
    return InternalError("resourceVersion should not be set on objects to be created");
  }
  if (type.namespaced) {
    auto nsobj = txn.Get("/namespaces", "", ns);
    if (!nsobj) return NotFound({"", "namespaces"}, ns);
    if (BeingDeleted(*nsobj)) {
      return Forbidden(type.Gr(), name,
                       fmt::format("unable to create new content in namespace {} because it is "
                                   "being terminated",
                                   ns),
                       {{"NamespaceTerminating",
                         fmt::format("namespace {} is being terminated", ns),
                         "metadata.namespace"}});
    }
  }
  if (type.custom) {
    auto crd = txn.Get("apiextensions.k8s.io/customresourcedefinitions", "",
                       type.resource + "." + type.group);
    if (crd && BeingDeleted(*crd)) {
      return MethodNotSupported(type.Gr(), "create");
    }
  }
  if (txn.Get(type.StorageKey(), ns, name)) return AlreadyExists(type.Gr(), name);

  std::string now = FormatRfc3339(clock_.WallNow());
  json::SetString(meta, "uid", NewUid(), a);
  json::SetString(meta, "creationTimestamp", now, a);
  json::Remove(meta, "deletionTimestamp");
  json::Remove(meta, "deletionGracePeriodSeconds");
  json::Remove(meta, "selfLink");
  if (type.has_generation) {
    json::Set(meta, "generation", json::Value(int64_t{1}), a);
  } else {
    json::Remove(meta, "generation");
  }
  if (type.has_status) {
    // Status is owned by the /status subresource: create drops what the
    // client sent (custom resources omit it, built-ins start empty).
    json::Remove(body, "status");
    if (!type.custom) json::Set(body, "status", json::Value(rapidjson::kObjectType), a);
  }
  if (type.group.empty() && type.resource == "pods") {
    // PrepareForCreate: a new pod is Pending with its QoS class.
    auto& status = json::EnsureObject(body, {"status"}, a);
    json::SetString(status, "phase", "Pending", a);
    json::SetString(status, "qosClass", PodQosClass(body), a);
  }
  if (IsNamespaces(type)) {
    json::SetString(json::EnsureObject(body, {"metadata", "labels"}, a),
                    "kubernetes.io/metadata.name", name, a);
    json::Value fin(rapidjson::kArrayType);
    fin.PushBack(json::String("kubernetes", a), a);
    json::Set(json::EnsureObject(body, {"spec"}, a), "finalizers", std::move(fin), a);
    json::SetString(json::EnsureObject(body, {"status"}, a), "phase", "Active", a);
  }
  if (IsCrd(type)) {
    std::string want = json::GetString(body, {"spec", "names", "plural"}) + "." +
                       json::GetString(body, {"spec", "group"});
    if (name != want) {
      return Invalid(type.group, type.kind, name,
                     {InvalidValue("metadata.name", name,
                                   "must be spec.names.plural+\".\"+spec.group")});
    }
    ResourceRegistry probe;
    if (auto err = probe.RegisterCrd(body)) {
      return Invalid(type.group, type.kind, name, {{"FieldValueInvalid", *err, "spec"}});
    }
    if (!HasFinalizer(body, kCrdCleanupFinalizer)) {
      auto f = Finalizers(body);
      f.push_back(kCrdCleanupFinalizer);
      SetFinalizers(body, f);
    }
    SetCrdStatus(body, now);
  }
  if (type.custom) {
    if (auto e = AdmitCustomResource(type, body, field_validation, warnings)) return *e;
  }
  ApplyDefaults(type, body);
  if (auto e = ValidateObject(type, body, nullptr)) return *e;
  return body;
}

std::optional<ApiError> RestStorage::AdmitCustomResource(const ResourceType& type,
                                                         json::Document& obj,
                                                         const std::string& field_validation,
                                                         std::vector<std::string>* warnings) const {
  std::string api_version = json::GetString(obj, {"apiVersion"});
  std::string version = api_version.substr(api_version.find('/') + 1);
  const json::Value* schema = type.SchemaFor(version);
  if (schema == nullptr) return std::nullopt;
  auto unknown = PruneAndDefault(obj, *schema, obj.GetAllocator());
  if (!unknown.empty() && field_validation == "Strict") {
    std::vector<std::string> parts;
    for (const auto& u : unknown) parts.push_back(fmt::format("unknown field \"{}\"", u));
    return BadRequest(fmt::format("{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                                  type.kind, version, type.kind, fmt::join(parts, ", ")));
  }
  if (warnings != nullptr && field_validation != "Ignore") {
    for (const auto& u : unknown) warnings->push_back(fmt::format("unknown field \"{}\"", u));
  }
  auto causes = ValidateSchema(obj, *schema);
  if (causes.empty()) return std::nullopt;
  std::string name = Name(obj);
  return Invalid(type.group, type.kind, name, std::move(causes));
}

void RestStorage::OnCommitted(Store::Txn&, const ResourceType& type, const ObjectPtr& obj,
                              bool deleted) {
  if (!IsCrd(type)) return;
  if (deleted) {
    registry_.UnregisterCrd(json::GetString(*obj, {"spec", "group"}),
                            json::GetString(*obj, {"spec", "names", "plural"}));
  } else {
    registry_.RegisterCrd(*obj);
  }
}

Outcome RestStorage::Create(const ResourceType& type, const std::string& version,
                            const std::string& ns, json::Document body,
                            const WriteOptions& options) {
  auto txn = store_.Begin();
  std::vector<std::string> warnings;
  auto prepared = PrepareCreate(txn, type, version, ns, std::move(body), options.field_validation,
                                &warnings);
  if (auto* e = std::get_if<ApiError>(&prepared)) return Outcome::Error(*e);
  auto& obj = std::get<json::Document>(prepared);
  Outcome o;
  o.code = 201;
  o.warnings = std::move(warnings);
  if (options.dry_run) {
    o.body = Render(type, version, obj);
    return o;
  }
  ssa::RecordUpdate(nullptr, obj, options.field_manager, type.ApiVersion(version),
                    FormatRfc3339(clock_.WallNow()), "", ScopeFor(type, ""), *SchemaFor(type));
  std::string name = Name(obj);
  auto stored = txn.Put(type.StorageKey(), type.namespaced ? ns : "", name, std::move(obj));
  OnCommitted(txn, type, stored, false);
  o.body = Render(type, version, *stored);
  return o;
}

std::variant<RestStorage::Committed, ApiError> RestStorage::CommitUpdate(
    Store::Txn& txn, const ResourceType& type, const ObjectPtr& old, json::Document next,
    const std::string& subresource, const std::string& manager, bool dry_run, bool is_apply,
    const std::string& field_validation, std::vector<std::string>* warnings) {
  auto& a = next.GetAllocator();
  StorageForm(type, next);
  std::string name = Name(*old);
  std::string ns = Namespace(*old);
  std::string old_rv = json::GetString(*old, {"metadata", "resourceVersion"});
  std::string rv = json::GetString(next, {"metadata", "resourceVersion"});
  if (!rv.empty() && rv != old_rv) return ConflictModified(type.Gr(), name);

  if (subresource == "status") {
    // A status write changes status only (plus the resourceVersion).
    json::Document merged = json::Clone(*old);
    CopyTopLevel(merged, next, "status");
    if (is_apply) CopyMember(merged, next, {"metadata"}, "managedFields");
    next = std::move(merged);
  } else {
    MergeStringData(type, next);
    if (type.has_status) CopyTopLevel(next, *old, "status");
    if (IsNamespaces(type)) CopyTopLevel(next, *old, "spec");  // spec.finalizers via /finalize only
  }
  // The decoder defaults every written object (a patch or apply result
  // too), so a field a writer drops comes back with its default.
  ApplyDefaults(type, next);
  if (type.custom) {
    // Status writes are validated too: the whole object, with the new status.
    if (auto e = AdmitCustomResource(type, next, field_validation, warnings)) return *e;
  }
  if (auto e = ValidateObject(type, next, old.get())) return *e;
  if (IsEventsApiEvent(type)) {
    if (auto e = ValidateEventsV1Update(next, *old, name)) return *e;
  }
  // System-owned metadata cannot be changed by clients.
  for (const char* key : {"uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation", "namespace", "name"}) {
    CopyMember(next, *old, {"metadata"}, key);
  }
  json::Remove(json::EnsureObject(next, {"metadata"}, a), "selfLink");
  if (IsNamespaces(type)) {
    json::SetString(json::EnsureObject(next, {"metadata", "labels"}, a),
                    "kubernetes.io/metadata.name", name, a);
  }
  // A scale write is a spec write of the parent.
  if (type.has_generation && subresource != "status" && SpecChanged(*old, next)) {
    json::Set(next["metadata"], "generation",
              json::Value(json::GetInt(*old, {"metadata", "generation"}) + 1), a);
  }
  if (IsCrd(type) && subresource.empty()) {
    ResourceRegistry probe;
    if (auto err = probe.RegisterCrd(next)) {
      return Invalid(type.group, type.kind, name, {{"FieldValueInvalid", *err, "spec"}});
    }
  }
  json::SetString(next["metadata"], "resourceVersion", old_rv, a);
  if (!is_apply) {
    ssa::RecordUpdate(old.get(), next, manager, json::GetString(next, {"apiVersion"}),
                      FormatRfc3339(clock_.WallNow()), subresource, ScopeFor(type, subresource),
                      *SchemaFor(type));
  }
  // A write that changes nothing but managedFields timestamps is a no-op:
  // no new resourceVersion, no watch event (as on a real server).
  if (json::Equal(WithoutManagedFields(next), WithoutManagedFields(*old)) &&
      ssa::SameOwnership(ssa::ReadManagedFields(next), ssa::ReadManagedFields(*old))) {
    return Committed{old, false};
  }
  if (dry_run) return Committed{std::make_shared<const json::Document>(std::move(next)), false};
  if (BeingDeleted(next) && Finalizers(next).empty()) {
    // Removing the last finalizer of an object being deleted deletes it.
    auto gone = txn.Delete(type.StorageKey(), ns, name, &next);
    OnCommitted(txn, type, gone, true);
    return Committed{gone, true};
  }
  auto stored = txn.Put(type.StorageKey(), ns, name, std::move(next));
  OnCommitted(txn, type, stored, false);
  return Committed{stored, false};
}

Outcome RestStorage::Update(const ResourceType& type, const std::string& version,
                            const std::string& ns, const std::string& name,
                            const std::string& subresource, json::Document body,
                            const WriteOptions& options) {
  if (!body.IsObject()) return Outcome::Error(BadRequest("the body of the request was not a JSON object"));
  if (auto e = CheckTypeMeta(type, version, body, body.GetAllocator())) return Outcome::Error(*e);
  std::string body_name = json::GetString(body, {"metadata", "name"});
  if (body_name != name) {
    return Outcome::Error(BadRequest(fmt::format(
        "the name of the object ({}) does not match the name on the URL ({})", body_name, name)));
  }
  if (type.namespaced) {
    std::string body_ns = json::GetString(body, {"metadata", "namespace"});
    if (!body_ns.empty() && body_ns != ns) {
      return Outcome::Error(BadRequest(
          "the namespace of the provided object does not match the namespace sent on the request"));
    }
  }
  auto txn = store_.Begin();
  auto old = txn.Get(type.StorageKey(), ns, name);
  if (!old) {
    if (subresource.empty() && AllowCreateOnUpdate(type)) {
      json::Remove(body["metadata"], "resourceVersion");
      Outcome o;
      auto prepared = PrepareCreate(txn, type, version, ns, std::move(body),
                                    options.field_validation, &o.warnings);
      if (auto* e = std::get_if<ApiError>(&prepared)) return Outcome::Error(*e);
      o.code = 201;
      auto stored = txn.Put(type.StorageKey(), ns, name, std::move(std::get<json::Document>(prepared)));
      o.body = Render(type, version, *stored);
      return o;
    }
    return Outcome::Error(NotFound(type.Gr(), name));
  }
  if (type.custom && json::GetString(body, {"metadata", "resourceVersion"}).empty()) {
    // Custom resources do not allow unconditional updates. The registry
    // names the resource where NewInvalid expects a kind:
    // `widgets.example.com "w" is invalid`, details.kind "widgets".
    return Outcome::Error(Invalid(type.group, type.resource, name,
                                  {{"FieldValueInvalid", "Invalid value: 0x0: must be specified for an update",
                                    "metadata.resourceVersion"}}));
  }
  Outcome o;
  auto result = CommitUpdate(txn, type, old, std::move(body), subresource, options.field_manager,
                             options.dry_run, false, options.field_validation, &o.warnings);
  if (auto* e = std::get_if<ApiError>(&result)) return Outcome::Error(*e);
  o.body = Render(type, version, *std::get<Committed>(result).object);
  return o;
}

Outcome RestStorage::Patch(const ResourceType& type, const std::string& version,
                           const std::string& ns, const std::string& name,
                           const std::string& subresource, const std::string& content_type,
                           const std::string& body, const WriteOptions& options) {
  std::string media = content_type.substr(0, content_type.find(';'));
  media.erase(std::remove(media.begin(), media.end(), ' '), media.end());
  bool merge = media == "application/merge-patch+json";
  bool strategic = media == "application/strategic-merge-patch+json";
  bool json_patch = media == "application/json-patch+json";
  if (media == "application/apply-patch+yaml") {
    return ApplyPatch(type, version, ns, name, subresource, body, options);
  }
  // Custom resources have no patch strategy metadata, so the real server
  // refuses strategic merge patches for them.
  if (!(merge || json_patch || (strategic && !type.custom))) {
    if (type.custom) {
      return Outcome::Error(UnsupportedMediaType(
          "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"));
    }
    // Built-ins take every patch type; anything else fails before the
    // patch handler, with the generic Status of the HTTP code.
    ApiError e{415, "UnsupportedMediaType", "415: Unsupported Media Type"};
    e.generic = true;
    return Outcome::Error(e);
  }
  std::string perr;
  auto patch = json::Parse(body, &perr);
  if (!patch) return Outcome::Error(BadRequest("error decoding patch: " + perr));
  auto txn = store_.Begin();
  auto old = txn.Get(type.StorageKey(), ns, name);
  if (!old) return Outcome::Error(NotFound(type.Gr(), name));
  json::Document next = Render(type, version, *old);
  if (json_patch) {
    if (ApplyJsonPatch(next, *patch)) return Outcome::Error(JsonPatchFailed());
  } else {
    if (!patch->IsObject()) return Outcome::Error(BadRequest("patch body must be a JSON object"));
    if (strategic) {
      StrategicMergePatch(next, *patch, type.kind, next.GetAllocator());
    } else {
      json::MergePatch(next, *patch, next.GetAllocator());
    }
  }
  if (!next.IsObject()) return Outcome::Error(BadRequest("patched object is not a JSON object"));
  if (auto e = CheckTypeMeta(type, version, next, next.GetAllocator())) return Outcome::Error(*e);
  // A patch may not move the object.
  if (std::string patched = json::GetString(next, {"metadata", "name"}); patched != name) {
    return Outcome::Error(BadRequest(fmt::format(
        "the name of the object ({}) does not match the name on the URL ({})", patched, name)));
  }
  if (std::string patched = json::GetString(next, {"metadata", "namespace"});
      type.namespaced && !patched.empty() && patched != ns) {
    return Outcome::Error(BadRequest(
        "the namespace of the provided object does not match the namespace sent on the request"));
  }
  Outcome o;
  auto result = CommitUpdate(txn, type, old, std::move(next), subresource, options.field_manager,
                             options.dry_run, false, options.field_validation, &o.warnings);
  if (auto* e = std::get_if<ApiError>(&result)) return Outcome::Error(*e);
  o.body = Render(type, version, *std::get<Committed>(result).object);
  return o;
}

Outcome RestStorage::ApplyPatch(const ResourceType& type, const std::string& version,
                                const std::string& ns, const std::string& name,
                                const std::string& subresource, const std::string& body,
                                const WriteOptions& options) {
  if (options.field_manager.empty()) {
    // PatchOptions validation: NewInvalid of the options, not a BadRequest.
    return Outcome::Error(Invalid("meta.k8s.io", "PatchOptions", "",
                                  {RequiredValue("fieldManager", "is required for apply patch")}));
  }
  std::string err;
  auto applied = YamlToJson(body, &err);
  if (!applied) return Outcome::Error(BadRequest("error decoding YAML: " + err));
  if (!applied->IsObject()) return Outcome::Error(BadRequest("apply patch must be an object"));
  if (auto e = CheckTypeMeta(type, version, *applied, applied->GetAllocator())) return Outcome::Error(*e);
  std::string body_name = json::GetString(*applied, {"metadata", "name"});
  if (body_name != name) {
    return Outcome::Error(BadRequest(fmt::format(
        "the name of the object ({}) does not match the name on the URL ({})", body_name, name)));
  }
  if (type.namespaced) {
    std::string body_ns = json::GetString(*applied, {"metadata", "namespace"});
    if (!body_ns.empty() && body_ns != ns) {
      return Outcome::Error(BadRequest(
          "the namespace of the provided object does not match the namespace sent on the request"));
    }
  }
  auto schema = SchemaFor(type);
  ssa::ApplyRequest req;
  req.manager = options.field_manager;
  req.force = options.force;
  req.api_version = type.ApiVersion(version);
  req.time = FormatRfc3339(clock_.WallNow());
  req.subresource = subresource;
  req.scope = ScopeFor(type, subresource);

  auto txn = store_.Begin();
  auto old = txn.Get(type.StorageKey(), ns, name);
  if (!old) {
    // Apply creates the object when it does not exist.
    if (!subresource.empty()) return Outcome::Error(NotFound(type.Gr(), name));
    Outcome o;
    auto prepared = PrepareCreate(txn, type, version, ns, json::Clone(*applied),
                                  options.field_validation, &o.warnings);
    if (auto* e = std::get_if<ApiError>(&prepared)) return Outcome::Error(*e);
    auto& obj = std::get<json::Document>(prepared);
    ssa::WriteManagedFields(obj, {{req.manager, "Apply", req.api_version, req.time, "",
                                   ssa::CollectFields(*applied, *schema, req.scope)}});
    o.code = 201;
    if (options.dry_run) {
      o.body = Render(type, version, obj);
      return o;
    }
    auto stored = txn.Put(type.StorageKey(), type.namespaced ? ns : "", name, std::move(obj));
    OnCommitted(txn, type, stored, false);
    o.body = Render(type, version, *stored);
    return o;
  }
  json::Document live = Render(type, version, *old);
  auto result = ssa::Apply(&live, *applied, req, *schema);
  if (!result.conflicts.empty()) {
    ApiError e(409, "Conflict", ssa::ConflictMessage(result.conflicts));
    for (const auto& c : result.conflicts) {
      e.causes.push_back({"FieldManagerConflict", "conflict with " + c.manager, ssa::PathString(c.path)});
    }
    return Outcome::Error(e);
  }
  Outcome o;
  auto committed = CommitUpdate(txn, type, old, std::move(result.object), subresource,
                                options.field_manager, options.dry_run, true,
                                options.field_validation, &o.warnings);
  if (auto* e = std::get_if<ApiError>(&committed)) return Outcome::Error(*e);
  o.body = Render(type, version, *std::get<Committed>(committed).object);
  return o;
}

ObjectPtr RestStorage::UpdateLocked(Store::Txn& txn, const ResourceType& type,
                                    const ObjectPtr& old, json::Document next,
                                    const std::string& manager) {
  json::SetString(json::EnsureObject(next, {"metadata"}, next.GetAllocator()), "resourceVersion",
                  json::GetString(*old, {"metadata", "resourceVersion"}), next.GetAllocator());
  auto result = CommitUpdate(txn, type, old, std::move(next), "", manager, false, false);
  if (auto* c = std::get_if<Committed>(&result)) return c->deleted ? nullptr : c->object;
  return old;
}

ObjectPtr RestStorage::DeleteLocked(Store::Txn& txn, const ResourceType& type,
                                    const ObjectPtr& obj, const std::string& propagation) {
  std::string ns = Namespace(*obj);
  std::string name = Name(*obj);
  json::Document next = json::Clone(*obj);
  auto& a = next.GetAllocator();
  auto finalizers = Finalizers(next);
  auto add = [&](const std::string& f) {
    if (std::find(finalizers.begin(), finalizers.end(), f) == finalizers.end()) {
      finalizers.push_back(f);
    }
  };
  auto drop = [&](const std::string& f) { std::erase(finalizers, f); };
  if (IsNamespaces(type)) {
    // Namespaces always go through the Terminating phase: the namespace
    // lifecycle controller empties them and then removes spec.finalizers.
    if (propagation == "Orphan") add("orphan");
    if (propagation == "Foreground") add("foregroundDeletion");
    json::SetString(json::EnsureObject(next, {"status"}, a), "phase", "Terminating", a);
  } else if (propagation == "Orphan") {
    add("orphan");
    drop("foregroundDeletion");
  } else if (propagation == "Foreground") {
    add("foregroundDeletion");
    drop("orphan");
  }
  bool pending = !finalizers.empty() ||
                 (IsNamespaces(type) && json::Find(next, {"spec", "finalizers"}) &&
                  json::Find(next, {"spec", "finalizers"})->IsArray() &&
                  !json::Find(next, {"spec", "finalizers"})->Empty());
  if (!pending) {
    txn.Delete(type.StorageKey(), ns, name);
    OnCommitted(txn, type, obj, true);
    return nullptr;
  }
  SetFinalizers(next, finalizers);
  auto& meta = json::EnsureObject(next, {"metadata"}, a);
  if (!BeingDeleted(next)) {
    json::SetString(meta, "deletionTimestamp", FormatRfc3339(clock_.WallNow()), a);
    json::Set(meta, "deletionGracePeriodSeconds", json::Value(int64_t{0}), a);
  }
  if (json::Equal(next, *obj)) return obj;
  return txn.Put(type.StorageKey(), ns, name, std::move(next));
}

json::Document RestStorage::DeleteResponse(const ResourceType& type, const std::string& version,
                                           const json::Value& obj) const {
  if (ReturnsDeletedObject(type)) return Render(type, version, obj);
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::SetString(d, "kind", "Status", a);
  json::SetString(d, "apiVersion", "v1", a);
  json::Set(d, "metadata", json::Value(rapidjson::kObjectType), a);
  json::SetString(d, "status", "Success", a);
  json::Value details(rapidjson::kObjectType);
  json::SetString(details, "name", Name(obj), a);
  if (!type.group.empty()) json::SetString(details, "group", type.group, a);
  json::SetString(details, "kind", type.resource, a);
  json::SetString(details, "uid", Uid(obj), a);
  json::Set(d, "details", std::move(details), a);
  return d;
}

Outcome RestStorage::Delete(const ResourceType& type, const std::string& version,
                            const std::string& ns, const std::string& name,
                            const DeleteOptions& options) {
  auto txn = store_.Begin();
  auto obj = txn.Get(type.StorageKey(), ns, name);
  if (!obj) return Outcome::Error(NotFound(type.Gr(), name));
  // rest.BeforeDelete checks the preconditions first and names the *kind*
  // where other conflicts name the resource: `Operation cannot be fulfilled
  // on ConfigMap "a"`, details.kind "ConfigMap".
  GroupResource by_kind{type.group, type.kind};
  if (options.precondition_uid && *options.precondition_uid != Uid(*obj)) {
    return Outcome::Error(Conflict(
        by_kind, name,
        fmt::format("the UID in the precondition ({}) does not match the UID in record ({}). The "
                    "object might have been deleted and then recreated",
                    *options.precondition_uid, Uid(*obj))));
  }
  std::string rv = json::GetString(*obj, {"metadata", "resourceVersion"});
  if (options.precondition_rv && *options.precondition_rv != rv) {
    return Outcome::Error(Conflict(
        by_kind, name,
        fmt::format("the ResourceVersion in the precondition ({}) does not match the "
                    "ResourceVersion in record ({}). The object might have been modified",
                    *options.precondition_rv, rv)));
  }
  Outcome o;
  if (options.dry_run) {
    o.body = DeleteResponse(type, version, *obj);
    return o;
  }
  auto after = DeleteLocked(txn, type, obj, options.propagation_policy);
  o.body = after ? Render(type, version, *after) : DeleteResponse(type, version, *obj);
  return o;
}

Outcome RestStorage::DeleteCollection(const ResourceType& type, const std::string& version,
                                      const std::string& ns, const ListOptions& list,
                                      const DeleteOptions& options) {
  std::string err;
  auto labels = LabelSelector::Parse(list.label_selector, &err);
  if (!labels) return Outcome::Error(BadRequest(err));
  auto fields = FieldSelector::Parse(list.field_selector, &type, &err);
  if (!fields) return Outcome::Error(BadRequest(err));
  Outcome o;
  auto& a = o.body.GetAllocator();
  o.body.SetObject();
  json::Value items(rapidjson::kArrayType);
  auto txn = store_.Begin();
  for (const auto& obj : txn.List(type.StorageKey(), ns)) {
    if (!labels->Matches(*obj) || !fields->Matches(*obj)) continue;
    auto after = options.dry_run ? obj : DeleteLocked(txn, type, obj, options.propagation_policy);
    json::Value item(*(after ? after : obj), a);
    items.PushBack(item, a);
  }
  json::SetString(o.body, "kind", type.list_kind, a);
  json::SetString(o.body, "apiVersion", type.ApiVersion(version), a);
  json::Value meta(rapidjson::kObjectType);
  json::SetString(meta, "resourceVersion", std::to_string(txn.CurrentRv()), a);
  json::Set(o.body, "metadata", std::move(meta), a);
  json::Set(o.body, "items", std::move(items), a);
  return o;
}

namespace {

// A missing parent: Deployments and ReplicaSets have their own scale REST
// storage, whose NotFound names "deployments/scale"; StatefulSets' uses the
// parent's.
ApiError ScaleNotFound(const ResourceType& type, const std::string& name) {
  if (type.resource == "statefulsets") return NotFound(type.Gr(), name);
  return NotFound({type.group, type.resource + "/scale"}, name);
}

json::Document ScaleOf(const json::Value& obj) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::SetString(d, "kind", "Scale", a);
  json::SetString(d, "apiVersion", "autoscaling/v1", a);
  json::Value meta(rapidjson::kObjectType);
  for (const char* key : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    if (const auto* v = json::Find(obj, {"metadata", key})) json::Set(meta, key, json::Value(*v, a), a);
  }
  json::Set(d, "metadata", std::move(meta), a);
  json::Value spec(rapidjson::kObjectType);
  // autoscaling/v1 ScaleSpec.replicas is omitempty: 0 replicas is "spec": {}.
  if (int64_t replicas = json::GetInt(obj, {"spec", "replicas"}); replicas != 0) {
    json::Set(spec, "replicas", json::Value(replicas), a);
  }
  json::Set(d, "spec", std::move(spec), a);
  json::Value status(rapidjson::kObjectType);
  json::Set(status, "replicas", json::Value(json::GetInt(obj, {"status", "replicas"})), a);
  // Validation admits only the four operators, so a stored selector renders.
  std::string selector =
      LabelSelectorString(json::Find(obj, {"spec", "selector"})).value_or("");
  if (!selector.empty()) json::SetString(status, "selector", selector, a);
  json::Set(d, "status", std::move(status), a);
  return d;
}

}  // namespace

Outcome RestStorage::GetScale(const ResourceType& type, const std::string& ns,
                              const std::string& name) {
  ObjectPtr obj;
  {
    auto txn = store_.Begin();
    obj = txn.Get(type.StorageKey(), ns, name);
  }
  if (!obj) return Outcome::Error(ScaleNotFound(type, name));
  Outcome o;
  o.body = ScaleOf(*obj);
  return o;
}

Outcome RestStorage::UpdateScale(const ResourceType& type, const std::string& ns,
                                 const std::string& name, json::Document scale,
                                 const WriteOptions& options) {
  if (!scale.IsObject()) return Outcome::Error(BadRequest("the body of the request was not a JSON object"));
  std::string av = json::GetString(scale, {"apiVersion"});
  std::string kind = json::GetString(scale, {"kind"});
  if ((!av.empty() && av != "autoscaling/v1") || (!kind.empty() && kind != "Scale")) {
    return Outcome::Error(BadRequest(fmt::format(
        "{} in version \"{}\" cannot be handled as a Scale: no kind \"{}\" is registered for version \"{}\" in scheme",
        kind, av.substr(av.find('/') + 1), kind, av)));
  }
  std::string body_name = json::GetString(scale, {"metadata", "name"});
  if (body_name != name) {
    return Outcome::Error(BadRequest(fmt::format(
        "the name of the object ({}) does not match the name on the URL ({})", body_name, name)));
  }
  int64_t replicas = json::GetInt(scale, {"spec", "replicas"});
  if (replicas < 0) {
    return Outcome::Error(Invalid("autoscaling", "Scale", name,
                                  {{"FieldValueInvalid",
                                    fmt::format("Invalid value: {}: must be greater than or equal to 0", replicas),
                                    "spec.replicas"}}));
  }
  auto txn = store_.Begin();
  auto old = txn.Get(type.StorageKey(), ns, name);
  if (!old) return Outcome::Error(ScaleNotFound(type, name));
  json::Document next = json::Clone(*old);
  // The Scale's resourceVersion, when given, is a precondition on the parent.
  std::string rv = json::GetString(scale, {"metadata", "resourceVersion"});
  json::SetString(json::EnsureObject(next, {"metadata"}, next.GetAllocator()), "resourceVersion",
                  rv.empty() ? json::GetString(*old, {"metadata", "resourceVersion"}) : rv,
                  next.GetAllocator());
  json::Set(json::EnsureObject(next, {"spec"}, next.GetAllocator()), "replicas",
            json::Value(replicas), next.GetAllocator());
  auto result = CommitUpdate(txn, type, old, std::move(next), "scale", options.field_manager,
                             options.dry_run, false);
  if (auto* e = std::get_if<ApiError>(&result)) return Outcome::Error(*e);
  Outcome o;
  o.body = ScaleOf(*std::get<Committed>(result).object);
  return o;
}

Outcome RestStorage::PatchScale(const ResourceType& type, const std::string& ns,
                                const std::string& name, const std::string& content_type,
                                const std::string& body, const WriteOptions& options) {
  std::string media = content_type.substr(0, content_type.find(';'));
  media.erase(std::remove(media.begin(), media.end(), ' '), media.end());
  bool json_patch = media == "application/json-patch+json";
  if (!json_patch && media != "application/merge-patch+json" &&
      media != "application/strategic-merge-patch+json") {
    return Outcome::Error(UnsupportedMediaType(
        "application/json-patch+json, application/merge-patch+json, "
        "application/strategic-merge-patch+json"));
  }
  std::string perr;
  auto patch = json::Parse(body, &perr);
  if (!patch) return Outcome::Error(BadRequest("error decoding patch: " + perr));
  Outcome current = GetScale(type, ns, name);
  if (current.error) return current;
  json::Document next = std::move(current.body);
  if (json_patch) {
    if (ApplyJsonPatch(next, *patch)) return Outcome::Error(JsonPatchFailed());
  } else {
    if (!patch->IsObject()) return Outcome::Error(BadRequest("patch body must be a JSON object"));
    json::MergePatch(next, *patch, next.GetAllocator());
  }
  return UpdateScale(type, ns, name, std::move(next), options);
}

}  // namespace srexpert::testing
