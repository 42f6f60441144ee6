// Start-up tasks of srexpert-operator that make a plain `kubectl apply -f
// install.yaml` a complete, one-step install and `kubectl delete namespace`
// a complete uninstall.
//
// 1. The bootstrap AgentConfig. kubectl maps every object of its input to a
//    resource before it creates the first one, so a file holding both the CRD
//    and an AgentConfig fails on a fresh cluster. install.yaml therefore
//    carries the AgentConfig as a file in a ConfigMap instead
//    (--bootstrap-agent-config), and the operator creates it once the CRD is
//    served. Create-only: an AgentConfig of that name that already exists is
//    never touched, so later edits (kubectl edit, GitOps) are kept.
//
// 2. Namespace ownership of the operator's own cluster-scoped RBAC. The
//    install creates ClusterRole and ClusterRoleBinding "srexpert-operator";
//    nothing would delete them with the namespace. The operator adds an
//    ownerReference to its Namespace object, so the garbage collector
//    removes them when the namespace goes (a Namespace is cluster-scoped, so
//    it may own cluster-scoped objects). Other ownerReferences stay.
//
// Both retry transient failures (5xx, 429, transport, Forbidden while RBAC is
// still being applied, the CRD not served yet) with jittered exponential
// backoff until they succeed, are stopped, or hit a permanent error.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/backoff.h"
#include "common/json.h"
#include "kube/rest_client.h"

namespace srexpert::controller {

// Reads and checks a bootstrap AgentConfig file: one YAML or JSON document,
// apiVersion agent.srexpert.io/v1alpha1, kind AgentConfig, a name, and a
// namespace that is `ns` (filled in when missing); the spec must pass the
// operator's own validation (api::Parse). On failure returns nullopt and a
// message in `error` that never contains a token value.
std::optional<json::Document> LoadBootstrapAgentConfig(const std::string& path,
                                                       const std::string& ns, std::string* error);
// The same for text already read (`source` names it in messages).
std::optional<json::Document> ParseBootstrapAgentConfig(const std::string& text,
                                                        const std::string& source,
                                                        const std::string& ns, std::string* error);

struct StartupOptions {
  BackoffPolicy backoff{std::chrono::milliseconds(500), std::chrono::milliseconds(30000), 2.0,
                        true};
  std::string field_manager = "srexpert-operator";
};

// Runs the start-up tasks on the calling thread; Stop() from another thread
// ends any wait early. One object per task run.
class StartupTasks {
 public:
  StartupTasks(kube::RestClient& client, StartupOptions options = {});
  StartupTasks(const StartupTasks&) = delete;
  StartupTasks& operator=(const StartupTasks&) = delete;

  enum class Outcome {
    kCreated,        // the AgentConfig was created
    kAlreadyExists,  // it existed: left as it is
    kRejected,       // the API server refused it as invalid (400/422): a bad file
    kStopped,        // Stop() was called first
  };
  // Waits until the AgentConfig kind is served, then creates `agent_config`
  // unless an object of that name exists.
  Outcome CreateAgentConfig(const json::Value& agent_config);

  // Adds an ownerReference to Namespace `ns` to each of `objects` (cluster-
  // scoped, name set) that lacks one; objects that do not exist are skipped
  // with a warning. Returns false only when stopped first.
  bool OwnByNamespace(const std::string& ns, const std::vector<kube::ObjectRef>& objects);

  void Stop();
  bool stopped() const;

 private:
  // Sleeps the next backoff delay; false when stopped.
  bool Backoff(BackoffSchedule& schedule);
  // One object: true when done (owned, or nothing to do).
  kube::Result<bool> OwnOne(const kube::ObjectRef& ref, const std::string& ns_uid,
                            const std::string& ns);

  kube::RestClient& client_;
  StartupOptions options_;
  RandomSource random_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace srexpert::controller
