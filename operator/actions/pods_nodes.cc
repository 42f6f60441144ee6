#include "actions/pods_nodes.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "api/validation.h"
#include "common/clock.h"
#include "kube/cancellation.h"
#include "kube/rest_client.h"

namespace srexpert::actions {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Payload members other than these are refused: a typo must not be ignored.
std::optional<std::string> OnlyMembers(const json::Value& p, const std::set<std::string>& allowed) {
  for (auto it = p.MemberBegin(); it != p.MemberEnd(); ++it) {
    std::string k = it->name.GetString();
    if (k != "requestedBy" && !allowed.count(k)) return "unknown member \"" + k + "\"";
  }
  return std::nullopt;
}

std::optional<std::string> ReadName(const json::Value& p, std::string* out) {
  const auto* name = json::Find(p, {"name"});
  if (!name || !name->IsString() ||
      !api::IsDnsSubdomain({name->GetString(), name->GetStringLength()})) {
    return std::string("name: required, a DNS-1123 subdomain");
  }
  *out = name->GetString();
  return std::nullopt;
}

std::optional<std::string> ReadGrace(const json::Value& p, std::optional<int64_t>* out) {
  if (const auto* g = json::Find(p, {"gracePeriodSeconds"})) {
    if (!g->IsInt64() || g->GetInt64() < 0) {
      return std::string("gracePeriodSeconds: a non-negative integer");
    }
    *out = g->GetInt64();
  }
  return std::nullopt;
}

std::optional<std::string> ReadBool(const json::Value& p, const char* key, bool* out) {
  if (const auto* b = json::Find(p, {key})) {
    if (!b->IsBool()) return std::string(key) + ": a boolean";
    *out = b->GetBool();
  }
  return std::nullopt;
}

Target NodeTarget(const std::string& name) { return {"v1", "Node", "", name}; }

// What `kubectl cordon|uncordon` does. nullopt on success with *changed set.
std::optional<ActionResult> SetUnschedulable(kube::RestClient& client, const std::string& node,
                                             bool want, const kube::CallBounds& bounds,
                                             bool* changed) {
  auto live = client.Get({"v1", "Node", "", node}, bounds);
  if (!live) return FromKubeError(live.error(), "Node " + node);
  *changed = json::GetBool(*live, {"spec", "unschedulable"}) != want;
  if (!*changed) return std::nullopt;  // kubectl: "already cordoned", no write
  // Uncordon removes the field: kubectl's two-way patch of the omitempty
  // false value is a null.
  std::string body =
      want ? R"({"spec":{"unschedulable":true}})" : R"({"spec":{"unschedulable":null}})";
  kube::PatchOptions opts;
  opts.field_manager = "srexpert-agent";
  opts.bounds = bounds;
  auto r = client.Patch({"v1", "Node", "", node}, kube::PatchType::kMerge, body, opts);
  if (!r) return FromKubeError(r.error(), "Node " + node);
  return std::nullopt;
}

ActionKind CordonKind(std::shared_ptr<kube::RestClient> client, const char* kind, bool want) {
  ActionKind k;
  k.name = kind;
  k.switch_name = "nodes";
  k.parse = [client, want](const json::Value& p) -> ParseOutcome {
    if (auto err = OnlyMembers(p, {"name"})) return *err;
    std::string node;
    if (auto err = ReadName(p, &node)) return *err;
    PreparedAction a;
    a.targets = {NodeTarget(node)};
    a.execute = [client, node, want](const ActionRequest&,
                                     const CancelToken& cancel) -> ActionResult {
      if (cancel.Stop()) return ActionResult::Fail(codes::kTimeout, "deadline passed");
      bool changed = false;
      if (auto failed =
              SetUnschedulable(*client, node, want, cancel.Bounds(client->clock()), &changed)) {
        return *failed;
      }
      return ActionResult::Ok(std::string("{\"unschedulable\":") + (want ? "true" : "false") +
                              ",\"changed\":" + (changed ? "true" : "false") + "}");
    };
    return a;
  };
  return k;
}

struct DrainOptions {
  std::string node;
  std::optional<int64_t> grace;
  bool delete_emptydir_data = false;
  bool force = false;
};

const json::Value* ControllerRef(const json::Value& pod) {
  const auto* refs = json::Find(pod, {"metadata", "ownerReferences"});
  if (!refs || !refs->IsArray()) return nullptr;
  for (const auto& r : refs->GetArray()) {
    if (json::GetBool(r, {"controller"})) return &r;
  }
  return nullptr;
}

bool Terminal(const json::Value& pod) {
  std::string phase = json::GetString(pod, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

bool HasEmptyDir(const json::Value& pod) {
  const auto* vols = json::Find(pod, {"spec", "volumes"});
  if (!vols || !vols->IsArray()) return false;
  for (const auto& v : vols->GetArray()) {
    if (json::Find(v, {"emptyDir"})) return true;
  }
  return false;
}

// Why a pod stays on the node, or nullopt to evict it. `blocking` says
// whether the skip leaves the drain incomplete (kubectl drain
// --ignore-daemonsets finishes with DaemonSet and mirror pods still there).
std::optional<std::string> SkipReason(const json::Value& pod, const DrainOptions& o,
                                      const ActionPolicy& policy, bool* blocking) {
  *blocking = false;
  const auto* ctrl = ControllerRef(pod);
  if (ctrl && json::GetString(*ctrl, {"kind"}) == "DaemonSet")
    return std::string("DaemonSet-managed");
  if (const auto* ann = json::Find(pod, {"metadata", "annotations"});
      ann && ann->IsObject() && ann->HasMember("kubernetes.io/config.mirror")) {
    return std::string("mirror pod");
  }
  *blocking = true;
  std::string ns = json::GetString(pod, {"metadata", "namespace"});
  if (IsProtectedNamespace(ns, policy.agent_namespace)) {
    return "namespace " + ns + " is protected: actions never touch it";
  }
  if (!policy.namespaces.empty() && std::find(policy.namespaces.begin(), policy.namespaces.end(),
                                              ns) == policy.namespaces.end()) {
    return "namespace " + ns + " is not in spec.actions.namespaces";
  }
  bool terminal = Terminal(pod);
  if (!terminal && HasEmptyDir(pod) && !o.delete_emptydir_data) {
    return std::string("has local storage (emptyDir); set deleteEmptyDirData");
  }
  if (!terminal && !ctrl && !o.force) return std::string("not managed by a controller; set force");
  *blocking = false;
  return std::nullopt;
}

struct PodRef {
  std::string ns, name, uid;
};

struct Outcome {
  PodRef pod;
  std::string reason;
};

void AppendPods(json::Document& doc, const char* key, const std::vector<Outcome>& list,
                bool with_reason) {
  auto& a = doc.GetAllocator();
  json::Value arr(rapidjson::kArrayType);
  for (const auto& o : list) {
    json::Value e(rapidjson::kObjectType);
    json::SetString(e, "namespace", o.pod.ns, a);
    json::SetString(e, "name", o.pod.name, a);
    if (with_reason) json::SetString(e, "reason", o.reason, a);
    arr.PushBack(e, a);
  }
  json::Set(doc, key, std::move(arr), a);
}

std::string Describe(const kube::Error& e) {
  std::string s = e.message();
  for (const auto& c : e.causes()) {
    if (!c.message.empty()) s += " (" + c.message + ")";
  }
  return s;
}

json::Document EvictionBody(const PodRef& pod, std::optional<int64_t> grace) {
  json::Document body(rapidjson::kObjectType);
  auto& a = body.GetAllocator();
  json::SetString(body, "apiVersion", "policy/v1", a);
  json::SetString(body, "kind", "Eviction", a);
  auto& meta = json::EnsureObject(body, {"metadata"}, a);
  json::SetString(meta, "name", pod.name, a);
  json::SetString(meta, "namespace", pod.ns, a);
  if (grace) {
    json::Set(json::EnsureObject(body, {"deleteOptions"}, a), "gracePeriodSeconds",
              json::Value(*grace), a);
  }
  return body;
}

// One pod's eviction, sent on a thread of its own (as kubectl drain evicts
// each pod in its own goroutine): a PDB that blocks one pod until the
// deadline must not hold up the others.
struct Eviction {
  PodRef pod;
  std::thread sender;
  std::mutex mu;
  bool answered = false;              // guarded by mu
  std::optional<kube::Error> refusal;  // guarded by mu; nullopt = accepted
  // Main thread only: the pod's outcome is in the report; when to look
  // next whether an accepted eviction's pod is gone.
  bool resolved = false;
  SteadyClock::time_point next_look{};
};

// One progress report of a drain (pods_nodes.h): the running counts and,
// when one pod's outcome is news, that pod.
std::string DrainProgress(const std::string& node, const Outcome* pod, const char* outcome,
                          size_t evicted, size_t skipped, size_t failed, size_t remaining) {
  json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  json::SetString(doc, "node", node, a);
  if (pod) {
    json::Value ref(rapidjson::kObjectType);
    json::SetString(ref, "namespace", pod->pod.ns, a);
    json::SetString(ref, "name", pod->pod.name, a);
    json::Set(doc, "pod", std::move(ref), a);
    json::SetString(doc, "outcome", outcome, a);
    if (!pod->reason.empty()) json::SetString(doc, "reason", pod->reason, a);
  }
  auto count = [&](const char* key, size_t n) {
    json::Set(doc, key, json::Value(static_cast<uint64_t>(n)), a);
  };
  count("evicted", evicted);
  count("skipped", skipped);
  count("failed", failed);
  count("remaining", remaining);
  return json::Dump(doc);
}

ActionResult Drain(kube::RestClient& client, const DrainOptions& o, const ActionPolicy& policy,
                   const ActionRequest& req, const CancelToken& cancel) {
  static constexpr std::chrono::milliseconds kGonePoll{300};
  static constexpr std::chrono::milliseconds kTick{50};
  if (cancel.Stop()) return ActionResult::Fail(codes::kTimeout, "deadline passed");
  bool changed = false;
  const kube::CallBounds bounds = cancel.Bounds(client.clock());
  if (auto failed = SetUnschedulable(client, o.node, true, bounds, &changed)) return *failed;

  kube::ListOptions lo;
  lo.field_selector = "spec.nodeName=" + o.node;
  lo.bounds = bounds;
  auto pods = client.ListAll({"v1", "Pod", "", ""}, lo);
  if (!pods) return FromKubeError(pods.error(), "pods of Node " + o.node);

  std::vector<Outcome> evicted, skipped, failed;
  bool blocked = false;  // a skip that leaves pods kubectl would have evicted
  std::vector<std::unique_ptr<Eviction>> evictions;
  if (const auto* items = json::Find(*pods, {"items"}); items && items->IsArray()) {
    for (const auto& pod : items->GetArray()) {
      PodRef ref{json::GetString(pod, {"metadata", "namespace"}),
                 json::GetString(pod, {"metadata", "name"}),
                 json::GetString(pod, {"metadata", "uid"})};
      bool blocking = false;
      if (auto why = SkipReason(pod, o, policy, &blocking)) {
        blocked |= blocking;
        skipped.push_back({ref, *why});
      } else {
        evictions.push_back(std::make_unique<Eviction>());
        evictions.back()->pod = ref;
      }
    }
  }

  size_t remaining = evictions.size();
  auto report = [&](const Outcome* pod, const char* outcome) {
    req.Progress(DrainProgress(o.node, pod, outcome, evicted.size(), skipped.size(),
                               failed.size(), remaining));
  };
  report(nullptr, "");
  for (const Outcome& s : skipped) report(&s, "skipped");

  // A 429 (a PodDisruptionBudget allows no disruption now; its controller
  // raises it once replacements are healthy) is retried by the client until
  // the action's deadline; a replayed eviction is harmless (it finds the pod
  // terminating or gone), so 5xx are retried too.
  // The senders stop with the action (the tunnel's end) or after the
  // grace below.
  kube::Cancellation stop = bounds.cancel->Child();
  kube::SubresourceOptions send;
  send.write.bounds = bounds;
  send.write.bounds.cancel = stop;
  send.replay_safe = true;
  for (auto& e : evictions) {
    e->sender = std::thread([&client, &send, &o, ev = e.get()] {
      auto r = client.CreateSubresource({"v1", "Pod", ev->pod.ns, ev->pod.name}, "eviction",
                                        EvictionBody(ev->pod, o.grace), send);
      std::lock_guard<std::mutex> lock(ev->mu);
      ev->answered = true;
      if (!r) ev->refusal = r.error();
    });
  }

  auto unresolved = [&] {
    return std::any_of(evictions.begin(), evictions.end(), [](const auto& e) { return !e->resolved; });
  };
  while (unresolved() && !cancel.Stop()) {
    for (auto& e : evictions) {
      if (e->resolved || e->next_look > SteadyClock::now()) continue;
      std::optional<kube::Error> refusal;
      {
        std::lock_guard<std::mutex> lock(e->mu);
        if (!e->answered) continue;
        refusal = e->refusal;
      }
      if (refusal) {
        if (refusal->reason() == kube::Reason::kCancelled) {
          e->next_look = SteadyClock::time_point::max();  // reported after the loop
          continue;
        }
        e->resolved = true;
        --remaining;
        if (refusal->IsNotFound()) {
          evicted.push_back({e->pod, ""});  // already gone: what eviction wanted
          report(&evicted.back(), "evicted");
        } else if (refusal->reason() == kube::Reason::kTooManyRequests) {
          // The client gave up only because its next wait would pass the deadline.
          failed.push_back({e->pod, "still refused at the deadline: " + Describe(*refusal)});
          report(&failed.back(), "failed");
        } else if (refusal->reason() == kube::Reason::kTimeout) {
          failed.push_back({e->pod, "no answer to the eviction before the deadline"});
          report(&failed.back(), "failed");
        } else {
          failed.push_back({e->pod, "eviction refused: " + refusal->ToString()});
          report(&failed.back(), "failed");
        }
        continue;
      }
      auto live = client.Get({"v1", "Pod", e->pod.ns, e->pod.name}, bounds);
      if ((!live && live.error().IsNotFound()) ||
          // a new pod of the same name (StatefulSet)
          (live && json::GetString(*live, {"metadata", "uid"}) != e->pod.uid)) {
        evicted.push_back({e->pod, ""});
        e->resolved = true;
        --remaining;
        report(&evicted.back(), "evicted");
        continue;
      }
      e->next_look = SteadyClock::now() + kGonePoll;
    }
    if (!unresolved()) break;
    std::this_thread::sleep_for(kTick);
  }
  // At the deadline the client abandons a request in flight and starts no
  // wait past it, so every sender answers right after it: wait for that, so
  // the report says why the pod is still there. A tunnel gone
  // (cancellation) cuts them at once; kGrace only bounds the unexpected.
  static constexpr std::chrono::seconds kGrace{5};
  auto all_answered = [&] {
    return std::all_of(evictions.begin(), evictions.end(), [](const auto& e) {
      std::lock_guard<std::mutex> lock(e->mu);
      return e->answered;
    });
  };
  while (!cancel.Cancelled() && SteadyClock::now() < cancel.deadline() + kGrace &&
         !all_answered()) {
    std::this_thread::sleep_for(kTick);
  }
  stop.Cancel();
  for (auto& e : evictions) e->sender.join();
  for (auto& e : evictions) {
    if (e->resolved) continue;
    std::string why = "not evicted before the deadline";
    if (!e->refusal) {
      why = "evicted, but still present at the deadline (terminating)";
    } else if (e->refusal->reason() == kube::Reason::kTooManyRequests) {
      why = "still refused at the deadline: " + Describe(*e->refusal);
    }
    failed.push_back({e->pod, why});
    --remaining;
    report(&failed.back(), "failed");
  }

  // Evictions end in any order: report in the listing's (namespace, name).
  auto by_name = [](const Outcome& x, const Outcome& y) {
    return std::tie(x.pod.ns, x.pod.name) < std::tie(y.pod.ns, y.pod.name);
  };
  std::sort(evicted.begin(), evicted.end(), by_name);
  std::sort(failed.begin(), failed.end(), by_name);

  json::Document doc(rapidjson::kObjectType);
  json::Set(doc, "cordoned", json::Value(true), doc.GetAllocator());
  AppendPods(doc, "evicted", evicted, false);
  AppendPods(doc, "skipped", skipped, true);
  AppendPods(doc, "failed", failed, true);
  json::Set(doc, "complete", json::Value(failed.empty() && !blocked), doc.GetAllocator());
  if (cancel.Cancelled()) {
    // The tunnel ended: the backend hears the outcome through the
    // idempotency store, so say what happened so far.
    return ActionResult::Fail(codes::kCancelled,
                              "drain of Node " + o.node + " cancelled; so far: " + json::Dump(doc));
  }
  return ActionResult::Ok(json::Dump(doc));
}

}  // namespace

ActionKind PodDeleteKind(std::shared_ptr<kube::RestClient> client) {
  ActionKind k;
  k.name = "pod.delete";
  k.switch_name = "deletePods";
  k.parse = [client](const json::Value& p) -> ParseOutcome {
    if (auto err = OnlyMembers(p, {"namespace", "name", "gracePeriodSeconds"})) return *err;
    const auto* ns = json::Find(p, {"namespace"});
    if (!ns || !ns->IsString() || !api::IsDnsLabel({ns->GetString(), ns->GetStringLength()})) {
      return std::string("namespace: required, a DNS-1123 label");
    }
    std::string name;
    if (auto err = ReadName(p, &name)) return *err;
    std::optional<int64_t> grace;
    if (auto err = ReadGrace(p, &grace)) return *err;
    Target t{"v1", "Pod", ns->GetString(), name};
    PreparedAction a;
    a.targets = {t};
    a.execute = [client, t, grace](const ActionRequest&,
                                   const CancelToken& cancel) -> ActionResult {
      if (cancel.Stop()) return ActionResult::Fail(codes::kTimeout, "deadline passed");
      kube::DeleteOptions opts;
      opts.grace_period_seconds = grace;
      opts.bounds = cancel.Bounds(client->clock());
      auto r = client->Delete({t.api_version, t.kind, t.ns, t.name}, opts);
      if (!r) return FromKubeError(r.error(), "Pod " + t.ns + "/" + t.name);
      // A pod's DELETE answers with the pod (with deletionTimestamp while it
      // terminates); a Status carries the uid in its details.
      std::string uid = json::GetString(*r, {"metadata", "uid"});
      if (uid.empty()) uid = json::GetString(*r, {"details", "uid"});
      json::Document doc(rapidjson::kObjectType);
      json::Set(doc, "deleted", json::Value(true), doc.GetAllocator());
      json::SetString(doc, "uid", uid, doc.GetAllocator());
      return ActionResult::Ok(json::Dump(doc));
    };
    return a;
  };
  return k;
}

ActionKind NodeCordonKind(std::shared_ptr<kube::RestClient> client) {
  return CordonKind(std::move(client), "node.cordon", true);
}

ActionKind NodeUncordonKind(std::shared_ptr<kube::RestClient> client) {
  return CordonKind(std::move(client), "node.uncordon", false);
}

ActionKind NodeDrainKind(std::shared_ptr<kube::RestClient> client, const ActionPolicy& policy) {
  ActionKind k;
  k.name = "node.drain";
  k.switch_name = "nodes";
  k.parse = [client, policy](const json::Value& p) -> ParseOutcome {
    if (auto err = OnlyMembers(p, {"name", "gracePeriodSeconds", "deleteEmptyDirData", "force"})) {
      return *err;
    }
    DrainOptions o;
    if (auto err = ReadName(p, &o.node)) return *err;
    if (auto err = ReadGrace(p, &o.grace)) return *err;
    if (auto err = ReadBool(p, "deleteEmptyDirData", &o.delete_emptydir_data)) return *err;
    if (auto err = ReadBool(p, "force", &o.force)) return *err;
    PreparedAction a;
    a.targets = {NodeTarget(o.node)};
    a.execute = [client, o, policy](const ActionRequest& req, const CancelToken& cancel) {
      return Drain(*client, o, policy, req, cancel);
    };
    return a;
  };
  return k;
}

}  // namespace srexpert::actions
