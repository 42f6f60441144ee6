// The AgentConfig controller: keeps each AgentConfig's children in sync and
// reports status, level-triggered.
//
// Informers watch AgentConfigs and every kind of child (namespaced children
// by the managed-by label in the watched namespace; ClusterRoles and
// ClusterRoleBindings by label cluster-wide; agent Leases for leader and
// tunnel state; Secrets, metadata only except our own, so a referenced token
// Secret's change reconciles). Every event maps to the owning AgentConfig's
// key in a WorkQueue; workers run Reconcile(key):
//
//   fetch (gone: delete the cluster-scoped children, which the Namespace
//   owns; no finalizer, so a namespace deletion never waits on us) → drop the
//   finalizer of earlier versions → parse/validate (Degraded InvalidSpec) →
//   resolve token (Degraded TokenUnavailable) → build desired children →
//   apply only those that differ (server-side apply, fieldManager
//   srexpert-operator, force; foreign objects of our names are never touched:
//   Degraded NameConflict) → status (only written when it changed).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/agent_config.h"
#include "api/status.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/work_queue.h"
#include "controller/event_recorder.h"
#include "kube/informer.h"
#include "kube/rest_client.h"

namespace srexpert::controller {

struct ControllerOptions {
  std::string watch_namespace;     // "" = all namespaces
  std::string default_agent_image; // --agent-image
  int workers = 2;
  // Re-check after a NameConflict or a missing token Secret even without an
  // event (the foreign object might go away unseen by our label filter).
  std::chrono::milliseconds conflict_recheck{std::chrono::seconds(30)};
  // With spec.actions.helm, how often to look again for the administrator's
  // binding of the release-storage role while one is missing (bindings that
  // are not ours are not watched).
  std::chrono::milliseconds helm_storage_recheck{std::chrono::seconds(60)};
};

// The condition that reports, with spec.actions.helm on, whether the agent's
// ServiceAccount is bound to the release-storage ClusterRole
// (api::kHelmStorageClusterRole) in every namespace Helm may use.
inline constexpr std::string_view kConditionHelmStorageBound = "HelmStorageBound";

// Counters for /metrics (read by the operator's metrics refresher).
struct ControllerStats {
  std::atomic<uint64_t> reconciles{0};
  std::atomic<uint64_t> reconcile_errors{0};
  std::atomic<uint64_t> child_writes{0};
  std::atomic<uint64_t> status_writes{0};
  std::atomic<double> last_reconcile_seconds{0};
  std::atomic<double> total_reconcile_seconds{0};
};

class AgentConfigController {
 public:
  AgentConfigController(std::shared_ptr<kube::RestClient> client, ControllerOptions options,
                        Clock& clock = SystemClock());
  ~AgentConfigController();
  AgentConfigController(const AgentConfigController&) = delete;
  AgentConfigController& operator=(const AgentConfigController&) = delete;

  // Starts the informers; the workers start once every informer has synced.
  void Start();
  // Stops workers and informers. Before returning it releases the finalizer
  // of earlier versions from AgentConfigs being deleted, so a namespace being
  // deleted is not left waiting on an operator that is shutting down.
  void Stop();

  // True once all informers synced and the workers run (for /readyz).
  bool Ready() const { return ready_.load(); }
  size_t QueueDepth() const { return queue_.Len(); }
  // True when no key is queued and no reconcile is running (delayed keys,
  // such as the periodic recheck, do not count).
  bool Idle() const { return queue_.Len() == 0 && queue_.InFlight() == 0; }
  const ControllerStats& stats() const { return stats_; }

  // One reconcile of "namespace/name"; returns an error to retry with backoff.
  kube::Result<void> Reconcile(const std::string& key);

 private:
  struct ChildKind {
    const char* api_version;
    const char* kind;
    bool namespaced;
    std::unique_ptr<kube::Informer> informer;
  };

  void Enqueue(const std::string& key);
  void EnqueueForChild(const kube::ObjectPtr& obj);
  void Worker();
  // Deletes the ClusterRole and ClusterRoleBinding of AgentConfig ns/name
  // when its Namespace owns them (never a foreign object of that name).
  kube::Result<void> DeleteClusterChildren(const std::string& ns, const std::string& name);
  // Deletes the actions' Roles and RoleBindings of AgentConfig ns/name (owned
  // by its Namespace, uid `ns_uid`) in every namespace not in `keep`.
  kube::Result<void> PruneActionRoles(const std::string& ns, const std::string& name,
                                      const std::string& ns_uid,
                                      const std::vector<std::string>& keep);
  // After the AgentConfig is gone from the cache and, asked again, from the
  // API: its cluster-scoped children go. Runs at start-up for every orphan
  // the ClusterRole/Binding informers list, so a deletion while the operator
  // was down is cleaned up when it comes back.
  kube::Result<void> CleanUpAfterDeletion(const std::string& ns, const std::string& name);
  // Earlier versions put api::kFinalizer on every AgentConfig.
  kube::Result<json::Document> RemoveLegacyFinalizer(const json::Value& object);
  kube::Result<void> ReleaseLegacyFinalizer(const json::Value& object);
  kube::Result<std::string> ResolveToken(const api::AgentConfig& config);
  kube::Result<std::string> NamespaceUid(const std::string& ns);
  // The namespaces of spec.actions.namespaces where no RoleBinding (nor any
  // ClusterRoleBinding) binds api::kHelmStorageClusterRole to the agent's
  // ServiceAccount.
  kube::Result<std::vector<std::string>> NamespacesWithoutHelmStorage(const api::AgentConfig& config);
  // The live child, from the cache or (when the cache does not have it,
  // e.g. a foreign object without our labels) from the API.
  kube::Result<json::Document> LiveChild(const json::Value& desired, bool* exists);
  bool Owned(const json::Value& live, const api::AgentConfig& config,
             const std::string& namespace_uid) const;
  void LeaderStatus(const api::AgentConfig& config, api::AgentConfigStatus* status,
                    std::chrono::milliseconds* recheck);
  kube::Result<void> WriteStatus(const json::Value& object, const api::AgentConfigStatus& before,
                                 const api::AgentConfigStatus& after);
  kube::Informer* InformerFor(std::string_view kind);

  std::shared_ptr<kube::RestClient> client_;
  ControllerOptions options_;
  Clock& clock_;
  WorkQueue queue_;
  EventRecorder events_;
  ControllerStats stats_;
  std::unique_ptr<kube::Informer> agent_configs_;
  std::unique_ptr<kube::Informer> leases_;
  std::unique_ptr<kube::Informer> secrets_;
  std::vector<ChildKind> children_;
  std::vector<std::thread> workers_;
  std::thread starter_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace srexpert::controller
