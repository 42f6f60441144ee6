#include "test/apiserver/strategic_merge.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace srexpert::testing {
namespace {

struct MergeList {
  bool primitive = false;  // merge by value (a set)
  std::string key;         // patchMergeKey of a list of objects
};

// The patchStrategy:"merge" lists of k8s.io/api that our kinds use, by
// field path from the root (list items skipped).
std::optional<MergeList> MergeInfo(const std::vector<std::string>& path, const std::string& kind) {
  if (path.empty()) return std::nullopt;
  const std::string& last = path.back();
  auto under = [&](const char* name) {
    return std::find(path.begin(), path.end() - 1, name) != path.end() - 1;
  };
  if (path == std::vector<std::string>{"metadata", "finalizers"}) return MergeList{true, ""};
  if (path == std::vector<std::string>{"metadata", "ownerReferences"}) return MergeList{false, "uid"};
  if (path.size() == 2 && path[0] == "status" && last == "conditions") return MergeList{false, "type"};
  if (last == "containers" || last == "initContainers" || last == "ephemeralContainers" ||
      last == "env" || last == "volumes" || last == "imagePullSecrets") {
    return MergeList{false, "name"};
  }
  if (last == "volumeMounts") return MergeList{false, "mountPath"};
  if (last == "volumeDevices") return MergeList{false, "devicePath"};
  if (last == "hostAliases") return MergeList{false, "ip"};
  if (last == "topologySpreadConstraints") return MergeList{false, "topologyKey"};
  if (last == "ports") {
    if (under("containers") || under("initContainers") || under("ephemeralContainers")) {
      return MergeList{false, "containerPort"};
    }
    if (kind == "Service" && path.size() == 2) return MergeList{false, "port"};
  }
  return std::nullopt;
}

bool IsDirectiveKey(const std::string& k) {
  return k == "$patch" || k == "$retainKeys" || k.rfind("$setElementOrder/", 0) == 0 ||
         k.rfind("$deleteFromPrimitiveList/", 0) == 0;
}

// A patch value as stored: directives and nulls removed (as when it adds
// something new).
json::Value Clean(const json::Value& v, json::Allocator& a) {
  if (v.IsObject()) {
    json::Value out(rapidjson::kObjectType);
    for (const auto& m : v.GetObject()) {
      std::string k = m.name.GetString();
      if (IsDirectiveKey(k) || m.value.IsNull()) continue;
      out.AddMember(json::String(k, a), Clean(m.value, a), a);
    }
    return out;
  }
  if (v.IsArray()) {
    json::Value out(rapidjson::kArrayType);
    for (const auto& item : v.GetArray()) {
      if (item.IsObject() && json::GetString(item, {"$patch"}) == "delete") continue;
      out.PushBack(Clean(item, a), a);
    }
    return out;
  }
  return json::Value(v, a);
}

const json::Value* KeyOf(const json::Value& item, const MergeList& info) {
  if (info.primitive) return &item;
  if (!item.IsObject()) return nullptr;
  auto it = item.FindMember(info.key.c_str());
  return it == item.MemberEnd() ? nullptr : &it->value;
}

long IndexIn(const json::Value& list, const json::Value& item, const MergeList& info) {
  const json::Value* k = KeyOf(item, info);
  if (k == nullptr) return -1;
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    const json::Value* o = KeyOf(list[i], info);
    if (o && json::Equal(*o, *k)) return static_cast<long>(i);
  }
  return -1;
}

void MergeObject(json::Value& target, const json::Value& patch, std::vector<std::string>& path,
                 const std::string& kind, json::Allocator& a);

