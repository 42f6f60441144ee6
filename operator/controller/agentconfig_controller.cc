#include "controller/agentconfig_controller.h"

#include <fmt/format.h>

#include <algorithm>

#include "api/names.h"
#include "common/base64.h"
#include "common/log.h"
#include "common/time_format.h"
#include "controller/child_sync.h"
#include "controller/desired.h"
#include "leaderelection/kube_lease_lock.h"

namespace srexpert::controller {

namespace {

constexpr std::string_view kDeletionTimestamp = "deletionTimestamp";

std::pair<std::string, std::string> SplitKey(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

std::string KeyOf(std::string_view ns, std::string_view name) {
  return std::string(ns) + "/" + std::string(name);
}

std::string ManagedSelector() {
  return fmt::format("{}={}", api::kLabelManagedBy, api::kManagedBy);
}

bool HasFinalizer(const json::Value& obj) {
  const auto* f = json::Find(obj, {"metadata", "finalizers"});
  if (!f || !f->IsArray()) return false;
  for (const auto& v : f->GetArray()) {
    if (v.IsString() && v.GetString() == api::kFinalizer) return true;
  }
  return false;
}

// What a reconcile of children found.
struct ChildReport {
  std::vector<std::string> conflicts;  // "ClusterRole srexpert-agent"
  std::vector<std::string> errors;
  int writes = 0;
};

std::string Describe(const json::Value& obj) {
  return json::GetString(obj, {"kind"}) + " " + json::GetString(obj, {"metadata", "name"});
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

AgentConfigController::AgentConfigController(std::shared_ptr<kube::RestClient> client,
                                             ControllerOptions options, Clock& clock)
    : client_(std::move(client)),
      options_(std::move(options)),
      clock_(clock),
      queue_(WorkQueue::Options{}, clock),
      events_(client_, "srexpert-operator", clock) {
  const std::string& ns = options_.watch_namespace;
  kube::InformerOptions ao;
  ao.resource = {std::string(api::kApiVersion), std::string(api::kKind), ns, ""};
  agent_configs_ = std::make_unique<kube::Informer>(client_, ao);
  agent_configs_->AddHandlers(
      {[this](const kube::ObjectPtr& o) {
         Enqueue(KeyOf(json::GetString(*o, {"metadata", "namespace"}),
                       json::GetString(*o, {"metadata", "name"})));
       },
       [this](const kube::ObjectPtr&, const kube::ObjectPtr& o) {
         Enqueue(KeyOf(json::GetString(*o, {"metadata", "namespace"}),
                       json::GetString(*o, {"metadata", "name"})));
       },
       // Gone: its cluster-scoped children are deleted by the reconcile of
       // its key (namespaced ones go with it through garbage collection).
       [this](const kube::ObjectPtr& o) {
         Enqueue(KeyOf(json::GetString(*o, {"metadata", "namespace"}),
                       json::GetString(*o, {"metadata", "name"})));
       }});

  // Children. Namespaced ones only in the watched namespace(s), cluster-scoped
  // ones cluster-wide; all filtered by our managed-by label.
  struct Kind {
    const char* api_version;
    const char* kind;
    bool namespaced;
  };
  // Roles and RoleBindings cluster-wide: the actions' ones live in the
  // namespaces of spec.actions.namespaces.
  for (Kind k : {Kind{"v1", "ServiceAccount", true}, Kind{"v1", "ConfigMap", true},
                 Kind{"apps/v1", "DaemonSet", true},
                 Kind{"rbac.authorization.k8s.io/v1", "Role", false},
                 Kind{"rbac.authorization.k8s.io/v1", "RoleBinding", false},
                 Kind{"rbac.authorization.k8s.io/v1", "ClusterRole", false},
                 Kind{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", false}}) {
    kube::InformerOptions io;
    io.resource = {k.api_version, k.kind, k.namespaced ? ns : "", ""};
    io.label_selector = ManagedSelector();
    auto inf = std::make_unique<kube::Informer>(client_, io);
    inf->AddHandlers({[this](const kube::ObjectPtr& o) { EnqueueForChild(o); },
                      [this](const kube::ObjectPtr&, const kube::ObjectPtr& o) { EnqueueForChild(o); },
                      [this](const kube::ObjectPtr& o) { EnqueueForChild(o); }});
    children_.push_back(ChildKind{k.api_version, k.kind, k.namespaced, std::move(inf)});
  }

  // Secrets: ours (the token Secret) are children; a user's Secret may hold
  // the token an AgentConfig references. Only our own keep their data in
  // memory; every other Secret is cached as metadata, the token is fetched
  // when needed.
  kube::InformerOptions so;
  so.resource = {"v1", "Secret", ns, ""};
  so.transform = [](rapidjson::Document obj) {
    if (json::GetString(obj, {"metadata", "labels", std::string(api::kLabelManagedBy)}) !=
        api::kManagedBy) {
      json::Remove(obj, "data");
      json::Remove(obj, "stringData");
    }
    if (auto* meta = json::FindMutable(obj, {"metadata"})) json::Remove(*meta, "managedFields");
    return obj;
  };
  secrets_ = std::make_unique<kube::Informer>(client_, so);
  auto on_secret = [this](const kube::ObjectPtr& o) {
    if (json::GetString(*o, {"metadata", "labels", std::string(api::kLabelManagedBy)}) ==
        api::kManagedBy) {
      EnqueueForChild(o);
      return;
    }
    std::string sns = json::GetString(*o, {"metadata", "namespace"});
    std::string sname = json::GetString(*o, {"metadata", "name"});
    for (const auto& ac : agent_configs_->List()) {
      if (json::GetString(*ac, {"metadata", "namespace"}) == sns &&
          json::GetString(*ac, {"spec", "token", "secretRef", "name"}) == sname) {
        Enqueue(KeyOf(sns, json::GetString(*ac, {"metadata", "name"})));
      }
    }
  };
  secrets_->AddHandlers({on_secret, [on_secret](const kube::ObjectPtr&, const kube::ObjectPtr& o) {
                           on_secret(o);
                         },
                         on_secret});

  // The agents' Leases carry leader and tunnel state for status.
  kube::InformerOptions lo;
  lo.resource = {"coordination.k8s.io/v1", "Lease", ns, ""};
  leases_ = std::make_unique<kube::Informer>(client_, lo);
  auto on_lease = [this](const kube::ObjectPtr& o) {
    std::string name = json::GetString(*o, {"metadata", "name"});
    constexpr std::string_view kSuffix = "-leader";
    if (name.size() > kSuffix.size() && name.ends_with(kSuffix)) {
      std::string owner = name.substr(0, name.size() - kSuffix.size());
      std::string lns = json::GetString(*o, {"metadata", "namespace"});
      if (agent_configs_->Get(lns, owner)) Enqueue(KeyOf(lns, owner));
    }
  };
  leases_->AddHandlers({on_lease, [on_lease](const kube::ObjectPtr&, const kube::ObjectPtr& o) {
                          on_lease(o);
                        },
                        on_lease});
}

AgentConfigController::~AgentConfigController() { Stop(); }

void AgentConfigController::Enqueue(const std::string& key) { queue_.Add(key); }

void AgentConfigController::EnqueueForChild(const kube::ObjectPtr& obj) {
  const auto* refs = json::Find(*obj, {"metadata", "ownerReferences"});
  if (!refs || !refs->IsArray()) return;
  std::string ns = json::GetString(*obj, {"metadata", "namespace"});
  for (const auto& ref : refs->GetArray()) {
    std::string kind = json::GetString(ref, {"kind"});
    std::string name = json::GetString(ref, {"name"});
    if (kind == api::kKind && json::GetString(ref, {"apiVersion"}) == api::kApiVersion) {
      Enqueue(KeyOf(ns, name));
    } else if (kind == "Namespace") {
      // Owned by the AgentConfig's Namespace (cluster-scoped children, and
      // the actions' Roles in other namespaces); the AgentConfig is named by
      // the instance label.
      std::string instance =
          json::GetString(*obj, {"metadata", "labels", std::string(api::kLabelInstance)});
      if (!instance.empty()) Enqueue(KeyOf(name, instance));
    }
  }
}

void AgentConfigController::Start() {
  agent_configs_->Start();
  secrets_->Start();
  leases_->Start();
  for (auto& c : children_) c.informer->Start();
  starter_ = std::thread([this] {
    auto synced = [this] {
      if (!agent_configs_->HasSynced() || !secrets_->HasSynced() || !leases_->HasSynced()) {
        return false;
      }
      for (auto& c : children_) {
        if (!c.informer->HasSynced()) return false;
      }
      return true;
    };
    while (!stopping_ && !synced()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (stopping_) return;
    for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { Worker(); });
    ready_ = true;
    log::Info("controller started", {{"namespace", options_.watch_namespace.empty()
                                                       ? std::string("<all>")
                                                       : options_.watch_namespace},
                                     {"workers", options_.workers}});
  });
}

void AgentConfigController::Stop() {
  if (stopping_.exchange(true)) return;
  queue_.ShutDown();
  if (starter_.joinable()) starter_.join();
  for (auto& w : workers_) w.join();
  workers_.clear();
  ready_ = false;
  // Release the finalizer of earlier versions from AgentConfigs being
  // deleted: when the whole namespace is being deleted the operator is
  // usually going down too, and such an AgentConfig would keep the namespace
  // Terminating.
  if (agent_configs_->HasSynced()) {
    for (const auto& ac : agent_configs_->List()) {
      if (json::Find(*ac, {"metadata", std::string(kDeletionTimestamp)}) && HasFinalizer(*ac)) {
        auto r = ReleaseLegacyFinalizer(*ac);
        if (!r.ok()) {
          log::Warn("finalize on shutdown failed",
                    {{"agentconfig", KeyOf(json::GetString(*ac, {"metadata", "namespace"}),
                                           json::GetString(*ac, {"metadata", "name"}))},
                     {"error", r.error().ToString()}});
        }
      }
    }
  }
  agent_configs_->Stop();
  secrets_->Stop();
  leases_->Stop();
  for (auto& c : children_) c.informer->Stop();
}

void AgentConfigController::Worker() {
  while (auto key = queue_.Get()) {
    auto start = std::chrono::steady_clock::now();
    auto result = Reconcile(*key);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    stats_.reconciles++;
    stats_.last_reconcile_seconds = secs;
    stats_.total_reconcile_seconds = stats_.total_reconcile_seconds.load() + secs;
    if (result.ok()) {
      queue_.Forget(*key);
    } else {
      stats_.reconcile_errors++;
      // Every failed reconcile is requeued (a conflict too: the next one reads
      // the newer object), so the log says how rather than "retryable".
      const auto& err = result.error();
      if (err.retry_after()) {
        auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(*err.retry_after());
        log::Warn("reconcile failed", {{"agentconfig", *key}, {"error", err.ToString()},
                                       {"requeue", "retry-after"}, {"delayMs", delay.count()}});
        queue_.AddAfter(*key, delay);
      } else {
        log::Warn("reconcile failed", {{"agentconfig", *key}, {"error", err.ToString()},
                                       {"requeue", "backoff"},
                                       {"failures", queue_.Failures(*key) + 1}});
        queue_.AddRateLimited(*key);
      }
    }
    queue_.Done(*key);
  }
}

kube::Informer* AgentConfigController::InformerFor(std::string_view kind) {
  if (kind == "Secret") return secrets_.get();
  for (auto& c : children_) {
    if (kind == c.kind) return c.informer.get();
  }
  return nullptr;
}

kube::Result<json::Document> AgentConfigController::LiveChild(const json::Value& desired,
                                                              bool* exists) {
  std::string kind = json::GetString(desired, {"kind"});
  std::string ns = json::GetString(desired, {"metadata", "namespace"});
  std::string name = json::GetString(desired, {"metadata", "name"});
  if (auto* inf = InformerFor(kind)) {
    if (auto cached = inf->Get(ns, name)) {
      *exists = true;
      return json::Clone(*cached);
    }
  }
  // Not in our label-filtered cache: it may still exist without our labels
  // (a foreign object, or ours after someone stripped the labels).
  auto live = client_->Get({json::GetString(desired, {"apiVersion"}), kind, ns, name});
  if (live.ok()) {
    *exists = true;
    return live;
  }
  if (live.error().IsNotFound()) {
    *exists = false;
    return json::Document(rapidjson::kObjectType);
  }
  return live.error();
}

bool AgentConfigController::Owned(const json::Value& live, const api::AgentConfig& config,
                                  const std::string& namespace_uid) const {
  // Children in the AgentConfig's own namespace are owned by it; the others
  // (cluster-scoped, or the actions' Roles elsewhere) by its Namespace.
  bool same_namespace = json::GetString(live, {"metadata", "namespace"}) == config.meta.namespace_;
  return HasOwnerUid(live, same_namespace ? config.meta.uid : namespace_uid);
}

kube::Result<std::string> AgentConfigController::NamespaceUid(const std::string& ns) {
  auto obj = client_->Get({"v1", "Namespace", "", ns});
  if (!obj.ok()) return obj.error();
  return json::GetString(*obj, {"metadata", "uid"});
}

kube::Result<std::string> AgentConfigController::ResolveToken(const api::AgentConfig& config) {
  const auto& token = config.spec.token;
  if (token.value) return *token.value;
  const auto& ref = *token.secret_ref;
  auto secret = client_->Get({"v1", "Secret", config.meta.namespace_, ref.name});
  if (!secret.ok()) return secret.error();
  std::string path = fmt::format("Secret {}/{} key {}", config.meta.namespace_, ref.name, ref.key);
  const auto* data = json::Find(*secret, {"data", ref.key});
  if (!data || !data->IsString()) {
    return kube::Error(kube::Reason::kNotFound, path + ": no such key", 404);
  }
  auto decoded = base64::Decode(std::string_view(data->GetString(), data->GetStringLength()));
  if (!decoded) return kube::Error(kube::Reason::kInvalid, path + ": not valid base64", 422);
  auto errors = api::ValidateToken(*decoded, path);
  if (!errors.empty()) {
    return kube::Error(kube::Reason::kInvalid, errors.front().ToString(), 422);
  }
  return std::move(*decoded);
}

kube::Result<void> AgentConfigController::DeleteClusterChildren(const std::string& ns,
                                                                const std::string& name) {
  // Ours are the ones owned by the AgentConfig's Namespace. When that
  // Namespace is already gone, garbage collection removes them through the
  // same ownerReference.
  auto ns_uid = NamespaceUid(ns);
  if (!ns_uid.ok()) return ns_uid.error().IsNotFound() ? kube::Result<void>{} : ns_uid.error();
  auto names = api::NamesFor(name);
  for (auto [kind, child] : {std::pair<const char*, std::string>{"ClusterRoleBinding",
                                                                  names.cluster_role_binding},
                             {"ClusterRole", names.cluster_role}}) {
    auto live = client_->Get({"rbac.authorization.k8s.io/v1", kind, "", child});
    if (!live.ok()) {
      if (live.error().IsNotFound()) continue;
      return live.error();
    }
    if (!HasOwnerUid(*live, *ns_uid)) continue;  // not ours: never touch
    kube::DeleteOptions opts;
    opts.precondition_uid = json::GetString(*live, {"metadata", "uid"});
    auto del = client_->Delete({"rbac.authorization.k8s.io/v1", kind, "", child}, opts);
    if (!del.ok() && !del.error().IsNotFound()) return del.error();
    stats_.child_writes++;
    log::Info("deleted cluster-scoped child", {{"agentconfig", KeyOf(ns, name)},
                                                {"kind", kind}, {"name", child}});
  }
  // The actions' Roles in other namespaces are owned by the Namespace too.
  return PruneActionRoles(ns, name, *ns_uid, {});
}

kube::Result<void> AgentConfigController::PruneActionRoles(const std::string& ns,
                                                           const std::string& name,
                                                           const std::string& ns_uid,
                                                           const std::vector<std::string>& keep) {
  const auto names = api::NamesFor(name);
  const std::string& role = names.actions_role;
  for (const char* kind : {"RoleBinding", "Role"}) {
    auto* informer = InformerFor(kind);
    if (!informer) continue;
    for (const auto& obj : informer->List()) {
      std::string where = json::GetString(*obj, {"metadata", "namespace"});
      if (json::GetString(*obj, {"metadata", "name"}) != role || where == ns ||
          json::GetString(*obj, {"metadata", "labels", std::string(api::kLabelInstance)}) != name ||
          !HasOwnerUid(*obj, ns_uid) ||
          std::find(keep.begin(), keep.end(), where) != keep.end()) {
        continue;
      }
      kube::DeleteOptions opts;
      opts.precondition_uid = json::GetString(*obj, {"metadata", "uid"});
      auto del = client_->Delete({"rbac.authorization.k8s.io/v1", kind, where, role}, opts);
      if (!del.ok() && !del.error().IsNotFound()) return del.error();
      stats_.child_writes++;
      log::Info("deleted actions child no longer listed",
                {{"agentconfig", KeyOf(ns, name)}, {"kind", kind}, {"namespace", where},
                 {"name", role}});
    }
  }
  return {};
}

kube::Result<void> AgentConfigController::CleanUpAfterDeletion(const std::string& ns,
                                                               const std::string& name) {
  if (!options_.watch_namespace.empty() && ns != options_.watch_namespace) return {};
  // The cache said "gone"; deleting a live agent's RBAC on a stale cache
  // would cut it off, so the API has the last word.
  auto live = client_->Get({std::string(api::kApiVersion), std::string(api::kKind), ns, name});
  if (live.ok()) return {};  // back (or never gone): its informer event reconciles it
  if (!live.error().IsNotFound()) return live.error();
  return DeleteClusterChildren(ns, name);
}

kube::Result<json::Document> AgentConfigController::RemoveLegacyFinalizer(
    const json::Value& object) {
  json::Document copy = json::Clone(object);
  auto* finalizers = json::FindMutable(copy, {"metadata", "finalizers"});
  if (!HasFinalizer(object) || !finalizers) return copy;
  auto& a = copy.GetAllocator();
  json::Value kept(rapidjson::kArrayType);
  for (auto& v : finalizers->GetArray()) {
    if (!(v.IsString() && v.GetString() == api::kFinalizer)) kept.PushBack(json::Value(v, a), a);
  }
  *finalizers = std::move(kept);
  json::Remove(*json::FindMutable(copy, {"metadata"}), "managedFields");
  stats_.child_writes++;
  auto updated = client_->Update(copy, {std::string(api::kFieldManager)});
  if (updated.ok()) {
    log::Info("removed the finalizer of an earlier version",
              {{"agentconfig", KeyOf(json::GetString(object, {"metadata", "namespace"}),
                                     json::GetString(object, {"metadata", "name"}))},
               {"finalizer", std::string(api::kFinalizer)}});
  }
  return updated;
}

kube::Result<void> AgentConfigController::ReleaseLegacyFinalizer(const json::Value& object) {
  std::string ns = json::GetString(object, {"metadata", "namespace"});
  std::string name = json::GetString(object, {"metadata", "name"});
  if (auto deleted = DeleteClusterChildren(ns, name); !deleted.ok()) return deleted;
  auto updated = RemoveLegacyFinalizer(object);
  if (!updated.ok() && !updated.error().IsNotFound()) return updated.error();
  return {};
}

void AgentConfigController::LeaderStatus(const api::AgentConfig& config,
                                         api::AgentConfigStatus* status,
                                         std::chrono::milliseconds* recheck) {
  status->leader.clear();
  status->tunnel = std::string(api::kTunnelUnknown);
  // status.scan: the last scan summary published on the Lease. Kept when
  // the Lease has none (a new leader has not scanned yet, so SCORE does not
  // blank at every failover; lastScanTime says how old it is); dropped when
  // scans are off, as no score is current then.
  if (!config.spec.scans.enabled) status->scan.reset();
  auto lease = leases_->Get(config.meta.namespace_, api::NamesFor(config.meta.name).lease);
  if (!lease) return;
  auto record = leaderelection::RecordFromLease(*lease);
  if (config.spec.scans.enabled) {
    if (auto scan = api::ScanStatusFromAnnotations(record.annotations)) status->scan = *scan;
  }
  if (record.holder_identity.empty() || !record.renew_time) return;
  auto expires = *record.renew_time + std::chrono::seconds(record.lease_duration_seconds);
  auto now = clock_.WallNow();
  if (expires <= now) return;
  status->leader = record.holder_identity;
  auto it = record.annotations.find(std::string(api::kLeaseTunnelStateAnnotation));
  if (it != record.annotations.end() && !it->second.empty()) status->tunnel = it->second;
  // Show the leader as gone once the lease expires, even if nothing changes.
  *recheck = std::chrono::duration_cast<std::chrono::milliseconds>(expires - now) +
             std::chrono::milliseconds(100);
}

kube::Result<void> AgentConfigController::WriteStatus(const json::Value& object,
                                                      const api::AgentConfigStatus& before,
                                                      const api::AgentConfigStatus& after) {
  json::Document scratch;
  auto& sa = scratch.GetAllocator();
  if (json::Equal(api::StatusToJson(before, sa), api::StatusToJson(after, sa))) return {};
  json::Document copy = json::Clone(object);
  auto& a = copy.GetAllocator();
  json::Set(copy, "status", api::StatusToJson(after, a), a);
  json::Remove(*json::FindMutable(copy, {"metadata"}), "managedFields");
  auto r = client_->UpdateStatus(copy, {std::string(api::kFieldManager)});
  if (!r.ok()) return r.error();
  stats_.status_writes++;
  return {};
}

kube::Result<void> AgentConfigController::Reconcile(const std::string& key) {
  auto [ns, name] = SplitKey(key);
  auto cached = agent_configs_->Get(ns, name);
  // Gone: namespaced children go through garbage collection, the
  // cluster-scoped ones (owned by the Namespace, which outlives it) are ours
  // to delete. No finalizer holds the AgentConfig for this, so deleting its
  // namespace never waits on the operator (which may be gone first).
  if (!cached) return CleanUpAfterDeletion(ns, name);
  if (json::Find(*cached, {"metadata", std::string(kDeletionTimestamp)})) {
    return HasFinalizer(*cached) ? ReleaseLegacyFinalizer(*cached) : kube::Result<void>{};
  }

  // Earlier versions held every AgentConfig with a finalizer; drop it.
  auto current = RemoveLegacyFinalizer(*cached);
  if (!current.ok()) return current.error();
  const json::Value& object = *current;

  auto parsed = api::Parse(object);
  api::AgentConfigStatus before = api::ParseStatus(object);
  api::AgentConfigStatus status = before;
  status.observed_generation = json::GetInt(object, {"metadata", "generation"});
  std::string now = FormatRfc3339(clock_.WallNow());
  auto set = [&](std::string_view type, bool value, std::string_view reason, std::string message) {
    return api::SetCondition(&status.conditions,
                             {std::string(type), value ? "True" : "False", std::string(reason),
                              std::move(message), "", status.observed_generation},
                             now);
  };

  if (!parsed.ok()) {
    std::string summary = parsed.Summary();
    bool changed = set(api::kConditionDegraded, true, api::kReasonInvalidSpec, summary);
    set(api::kConditionReady, false, api::kReasonInvalidSpec, "the spec is invalid; see Degraded");
    set(api::kConditionProgressing, false, api::kReasonInvalidSpec, "waiting for a valid spec");
    if (changed) events_.Record(object, "Warning", api::kReasonInvalidSpec, summary);
    log::Warn("invalid agentconfig", {{"agentconfig", key}, {"error", summary}});
    return WriteStatus(object, before, status);  // a spec change will trigger us again
  }
  const api::AgentConfig& config = parsed.config;

  auto token = ResolveToken(config);
  if (!token.ok()) {
    const auto& err = token.error();
    if (!err.IsNotFound() && !err.IsInvalid() && !err.retryable()) return err;
    if (err.retryable()) return err;
    std::string message = err.IsNotFound() && err.message().find("no such key") == std::string::npos
                              ? fmt::format("token Secret {}/{} not found", config.meta.namespace_,
                                            config.spec.token.secret_ref->name)
                              : err.message();
    bool changed = set(api::kConditionDegraded, true, api::kReasonTokenUnavailable, message);
    set(api::kConditionReady, false, api::kReasonTokenUnavailable, "no registration token");
    if (changed) events_.Record(object, "Warning", api::kReasonTokenUnavailable, message);
    queue_.AddAfter(key, options_.conflict_recheck);
    return WriteStatus(object, before, status);
  }

  auto ns_uid = NamespaceUid(config.meta.namespace_);
  if (!ns_uid.ok()) return ns_uid.error();

  BuildInputs inputs{*ns_uid, *token, options_.default_agent_image};
  ChildReport report;
  status.managed_resources.clear();
  json::Document live_ds;
  for (auto& desired : DesiredChildren(config, inputs)) {
    StampAppliedHash(desired);
    std::string what = Describe(desired);
    bool exists = false;
    auto live = LiveChild(desired, &exists);
    if (!live.ok()) {
      report.errors.push_back(what + ": " + live.error().ToString());
      continue;
    }
    if (exists && !Owned(*live, config, *ns_uid)) {
      report.conflicts.push_back(what);
      continue;
    }
    status.managed_resources.push_back({json::GetString(desired, {"apiVersion"}),
                                        json::GetString(desired, {"kind"}),
                                        json::GetString(desired, {"metadata", "name"}),
                                        json::GetString(desired, {"metadata", "namespace"})});
    bool is_ds = json::GetString(desired, {"kind"}) == "DaemonSet";
    if (exists && LiveContains(*live, desired)) {
      if (is_ds) live_ds = std::move(live.value());
      continue;
    }
    kube::PatchOptions opts;
    opts.field_manager = std::string(api::kFieldManager);
    opts.force = true;  // our fields are ours; a hand edit of them is drift
    auto applied = client_->Apply(desired, opts);
    if (!applied.ok()) {
      report.errors.push_back(what + ": " + applied.error().ToString());
      continue;
    }
    ++report.writes;
    stats_.child_writes++;
    if (is_ds) live_ds = std::move(applied.value());
    log::Info(exists ? "updated child" : "created child", {{"agentconfig", key}, {"child", what}});
    events_.Record(object, "Normal", exists ? "Updated" : "Created", what);
  }

  // Namespaces dropped from spec.actions.namespaces (or every one, once no
  // action needs a Role) lose their Role and RoleBinding.
  if (auto pruned = PruneActionRoles(
          config.meta.namespace_, config.meta.name, *ns_uid,
          HasActionRoles(config) ? config.spec.actions.namespaces : std::vector<std::string>{});
      !pruned.ok()) {
    report.errors.push_back("pruning the actions' Roles: " + pruned.error().ToString());
  }

  // Status: rollout numbers, leader and tunnel, conditions.
  if (live_ds.IsObject()) {
    status.daemon_set.desired = static_cast<int32_t>(json::GetInt(live_ds, {"status", "desiredNumberScheduled"}));
    status.daemon_set.ready = static_cast<int32_t>(json::GetInt(live_ds, {"status", "numberReady"}));
    status.daemon_set.updated = static_cast<int32_t>(json::GetInt(live_ds, {"status", "updatedNumberScheduled"}));
  }
  std::chrono::milliseconds recheck{0};
  LeaderStatus(config, &status, &recheck);

  // spec.actions.helm needs an administrator's binding of the release
  // storage in each listed namespace (docs/helm.md): the operator neither
  // holds nor grants Secrets access, so all it can do is say where that
  // binding is missing, before the first helm.* action there fails.
  if (config.spec.actions.helm) {
    auto unbound = NamespacesWithoutHelmStorage(config);
    if (!unbound.ok()) {
      set(kConditionHelmStorageBound, false, "CheckFailed",
          "cannot list the RoleBindings: " + unbound.error().ToString());
      queue_.AddAfter(key, options_.helm_storage_recheck);
    } else if (unbound->empty()) {
      set(kConditionHelmStorageBound, true, "Bound",
          fmt::format("ClusterRole {} is bound to the agent's ServiceAccount in every namespace "
                      "of spec.actions.namespaces",
                      api::kHelmStorageClusterRole));
    } else {
      const std::string sa = config.meta.namespace_ + ":" +
                             api::NamesFor(config.meta.name).service_account;
      std::string message = fmt::format(
          "Helm actions will be refused in {}: no binding of ClusterRole {} to ServiceAccount "
          "{} there. An administrator runs, per namespace: kubectl create rolebinding "
          "srexpert-agent-helm -n <namespace> --clusterrole={} --serviceaccount={} (docs/helm.md)",
          Join(*unbound, ", "), api::kHelmStorageClusterRole, sa, api::kHelmStorageClusterRole,
          sa);
      if (set(kConditionHelmStorageBound, false, "BindingMissing", message)) {
        events_.Record(object, "Warning", "HelmStorageBindingMissing", message);
      }
      queue_.AddAfter(key, options_.helm_storage_recheck);
    }
  } else {
    std::erase_if(status.conditions, [](const api::Condition& c) {
      return c.type == kConditionHelmStorageBound;
    });
  }

  const auto& ds = status.daemon_set;
  bool degraded = !report.conflicts.empty() || !report.errors.empty();
  if (!report.conflicts.empty()) {
    std::string message = fmt::format(
        "{} already exist(s) and {} not managed by this AgentConfig; they are left untouched. "
        "Delete or rename them, or use another AgentConfig name",
        Join(report.conflicts, ", "), report.conflicts.size() == 1 ? "is" : "are");
    if (set(api::kConditionDegraded, true, api::kReasonNameConflict, message)) {
      events_.Record(object, "Warning", api::kReasonNameConflict, message);
    }
    queue_.AddAfter(key, options_.conflict_recheck);
  } else if (!report.errors.empty()) {
    std::string message = Join(report.errors, "; ");
    if (set(api::kConditionDegraded, true, "ApplyFailed", message)) {
      events_.Record(object, "Warning", "ApplyFailed", message);
    }
  } else {
    set(api::kConditionDegraded, false, "AsExpected", "all children are in sync");
  }
  bool rolling = ds.updated < ds.desired || ds.ready < ds.desired;
  if (report.writes > 0 || rolling) {
    set(api::kConditionProgressing, true, report.writes > 0 ? "Applying" : "RollingOut",
        fmt::format("{} of {} agents updated, {} ready", ds.updated, ds.desired, ds.ready));
  } else {
    set(api::kConditionProgressing, false, "AsExpected", "rollout complete");
  }
  if (degraded) {
    set(api::kConditionReady, false, "Degraded", "see the Degraded condition");
  } else if (ds.desired == 0) {
    set(api::kConditionReady, false, "NoAgentsScheduled",
        "the DaemonSet schedules no agent pod (no matching node yet)");
  } else if (ds.ready < ds.desired) {
    set(api::kConditionReady, false, "AgentsNotReady",
        fmt::format("{} of {} agents ready", ds.ready, ds.desired));
  } else {
    set(api::kConditionReady, true, "AgentsReady",
        fmt::format("{} of {} agents ready", ds.ready, ds.desired));
  }
  if (recheck.count() > 0) queue_.AddAfter(key, recheck);

  auto written = WriteStatus(object, before, status);
  if (!written.ok()) return written;
  if (!report.errors.empty()) {
    return kube::Error(kube::Reason::kServerError, Join(report.errors, "; "));
  }
  return {};
}

kube::Result<std::vector<std::string>> AgentConfigController::NamespacesWithoutHelmStorage(
    const api::AgentConfig& config) {
  const std::string sa = api::NamesFor(config.meta.name).service_account;
  auto binds = [&](const json::Value& binding) {
    if (json::GetString(binding, {"roleRef", "kind"}) != "ClusterRole" ||
        json::GetString(binding, {"roleRef", "name"}) != api::kHelmStorageClusterRole) {
      return false;
    }
    const json::Value* subjects = json::Find(binding, {"subjects"});
    if (!subjects || !subjects->IsArray()) return false;
    for (const auto& s : subjects->GetArray()) {
      if (json::GetString(s, {"kind"}) == "ServiceAccount" && json::GetString(s, {"name"}) == sa &&
          json::GetString(s, {"namespace"}) == config.meta.namespace_) {
        return true;
      }
    }
    return false;
  };
  auto any_binds = [&](const json::Value& list) {
    const json::Value* items = json::Find(list, {"items"});
    if (!items || !items->IsArray()) return false;
    for (const auto& b : items->GetArray()) {
      if (binds(b)) return true;
    }
    return false;
  };
  // Bound cluster-wide: every namespace has it.
  auto cluster_wide = client_->ListAll({"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", ""});
  if (!cluster_wide) return cluster_wide.error();
  if (any_binds(*cluster_wide)) return std::vector<std::string>{};
  std::vector<std::string> unbound;
  for (const std::string& ns : config.spec.actions.namespaces) {
    auto bindings = client_->ListAll({"rbac.authorization.k8s.io/v1", "RoleBinding", ns, ""});
    if (!bindings) return bindings.error();
    if (!any_binds(*bindings)) unbound.push_back(ns);
  }
  return unbound;
}

}  // namespace srexpert::controller
