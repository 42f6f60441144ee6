#include "kube/informer.h"

#include <fmt/format.h>

#include "common/json.h"
#include "common/log.h"

namespace srexpert::kube {

namespace {

std::string KeyOf(std::string_view ns, std::string_view name) {
  return ns.empty() ? std::string(name) : fmt::format("{}/{}", ns, name);
}

std::string KeyOf(const rapidjson::Value& obj) {
  return KeyOf(json::GetString(obj, {"metadata", "namespace"}),
               json::GetString(obj, {"metadata", "name"}));
}

}  // namespace

Informer::Informer(std::shared_ptr<RestClient> client, InformerOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

Informer::~Informer() { Stop(); }

void Informer::AddHandlers(ResourceEventHandlers handlers) {
  handlers_.push_back(std::move(handlers));
}

void Informer::Start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void Informer::Stop() {
  stop_.Cancel();
  if (thread_.joinable()) thread_.join();
}

bool Informer::HasSynced() const {
  std::lock_guard<std::mutex> lock(mu_);
  return synced_;
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return synced_cv_.wait_for(lock, timeout, [&] { return synced_; });
}

ObjectPtr Informer::Get(std::string_view ns, std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = store_.find(KeyOf(ns, name));
  return it == store_.end() ? nullptr : it->second.object;
}

std::vector<ObjectPtr> Informer::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(store_.size());
  for (const auto& [key, entry] : store_) out.push_back(entry.object);
  return out;
}

size_t Informer::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return store_.size();
}

std::string Informer::ResourceVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resource_version_;
}

ObjectPtr Informer::Prepare(rapidjson::Document object) const {
  if (options_.transform) object = options_.transform(std::move(object));
  return std::make_shared<const rapidjson::Document>(std::move(object));
}

void Informer::Replace(rapidjson::Document& list) {
  struct Change {
    enum { kAdd, kUpdate, kDelete } what;
    ObjectPtr old_obj, new_obj;
  };
  std::map<std::string, Entry> fresh;
  auto* items = json::FindMutable(list, {"items"});
  if (items && items->IsArray()) {
    for (auto& item : items->GetArray()) {
      rapidjson::Document obj;
      // Each cached object gets its own document (and allocator): the list's
      // allocator is freed when the list is.
      obj.CopyFrom(item, obj.GetAllocator());
      // List items carry no apiVersion/kind; fill them in so cached objects
      // are complete.
      if (!obj.HasMember("apiVersion")) {
        json::SetString(obj, "apiVersion", options_.resource.api_version, obj.GetAllocator());
      }
      if (!obj.HasMember("kind")) {
        json::SetString(obj, "kind", options_.resource.kind, obj.GetAllocator());
      }
      std::string key = KeyOf(obj);
      std::string rv = json::GetString(obj, {"metadata", "resourceVersion"});
      fresh[key] = Entry{Prepare(std::move(obj)), std::move(rv)};
    }
  }
  std::vector<Change> changes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, old] : store_) {
      if (!fresh.count(key)) changes.push_back({Change::kDelete, old.object, nullptr});
    }
    for (auto& [key, entry] : fresh) {
      auto it = store_.find(key);
      if (it == store_.end()) {
        changes.push_back({Change::kAdd, nullptr, entry.object});
      } else if (it->second.resource_version != entry.resource_version) {
        changes.push_back({Change::kUpdate, it->second.object, entry.object});
      } else {
        entry.object = it->second.object;  // unchanged: keep the pointer handlers saw
      }
    }
    store_ = std::move(fresh);
    resource_version_ = json::GetString(list, {"metadata", "resourceVersion"});
  }
  for (const auto& c : changes) {
    for (const auto& h : handlers_) {
      if (c.what == Change::kAdd && h.on_add) h.on_add(c.new_obj);
      if (c.what == Change::kUpdate && h.on_update) h.on_update(c.old_obj, c.new_obj);
      if (c.what == Change::kDelete && h.on_delete) h.on_delete(c.old_obj);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    synced_ = true;
  }
  synced_cv_.notify_all();
}

void Informer::Apply(const WatchEvent& event) {
  std::string rv = event.resource_version();
  if (event.type == WatchEvent::Type::kBookmark) {
    std::lock_guard<std::mutex> lock(mu_);
    resource_version_ = rv;
    return;
  }
  std::string key = KeyOf(*event.object);
  // The Watcher hands each event to us alone: take the object without a copy.
  ObjectPtr obj = Prepare(std::move(*event.object));
  ObjectPtr old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = store_.find(key);
    if (it != store_.end()) old = it->second.object;
    if (event.type == WatchEvent::Type::kDeleted) {
      if (it != store_.end()) store_.erase(it);
    } else {
      store_[key] = Entry{obj, rv};
    }
    resource_version_ = rv;
  }
  for (const auto& h : handlers_) {
    if (event.type == WatchEvent::Type::kDeleted) {
      if (h.on_delete) h.on_delete(obj);
    } else if (old) {
      if (h.on_update) h.on_update(old, obj);
    } else if (h.on_add) {
      h.on_add(obj);
    }
  }
}

void Informer::Loop() {
  BackoffSchedule backoff(options_.backoff, random_);
  bool first = true;
  while (!stop_.cancelled()) {
    if (!first) relists_.fetch_add(1);
    first = false;
    ListOptions list_options;
    list_options.label_selector = options_.label_selector;
    list_options.field_selector = options_.field_selector;
    list_options.limit = options_.page_size;
    list_options.bounds.cancel = stop_;
    auto list = client_->ListAll(options_.resource, list_options);
    if (stop_.cancelled()) break;
    if (!list) {
      auto delay = backoff.Next();
      log::Warn("informer list failed; retrying",
                {{"kind", options_.resource.kind},
                 {"error", list.error().ToString()},
                 {"delay_ms", static_cast<int64_t>(delay.count())}});
      stop_.WaitFor(delay);
      continue;
    }
    Replace(*list);

    WatcherOptions wo;
    wo.watch.label_selector = options_.label_selector;
    wo.watch.field_selector = options_.field_selector;
    wo.watch.resource_version = ResourceVersion();
    wo.watch.allow_bookmarks = true;
    wo.watch.timeout_seconds = options_.watch_timeout_seconds;
    wo.idle_timeout = options_.idle_timeout;
    wo.backoff = options_.backoff;
    Watcher watcher(client_, options_.resource, wo, stop_);
    auto result = watcher.Run([this](const WatchEvent& e) { Apply(e); });
    if (stop_.cancelled()) break;
    if (result.ok()) continue;
    if (result.error().IsGone()) {
      backoff.Reset();
      log::Info("informer watch expired; relisting",
                {{"kind", options_.resource.kind}, {"resourceVersion", watcher.resource_version()}});
      continue;
    }
    auto delay = backoff.Next();
    log::Warn("informer watch failed; relisting",
              {{"kind", options_.resource.kind},
               {"error", result.error().ToString()},
               {"delay_ms", static_cast<int64_t>(delay.count())}});
    stop_.WaitFor(delay);
  }
}

}  // namespace srexpert::kube
