// The seam between leader election and the Kubernetes API: one Lease object
// read and written with optimistic concurrency. KubeLeaseLock is the real one;
// tests use an in-memory lock that can fail, conflict or hang on demand.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "common/clock.h"
#include "kube/cancellation.h"
#include "kube/error.h"

namespace srexpert::leaderelection {

// The fields of coordination.k8s.io/v1 LeaseSpec that election uses, plus
// the Lease annotations the holder publishes (docs/leader-election.md).
struct LeaderElectionRecord {
  std::string holder_identity;
  int lease_duration_seconds = 0;
  std::optional<Clock::Wall> acquire_time;
  std::optional<Clock::Wall> renew_time;
  int lease_transitions = 0;
  std::map<std::string, std::string> annotations;

  bool operator==(const LeaderElectionRecord&) const = default;
};

struct ObservedLease {
  LeaderElectionRecord record;
  std::string resource_version;
};

// How long one Lease call may take and what stops it. A lock turns it into
// its client's per-call bounds (kube/call_bounds.h): a throttled or hung API
// server then cannot hold the election loop past the point where the answer
// is useless (a leader's renew deadline) or past Stop().
struct LeaseCall {
  std::optional<kube::Cancellation> cancel;
  std::chrono::milliseconds timeout{0};  // 0: no limit but the client's own
};

class LeaseLock {
 public:
  virtual ~LeaseLock() = default;
  // Current Lease; an Error with IsNotFound() when there is none.
  virtual kube::Result<ObservedLease> Get(const LeaseCall& call) = 0;
  // Creates the Lease; AlreadyExists when someone else was faster.
  virtual kube::Result<ObservedLease> Create(const LeaderElectionRecord& record,
                                             const LeaseCall& call) = 0;
  // Replaces the Lease's spec and our annotations; Conflict when
  // `resource_version` is no longer current.
  virtual kube::Result<ObservedLease> Update(const LeaderElectionRecord& record,
                                             const std::string& resource_version,
                                             const LeaseCall& call) = 0;
  // "namespace/name", for logs.
  virtual std::string Describe() const = 0;
};

}  // namespace srexpert::leaderelection
