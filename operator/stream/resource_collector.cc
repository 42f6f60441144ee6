#include "stream/resource_collector.h"

#include <fmt/format.h>

#include "common/json.h"
#include "common/log.h"
#include "kube/watch.h"
#include "stream/paged_list.h"

namespace srexpert::stream {

namespace {

// Restarts of a paged list whose continue token expired before giving up
// with the usual error backoff (each restart is a fresh consistent list).
constexpr int kMaxListRestarts = 3;

std::string KeyOf(std::string_view ns, std::string_view name) {
  std::string key;
  key.reserve(ns.size() + 1 + name.size());
  key.append(ns).append("/").append(name);
  return key;
}

std::string_view MetaString(const rapidjson::Value& object, const char* field) {
  if (!object.IsObject()) return {};
  auto meta = object.FindMember("metadata");
  if (meta == object.MemberEnd() || !meta->value.IsObject()) return {};
  auto f = meta->value.FindMember(field);
  if (f == meta->value.MemberEnd() || !f->value.IsString()) return {};
  return {f->value.GetString(), f->value.GetStringLength()};
}

}  // namespace

uint64_t ResourceVersionFingerprint(std::string_view rv) {
  constexpr uint64_t kHashBit = uint64_t{1} << 63;
  if (!rv.empty() && rv.size() <= 18) {
    uint64_t value = 0;
    bool digits = true;
    for (char c : rv) {
      if (c < '0' || c > '9') {
        digits = false;
        break;
      }
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (digits) return value;  // < 10^18 < 2^63: never collides with a hash
  }
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (unsigned char c : rv) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h | kHashBit;
}

ResourceCollector::ResourceCollector(std::shared_ptr<kube::RestClient> client,
                                     ResourceCollectorOptions options, ChangeSink* sink)
    : client_(std::move(client)), options_(std::move(options)), sink_(sink) {
  options_.collection.ns.clear();
  options_.collection.name.clear();
  excluded_.insert(options_.excluded_namespaces.begin(), options_.excluded_namespaces.end());
  is_namespace_kind_ =
      options_.collection.kind == "Namespace" && options_.collection.api_version == "v1";
  if (options_.page_size <= 0) options_.page_size = 250;
}

ResourceCollector::~ResourceCollector() { Stop(); }

void ResourceCollector::Start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void ResourceCollector::Stop() {
  stop_.Cancel();
  if (thread_.joinable()) thread_.join();
}

ResourceCollectorStats ResourceCollector::Stats() const {
  ResourceCollectorStats s;
  s.objects = objects_.load();
  s.relists = relists_.load();
  s.errors = errors_.load();
  s.synced = synced_.load();
  s.available = available_.load();
  return s;
}

bool ResourceCollector::Excluded(const std::string& ns, const std::string& name) const {
  if (excluded_.empty()) return false;
  if (!ns.empty() && excluded_.count(ns)) return true;
  return is_namespace_kind_ && excluded_.count(name);
}

void ResourceCollector::Observe(const rapidjson::Value& object) {
  std::string ns(MetaString(object, "namespace"));
  std::string name(MetaString(object, "name"));
  if (name.empty() || Excluded(ns, name)) return;
  uint64_t rv = ResourceVersionFingerprint(MetaString(object, "resourceVersion"));
  std::string key = KeyOf(ns, name);
  auto it = known_.find(key);
  if (it != known_.end() && it->second.rv == rv) {
    // Unchanged since we last reported it: no projection, no sink call.
    it->second.epoch = epoch_;
    return;
  }
  auto projected = options_.project(object);
  if (!projected) {
    // No longer collected (e.g. a projector filter): the sink must forget it.
    if (it != known_.end()) {
      known_.erase(it);
      sink_->Remove(kind(), ns, name);
      PublishCount();
    }
    return;
  }
  if (it == known_.end()) {
    known_.emplace(std::move(key), Entry{rv, epoch_});
    PublishCount();
  } else {
    it->second = Entry{rv, epoch_};
  }
  sink_->Upsert(kind(), ns, name, std::make_shared<const std::string>(std::move(*projected)));
}

void ResourceCollector::Forget(const rapidjson::Value& object) {
  std::string ns(MetaString(object, "namespace"));
  std::string name(MetaString(object, "name"));
  auto it = known_.find(KeyOf(ns, name));
  if (it == known_.end()) return;  // excluded, filtered or never seen
  known_.erase(it);
  sink_->Remove(kind(), ns, name);
  PublishCount();
}

kube::Result<std::string> ResourceCollector::ListAndDiff() {
  const auto& ref = options_.collection;
  for (int restarts = 0;; ++restarts) {
    // A new pass: entries not stamped with this epoch by the end are gone.
    ++epoch_;
    bool continue_expired = false;
    auto observe = [this](rapidjson::Value& item) { Observe(item); };
    auto listed = ListPaged(*client_, ref, options_.page_size, stop_, observe, &continue_expired);
    if (!listed) {
      if (continue_expired && restarts < kMaxListRestarts) {
        // The snapshot behind the continue token was compacted. Start a
        // new consistent list rather than fall back to one unpaginated
        // response (what ListAll does): memory stays one page.
        log::Info("collector list continue token expired; restarting the list",
                  {{"kind", ref.kind}, {"restart", restarts + 1}});
        continue;
      }
      return listed.error();
    }

    size_t removed = 0;
    for (auto it = known_.begin(); it != known_.end();) {
      if (it->second.epoch == epoch_) {
        ++it;
        continue;
      }
      auto slash = it->first.find('/');
      std::string ns = it->first.substr(0, slash);
      std::string name = it->first.substr(slash + 1);
      it = known_.erase(it);
      sink_->Remove(kind(), ns, name);
      ++removed;
    }
    if (removed > 0) PublishCount();
    return listed;
  }
}

bool ResourceCollector::HandleError(const kube::Error& error, const char* during,
                                    BackoffSchedule& backoff) {
  errors_.fetch_add(1);
  auto r = error.reason();
  if (r == kube::Reason::kForbidden || r == kube::Reason::kNotFound) {
    // Fatal until someone changes RBAC or installs the API: report once per
    // reason and try again slowly.
    std::string reason = fmt::format("{}: {}", kube::ReasonName(r), error.message());
    if (reason != unavailable_reason_) {
      unavailable_reason_ = reason;
      sink_->Unavailable(kind(), reason);
    }
    available_.store(false);
    report_synced_ = true;
    log::Warn("collector kind unavailable; retrying later",
              {{"kind", kind()},
               {"during", during},
               {"error", error.ToString()},
               {"retry_ms", static_cast<int64_t>(options_.unavailable_retry.count())}});
    return stop_.WaitFor(options_.unavailable_retry);
  }
  auto delay = backoff.Next();
  log::Warn("collector request failed; retrying",
            {{"kind", kind()},
             {"during", during},
             {"error", error.ToString()},
             {"retryable", error.retryable()},
             {"delay_ms", static_cast<int64_t>(delay.count())}});
  return stop_.WaitFor(delay);
}

void ResourceCollector::Loop() {
  BackoffSchedule backoff(options_.backoff, random_);
  bool listed_once = false;
  while (!stop_.cancelled()) {
    auto listed = ListAndDiff();
    if (stop_.cancelled()) break;
    if (!listed) {
      if (HandleError(listed.error(), "list", backoff)) break;
      continue;
    }
    if (listed_once) relists_.fetch_add(1);
    listed_once = true;
    if (report_synced_) {
      report_synced_ = false;
      unavailable_reason_.clear();
      available_.store(true);
      synced_.store(true);
      sink_->Synced(kind());
      log::Info("collector synced", {{"kind", kind()}, {"objects", known_.size()}});
    }

    kube::WatcherOptions wo;
    wo.watch.resource_version = *listed;
    wo.watch.allow_bookmarks = true;
    wo.watch.timeout_seconds = options_.watch_timeout_seconds;
    wo.idle_timeout = options_.idle_timeout;
    wo.backoff = options_.backoff;
    wo.skip_server_bookkeeping = true;  // never projected; ~45 % of a pod's bytes
    kube::Watcher watcher(client_, options_.collection, wo, stop_);
    bool progressed = false;
    auto watched = watcher.Run([this, &progressed](const kube::WatchEvent& e) {
      progressed = true;
      switch (e.type) {
        case kube::WatchEvent::Type::kAdded:
        case kube::WatchEvent::Type::kModified:
          Observe(*e.object);
          break;
        case kube::WatchEvent::Type::kDeleted:
          Forget(*e.object);
          break;
        default:  // bookmarks: the Watcher keeps the resourceVersion
          break;
      }
    });
    if (stop_.cancelled()) break;
    // A watch that delivered something was healthy: failures after it start
    // a fresh backoff schedule rather than the capped one of an old outage.
    if (progressed) backoff.Reset();
    if (watched.ok()) continue;
    if (watched.error().IsGone()) {
      // Expected in long-running watches (etcd compaction): relist at once.
      log::Info("collector watch expired; relisting",
                {{"kind", kind()}, {"resourceVersion", watcher.resource_version()}});
      continue;
    }
    if (HandleError(watched.error(), "watch", backoff)) break;
  }
}

}  // namespace srexpert::stream
