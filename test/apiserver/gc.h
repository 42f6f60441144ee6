// The controllers a real control plane runs that tests depend on, as one
// background loop over the store: the garbage collector (ownerReferences,
// orphan and foregroundDeletion finalizers), the namespace lifecycle
// controller (emptying Terminating namespaces, then removing the
// "kubernetes" spec finalizer) and CRD cleanup (deleting a CRD's custom
// resources before its customresourcecleanup finalizer is removed).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "test/apiserver/rest_storage.h"

namespace srexpert::testing {

class GarbageCollector {
 public:
  GarbageCollector(RestStorage& storage, std::chrono::milliseconds interval)
      : storage_(storage), interval_(interval) {}
  ~GarbageCollector() { Stop(); }
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  void Start();
  void Stop();
  // One full pass; returns whether it changed anything. Tests may call it
  // directly instead of waiting for the loop.
  bool RunOnce();

 private:
  RestStorage& storage_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace srexpert::testing
