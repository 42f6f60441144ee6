// Streaming watches. WatchStream decodes one watch response (newline-
// delimited JSON events, read as the chunks arrive). Watcher keeps a watch
// going across connections: it resumes from the last resourceVersion seen
// (bookmarks included), reconnects when the server ends the stream, when the
// stream goes idle and on transport/server errors, and returns kGone when the
// server no longer has that version, i.e. the caller must relist.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/backoff.h"
#include "kube/cancellation.h"
#include "kube/error.h"
#include "kube/http_transport.h"
#include "kube/rest_client.h"

namespace srexpert::kube {

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  // The object; for kError the metav1.Status; for kBookmark an object with
  // only metadata.resourceVersion (and apiVersion/kind).
  std::shared_ptr<rapidjson::Document> object;

  std::string resource_version() const;
};

std::string_view WatchEventTypeName(WatchEvent::Type type);

// Decodes one line of a watch body ({"type":...,"object":{...}}); kDecode
// for anything else. `skip_server_bookkeeping`: leave managedFields and the
// last-applied annotation out of the object (ListOptions has the same).
Result<WatchEvent> DecodeWatchEvent(std::string_view line, bool skip_server_bookkeeping = false);

class WatchStream {
 public:
  explicit WatchStream(std::unique_ptr<ResponseStream> body, bool skip_server_bookkeeping = false);

  // The next event. nullopt when the server ended the watch (normal, e.g.
  // timeoutSeconds elapsed). ERROR events are returned as errors: 410 as
  // kGone ("relist needed"), others decoded from their Status. kTimeout when
  // nothing arrived within `idle`; kTransport/kCancelled from the stream.
  Result<std::optional<WatchEvent>> Next(std::chrono::milliseconds idle);

 private:
  std::unique_ptr<ResponseStream> body_;
  bool skip_server_bookkeeping_;
};

struct WatcherOptions {
  WatchOptions watch;  // selectors, starting resource_version, bookmarks, timeout_seconds
  // No bytes for this long → the connection is considered dead and replaced.
  // kube-apiserver may send nothing at all on a quiet resource until the
  // watch's timeoutSeconds ends it (bookmarks are not a heartbeat), so this
  // must exceed timeoutSeconds: it only catches a server that never ends the
  // watch. Dead peers are found sooner by TCP keepalive (http_transport.cc).
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(360)};
  BackoffPolicy backoff{std::chrono::milliseconds(200), std::chrono::milliseconds(10000), 2.0,
                        true};
  // Objects arrive without managedFields and the last-applied annotation.
  bool skip_server_bookkeeping = false;
};

class Watcher {
 public:
  using Handler = std::function<void(const WatchEvent&)>;

  // `collection`: api_version, kind and namespace (empty = all namespaces).
  // Stopping `parent` stops this watcher too.
  Watcher(std::shared_ptr<RestClient> client, ObjectRef collection, WatcherOptions options,
          const Cancellation& parent = Cancellation());
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Blocks, calling `on_event` for every ADDED/MODIFIED/DELETED/BOOKMARK
  // event on this thread, after recording its resourceVersion. The handler
  // owns the event: it may move the object out. Returns
  //   ok                   after Stop() (or the parent's cancellation);
  //   kGone                when the server no longer has the version to resume
  //                        from (HTTP 410 or an ERROR event): relist needed;
  //   a non-retryable error (Forbidden, NotFound, BadRequest, ...).
  // Everything else (stream end, idle timeout, transport errors, 429, 5xx)
  // is handled by reconnecting from the last resourceVersion.
  Result<void> Run(const Handler& on_event);
  // Thread-safe and prompt: closes the connection Run is reading from.
  void Stop() { stop_.Cancel(); }

  std::string resource_version() const;
  // Connections opened after the first one.
  uint64_t reconnects() const { return reconnects_.load(); }

 private:
  std::shared_ptr<RestClient> client_;
  ObjectRef collection_;
  WatcherOptions options_;
  Cancellation stop_;
  RandomSource random_;
  mutable std::mutex mu_;
  std::string resource_version_;
  std::atomic<uint64_t> reconnects_{0};
};

}  // namespace srexpert::kube
