#include "test/apiserver/apply.h"

#include <algorithm>
#include <functional>
#include <map>
#include <tuple>

namespace srexpert::testing::ssa {
namespace {

bool IsExcluded(const std::vector<std::string>& fpath) {
  if (fpath.size() == 1) return fpath[0] == "apiVersion" || fpath[0] == "kind";
  if (fpath.size() == 2 && fpath[0] == "metadata") {
    static const std::set<std::string> kServerOwned = {
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"};
    return kServerOwned.count(fpath[1]) > 0;
  }
  return false;
}

bool InScope(const std::string& top, Scope scope) {
  switch (scope) {
    case Scope::kAll:
      return true;
    case Scope::kMain:
      return top != "status";
    case Scope::kStatusOnly:
      return top == "status";
  }
  return true;
}

ListInfo MetadataList(const std::vector<std::string>& fpath, bool* handled) {
  *handled = true;
  if (fpath == std::vector<std::string>{"metadata", "ownerReferences"}) {
    return {ListInfo::Type::kMap, {"uid"}};
  }
  if (fpath == std::vector<std::string>{"metadata", "finalizers"}) return {ListInfo::Type::kSet, {}};
  *handled = fpath.size() >= 1 && fpath[0] == "metadata";
  return {};
}

class Builtin final : public Schema {
 public:
  explicit Builtin(std::string kind) : kind_(std::move(kind)) {}
  ListInfo List(const std::vector<std::string>& fpath) const override {
    bool handled = false;
    ListInfo meta = MetadataList(fpath, &handled);
    if (handled) return meta;
    if (fpath.empty()) return {};
    const std::string& last = fpath.back();
    auto under = [&](const char* name) {
      return std::find(fpath.begin(), fpath.end() - 1, name) != fpath.end() - 1;
    };
    using T = ListInfo::Type;
    if (last == "containers" || last == "initContainers" || last == "ephemeralContainers" ||
        last == "env" || last == "volumes" || last == "imagePullSecrets") {
      return {T::kMap, {"name"}};
    }
    if (last == "volumeMounts") return {T::kMap, {"mountPath"}};
    if (last == "volumeDevices") return {T::kMap, {"devicePath"}};
    if (last == "ports") {
      if (under("containers") || under("initContainers") || under("ephemeralContainers")) {
        return {T::kMap, {"containerPort", "protocol"}};
      }
      if (kind_ == "Service" && fpath.size() == 2) return {T::kMap, {"port", "protocol"}};
    }
    if (last == "conditions" && fpath.size() == 2 && fpath[0] == "status") {
      return {T::kMap, {"type"}};
    }
    return {};
  }

 private:
  std::string kind_;
};

class Crd final : public Schema {
 public:
  explicit Crd(std::shared_ptr<const json::Document> schema) : schema_(std::move(schema)) {}
  ListInfo List(const std::vector<std::string>& fpath) const override {
    bool handled = false;
    ListInfo meta = MetadataList(fpath, &handled);
    if (handled || !schema_) return meta;
    const json::Value* cur = schema_.get();
    for (const auto& name : fpath) {
      if (cur == nullptr) return {};
      if (json::GetString(*cur, {"type"}) == "array") cur = json::Find(*cur, {"items"});
      if (cur == nullptr) return {};
      const json::Value* next = json::Find(*cur, {"properties", name});
      if (next == nullptr) {
        next = json::Find(*cur, {"additionalProperties"});
        if (next != nullptr && !next->IsObject()) next = nullptr;
      }
      cur = next;
    }
    if (cur == nullptr) return {};
    std::string type = json::GetString(*cur, {"x-kubernetes-list-type"});
    if (type == "set") return {ListInfo::Type::kSet, {}};
    if (type == "map") {
      ListInfo info{ListInfo::Type::kMap, {}};
      if (const auto* keys = json::Find(*cur, {"x-kubernetes-list-map-keys"}); keys && keys->IsArray()) {
        for (const auto& k : keys->GetArray()) {
          if (k.IsString()) info.keys.emplace_back(k.GetString());
        }
      }
      if (!info.keys.empty()) return info;
    }
    return {};
  }

 private:
  std::shared_ptr<const json::Document> schema_;
};

// The value a key field has in an item; a port's protocol defaults to TCP
// (the schema default the real server applies to keys).
std::optional<json::Document> KeyValue(const json::Value& item, const std::string& key) {
  if (item.IsObject()) {
    auto it = item.FindMember(key.c_str());
    if (it != item.MemberEnd()) return json::Clone(it->value);
  }
  if (key == "protocol") {
    json::Document d;
    d.SetString("TCP", d.GetAllocator());
    return d;
  }
  return std::nullopt;
}

// "k:{...}" with keys in sorted order, as Go marshals maps.
std::string KeyElement(const json::Value& item, const ListInfo& info) {
  std::vector<std::string> keys = info.keys;
  std::sort(keys.begin(), keys.end());
  json::Document d(rapidjson::kObjectType);
  for (const auto& k : keys) {
    if (auto v = KeyValue(item, k)) json::Set(d, k, json::Value(*v, d.GetAllocator()), d.GetAllocator());
  }
  return "k:" + json::Dump(d);
}

bool ItemMatches(const json::Value& item, const std::string& elem) {
  if (elem.rfind("v:", 0) == 0) {
    auto v = json::Parse(elem.substr(2));
    return v && json::Equal(item, *v);
  }
  auto key = json::Parse(elem.substr(2));
  if (!key || !key->IsObject()) return false;
  for (const auto& m : key->GetObject()) {
    auto v = KeyValue(item, m.name.GetString());
    if (!v || !json::Equal(*v, m.value)) return false;
  }
  return true;
}

const json::Value* Child(const json::Value& v, const std::string& elem) {
  if (elem.rfind("f:", 0) == 0) {
    if (!v.IsObject()) return nullptr;
    auto it = v.FindMember(elem.c_str() + 2);
    return it == v.MemberEnd() ? nullptr : &it->value;
  }
  if (!v.IsArray()) return nullptr;
  for (const auto& item : v.GetArray()) {
    if (ItemMatches(item, elem)) return &item;
  }
  return nullptr;
}

const json::Value* Lookup(const json::Value& root, const Path& p) {
  const json::Value* cur = &root;
  for (const auto& e : p) {
    cur = Child(*cur, e);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

void RemovePath(json::Value& root, const Path& p) {
  if (p.empty()) return;
  Path parent_path(p.begin(), p.end() - 1);
  auto* parent = const_cast<json::Value*>(Lookup(root, parent_path));
  if (parent == nullptr) return;
  const std::string& e = p.back();
  if (e.rfind("f:", 0) == 0) {
    if (parent->IsObject()) parent->EraseMember(e.c_str() + 2);
    return;
  }
  if (!parent->IsArray()) return;
  for (auto it = parent->Begin(); it != parent->End(); ++it) {
    if (ItemMatches(*it, e)) {
      parent->Erase(it);
      return;
    }
  }
}

void Walk(const json::Value& v, Path& path, std::vector<std::string>& fpath,
          const Schema& schema, Scope scope, FieldSet& out);

void WalkValue(const json::Value& child, Path& path, std::vector<std::string>& fpath,
               const Schema& schema, Scope scope, FieldSet& out) {
  if (child.IsObject() && child.MemberCount() > 0) {
    Walk(child, path, fpath, schema, scope, out);
  } else if (child.IsArray()) {
    ListInfo info = schema.List(fpath);
    if (info.type == ListInfo::Type::kAtomic) {
      out.insert(path);
      return;
    }
    for (const auto& item : child.GetArray()) {
      path.push_back(info.type == ListInfo::Type::kSet ? "v:" + json::Dump(item)
                                                      : KeyElement(item, info));
      out.insert(path);
      if (info.type == ListInfo::Type::kMap && item.IsObject()) {
        Walk(item, path, fpath, schema, scope, out);
      }
      path.pop_back();
    }
  } else {
    out.insert(path);
  }
}

void Walk(const json::Value& v, Path& path, std::vector<std::string>& fpath,
          const Schema& schema, Scope scope, FieldSet& out) {
  for (const auto& m : v.GetObject()) {
    std::string name = m.name.GetString();
    fpath.push_back(name);
    // A null is no field (structured-merge-diff): e.g. the
    // `creationTimestamp: null` of pod templates is owned by nobody.
    bool skip = m.value.IsNull() || IsExcluded(fpath) || (fpath.size() == 1 && !InScope(name, scope));
    if (!skip) {
      path.push_back("f:" + name);
      WalkValue(m.value, path, fpath, schema, scope, out);
      path.pop_back();
    }
    fpath.pop_back();
  }
}

// Merges `applied` into a copy of `live` (either may be absent).
json::Value Merge(const json::Value* live, const json::Value& applied,
                  std::vector<std::string>& fpath, const Schema& schema, json::Allocator& a) {
  if (applied.IsObject() && live != nullptr && live->IsObject()) {
    json::Value out(*live, a);
    for (const auto& m : applied.GetObject()) {
      std::string name = m.name.GetString();
      fpath.push_back(name);
      auto it = live->FindMember(m.name);
      json::Value merged = Merge(it == live->MemberEnd() ? nullptr : &it->value, m.value, fpath, schema, a);
      json::Set(out, name, std::move(merged), a);
      fpath.pop_back();
    }
    return out;
  }
  if (applied.IsArray() && live != nullptr && live->IsArray()) {
    ListInfo info = schema.List(fpath);
    if (info.type != ListInfo::Type::kAtomic) {
      // Live order is kept; new items are appended in applied order.
      json::Value out(*live, a);
      for (const auto& item : applied.GetArray()) {
        std::string elem = info.type == ListInfo::Type::kSet ? "v:" + json::Dump(item)
                                                            : KeyElement(item, info);
        bool found = false;
        for (auto& existing : out.GetArray()) {
          if (ItemMatches(existing, elem)) {
            json::Value merged = Merge(&existing, item, fpath, schema, a);
            existing = std::move(merged);
            found = true;
            break;
          }
        }
        if (!found) out.PushBack(json::Value(item, a), a);
      }
      return out;
    }
  }
  return json::Value(applied, a);
}

bool IsLeafPath(const Path& p) { return !p.empty() && p.back().rfind("f:", 0) == 0; }

bool OwnsUnder(const FieldSet& set, const Path& prefix) {
  for (auto it = set.lower_bound(prefix); it != set.end(); ++it) {
    if (it->size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), it->begin())) break;
    return true;
  }
  return false;
}

void Prune(std::vector<ManagedEntry>& entries, const json::Value& obj) {
  for (auto& e : entries) {
    for (auto it = e.fields.begin(); it != e.fields.end();) {
      it = Lookup(obj, *it) == nullptr ? e.fields.erase(it) : std::next(it);
    }
  }
  std::erase_if(entries, [](const ManagedEntry& e) { return e.fields.empty(); });
}

std::string PrintManager(const ManagedEntry& e) {
  std::string quoted = json::Dump(json::Value(e.manager.c_str(), static_cast<rapidjson::SizeType>(e.manager.size())));
  return e.operation == "Update" ? quoted + " using " + e.api_version : quoted;
}

}  // namespace

std::unique_ptr<Schema> BuiltinSchema(const std::string& kind) { return std::make_unique<Builtin>(kind); }
std::unique_ptr<Schema> CrdSchema(std::shared_ptr<const json::Document> schema) {
  return std::make_unique<Crd>(std::move(schema));
}

FieldSet CollectFields(const json::Value& obj, const Schema& schema, Scope scope) {
  FieldSet out;
  if (!obj.IsObject()) return out;
  Path path;
  std::vector<std::string> fpath;
  Walk(obj, path, fpath, schema, scope, out);
  return out;
}

json::Value ToFieldsV1(const FieldSet& set, json::Allocator& a) {
  json::Value root(rapidjson::kObjectType);
  for (const auto& p : set) {
    json::Value* cur = &root;
    for (const auto& e : p) {
      auto it = cur->FindMember(e.c_str());
      if (it == cur->MemberEnd()) {
        cur->AddMember(json::String(e, a), json::Value(rapidjson::kObjectType), a);
        it = cur->FindMember(e.c_str());
      }
      cur = &it->value;
    }
    // A path that is owned and also has owned children needs ".": {}; a
    // pure leaf stays {}. Mark now; children added later keep the marker.
    if (!cur->HasMember(".")) cur->AddMember(json::String(".", a), json::Value(rapidjson::kObjectType), a);
  }
  // Leaves carry only the marker: collapse {".":{}} to {}.
  std::function<void(json::Value&)> collapse = [&](json::Value& v) {
    for (auto& m : v.GetObject()) {
      if (m.value.IsObject()) {
        collapse(m.value);
        if (m.value.MemberCount() == 1 && m.value.HasMember(".")) m.value.RemoveMember(".");
      }
    }
  };
  collapse(root);
  return root;
}

FieldSet FromFieldsV1(const json::Value& fields) {
  FieldSet out;
  Path path;
  std::function<void(const json::Value&)> walk = [&](const json::Value& v) {
    if (!v.IsObject()) return;
    for (const auto& m : v.GetObject()) {
      std::string k = m.name.GetString();
      if (k == ".") {
        out.insert(path);
        continue;
      }
      path.push_back(k);
      if (m.value.IsObject() && m.value.MemberCount() == 0) {
        out.insert(path);
      } else {
        walk(m.value);
      }
      path.pop_back();
    }
  };
  walk(fields);
  return out;
}

std::string PathString(const Path& path) {
  std::string out;
  for (const auto& e : path) {
    if (e.rfind("f:", 0) == 0) {
      out += "." + e.substr(2);
    } else if (e.rfind("v:", 0) == 0) {
      out += "[=" + e.substr(2) + "]";
    } else {
      auto key = json::Parse(e.substr(2));
      std::string inner;
      if (key && key->IsObject()) {
        for (const auto& m : key->GetObject()) {
          if (!inner.empty()) inner += ",";
          inner += std::string(m.name.GetString()) + "=" + json::Dump(m.value);
        }
      }
      out += "[" + inner + "]";
    }
  }
  return out;
}

std::vector<ManagedEntry> ReadManagedFields(const json::Value& obj) {
  std::vector<ManagedEntry> out;
  const auto* mf = json::Find(obj, {"metadata", "managedFields"});
  if (mf == nullptr || !mf->IsArray()) return out;
  for (const auto& e : mf->GetArray()) {
    ManagedEntry m;
    m.manager = json::GetString(e, {"manager"});
    m.operation = json::GetString(e, {"operation"});
    m.api_version = json::GetString(e, {"apiVersion"});
    m.time = json::GetString(e, {"time"});
    m.subresource = json::GetString(e, {"subresource"});
    if (const auto* f = json::Find(e, {"fieldsV1"})) m.fields = FromFieldsV1(*f);
    out.push_back(std::move(m));
  }
  return out;
}

void WriteManagedFields(json::Document& obj, const std::vector<ManagedEntry>& unsorted) {
  auto& a = obj.GetAllocator();
  auto& meta = json::EnsureObject(obj, {"metadata"}, a);
  if (unsorted.empty()) {
    json::Remove(meta, "managedFields");
    return;
  }
  // The fieldmanager's encoding order: operation (Apply first), time (none
  // first; RFC 3339 seconds compare as strings), manager, subresource,
  // apiVersion.
  std::vector<ManagedEntry> entries = unsorted;
  std::stable_sort(entries.begin(), entries.end(), [](const ManagedEntry& p, const ManagedEntry& q) {
    return std::tie(p.operation, p.time, p.manager, p.subresource, p.api_version) <
           std::tie(q.operation, q.time, q.manager, q.subresource, q.api_version);
  });
  json::Value arr(rapidjson::kArrayType);
  for (const auto& e : entries) {
    json::Value v(rapidjson::kObjectType);
    json::SetString(v, "manager", e.manager, a);
    json::SetString(v, "operation", e.operation, a);
    json::SetString(v, "apiVersion", e.api_version, a);
    if (!e.time.empty()) json::SetString(v, "time", e.time, a);
    json::SetString(v, "fieldsType", "FieldsV1", a);
    json::Set(v, "fieldsV1", ToFieldsV1(e.fields, a), a);
    if (!e.subresource.empty()) json::SetString(v, "subresource", e.subresource, a);
    arr.PushBack(v, a);
  }
  json::Set(meta, "managedFields", std::move(arr), a);
}

bool SameOwnership(const std::vector<ManagedEntry>& a, const std::vector<ManagedEntry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].manager != b[i].manager || a[i].operation != b[i].operation ||
        a[i].subresource != b[i].subresource || a[i].api_version != b[i].api_version ||
        a[i].fields != b[i].fields) {
      return false;
    }
  }
  return true;
}

