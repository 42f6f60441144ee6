#include "controller/event_recorder.h"

#include <fmt/format.h>

#include "common/log.h"
#include "common/time_format.h"

namespace srexpert::controller {

namespace {
// client-go aggregates identical events for 10 minutes.
constexpr auto kDedupWindow = std::chrono::minutes(10);
constexpr size_t kMaxSeen = 4096;
}  // namespace

EventRecorder::EventRecorder(std::shared_ptr<kube::RestClient> client, std::string component,
                             Clock& clock)
    : client_(std::move(client)), component_(std::move(component)), clock_(clock) {}

void EventRecorder::Record(const json::Value& object, std::string_view type,
                           std::string_view reason, std::string_view message) {
  std::string ns = json::GetString(object, {"metadata", "namespace"});
  std::string name = json::GetString(object, {"metadata", "name"});
  std::string uid = json::GetString(object, {"metadata", "uid"});
  std::string key = fmt::format("{}|{}|{}|{}", uid, type, reason, message);
  std::string now = FormatRfc3339(clock_.WallNow());

  std::string existing;
  int64_t count = 1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = seen_.find(key);
    if (it != seen_.end() && clock_.Now() - it->second.last < kDedupWindow) {
      existing = it->second.event_name;
      count = ++it->second.count;
      it->second.last = clock_.Now();
    }
  }

  if (!existing.empty()) {
    auto patched = client_->Patch(
        {"v1", "Event", ns, existing}, kube::PatchType::kMerge,
        fmt::format(R"({{"count":{},"lastTimestamp":"{}"}})", count, now));
    if (patched.ok()) return;
    log::Warn("cannot update event", {{"event", existing}, {"error", patched.error().ToString()}});
    // Fall through and create a fresh one (it may have expired server-side).
  }

  json::Document ev(rapidjson::kObjectType);
  auto& a = ev.GetAllocator();
  json::SetString(ev, "apiVersion", "v1", a);
  json::SetString(ev, "kind", "Event", a);
  std::string event_name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    event_name = fmt::format("{}.{:x}{:04x}", name,
                             std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 clock_.WallNow().time_since_epoch()).count(),
                             ++sequence_ & 0xffff);
  }
  auto& meta = json::EnsureObject(ev, {"metadata"}, a);
  json::SetString(meta, "name", event_name, a);
  json::SetString(meta, "namespace", ns, a);
  auto& involved = json::EnsureObject(ev, {"involvedObject"}, a);
  json::SetString(involved, "apiVersion", json::GetString(object, {"apiVersion"}), a);
  json::SetString(involved, "kind", json::GetString(object, {"kind"}), a);
  json::SetString(involved, "namespace", ns, a);
  json::SetString(involved, "name", name, a);
  json::SetString(involved, "uid", uid, a);
  json::SetString(involved, "resourceVersion",
                  json::GetString(object, {"metadata", "resourceVersion"}), a);
  json::SetString(ev, "type", type, a);
  json::SetString(ev, "reason", reason, a);
  json::SetString(ev, "message", message, a);
  json::SetString(ev, "firstTimestamp", now, a);
  json::SetString(ev, "lastTimestamp", now, a);
  json::Set(ev, "count", rapidjson::Value(count), a);
  json::SetString(json::EnsureObject(ev, {"source"}, a), "component", component_, a);
  json::SetString(ev, "reportingComponent", component_, a);

  auto created = client_->Create(ev);
  if (!created.ok()) {
    log::Warn("cannot record event", {{"object", ns + "/" + name}, {"reason", reason},
                                      {"error", created.error().ToString()}});
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (seen_.size() >= kMaxSeen) seen_.clear();  // bounded memory; worst case a duplicate event
  seen_[key] = Seen{event_name, count, clock_.Now()};
}

}  // namespace srexpert::controller
