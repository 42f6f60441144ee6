#include "leaderelection/kube_lease_lock.h"

#include "common/json.h"
#include "common/time_format.h"

namespace srexpert::leaderelection {

namespace {

bool IsOurAnnotation(std::string_view key) { return key.rfind(kAnnotationPrefix, 0) == 0; }

}  // namespace

LeaderElectionRecord RecordFromLease(const rapidjson::Value& lease) {
  LeaderElectionRecord r;
  r.holder_identity = json::GetString(lease, {"spec", "holderIdentity"});
  r.lease_duration_seconds = static_cast<int>(json::GetInt(lease, {"spec", "leaseDurationSeconds"}));
  r.lease_transitions = static_cast<int>(json::GetInt(lease, {"spec", "leaseTransitions"}));
  if (auto t = ParseRfc3339(json::GetString(lease, {"spec", "acquireTime"}))) r.acquire_time = *t;
  if (auto t = ParseRfc3339(json::GetString(lease, {"spec", "renewTime"}))) r.renew_time = *t;
  if (const auto* ann = json::Find(lease, {"metadata", "annotations"}); ann && ann->IsObject()) {
    for (const auto& m : ann->GetObject()) {
      std::string key(m.name.GetString(), m.name.GetStringLength());
      if (IsOurAnnotation(key) && m.value.IsString()) r.annotations[key] = m.value.GetString();
    }
  }
  return r;
}

void WriteRecordToLease(const LeaderElectionRecord& r, rapidjson::Value& lease,
                        json::Allocator& a) {
  auto& spec = json::EnsureObject(lease, {"spec"}, a);
  // MicroTime needs microseconds; the apiserver rejects seconds-only values
  // for Lease times in strict decoding.
  json::SetString(spec, "holderIdentity", r.holder_identity, a);
  json::Set(spec, "leaseDurationSeconds", rapidjson::Value(r.lease_duration_seconds), a);
  json::Set(spec, "leaseTransitions", rapidjson::Value(r.lease_transitions), a);
  if (r.acquire_time) json::SetString(spec, "acquireTime", FormatRfc3339Micro(*r.acquire_time), a);
  else json::Remove(spec, "acquireTime");
  if (r.renew_time) json::SetString(spec, "renewTime", FormatRfc3339Micro(*r.renew_time), a);
  else json::Remove(spec, "renewTime");

  auto& meta = json::EnsureObject(lease, {"metadata"}, a);
  auto& ann = json::EnsureObject(meta, {"annotations"}, a);
  // Replace our annotations wholesale; keep everyone else's.
  for (auto it = ann.MemberBegin(); it != ann.MemberEnd();) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    it = IsOurAnnotation(key) ? ann.EraseMember(it) : it + 1;
  }
  for (const auto& [k, v] : r.annotations) json::SetString(ann, k, v, a);
  if (ann.MemberCount() == 0) json::Remove(meta, "annotations");
}

KubeLeaseLock::KubeLeaseLock(std::shared_ptr<kube::RestClient> client, std::string ns,
                             std::string name)
    : client_(std::move(client)), ns_(std::move(ns)), name_(std::move(name)) {}

kube::Result<ObservedLease> KubeLeaseLock::Remember(kube::Result<rapidjson::Document> result) {
  if (!result.ok()) return result.error();
  ObservedLease observed{RecordFromLease(*result),
                         json::GetString(*result, {"metadata", "resourceVersion"})};
  std::lock_guard<std::mutex> lock(mu_);
  last_ = std::move(result.value());
  return observed;
}

kube::CallBounds KubeLeaseLock::Bounds(const LeaseCall& call) const {
  kube::CallBounds bounds;
  bounds.cancel = call.cancel;
  if (call.timeout.count() > 0) bounds.deadline = client_->clock().Now() + call.timeout;
  return bounds;
}

kube::Result<ObservedLease> KubeLeaseLock::Get(const LeaseCall& call) {
  return Remember(client_->Get({"coordination.k8s.io/v1", "Lease", ns_, name_}, Bounds(call)));
}

kube::Result<ObservedLease> KubeLeaseLock::Create(const LeaderElectionRecord& record,
                                                  const LeaseCall& call) {
  json::Document lease(rapidjson::kObjectType);
  auto& a = lease.GetAllocator();
  json::SetString(lease, "apiVersion", "coordination.k8s.io/v1", a);
  json::SetString(lease, "kind", "Lease", a);
  auto& meta = json::EnsureObject(lease, {"metadata"}, a);
  json::SetString(meta, "name", name_, a);
  json::SetString(meta, "namespace", ns_, a);
  WriteRecordToLease(record, lease, a);
  kube::WriteOptions options;
  options.bounds = Bounds(call);
  return Remember(client_->Create(lease, options));
}

kube::Result<ObservedLease> KubeLeaseLock::Update(const LeaderElectionRecord& record,
                                                  const std::string& resource_version,
                                                  const LeaseCall& call) {
  json::Document lease;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!last_.IsObject()) {
      return kube::Error(kube::Reason::kConflict, "lease " + Describe() + " was never read", 409);
    }
    lease.CopyFrom(last_, lease.GetAllocator());
  }
  auto& a = lease.GetAllocator();
  auto& meta = json::EnsureObject(lease, {"metadata"}, a);
  json::SetString(meta, "resourceVersion", resource_version, a);
  json::Remove(meta, "managedFields");
  WriteRecordToLease(record, lease, a);
  kube::WriteOptions options;
  options.bounds = Bounds(call);
  return Remember(client_->Update(lease, options));
}

}  // namespace srexpert::leaderelection