ApplyResult Apply(const json::Value* live, const json::Value& applied, const ApplyRequest& req,
                  const Schema& schema) {
  ApplyResult result;
  auto& a = result.object.GetAllocator();
  FieldSet applied_set = CollectFields(applied, schema, req.scope);
  std::vector<ManagedEntry> entries = live ? ReadManagedFields(*live) : std::vector<ManagedEntry>{};
  auto mine = [&](const ManagedEntry& e) {
    return e.manager == req.manager && e.operation == "Apply" && e.subresource == req.subresource;
  };

  // Conflicts: a field another manager owns whose value would change.
  std::map<size_t, std::vector<Path>> forced;
  if (live != nullptr) {
    for (const auto& p : applied_set) {
      if (!IsLeafPath(p)) continue;
      const json::Value* lv = Lookup(*live, p);
      const json::Value* av = Lookup(applied, p);
      if (lv == nullptr || av == nullptr || json::Equal(*lv, *av)) continue;
      for (size_t i = 0; i < entries.size(); ++i) {
        if (mine(entries[i]) || entries[i].fields.count(p) == 0) continue;
        result.conflicts.push_back({PrintManager(entries[i]), p});
        forced[i].push_back(p);
      }
    }
  }
  if (!result.conflicts.empty() && !req.force) return result;
  result.conflicts.clear();
  for (const auto& [i, paths] : forced) {
    for (const auto& p : paths) entries[i].fields.erase(p);
  }

  // The applied object without what this write may not set.
  json::Document scoped(rapidjson::kObjectType);
  for (const auto& m : applied.GetObject()) {
    std::string name = m.name.GetString();
    if (live != nullptr && (name == "apiVersion" || name == "kind")) continue;
    if (!InScope(name, req.scope)) continue;
    json::Value v(m.value, scoped.GetAllocator());
    if (live != nullptr && name == "metadata" && v.IsObject()) {
      for (const char* k : {"name", "namespace", "uid", "resourceVersion", "generation",
                            "creationTimestamp", "deletionTimestamp",
                            "deletionGracePeriodSeconds", "managedFields", "selfLink"}) {
        // resourceVersion stays: when set, it is an optimistic-concurrency
        // precondition for the apply, as on a real server.
        if (std::string(k) != "resourceVersion") json::Remove(v, k);
      }
    }
    json::Set(scoped, name, std::move(v), scoped.GetAllocator());
  }
  std::vector<std::string> fpath;
  json::Value merged = Merge(live, scoped, fpath, schema, a);
  static_cast<json::Value&>(result.object) = std::move(merged);

  // Fields this manager applied before and dropped now go, unless someone
  // else also owns them (or something beneath them).
  FieldSet previous;
  for (const auto& e : entries) {
    if (mine(e)) previous = e.fields;
  }
  std::vector<Path> removed;
  for (const auto& p : previous) {
    if (applied_set.count(p) == 0) removed.push_back(p);
  }
  std::sort(removed.begin(), removed.end(),
            [](const Path& x, const Path& y) { return x.size() < y.size(); });
  auto shared = [&](const Path& p) {
    for (const auto& e : entries) {
      if (!mine(e) && OwnsUnder(e.fields, p)) return true;
    }
    return false;
  };
  for (const auto& p : removed) {
    if (shared(p)) continue;
    RemovePath(result.object, p);
    // A map or list left empty by the removal goes too, unless someone
    // still owns it: the manager's apply created it.
    for (Path parent(p.begin(), p.end() - 1); !parent.empty(); parent.pop_back()) {
      const json::Value* v = Lookup(result.object, parent);
      bool empty = v != nullptr && ((v->IsObject() && v->ObjectEmpty()) || (v->IsArray() && v->Empty()));
      if (!empty || shared(parent) || applied_set.count(parent) > 0) break;
      RemovePath(result.object, parent);
    }
  }

  // An apply that changes nothing but ownership leaves the manager's time as
  // it was, none for a new manager (the fieldmanager stamps the time only
  // when the object changed).
  bool object_changed = live == nullptr;
  if (!object_changed) {
    json::Document before = json::Clone(*live);
    json::Document after = json::Clone(result.object);
    for (auto* d : {&before, &after}) {
      if (auto* meta = json::FindMutable(*d, {"metadata"}); meta && meta->IsObject()) {
        json::Remove(*meta, "managedFields");
        json::Remove(*meta, "resourceVersion");
      }
    }
    object_changed = !json::Equal(before, after);
  }
  bool found = false;
  for (auto& e : entries) {
    if (mine(e)) {
      e.fields = applied_set;
      if (object_changed) e.time = req.time;
      e.api_version = req.api_version;
      found = true;
    }
  }
  if (!found) {
    entries.push_back({req.manager, "Apply", req.api_version, object_changed ? req.time : "",
                       req.subresource, applied_set});
  }
  Prune(entries, result.object);
  WriteManagedFields(result.object, entries);
  return result;
}

