// ResourceCollector: list+watch of one kind across all namespaces on the
// leader, reporting every object's projected form to a ChangeSink.
//
// Memory is the design constraint (docs/streaming.md: a 44 MiB agent at 10k
// pods), which is why this is not a kube::Informer:
//   * The list is read page by page (limit/continue); each item is projected
//     as soon as its page arrives and the page is dropped before the next one
//     is fetched. A whole list is never held.
//   * Per object the collector keeps only what a relist diff needs: its
//     "namespace/name" key and a 64-bit fingerprint of its resourceVersion.
//     The projected JSON goes to the sink and is not kept here.
//
// Contract towards the sink (all calls from the collector's own thread):
//   * Upsert for every object of the first complete list, then Synced(kind).
//   * Watch ADDED/MODIFIED → Upsert, DELETED → Remove.
//   * After a 410 Gone (or any watch failure) the kind is relisted and only
//     the difference is reported: Upsert for new objects and changed
//     resourceVersions, Remove for keys missing from the new list. After every
//     complete list the sink's objects of this kind are exactly the API's
//     (after projection and exclusion).
//   * Forbidden/NotFound (RBAC missing, API not served) → Unavailable(kind,
//     reason), retried after `unavailable_retry`; the next complete list
//     reports Synced(kind) again. What the sink holds is left as it was: the
//     relist diff repairs it once the kind is back.
//   * Other errors (5xx, transport, throttling) are logged and retried with
//     backoff; they do not make the kind unavailable.
#pragma once

#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/backoff.h"
#include "kube/cancellation.h"
#include "kube/rest_client.h"
#include "stream/change_sink.h"

namespace srexpert::stream {

// Turns a Kubernetes object into the compact JSON text the backend gets;
// nullopt = the object is not collected (as if it did not exist). Called on
// the collector's thread. List items carry apiVersion and kind filled in by
// the collector, so the projector sees the same shape from lists and watches.
using Projector = std::function<std::optional<std::string>(const rapidjson::Value& object)>;

struct ResourceCollectorOptions {
  // api_version and kind; ns and name are ignored (always all namespaces).
  kube::ObjectRef collection;
  Projector project;
  // Objects in these namespaces are skipped; for kind Namespace the excluded
  // Namespace objects themselves too.
  std::vector<std::string> excluded_namespaces;
  int64_t page_size = 250;
  // The server ends each watch after this; the Watcher resumes from the last
  // resourceVersion (bookmarks keep it fresh).
  int64_t watch_timeout_seconds = 300;
  // Above watch_timeout_seconds: see kube::WatcherOptions::idle_timeout.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(360)};
  BackoffPolicy backoff{std::chrono::milliseconds(200), std::chrono::milliseconds(10000), 2.0,
                        true};
  // Delay before trying an unavailable (forbidden / not served) kind again.
  std::chrono::milliseconds unavailable_retry{std::chrono::seconds(60)};
};

struct ResourceCollectorStats {
  uint64_t objects = 0;   // objects currently reported to the sink
  uint64_t relists = 0;   // complete lists after the first
  uint64_t errors = 0;    // failed lists and watches (any reason)
  bool synced = false;    // the first complete list was delivered
  bool available = true;  // false while Forbidden/NotFound
};

class ResourceCollector {
 public:
  // `sink` must outlive the collector. Nothing happens before Start().
  ResourceCollector(std::shared_ptr<kube::RestClient> client, ResourceCollectorOptions options,
                    ChangeSink* sink);
  ~ResourceCollector();  // Stop()
  ResourceCollector(const ResourceCollector&) = delete;
  ResourceCollector& operator=(const ResourceCollector&) = delete;

  // Starts the list+watch thread. At most once: a collector is not restarted
  // after Stop() (a new leadership term builds new collectors).
  void Start();
  // Prompt even in the middle of a list, a watch or a retry delay; joins the
  // thread. No sink call happens after it returns.
  void Stop();

  ResourceCollectorStats Stats() const;
  const std::string& kind() const { return options_.collection.kind; }

 private:
  // What a relist diff needs per object: 16 bytes plus the key.
  struct Entry {
    uint64_t rv = 0;     // ResourceVersionFingerprint
    uint32_t epoch = 0;  // the list pass that last saw the object
  };

  void Loop();
  // One complete paged list; reports the diff against `known_`. Returns the
  // list's resourceVersion to watch from.
  kube::Result<std::string> ListAndDiff();
  // A list item or watch object with this resourceVersion exists now.
  void Observe(const rapidjson::Value& object);
  void Forget(const rapidjson::Value& object);
  bool Excluded(const std::string& ns, const std::string& name) const;
  // Waits out a failure; true when stopped meanwhile.
  bool HandleError(const kube::Error& error, const char* during, BackoffSchedule& backoff);
  void PublishCount() { objects_.store(known_.size()); }

  std::shared_ptr<kube::RestClient> client_;
  ResourceCollectorOptions options_;
  ChangeSink* sink_;
  std::unordered_set<std::string> excluded_;
  bool is_namespace_kind_ = false;
  kube::Cancellation stop_;
  RandomSource random_;
  std::thread thread_;
  bool started_ = false;

  // Collector thread only.
  std::unordered_map<std::string, Entry> known_;  // "ns/name" ("/name" cluster-scoped)
  uint32_t epoch_ = 0;
  bool report_synced_ = true;  // the next complete list reports Synced()
  std::string unavailable_reason_;

  std::atomic<uint64_t> objects_{0};
  std::atomic<uint64_t> relists_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<bool> synced_{false};
  std::atomic<bool> available_{true};
};

// Equality of two fingerprints means "same resourceVersion": the decimal
// value for etcd-style numeric versions (exact), an FNV-1a hash otherwise
// (resourceVersions are opaque strings by API convention).
uint64_t ResourceVersionFingerprint(std::string_view resource_version);

}  // namespace srexpert::stream
