// An in-memory LeaseLock for tests: several locks share one MemoryLease, as
// several pods share one Lease object; failures are injected per lock.
#pragma once

#include <mutex>
#include <string>

#include "leaderelection/lease_lock.h"

namespace srexpert::leaderelection {

struct MemoryLease {
  std::mutex mu;
  bool exists = false;
  LeaderElectionRecord record;
  int resource_version = 0;
  int writes = 0;
};

class MemoryLeaseLock : public LeaseLock {
 public:
  explicit MemoryLeaseLock(MemoryLease& lease) : lease_(lease) {}

  int fail_calls = 0;  // the next N calls fail with a 503
  LeaseCall last_call;  // the limits the last call came with

  kube::Result<ObservedLease> Get(const LeaseCall& call) override {
    std::lock_guard<std::mutex> lock(lease_.mu);
    last_call = call;
    if (fail_calls > 0) return Fail();
    if (!lease_.exists) return kube::Error(kube::Reason::kNotFound, "leases \"l\" not found", 404);
    return Current();
  }
  kube::Result<ObservedLease> Create(const LeaderElectionRecord& record,
                                     const LeaseCall& call) override {
    std::lock_guard<std::mutex> lock(lease_.mu);
    last_call = call;
    if (fail_calls > 0) return Fail();
    if (lease_.exists) return kube::Error(kube::Reason::kAlreadyExists, "already exists", 409);
    lease_.exists = true;
    return Write(record);
  }
  kube::Result<ObservedLease> Update(const LeaderElectionRecord& record, const std::string& rv,
                                     const LeaseCall& call) override {
    std::lock_guard<std::mutex> lock(lease_.mu);
    last_call = call;
    if (fail_calls > 0) return Fail();
    if (!lease_.exists) return kube::Error(kube::Reason::kNotFound, "not found", 404);
    if (rv != std::to_string(lease_.resource_version)) {
      return kube::Error(kube::Reason::kConflict, "the object has been modified", 409);
    }
    return Write(record);
  }
  std::string Describe() const override { return "test/lease"; }

 private:
  kube::Error Fail() {
    --fail_calls;
    return kube::Error(kube::Reason::kServiceUnavailable, "injected", 503);
  }
  ObservedLease Current() {
    return ObservedLease{lease_.record, std::to_string(lease_.resource_version)};
  }
  ObservedLease Write(const LeaderElectionRecord& record) {
    lease_.record = record;
    ++lease_.resource_version;
    ++lease_.writes;
    return Current();
  }
  MemoryLease& lease_;
};

}  // namespace srexpert::leaderelection