void RecordUpdate(const json::Value* old, json::Document& next, const std::string& manager,
                  const std::string& api_version, const std::string& time,
                  const std::string& subresource, Scope scope, const Schema& schema) {
  std::vector<ManagedEntry> entries = old ? ReadManagedFields(*old) : std::vector<ManagedEntry>{};
  FieldSet changed;
  for (const auto& p : CollectFields(next, schema, scope)) {
    const json::Value* ov = old ? Lookup(*old, p) : nullptr;
    if (ov == nullptr || (IsLeafPath(p) && !json::Equal(*ov, *Lookup(next, p)))) changed.insert(p);
  }
  if (!changed.empty()) {
    bool found = false;
    for (auto& e : entries) {
      bool self = e.manager == manager && e.operation == "Update" && e.subresource == subresource;
      if (self) {
        e.fields.insert(changed.begin(), changed.end());
        e.time = time;
        e.api_version = api_version;
        found = true;
      } else {
        for (const auto& p : changed) e.fields.erase(p);
      }
    }
    if (!found) entries.push_back({manager, "Update", api_version, time, subresource, changed});
  }
  Prune(entries, next);
  WriteManagedFields(next, entries);
}

std::string ConflictMessage(const std::vector<Conflict>& conflicts) {
  if (conflicts.size() == 1) {
    return "Apply failed with 1 conflict: conflict with " + conflicts[0].manager + ": " +
           PathString(conflicts[0].path);
  }
  std::map<std::string, std::vector<std::string>> by_manager;
  for (const auto& c : conflicts) by_manager[c.manager].push_back(PathString(c.path));
  std::string msg = "Apply failed with " + std::to_string(conflicts.size()) + " conflicts: ";
  bool first = true;
  for (const auto& [m, paths] : by_manager) {
    if (!first) msg += "\n";
    first = false;
    msg += "conflicts with " + m + ":";
    for (const auto& p : paths) msg += "\n- " + p;
  }
  return msg;
}

}  // namespace srexpert::testing::ssa
