#include "actions/pods_nodes.h"

#include <algorithm>
#include <set>
#include <thread>

#include "api/validation.h"
#include "common/clock.h"
#include "kube/exec_credential.h"
#include "kube/http_transport.h"
#include "kube/rest_client.h"
#include "kube/token_source.h"

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

ActionResult FromKubeError(const kube::Error& e, const std::string& what) {
  if (e.IsNotFound()) return ActionResult::Fail(codes::kNotFound, what + " not found");
  if (e.IsConflict()) {
    return ActionResult::Fail(codes::kConflict, what + " changed concurrently: " + e.message());
  }
  if (e.IsInvalid()) return ActionResult::Fail(codes::kInvalid, e.message());
  if (e.code() == 403) return ActionResult::Fail(codes::kForbidden, e.message());
  if (e.reason() == kube::Reason::kCancelled)
    return ActionResult::Fail(codes::kCancelled, e.message());
  return ActionResult::Fail(codes::kInternal, e.ToString());
}

Target NodeTarget(const std::string& name) { return {"v1", "Node", "", name}; }

// What `kubectl cordon|uncordon` does. nullopt on success with *changed set.
std::optional<ActionResult> SetUnschedulable(kube::RestClient& client, const std::string& node,
                                             bool want, bool* changed) {
  auto live = client.Get({"v1", "Node", "", node});
  if (!live) return FromKubeError(live.error(), "Node " + node);
  *changed = json::GetBool(*live, {"spec", "unschedulable"}) != want;
  if (!*changed) return std::nullopt;  // kubectl: "already cordoned", no write
  // Uncordon removes the field: kubectl's two-way patch of the omitempty
  // false value is a null.
  std::string body =
      want ? R"({"spec":{"unschedulable":true}})" : R"({"spec":{"unschedulable":null}})";
  kube::PatchOptions opts;
  opts.field_manager = "srexpert-agent";
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
      if (auto failed = SetUnschedulable(*client, node, want, &changed)) return *failed;
      return ActionResult::Ok(std::string("{\"unschedulable\":") + (want ? "true" : "false") +
                              ",\"changed\":" + (changed ? "true" : "false") + "}");
    };
    return a;
  };
  return k;
}

// POST pods/<name>/eviction. RestClient addresses objects by kind and has
// no call for a create on a subresource, so the drain sends these itself,
// with the client's own config and credentials (token file re-read, exec
// plugin), and handles 429 itself: a PDB refusal is retried on the drain's
// schedule up to the request's deadline, not by the client's generic 429
// retry, which knows no deadline.
class EvictionSender {
 public:
  static kube::Result<std::unique_ptr<EvictionSender>> New(const kube::RestConfig& config) {
    auto transport = kube::HttpTransport::New(config);
    if (!transport) return transport.error();
    return std::unique_ptr<EvictionSender>(new EvictionSender(config, std::move(*transport)));
  }

  // nullopt when the eviction was accepted; the API's error otherwise.
  std::optional<kube::Error> Evict(const std::string& ns, const std::string& name,
                                   std::optional<int64_t> grace) {
    json::Document body(rapidjson::kObjectType);
    auto& a = body.GetAllocator();
    json::SetString(body, "apiVersion", "policy/v1", a);
    json::SetString(body, "kind", "Eviction", a);
    auto& meta = json::EnsureObject(body, {"metadata"}, a);
    json::SetString(meta, "name", name, a);
    json::SetString(meta, "namespace", ns, a);
    if (grace) {
      json::Set(json::EnsureObject(body, {"deleteOptions"}, a), "gracePeriodSeconds",
                json::Value(*grace), a);
    }
    // Names come from the API's own listing (DNS subdomains): no escaping.
    std::string path = "/api/v1/namespaces/" + ns + "/pods/" + name + "/eviction";
    for (int attempt = 0;; ++attempt) {
      auto token = tokens_.Token();
      if (!token) return token.error();
      auto r = transport_->Send({"POST", path, json::Dump(body), "application/json", *token});
      if (!r) return r.error();
      if (r->status >= 200 && r->status <= 299) return std::nullopt;
      auto e = kube::Error::FromResponse(r->status, r->body, r->retry_after);
      // A rotated token file: re-read once, as RestClient does.
      if (e.reason() == kube::Reason::kUnauthorized && attempt == 0 && tokens_.Refreshable()) {
        tokens_.Invalidate();
        continue;
      }
      return e;
    }
  }

 private:
  EvictionSender(const kube::RestConfig& config, std::unique_ptr<kube::HttpTransport> transport)
      : transport_(std::move(transport)),
        tokens_(config.bearer_token, config.bearer_token_file, config.token_refresh_period,
                SystemClock(),
                config.exec ? kube::TokenSource::ExecRunner(
                                  [exec = *config.exec] { return kube::RunExecPlugin(exec); })
                            : kube::TokenSource::ExecRunner()) {}

