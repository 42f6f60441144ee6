#include "test/apiserver/storage.h"

#include <algorithm>

namespace srexpert::testing {

const char* EventTypeName(WatchEvent::Type t) {
  switch (t) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
  }
  return "ADDED";
}

std::vector<WatchEvent> WatchSubscription::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !queue_.empty(); });
  std::vector<WatchEvent> out(std::make_move_iterator(queue_.begin()),
                              std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

void WatchSubscription::Push(WatchEvent e) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(e));
  }
  cv_.notify_all();
}

bool WatchSubscription::Idle() {
  std::lock_guard lock(mu_);
  return queue_.empty();
}

Store::Store(size_t history_size) : history_size_(std::max<size_t>(history_size, 1)) {}

namespace {
std::string ItemKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }
}  // namespace

ObjectPtr Store::Txn::Get(const std::string& key, const std::string& ns,
                          const std::string& name) const {
  auto it = store_->objects_.find(key);
  if (it == store_->objects_.end()) return nullptr;
  auto obj = it->second.find(ItemKey(ns, name));
  return obj == it->second.end() ? nullptr : obj->second;
}

std::vector<ObjectPtr> Store::Txn::List(const std::string& key, const std::string& ns) const {
  std::vector<ObjectPtr> out;
  auto it = store_->objects_.find(key);
  if (it == store_->objects_.end()) return out;
  for (const auto& [k, obj] : it->second) {
    if (ns.empty() || k.compare(0, ns.size() + 1, ns + "/") == 0) out.push_back(obj);
  }
  return out;
}

std::vector<std::string> Store::Txn::Keys() const {
  std::vector<std::string> out;
  for (const auto& [k, m] : store_->objects_) {
    if (!m.empty()) out.push_back(k);
  }
  return out;
}

ObjectPtr Store::Txn::Put(const std::string& key, const std::string& ns, const std::string& name,
                          json::Document obj) {
  uint64_t rv = ++store_->rv_;
  json::SetString(json::EnsureObject(obj, {"metadata"}, obj.GetAllocator()), "resourceVersion",
                  std::to_string(rv), obj.GetAllocator());
  auto stored = std::make_shared<const json::Document>(std::move(obj));
  auto& slot = store_->objects_[key][ItemKey(ns, name)];
  WatchEvent e{slot ? WatchEvent::Type::kModified : WatchEvent::Type::kAdded,
               rv, key, ns, name, stored, slot};
  slot = stored;
  store_->Record(std::move(e));
  return stored;
}

ObjectPtr Store::Txn::Delete(const std::string& key, const std::string& ns,
                             const std::string& name, const json::Value* final_state_in) {
  auto it = store_->objects_.find(key);
  if (it == store_->objects_.end()) return nullptr;
  auto obj = it->second.find(ItemKey(ns, name));
  if (obj == it->second.end()) return nullptr;
  uint64_t rv = ++store_->rv_;
  // Like the watch cache, the DELETED event's object carries the deletion's
  // revision, so a watcher resuming from it does not see the delete again.
  json::Document last = json::Clone(final_state_in ? *final_state_in : *obj->second);
  json::SetString(json::EnsureObject(last, {"metadata"}, last.GetAllocator()), "resourceVersion",
                  std::to_string(rv), last.GetAllocator());
  auto final_state = std::make_shared<const json::Document>(std::move(last));
  WatchEvent e{WatchEvent::Type::kDeleted, rv, key, ns, name, final_state, obj->second};
  it->second.erase(obj);
  store_->Record(std::move(e));
  return final_state;
}

void Store::Record(WatchEvent e) {
  for (const auto& w : watchers_) {
    if (w->Matches(e)) w->Push(e);
  }
  history_.push_back(std::move(e));
  while (history_.size() > history_size_) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
}

std::optional<Store::Snapshot> Store::ListAt(const std::string& key, const std::string& ns,
                                             uint64_t rv) {
  std::lock_guard lock(mu_);
  if (rv != 0 && rv < compacted_rv_) return std::nullopt;
  std::map<std::string, ObjectPtr> state;
  if (auto it = objects_.find(key); it != objects_.end()) {
    for (const auto& [k, obj] : it->second) {
      if (ns.empty() || k.compare(0, ns.size() + 1, ns + "/") == 0) state[k] = obj;
    }
  }
  Snapshot snap;
  snap.rv = rv_;
  if (rv != 0 && rv < rv_) {
    // Undo newer changes, newest first, to reconstruct the state at `rv`.
    for (auto e = history_.rbegin(); e != history_.rend() && e->rv > rv; ++e) {
      if (e->storage_key != key || (!ns.empty() && e->ns != ns)) continue;
      std::string k = ItemKey(e->ns, e->name);
      if (e->previous) {
        state[k] = e->previous;
      } else {
        state.erase(k);
      }
    }
    snap.rv = rv;
  }
  for (auto& [k, obj] : state) snap.items.push_back(obj);
  return snap;
}

Store::WatchStart Store::Watch(const std::string& key, const std::string& ns,
                               std::optional<uint64_t> from_rv) {
  std::lock_guard lock(mu_);
  WatchStart start;
  start.oldest_rv = compacted_rv_ + 1;
  auto sub = std::make_shared<WatchSubscription>(key, ns);
  if (!from_rv) {
    if (auto it = objects_.find(key); it != objects_.end()) {
      for (const auto& [k, obj] : it->second) {
        WatchEvent e;
        e.type = WatchEvent::Type::kAdded;
        e.storage_key = key;
        e.ns = json::GetString(*obj, {"metadata", "namespace"});
        e.name = json::GetString(*obj, {"metadata", "name"});
        e.object = obj;
        if (sub->Matches(e)) start.initial.push_back(std::move(e));
      }
    }
  } else {
    if (*from_rv < compacted_rv_) return start;
    for (const auto& e : history_) {
      if (e.rv > *from_rv && sub->Matches(e)) start.initial.push_back(e);
    }
  }
  watchers_.push_back(sub);
  start.subscription = std::move(sub);
  return start;
}

void Store::Unwatch(const std::shared_ptr<WatchSubscription>& sub) {
  std::lock_guard lock(mu_);
  std::erase(watchers_, sub);
}

std::optional<uint64_t> Store::BookmarkRv(const std::shared_ptr<WatchSubscription>& sub) {
  std::lock_guard lock(mu_);
  // Events are pushed under mu_, so an idle queue here means every event up
  // to rv_ has been handed to the subscriber.
  if (!sub->Idle()) return std::nullopt;
  return rv_;
}

uint64_t Store::CurrentRv() {
  std::lock_guard lock(mu_);
  return rv_;
}

}  // namespace srexpert::testing
