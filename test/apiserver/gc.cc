#include "test/apiserver/gc.h"

#include <map>

#include "test/apiserver/object_meta.h"

namespace srexpert::testing {
namespace {

constexpr char kOrphan[] = "orphan";
constexpr char kForeground[] = "foregroundDeletion";
constexpr char kCrdCleanup[] = "customresourcecleanup.apiextensions.k8s.io";

struct Item {
  ResourceTypePtr type;
  ObjectPtr obj;
};

struct OwnerRef {
  std::string uid;
  std::string api_version;
  std::string kind;
  bool block = false;
};

std::vector<OwnerRef> OwnerRefs(const json::Value& obj) {
  std::vector<OwnerRef> out;
  if (const auto* refs = json::Find(obj, {"metadata", "ownerReferences"}); refs && refs->IsArray()) {
    for (const auto& r : refs->GetArray()) {
      out.push_back({json::GetString(r, {"uid"}), json::GetString(r, {"apiVersion"}),
                     json::GetString(r, {"kind"}), json::GetBool(r, {"blockOwnerDeletion"})});
    }
  }
  return out;
}

}  // namespace

void GarbageCollector::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      // Repeat while passes make progress, so a chain (namespace -> owner ->
      // dependent) settles within one interval.
      for (int i = 0; i < 16 && RunOnce(); ++i) {
      }
      lock.lock();
      cv_.wait_for(lock, interval_, [&] { return stop_; });
    }
  });
}

void GarbageCollector::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool GarbageCollector::RunOnce() {
  auto& registry = storage_.registry();
  auto txn = storage_.store().Begin();
  bool changed = false;

  std::vector<Item> all;
  std::map<std::string, Item> by_uid;
  for (const auto& key : txn.Keys()) {
    auto type = registry.FindByKey(key);
    if (!type) continue;
    for (const auto& obj : txn.List(key, "")) {
      all.push_back({type, obj});
      by_uid[Uid(*obj)] = {type, obj};
    }
  }
  auto current = [&](const Item& it) {
    return txn.Get(it.type->StorageKey(), Namespace(*it.obj), Name(*it.obj));
  };
  auto dependents_of = [&](const std::string& uid) {
    std::vector<Item> out;
    for (const auto& it : all) {
      for (const auto& r : OwnerRefs(*it.obj)) {
        if (r.uid == uid) {
          out.push_back(it);
          break;
        }
      }
    }
    return out;
  };
  auto remove_finalizer = [&](const Item& it, const std::string& f) {
    auto obj = current(it);
    if (!obj || !HasFinalizer(*obj, f)) return;
    json::Document next = json::Clone(*obj);
    auto fins = Finalizers(next);
    std::erase(fins, f);
    SetFinalizers(next, fins);
    storage_.UpdateLocked(txn, *it.type, obj, std::move(next), "kube-controller-manager");
    changed = true;
  };
  auto delete_item = [&](const Item& it) {
    auto obj = current(it);
    if (!obj || BeingDeleted(*obj)) return;
    storage_.DeleteLocked(txn, *it.type, obj, "Background");
    changed = true;
  };

  for (const auto& owner : all) {
    if (!BeingDeleted(*owner.obj)) continue;
    std::string uid = Uid(*owner.obj);
    // Orphan: strip the ownerReference from every dependent, then let the
    // owner go.
    if (HasFinalizer(*owner.obj, kOrphan)) {
      for (const auto& dep : dependents_of(uid)) {
        auto obj = current(dep);
        if (!obj) continue;
        json::Document next = json::Clone(*obj);
        auto* refs = json::FindMutable(next, {"metadata", "ownerReferences"});
        for (auto r = refs->Begin(); r != refs->End();) {
          if (json::GetString(*r, {"uid"}) == uid) {
            r = refs->Erase(r);
          } else {
            ++r;
          }
        }
        if (refs->Empty()) json::Remove(next["metadata"], "ownerReferences");
        storage_.UpdateLocked(txn, *dep.type, obj, std::move(next), "kube-controller-manager");
        changed = true;
      }
      remove_finalizer(owner, kOrphan);
    }
    // Foreground: delete the dependents; the owner goes once no dependent
    // with blockOwnerDeletion remains.
    if (HasFinalizer(*owner.obj, kForeground)) {
      bool blocked = false;
      for (const auto& dep : dependents_of(uid)) {
        if (!current(dep)) continue;
        delete_item(dep);
        if (!current(dep)) continue;
        for (const auto& r : OwnerRefs(*dep.obj)) {
          if (r.uid == uid && r.block) blocked = true;
        }
      }
      if (!blocked) remove_finalizer(owner, kForeground);
    }
    // CRD cleanup: the custom resources go before the definition.
    if (owner.type->group == "apiextensions.k8s.io" && HasFinalizer(*owner.obj, kCrdCleanup)) {
      std::string key = json::GetString(*owner.obj, {"spec", "group"}) + "/" +
                        json::GetString(*owner.obj, {"spec", "names", "plural"});
      auto cr_type = registry.FindByKey(key);
      auto crs = cr_type ? txn.List(key, "") : std::vector<ObjectPtr>{};
      for (const auto& cr : crs) delete_item({cr_type, cr});
      if (!cr_type || txn.List(key, "").empty()) remove_finalizer(owner, kCrdCleanup);
    }
    // Namespace lifecycle: empty it, then remove the "kubernetes" finalizer.
    if (owner.type->group.empty() && owner.type->resource == "namespaces") {
      std::string ns = Name(*owner.obj);
      bool empty = true;
      for (const auto& it : all) {
        if (!it.type->namespaced || Namespace(*it.obj) != ns) continue;
        delete_item(it);
        if (current(it)) empty = false;
      }
      auto nsobj = current(owner);
      const json::Value* spec_fin = nsobj ? json::Find(*nsobj, {"spec", "finalizers"}) : nullptr;
      if (empty && spec_fin && spec_fin->IsArray() && !spec_fin->Empty()) {
        json::Document next = json::Clone(*nsobj);
        json::Remove(next["spec"], "finalizers");
        auto stored = txn.Put(owner.type->StorageKey(), "", ns, std::move(next));
        changed = true;
        if (Finalizers(*stored).empty()) txn.Delete(owner.type->StorageKey(), "", ns);
      }
    }
  }

  // Dependents whose owners are all gone. An owner reference counts as
  // absent when no object has its uid, or when a namespaced owner lives in
  // another namespace than the dependent. A cluster-scoped dependent naming a
  // namespaced owner is unresolvable and never collected (real GC semantics).
  for (const auto& dep : all) {
    // Earlier steps of this pass may have changed or removed it.
    auto now = current(dep);
    if (!now) continue;
    auto refs = OwnerRefs(*now);
    if (refs.empty()) continue;
    bool any_present = false;
    bool unresolvable = false;
    for (const auto& r : refs) {
      auto kind = registry.FindByKind(r.api_version, r.kind);
      if (kind && kind->namespaced && !dep.type->namespaced) {
        unresolvable = true;
        continue;
      }
      auto it = by_uid.find(r.uid);
      if (it == by_uid.end() || !txn.Get(it->second.type->StorageKey(), Namespace(*it->second.obj),
                                         Name(*it->second.obj))) {
        continue;
      }
      if (it->second.type->namespaced && Namespace(*it->second.obj) != Namespace(*dep.obj)) {
        continue;
      }
      any_present = true;
    }
    if (!any_present && !unresolvable) delete_item(dep);
  }
  return changed;
}

}  // namespace srexpert::testing