  std::unique_ptr<kube::HttpTransport> transport_;
  kube::TokenSource tokens_;
};

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

// Sleeps until `until` or the token stops, in short steps so that a
// cancellation is noticed promptly.
void SleepUntil(SteadyClock::time_point until, const CancelToken& cancel) {
  until = std::min(until, cancel.deadline());
  while (!cancel.Stop() && SteadyClock::now() < until) {
    std::this_thread::sleep_for(
        std::min<SteadyClock::duration>(until - SteadyClock::now(), std::chrono::milliseconds(50)));
  }
}

ActionResult Drain(kube::RestClient& client, const DrainOptions& o, const ActionPolicy& policy,
                   const CancelToken& cancel) {
  static constexpr std::chrono::milliseconds kFirstRetry{250};
  static constexpr std::chrono::milliseconds kMaxRetry{5000};
  static constexpr std::chrono::milliseconds kGonePoll{300};
  if (cancel.Stop()) return ActionResult::Fail(codes::kTimeout, "deadline passed");
  bool changed = false;
  if (auto failed = SetUnschedulable(client, o.node, true, &changed)) return *failed;

  kube::ListOptions lo;
  lo.field_selector = "spec.nodeName=" + o.node;
  auto pods = client.ListAll({"v1", "Pod", "", ""}, lo);
  if (!pods) return FromKubeError(pods.error(), "pods of Node " + o.node);

  std::vector<Outcome> evicted, skipped, failed;
  bool blocked = false;  // a skip that leaves pods kubectl would have evicted
  struct Pending {
    PodRef pod;
    bool accepted = false;  // eviction accepted, waiting for the pod to go
    std::string last_refusal;
    std::chrono::milliseconds backoff{kFirstRetry};
    SteadyClock::time_point next{};
  };
  std::vector<Pending> pending;
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
        pending.push_back({ref});
      }
    }
  }

  std::unique_ptr<EvictionSender> sender;
  if (!pending.empty()) {
    auto s = EvictionSender::New(client.config());
    if (!s) return FromKubeError(s.error(), "eviction client");
    sender = std::move(*s);
  }
  while (!pending.empty() && !cancel.Stop()) {
    auto now = SteadyClock::now();
    for (auto it = pending.begin(); it != pending.end() && !cancel.Stop();) {
      if (it->next > now) {
        ++it;
        continue;
      }
      if (it->accepted) {
        auto live = client.Get({"v1", "Pod", it->pod.ns, it->pod.name});
        if (!live && live.error().IsNotFound()) {
          evicted.push_back({it->pod, ""});
          it = pending.erase(it);
          continue;
        }
        if (live && json::GetString(*live, {"metadata", "uid"}) != it->pod.uid) {
          evicted.push_back({it->pod, ""});  // a new pod of the same name (StatefulSet)
          it = pending.erase(it);
          continue;
        }
        it->next = SteadyClock::now() + kGonePoll;
        ++it;
        continue;
      }
      auto refused = sender->Evict(it->pod.ns, it->pod.name, o.grace);
      if (!refused) {
        it->accepted = true;
        it->next = SteadyClock::now();  // look at once: it may be gone already
        ++it;
      } else if (refused->IsNotFound()) {
        evicted.push_back({it->pod, ""});  // already gone: what eviction wanted
        it = pending.erase(it);
      } else if (refused->reason() == kube::Reason::kTooManyRequests) {
        // A PodDisruptionBudget allows no disruption now: the controller
        // raises it again once replacements are healthy, so try later.
        it->last_refusal = Describe(*refused);
        auto wait = it->backoff;
        if (auto ra = refused->retry_after()) {
          wait = std::max<std::chrono::milliseconds>(wait, *ra);
        }
        it->next = SteadyClock::now() + wait;
        it->backoff = std::min(it->backoff * 2, kMaxRetry);
        ++it;
      } else {
        failed.push_back({it->pod, "eviction refused: " + refused->ToString()});
        it = pending.erase(it);
      }
    }
    if (pending.empty()) break;
    auto wake = std::min_element(pending.begin(), pending.end(), [](const auto& x, const auto& y) {
                  return x.next < y.next;
                })->next;
    SleepUntil(wake, cancel);
  }
  for (const auto& p : pending) {
    failed.push_back({p.pod, p.accepted
                                 ? "evicted, but still present at the deadline (terminating)"
                                 : (p.last_refusal.empty()
                                        ? "not evicted before the deadline"
                                        : "still refused at the deadline: " + p.last_refusal)});
  }

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
    a.execute = [client, o, policy](const ActionRequest&, const CancelToken& cancel) {
      return Drain(*client, o, policy, cancel);
    };
    return a;
  };
  return k;
}

}  // namespace srexpert::actions