json::Value MergeLists(const json::Value& original, const json::Value& patch, const MergeList& info,
                       std::vector<std::string>& path, const std::string& kind, json::Allocator& a) {
  // `{"$patch": "replace"}` as an item replaces the whole list.
  for (const auto& item : patch.GetArray()) {
    if (item.IsObject() && json::GetString(item, {"$patch"}) == "replace") {
      json::Value out(rapidjson::kArrayType);
      for (const auto& i : patch.GetArray()) {
        if (!(i.IsObject() && json::GetString(i, {"$patch"}) == "replace")) out.PushBack(Clean(i, a), a);
      }
      return out;
    }
  }
  std::vector<json::Value> patched;    // items the patch names, in patch order
  std::vector<long> patched_index;     // their index in `original`, -1 for new
  std::vector<bool> deleted(original.Size(), false);
  std::vector<bool> touched(original.Size(), false);
  for (const auto& item : patch.GetArray()) {
    long idx = IndexIn(original, item, info);
    bool del = item.IsObject() && json::GetString(item, {"$patch"}) == "delete";
    if (del) {
      if (idx >= 0) deleted[idx] = true;
      continue;
    }
    if (idx >= 0) {
      if (touched[idx]) continue;
      touched[idx] = true;
      json::Value merged(original[idx], a);
      if (!info.primitive && merged.IsObject() && item.IsObject()) MergeObject(merged, item, path, kind, a);
      patched.push_back(std::move(merged));
    } else {
      patched.push_back(Clean(item, a));
    }
    patched_index.push_back(idx);
  }
  // Server-only items keep their order; a patched item goes before a
  // server-only one unless both were in the original and it stood after it.
  json::Value out(rapidjson::kArrayType);
  size_t p = 0;
  rapidjson::SizeType s = 0;
  auto next_server = [&]() {
    while (s < original.Size() && (deleted[s] || touched[s])) ++s;
    return s < original.Size();
  };
  while (p < patched.size() || next_server()) {
    bool have_server = next_server();
    if (p < patched.size() && (!have_server || patched_index[p] < 0 || patched_index[p] < static_cast<long>(s))) {
      out.PushBack(patched[p++], a);
    } else {
      out.PushBack(json::Value(original[s++], a), a);
    }
  }
  return out;
}

void MergeObject(json::Value& target, const json::Value& patch, std::vector<std::string>& path,
                 const std::string& kind, json::Allocator& a) {
  if (json::GetString(patch, {"$patch"}) == "replace") {
    target = Clean(patch, a);
    return;
  }
  for (const auto& m : patch.GetObject()) {
    std::string k = m.name.GetString();
    if (k.rfind("$deleteFromPrimitiveList/", 0) == 0 && m.value.IsArray()) {
      std::string list = k.substr(25);
      auto it = target.FindMember(list.c_str());
      if (it == target.MemberEnd() || !it->value.IsArray()) continue;
      json::Value kept(rapidjson::kArrayType);
      for (auto& v : it->value.GetArray()) {
        bool drop = std::any_of(m.value.Begin(), m.value.End(), [&](const json::Value& d) { return json::Equal(d, v); });
        if (!drop) kept.PushBack(json::Value(v, a), a);
      }
      it->value = std::move(kept);
      continue;
    }
    if (IsDirectiveKey(k)) continue;
    if (m.value.IsNull()) {
      json::Remove(target, k);
      continue;
    }
    path.push_back(k);
    auto it = target.FindMember(k.c_str());
    bool exists = it != target.MemberEnd();
    if (m.value.IsObject() && json::GetString(m.value, {"$patch"}) == "delete") {
      json::Remove(target, k);
    } else if (exists && it->value.IsObject() && m.value.IsObject()) {
      MergeObject(it->value, m.value, path, kind, a);
    } else if (exists && it->value.IsArray() && m.value.IsArray()) {
      auto info = MergeInfo(path, kind);
      json::Value merged = info ? MergeLists(it->value, m.value, *info, path, kind, a) : Clean(m.value, a);
      it->value = std::move(merged);
    } else {
      json::Set(target, k, Clean(m.value, a), a);
    }
    path.pop_back();
  }
}

}  // namespace

void StrategicMergePatch(json::Value& target, const json::Value& patch, const std::string& kind,
                         json::Allocator& a) {
  if (!patch.IsObject()) {
    target.CopyFrom(patch, a);
    return;
  }
  if (!target.IsObject()) target.SetObject();
  std::vector<std::string> path;
  MergeObject(target, patch, path, kind, a);
}

}  // namespace srexpert::testing
