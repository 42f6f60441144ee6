// LeaseLock on a real coordination.k8s.io/v1 Lease through the Kubernetes
// client. Updates are full PUTs of the last object read, carrying its
// resourceVersion, so a stale writer gets 409 Conflict; labels and
// annotations that are not ours (prefix kAnnotationPrefix) are preserved.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <rapidjson/document.h>

#include "kube/rest_client.h"
#include "leaderelection/lease_lock.h"

namespace srexpert::leaderelection {

inline constexpr const char* kAnnotationPrefix = "agent.srexpert.io/";

class KubeLeaseLock final : public LeaseLock {
 public:
  KubeLeaseLock(std::shared_ptr<kube::RestClient> client, std::string ns, std::string name);

  kube::Result<ObservedLease> Get(const LeaseCall& call) override;
  kube::Result<ObservedLease> Create(const LeaderElectionRecord& record,
                                     const LeaseCall& call) override;
  kube::Result<ObservedLease> Update(const LeaderElectionRecord& record,
                                     const std::string& resource_version,
                                     const LeaseCall& call) override;
  std::string Describe() const override { return ns_ + "/" + name_; }

 private:
  kube::Result<ObservedLease> Remember(kube::Result<rapidjson::Document> result);
  kube::CallBounds Bounds(const LeaseCall& call) const;

  std::shared_ptr<kube::RestClient> client_;
  std::string ns_;
  std::string name_;
  std::mutex mu_;
  rapidjson::Document last_;  // the last Lease object seen (null before any)
};

// Decoding and encoding of the Lease fields that election uses; exposed for
// tests and for the operator, which reads leaders from Leases.
LeaderElectionRecord RecordFromLease(const rapidjson::Value& lease);
void WriteRecordToLease(const LeaderElectionRecord& record, rapidjson::Value& lease,
                        rapidjson::Document::AllocatorType& alloc);

}  // namespace srexpert::leaderelection
