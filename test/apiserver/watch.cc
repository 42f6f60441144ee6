#include "test/apiserver/watch.h"

#include <fmt/format.h>


namespace srexpert::testing {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

std::string EventLine(const char* type, const json::Value& object) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::SetString(d, "type", type, a);
  json::Set(d, "object", json::Value(object, a), a);
  return json::Dump(d) + "\n";
}

}  // namespace

void ServeWatch(RestStorage& storage, const WatchRequest& req, StreamWriter& out) {
  const ResourceType& type = *req.type;
  if (req.from_rv && *req.from_rv < type.watch_floor_rv) {
    ApiError e = Expired(fmt::format("too old resource version: {} ({})", *req.from_rv, type.watch_floor_rv));
    out.WriteChunk(EventLine("ERROR", e.ToStatus()));
    return;
  }
  auto start = storage.store().Watch(type.StorageKey(), req.ns, req.from_rv);
  if (!start.subscription) {
    ApiError e = Expired(fmt::format("too old resource version: {} ({})", req.from_rv.value_or(0),
                                     start.oldest_rv));
    out.WriteChunk(EventLine("ERROR", e.ToStatus()));
    return;
  }
  struct Unwatch {
    Store& store;
    std::shared_ptr<WatchSubscription> sub;
    ~Unwatch() { store.Unwatch(sub); }
  } unwatch{storage.store(), start.subscription};

  auto matches = [&](const ObjectPtr& o) {
    return o && req.labels.Matches(*o) && req.fields.Matches(*o);
  };
  bool headers_sent = false;
  auto render = [&](const json::Value& obj) {
    json::Document rendered = storage.Render(type, req.version, obj);
    if (!req.table) return rendered;
    json::Document t = ToTable(type, req.version, rendered, *req.table, headers_sent,
                               storage.clock().WallNow());
    headers_sent = true;
    return t;
  };
  // Selector semantics of the real watch cache: an object entering the
  // selector is ADDED, one leaving it is DELETED.
  auto emit = [&](const WatchEvent& e) {
    bool now_in = matches(e.object);
    bool was_in = e.type != WatchEvent::Type::kAdded && matches(e.previous);
    const char* type_name = nullptr;
    switch (e.type) {
      case WatchEvent::Type::kAdded:
        if (now_in) type_name = "ADDED";
        break;
      case WatchEvent::Type::kModified:
        if (now_in && was_in) type_name = "MODIFIED";
        else if (now_in) type_name = "ADDED";
        else if (was_in) type_name = "DELETED";
        break;
      case WatchEvent::Type::kDeleted:
        if (was_in || now_in) type_name = "DELETED";
        break;
    }
    if (type_name == nullptr) return true;
    if (e.type == WatchEvent::Type::kModified && !now_in && e.previous) {
      // Leaving the selector: the watch cache sends the object as it was
      // (the state that matched) with the event's resourceVersion.
      json::Document prev = json::Clone(*e.previous);
      json::SetString(json::EnsureObject(prev, {"metadata"}, prev.GetAllocator()), "resourceVersion",
                      std::to_string(e.rv), prev.GetAllocator());
      return out.WriteChunk(EventLine(type_name, render(prev)));
    }
    return out.WriteChunk(EventLine(type_name, render(*e.object)));
  };

  auto started = SteadyClock::now();
  auto deadline = started + req.timeout;
  auto fault_at = started + (req.fault ? req.fault->delay : milliseconds(0));
  auto last_bookmark = started;
  auto fire_fault = [&]() {
    if (!req.fault || SteadyClock::now() < fault_at) return false;
    if (req.fault->kind == Fault::Kind::kGone) {
      ApiError e = Expired(fmt::format("too old resource version: {} ({})",
                                       req.from_rv.value_or(0), storage.store().CurrentRv()));
      out.WriteChunk(EventLine("ERROR", e.ToStatus()));
    } else {
      out.Reset();
    }
    return true;
  };
  if (req.fault && req.fault->kind == Fault::Kind::kGone && req.fault->delay.count() == 0) {
    fire_fault();
    return;
  }
  for (const auto& e : start.initial) {
    if (!emit(e)) return;
  }
  while (!out.Closed()) {
    if (fire_fault()) return;
    auto now = SteadyClock::now();
    if (now >= deadline) return;
    milliseconds wait = std::min<milliseconds>(
        milliseconds(200), std::chrono::duration_cast<milliseconds>(deadline - now) + milliseconds(1));
    for (const auto& e : start.subscription->Wait(wait)) {
      if (!emit(e)) return;
    }
    if (req.bookmarks && SteadyClock::now() - last_bookmark >= req.bookmark_interval) {
      if (auto rv = storage.store().BookmarkRv(start.subscription)) {
        // A bookmark carries only the kind and metadata.resourceVersion.
        json::Document obj(rapidjson::kObjectType);
        auto& a = obj.GetAllocator();
        json::SetString(obj, "kind", type.kind, a);
        json::SetString(obj, "apiVersion", type.ApiVersion(req.version), a);
        json::SetString(json::EnsureObject(obj, {"metadata"}, a), "resourceVersion",
                        std::to_string(*rv), a);
        if (req.table) {
          // Transformed like any other event object: a Table carrying only
          // the resourceVersion.
          json::Document t(rapidjson::kObjectType);
          auto& ta = t.GetAllocator();
          json::SetString(t, "kind", "Table", ta);
          json::SetString(t, "apiVersion", req.table->group_version, ta);
          json::SetString(json::EnsureObject(t, {"metadata"}, ta), "resourceVersion",
                          std::to_string(*rv), ta);
          json::Set(t, "columnDefinitions", json::Value(rapidjson::kNullType), ta);
          json::Set(t, "rows", json::Value(rapidjson::kArrayType), ta);
          obj.Swap(t);
        }
        if (!out.WriteChunk(EventLine("BOOKMARK", obj))) return;
        last_bookmark = SteadyClock::now();
      }
    }
  }
}

}  // namespace srexpert::testing
