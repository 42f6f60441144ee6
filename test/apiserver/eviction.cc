#include "test/apiserver/eviction.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/time_format.h"
#include "test/apiserver/selectors.h"

namespace srexpert::testing {
namespace {

// eviction.go: EvictionsRetry (conflicts on the PDB's status).
constexpr int kConflictRetries = 5;
// eviction.go: MaxDisruptedPodSize.
constexpr size_t kMaxDisruptedPods = 2000;
constexpr const char* kViolates =
    "Cannot evict pod as it would violate the pod's disruption budget.";

ApiError TooManyEvictions(int retry_after, const std::string& cause) {
  ApiError e{429, "TooManyRequests", kViolates};
  e.retry_after_seconds = retry_after;
  e.generic = true;  // NewTooManyRequests always sends details
  if (!cause.empty()) e.causes.push_back({"DisruptionBudget", cause, ""});
  return e;
}

// Whether a PDB's spec.selector selects the pod. A null or empty selector
// selects nothing: kube-apiserver v1.26 answered an eviction of a pod under
// one matchLabels PDB and one `selector: {}` PDB with that one PDB's 429,
// not the "more than one PodDisruptionBudget" 500.
bool SelectorMatches(const json::Value* selector, const json::Value& pod) {
  if (selector == nullptr || !selector->IsObject() || selector->MemberCount() == 0) return false;
  auto text = LabelSelectorString(selector);
  if (!text) return false;  // an invalid selector matches no pod (eviction.go)
  std::string err;
  auto parsed = LabelSelector::Parse(*text, &err);
  return parsed && parsed->Matches(pod);
}

bool PodReady(const json::Value& pod) {
  const auto* conds = json::Find(pod, {"status", "conditions"});
  if (conds == nullptr || !conds->IsArray()) return false;
  for (const auto& c : conds->GetArray()) {
    if (json::GetString(c, {"type"}) == "Ready") return json::GetString(c, {"status"}) == "True";
  }
  return false;
}

// canIgnorePDB: a pod that is not running (or already going away) causes
// no further disruption by being deleted.
bool CanIgnorePdb(const json::Value& pod) {
  std::string phase = json::GetString(pod, {"status", "phase"});
  return phase.empty() || phase == "Pending" || phase == "Succeeded" || phase == "Failed" ||
         !json::GetString(pod, {"metadata", "deletionTimestamp"}).empty();
}

// createTooManyRequestsError: the PDB is not yet observed by its controller,
// or the pod changed under an eviction that had to pin its resourceVersion.
ApiError StillProcessing(const std::string& pdb_name) {
  return TooManyEvictions(
      10,
      fmt::format("The disruption budget {} is still being processed by the server.", pdb_name));
}

// addConditionAndDeletePod (PodDisruptionConditions, on by default since
// v1.26): the pod gets the DisruptionTarget condition before it is deleted.
// Setting it changes the pod's resourceVersion unless it was already there.
std::optional<ApiError> MarkDisruptionTarget(RestStorage& storage, const ResourceType& pod_type,
                                             const std::string& ns, json::Document pod) {
  auto& a = pod.GetAllocator();
  auto& status = json::EnsureObject(pod, {"status"}, a);
  if (!status.HasMember("conditions") || !status["conditions"].IsArray()) {
    json::Set(status, "conditions", json::Value(rapidjson::kArrayType), a);
  }
  auto& conds = status["conditions"];
  json::Value* target = nullptr;
  for (auto& c : conds.GetArray()) {
    if (json::GetString(c, {"type"}) == "DisruptionTarget") target = &c;
  }
  if (target && json::GetString(*target, {"status"}) == "True" &&
      json::GetString(*target, {"reason"}) == "EvictionByEvictionAPI") {
    return std::nullopt;
  }
  if (!target) {
    conds.PushBack(json::Value(rapidjson::kObjectType), a);
    target = &conds[conds.Size() - 1];
    json::SetString(*target, "type", "DisruptionTarget", a);
  }
  if (json::GetString(*target, {"status"}) != "True") {
    json::SetString(*target, "lastTransitionTime", FormatRfc3339(storage.clock().WallNow()), a);
  }
  json::SetString(*target, "status", "True", a);
  json::SetString(*target, "reason", "EvictionByEvictionAPI", a);
  json::SetString(*target, "message", "Eviction API: evicting", a);
  WriteOptions wo;
  wo.field_manager = "kube-apiserver";
  std::string name = json::GetString(pod, {"metadata", "name"});
  Outcome w = storage.Update(pod_type, "v1", ns, name, "status", std::move(pod), wo);
  if (w.error) return *w.error;
  return std::nullopt;
}

Outcome Success() {
  Outcome o;
  o.code = 201;
  o.body.SetObject();
  auto& a = o.body.GetAllocator();
  json::SetString(o.body, "kind", "Status", a);
  json::SetString(o.body, "apiVersion", "v1", a);
  json::Set(o.body, "metadata", json::Value(rapidjson::kObjectType), a);
  json::SetString(o.body, "status", "Success", a);
  json::Set(o.body, "code", json::Value(201), a);
  return o;
}

// checkAndDecrement: refuses with 429 when the budget has no disruption
// left, else records the pod as disrupted in the PDB's status (the
// controller recomputes disruptionsAllowed later, here: the test).
std::optional<ApiError> CheckAndDecrement(RestStorage& storage, const ResourceType& pdb_type,
                                          const std::string& ns, const std::string& pod_name,
                                          json::Document pdb, bool dry_run) {
  std::string pdb_name = json::GetString(pdb, {"metadata", "name"});
  if (json::GetInt(pdb, {"status", "observedGeneration"}) <
      json::GetInt(pdb, {"metadata", "generation"})) {
    return StillProcessing(pdb_name);
  }
  int64_t allowed = json::GetInt(pdb, {"status", "disruptionsAllowed"});
  if (allowed < 0) {
    return Forbidden({"policy", "poddisruptionbudget"}, pdb_name,
                     "pdb disruptions allowed is negative");
  }
  const auto* disrupted = json::Find(pdb, {"status", "disruptedPods"});
  if (disrupted && disrupted->IsObject() && disrupted->MemberCount() > kMaxDisruptedPods) {
    return Forbidden(
        {"policy", "poddisruptionbudget"}, pdb_name,
        "DisruptedPods map too big - too many evictions not confirmed by PDB controller");
  }
  if (allowed == 0) {
    return TooManyEvictions(
        0, fmt::format("The disruption budget {} needs {} healthy pods and has {} currently",
                       pdb_name, json::GetInt(pdb, {"status", "desiredHealthy"}),
                       json::GetInt(pdb, {"status", "currentHealthy"})));
  }
  if (dry_run) return std::nullopt;
  auto& a = pdb.GetAllocator();
  auto& status = json::EnsureObject(pdb, {"status"}, a);
  json::Set(status, "disruptionsAllowed", json::Value(allowed - 1), a);
  json::SetString(json::EnsureObject(status, {"disruptedPods"}, a), pod_name,
                  FormatRfc3339(storage.clock().WallNow()), a);
  if (allowed - 1 == 0) {
    // pdbhelper.UpdateDisruptionAllowedCondition.
    json::Value conds(rapidjson::kArrayType);
    if (auto* old = json::FindMutable(status, {"conditions"}); old && old->IsArray()) {
      for (auto& c : old->GetArray()) {
        if (json::GetString(c, {"type"}) != "DisruptionAllowed")
          conds.PushBack(json::Value(c, a), a);
      }
    }
    json::Value c(rapidjson::kObjectType);
    json::SetString(c, "type", "DisruptionAllowed", a);
    json::SetString(c, "status", "False", a);
    json::SetString(c, "reason", "InsufficientPods", a);
    json::SetString(c, "message", "", a);
    json::SetString(c, "lastTransitionTime", FormatRfc3339(storage.clock().WallNow()), a);
    json::Set(c, "observedGeneration", json::Value(json::GetInt(pdb, {"metadata", "generation"})),
              a);
    conds.PushBack(c, a);
    json::Set(status, "conditions", std::move(conds), a);
  }
  WriteOptions wo;
  wo.field_manager = "kube-apiserver";
  Outcome w = storage.Update(pdb_type, "v1", ns, pdb_name, "status", std::move(pdb), wo);
  if (w.error) return *w.error;
  return std::nullopt;
}

}  // namespace

Outcome EvictPod(RestStorage& storage, const std::string& ns, const std::string& name,
                 const std::string& body_text, bool dry_run) {
  auto pod_type = storage.registry().Find("", "v1", "pods");
  auto pdb_type = storage.registry().Find("policy", "v1", "poddisruptionbudgets");
  if (!pod_type || !pdb_type) return Outcome::Error(InternalError("pods or PDBs are not served"));
  std::string err;
  auto body = json::Parse(body_text, &err);
  if (!body || !body->IsObject()) {
    return Outcome::Error(
        BadRequest("the object provided is unrecognized (must be of type Eviction): couldn't get "
                   "version/kind; "
                   "json parse error: " +
                   err));
  }
  std::string kind = json::GetString(*body, {"kind"});
  std::string av = json::GetString(*body, {"apiVersion"});
  if (kind != "Eviction" || (av != "policy/v1" && av != "policy/v1beta1")) {
    return Outcome::Error(BadRequest(fmt::format("not a Eviction object: {} {}", av, kind)));
  }
  if (json::GetString(*body, {"metadata", "name"}) != name) {
    return Outcome::Error(BadRequest("name in URL does not match name in Eviction object"));
  }
  DeleteOptions del;
  del.dry_run = dry_run;
  if (const auto* o = json::Find(*body, {"deleteOptions"}); o && o->IsObject()) {
    if (const auto* u = json::Find(*o, {"preconditions", "uid"}); u && u->IsString()) {
      del.precondition_uid = u->GetString();
    }
    if (const auto* v = json::Find(*o, {"preconditions", "resourceVersion"}); v && v->IsString()) {
      del.precondition_rv = v->GetString();
    }
    if (const auto* p = json::Find(*o, {"propagationPolicy"}); p && p->IsString()) {
      del.propagation_policy = p->GetString();
    }
    if (const auto* d = json::Find(*o, {"dryRun"}); d && d->IsArray() && !d->Empty())
      del.dry_run = true;
    // gracePeriodSeconds has no effect here: the test server deletes pods
    // at once (no kubelet confirms a graceful termination).
  }

  Outcome pod = storage.Get(*pod_type, "v1", ns, name);
  if (pod.error) return pod;
  auto delete_pod = [&](const DeleteOptions& d) -> Outcome {
    if (d.dry_run) return Success();
    // The condition is written to the pod as read at the start (uid and
    // resourceVersion preconditions are checked on delete).
    if (auto e = MarkDisruptionTarget(storage, *pod_type, ns, json::Clone(pod.body))) {
      return Outcome::Error(*e);
    }
    Outcome r = storage.Delete(*pod_type, "v1", ns, name, d);
    if (r.error) return r;
    return Success();
  };
  if (CanIgnorePdb(pod.body)) return delete_pod(del);

  Outcome pdbs = storage.List(*pdb_type, "v1", ns, {});
  if (pdbs.error) return pdbs;
  std::vector<const json::Value*> matching;
  if (const auto* items = json::Find(pdbs.body, {"items"}); items && items->IsArray()) {
    for (const auto& p : items->GetArray()) {
      if (SelectorMatches(json::Find(p, {"spec", "selector"}), pod.body)) matching.push_back(&p);
    }
  }
  if (matching.size() > 1) {
    return Outcome::Error(ApiError{500, "",
                                   "This pod has more than one PodDisruptionBudget, which the "
                                   "eviction subresource does not support."});
  }
  if (matching.empty()) return delete_pod(del);

  const json::Value& pdb = *matching.front();
  int64_t desired = json::GetInt(pdb, {"status", "desiredHealthy"});
  if (!PodReady(pod.body) && json::GetInt(pdb, {"status", "currentHealthy"}) >= desired &&
      desired > 0) {
    // An unready pod does not count as healthy: deleting it leaves the
    // budget as it is, provided it has not become ready meanwhile (the
    // delete is pinned to the resourceVersion read). As in v1.26.0, the
    // DisruptionTarget condition written just before moves that version, so
    // the first eviction of such a pod is answered 429 "still being
    // processed" and a retry, finding the condition set, succeeds.
    DeleteOptions d = del;
    if (!d.precondition_rv)
      d.precondition_rv = json::GetString(pod.body, {"metadata", "resourceVersion"});
    Outcome r = delete_pod(d);
    if (r.error && r.error->code == 409 && !del.precondition_rv) {
      return Outcome::Error(StillProcessing(json::GetString(pdb, {"metadata", "name"})));
    }
    return r;
  }

  std::string pdb_name = json::GetString(pdb, {"metadata", "name"});
  json::Document current = json::Clone(pdb);
  for (int attempt = 1;; ++attempt) {
    auto refused = CheckAndDecrement(storage, *pdb_type, ns, name, std::move(current), del.dry_run);
    if (!refused) break;
    if (refused->code != 409 || attempt >= kConflictRetries) return Outcome::Error(*refused);
    Outcome fresh = storage.Get(*pdb_type, "v1", ns, pdb_name);
    if (fresh.error) return fresh;
    current = std::move(fresh.body);
  }
  return delete_pod(del);
}

}  // namespace srexpert::testing
