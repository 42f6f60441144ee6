#include "kube/watch.h"

#include <fmt/format.h>

#include "common/json.h"
#include "common/json_skip.h"
#include "common/log.h"

namespace srexpert::kube {

std::string WatchEvent::resource_version() const {
  return object ? json::GetString(*object, {"metadata", "resourceVersion"}) : std::string();
}

std::string_view WatchEventTypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded: return "ADDED";
    case WatchEvent::Type::kModified: return "MODIFIED";
    case WatchEvent::Type::kDeleted: return "DELETED";
    case WatchEvent::Type::kBookmark: return "BOOKMARK";
    case WatchEvent::Type::kError: return "ERROR";
  }
  return "ERROR";
}

Result<WatchEvent> DecodeWatchEvent(std::string_view line, bool skip_server_bookkeeping) {
  std::string why;
  auto doc = skip_server_bookkeeping ? json::ParseSkipping(line, json::ServerBookkeepingPaths(), &why)
                                     : json::Parse(line, &why);
  if (!doc) return Error(Reason::kDecode, "watch event: " + why);
  std::string type = json::GetString(*doc, {"type"});
  auto* object = json::FindMutable(*doc, {"object"});
  if (!object || !object->IsObject()) {
    return Error(Reason::kDecode, fmt::format("watch event {}: no object", type));
  }
  WatchEvent event;
  if (type == "ADDED") event.type = WatchEvent::Type::kAdded;
  else if (type == "MODIFIED") event.type = WatchEvent::Type::kModified;
  else if (type == "DELETED") event.type = WatchEvent::Type::kDeleted;
  else if (type == "BOOKMARK") event.type = WatchEvent::Type::kBookmark;
  else if (type == "ERROR") event.type = WatchEvent::Type::kError;
  else return Error(Reason::kDecode, fmt::format("watch event: unknown type \"{}\"", type));
  // Make the object the document's root without copying: its memory lives in
  // the document's allocator either way; the envelope is discarded.
  rapidjson::Value taken;
  taken.Swap(*object);
  static_cast<rapidjson::Value&>(*doc).Swap(taken);
  event.object = std::make_shared<rapidjson::Document>(std::move(*doc));
  return event;
}

WatchStream::WatchStream(std::unique_ptr<ResponseStream> body, bool skip_server_bookkeeping)
    : body_(std::move(body)), skip_server_bookkeeping_(skip_server_bookkeeping) {}

Result<std::optional<WatchEvent>> WatchStream::Next(std::chrono::milliseconds idle) {
  for (;;) {
    auto line = body_->ReadLine(idle);
    if (!line) return line.error();
    if (!line->has_value()) return std::optional<WatchEvent>();
    if ((*line)->empty()) continue;  // keep-alive newline
    auto event = DecodeWatchEvent(**line, skip_server_bookkeeping_);
    if (!event) return event.error();
    if (event->type == WatchEvent::Type::kError) {
      Error err = Error::FromStatus(*event->object);
      if (err.reason() == Reason::kUnknown) {
        err = Error(Reason::kServerError, "watch ERROR event: " + json::Dump(*event->object));
      }
      return err;
    }
    return std::optional<WatchEvent>(std::move(*event));
  }
}

Watcher::Watcher(std::shared_ptr<RestClient> client, ObjectRef collection,
                 WatcherOptions options, const Cancellation& parent)
    : client_(std::move(client)),
      collection_(std::move(collection)),
      options_(std::move(options)),
      stop_(parent.Child()),
      resource_version_(options_.watch.resource_version) {}

std::string Watcher::resource_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resource_version_;
}

Result<void> Watcher::Run(const Handler& on_event) {
  BackoffSchedule backoff(options_.backoff, random_);
  bool first = true;
  while (!stop_.cancelled()) {
    if (!first) reconnects_.fetch_add(1);
    first = false;
    WatchOptions watch = options_.watch;
    watch.resource_version = resource_version();
    Error failure;
    bool progressed = false;
    auto body = client_->OpenWatch(collection_, watch, stop_);
    if (body) {
      WatchStream stream(std::move(*body), options_.skip_server_bookkeeping);
      for (;;) {
        auto event = stream.Next(options_.idle_timeout);
        if (!event) {
          failure = event.error();
          break;
        }
        if (!event->has_value()) break;  // the server ended the watch
        const WatchEvent& e = **event;
        if (std::string rv = e.resource_version(); !rv.empty()) {
          std::lock_guard<std::mutex> lock(mu_);
          resource_version_ = std::move(rv);
        }
        progressed = true;
        on_event(e);
      }
    } else {
      failure = body.error();
    }

    if (stop_.cancelled()) break;
    if (failure.reason() == Reason::kGone) return failure;
    if (failure.reason() == Reason::kUnknown && progressed) {
      // Clean end after some events (server timeout): resume right away.
      backoff.Reset();
      continue;
    }
    if (failure.reason() != Reason::kUnknown && !failure.retryable() &&
        failure.reason() != Reason::kDecode && failure.reason() != Reason::kCancelled) {
      return failure;
    }
    if (progressed) backoff.Reset();
    auto delay = backoff.Next();
    if (auto ra = failure.retry_after()) delay = std::max<std::chrono::milliseconds>(delay, *ra);
    log::Info("watch interrupted; reconnecting",
              {{"kind", collection_.kind},
               {"namespace", collection_.ns},
               {"resourceVersion", resource_version()},
               {"reason", failure.reason() == Reason::kUnknown ? std::string("stream ended")
                                                               : failure.ToString()},
               {"delay_ms", static_cast<int64_t>(delay.count())}});
    stop_.WaitFor(delay);
  }
  return Result<void>();
}

}  // namespace srexpert::kube
