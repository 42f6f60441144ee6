// A list+watch cache of one resource (optionally one namespace and label/
// field selectors), like client-go's shared informer: an in-memory store
// indexed by namespace/name, event handlers, and a thread of its own that
// lists, watches from the list's resourceVersion, and relists when the watch
// reports 410 Gone. A relist reconciles the store against the new list and
// emits what the watch missed: OnDelete for objects that vanished, OnUpdate
// for objects whose resourceVersion changed, OnAdd for new ones — so handlers
// see a consistent history after any watch restart.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/backoff.h"
#include "kube/cancellation.h"
#include "kube/rest_client.h"
#include "kube/watch.h"

namespace srexpert::kube {

using ObjectPtr = std::shared_ptr<const rapidjson::Document>;

// Called on the informer's thread, in event order, after the store was
// updated (so Get() from a handler sees the new state). Handlers must not
// block for long: they delay every later event.
struct ResourceEventHandlers {
  std::function<void(const ObjectPtr& obj)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  // From a DELETED event: the object as the event carried it. From a relist:
  // the last state the store knew (the object is already gone).
  std::function<void(const ObjectPtr& obj)> on_delete;
};

struct InformerOptions {
  ObjectRef resource;             // api_version, kind, ns ("" = all namespaces)
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;        // list pagination (limit/continue)
  // Applied to every object before it is cached and handed to handlers (e.g.
  // to keep only the fields the agent needs). It must keep metadata.namespace
  // and metadata.name; the store tracks resourceVersion itself.
  std::function<rapidjson::Document(rapidjson::Document)> transform;
  // Above watch_timeout_seconds: see kube::WatcherOptions::idle_timeout.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(360)};
  int64_t watch_timeout_seconds = 300;  // server ends each watch after this; we resume
  BackoffPolicy backoff{std::chrono::milliseconds(200), std::chrono::milliseconds(10000), 2.0,
                        true};
};

class Informer {
 public:
  Informer(std::shared_ptr<RestClient> client, InformerOptions options);
  ~Informer();  // Stop()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Register before Start(); handlers added later would miss the initial adds.
  void AddHandlers(ResourceEventHandlers handlers);
  // Starts the list+watch thread. At most once.
  void Start();
  // Stops the thread and waits for it; prompt even in the middle of a watch.
  void Stop();

  // True once the first list has been stored (and its adds delivered).
  bool HasSynced() const;
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  // Store reads; thread-safe. ns is "" for cluster-scoped objects.
  ObjectPtr Get(std::string_view ns, std::string_view name) const;
  std::vector<ObjectPtr> List() const;
  size_t Size() const;

  // The resourceVersion the cache is current to (list or last watch event).
  std::string ResourceVersion() const;
  // Lists done after the first (each caused by 410 Gone or a watch failure).
  uint64_t Relists() const { return relists_.load(); }

 private:
  struct Entry {
    ObjectPtr object;
    std::string resource_version;
  };

  void Loop();
  // Replaces the store with a fresh list, emitting the differences.
  void Replace(rapidjson::Document& list);
  void Apply(const WatchEvent& event);
  ObjectPtr Prepare(rapidjson::Document object) const;

  std::shared_ptr<RestClient> client_;
  InformerOptions options_;
  std::vector<ResourceEventHandlers> handlers_;
  Cancellation stop_;
  RandomSource random_;
  std::thread thread_;
  bool started_ = false;

  mutable std::mutex mu_;
  mutable std::condition_variable synced_cv_;
  std::map<std::string, Entry> store_;  // key: "ns/name" or "name"
  bool synced_ = false;
  std::string resource_version_;
  std::atomic<uint64_t> relists_{0};
};

}  // namespace srexpert::kube
