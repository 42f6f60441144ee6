// srexpert-operator: reconciles AgentConfigs into the agent's ServiceAccount,
// RBAC, Secret, ConfigMap and DaemonSet. Flags follow controller-runtime.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/clock.h"
#include "common/log.h"
#include "controller/agentconfig_controller.h"
#include "controller/bootstrap.h"
#include "kube/io_threads.h"
#include "kube/rest_client.h"
#include "leaderelection/kube_lease_lock.h"
#include "leaderelection/leader_elector.h"
#include "runtime/runtime.h"

using namespace srexpert;

namespace {

std::string Env(const char* name, std::string fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Counters from the controller's atomics: prometheus counters only go up, so
// each scrape adds what changed since the last one.
class CounterMirror {
 public:
  CounterMirror(prometheus::Counter& counter) : counter_(counter) {}
  void Sync(double value) {
    if (value > last_) counter_.Increment(value - last_);
    last_ = value;
  }

 private:
  prometheus::Counter& counter_;
  double last_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  // cpprestsdk's shared I/O pool defaults to 40 threads; the operator's
  // traffic is one informer watch per child kind and a few writes. Fewer
  // threads also mean fewer wake-ups per watch event (docs/performance.md,
  // watch_bench).
  kube::SetHttpIoThreads(4);
  runtime::BlockTerminationSignals();

  std::string kubeconfig, ns, metrics_addr = ":8080", probe_addr = ":8081";
  std::string agent_image = "ghcr.io/srexpert/srexpert-agent:" SREXPERT_VERSION;
  std::string election_id = "srexpert-operator", log_level = "info", log_format = "json";
  std::string bootstrap_file, own_cluster_role, own_cluster_role_binding, helm_storage_role;
  bool leader_elect = false;
  int workers = 2;
  CLI::App app{"srexpert-operator: keeps srexpert-agent's resources in sync with AgentConfigs"};
  app.add_option("--kubeconfig", kubeconfig, "Path to a kubeconfig (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)");
  app.add_option("--namespace", ns, "Namespace whose AgentConfigs are reconciled (default: $POD_NAMESPACE, then the kubeconfig's)");
  app.add_flag("--leader-elect", leader_elect, "Elect a leader among operator replicas with a Lease");
  app.add_option("--leader-election-id", election_id, "Name of the operator's Lease")->capture_default_str();
  app.add_option("--metrics-bind-address", metrics_addr, "Address of /metrics; 0 disables it")->capture_default_str();
  app.add_option("--health-probe-bind-address", probe_addr, "Address of /healthz and /readyz; 0 disables them")->capture_default_str();
  app.add_option("--agent-image", agent_image, "Agent image used when an AgentConfig does not set spec.agent.image")->capture_default_str();
  app.add_option("--workers", workers, "Concurrent reconciles")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--bootstrap-agent-config", bootstrap_file,
                 "AgentConfig (YAML or JSON) to create at start-up once its CRD is served, "
                 "unless one of that name exists; never updates it");
  app.add_option("--operator-cluster-role", own_cluster_role,
                 "The operator's own ClusterRole; its Namespace is made its owner so deleting "
                 "the namespace removes it");
  app.add_option("--operator-cluster-role-binding", own_cluster_role_binding,
                 "The operator's own ClusterRoleBinding; owned by its Namespace like the role");
  app.add_option("--helm-storage-cluster-role", helm_storage_role,
                 "The install's Helm release storage ClusterRole (docs/helm.md); owned by the "
                 "operator's Namespace like its own role (an ownerReference is all the operator "
                 "writes to it: it holds none of its permissions)");
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--log-format", log_format, "json or text")->capture_default_str();
  app.set_version_flag("--version", SREXPERT_VERSION);
  CLI11_PARSE(app, argc, argv);

  log::Level level;
  if (!log::ParseLevel(log_level, &level)) {
    log::Error("invalid --log-level", {{"value", log_level}});
    return 2;
  }
  log::SetLevel(level);
  log::SetFormat(log_format);

  auto config = runtime::LoadRestConfig(kubeconfig);
  if (!config.ok()) {
    log::Error("cannot load Kubernetes configuration", {{"error", config.error().ToString()}});
    return 2;
  }
  config->user_agent = "srexpert-operator/" SREXPERT_VERSION;
  if (ns.empty()) ns = Env("POD_NAMESPACE", config->ns);
  auto client = kube::RestClient::New(*config);
  if (!client.ok()) {
    log::Error("cannot create Kubernetes client", {{"error", client.error().ToString()}});
    return 2;
  }
  // A bad bootstrap file is a broken install: fail fast and visibly
  // (CrashLoopBackOff with the reason in the log) rather than run without it.
  std::optional<json::Document> bootstrap;
  if (!bootstrap_file.empty()) {
    std::string why;
    bootstrap = controller::LoadBootstrapAgentConfig(bootstrap_file, ns, &why);
    if (!bootstrap) {
      log::Error("invalid --bootstrap-agent-config", {{"error", why}});
      return 2;
    }
  }
  log::Info("starting srexpert-operator", {{"version", SREXPERT_VERSION}, {"namespace", ns},
                                            {"api", config->Describe()},
                                            {"leaderElect", leader_elect}});

  controller::AgentConfigController ctrl(*client, {ns, agent_image, workers});

  auto registry = std::make_shared<prometheus::Registry>();
  auto& reconciles = prometheus::BuildCounter().Name("srexpert_operator_reconcile_total")
                         .Help("AgentConfig reconciles").Register(*registry).Add({});
  auto& errors = prometheus::BuildCounter().Name("srexpert_operator_reconcile_errors_total")
                     .Help("Reconciles that failed and were retried").Register(*registry).Add({});
  auto& duration = prometheus::BuildCounter().Name("srexpert_operator_reconcile_duration_seconds_total")
                       .Help("Time spent reconciling").Register(*registry).Add({});
  auto& last = prometheus::BuildGauge().Name("srexpert_operator_reconcile_last_duration_seconds")
                   .Help("Duration of the last reconcile").Register(*registry).Add({});
  auto& writes = prometheus::BuildCounter().Name("srexpert_operator_child_writes_total")
                     .Help("Writes to children and finalizers").Register(*registry).Add({});
  auto& status_writes = prometheus::BuildCounter().Name("srexpert_operator_status_writes_total")
                            .Help("AgentConfig status updates").Register(*registry).Add({});
  auto& depth = prometheus::BuildGauge().Name("srexpert_operator_workqueue_depth")
                    .Help("Keys waiting in the work queue").Register(*registry).Add({});
  auto& leading = prometheus::BuildGauge().Name("srexpert_operator_leader")
                      .Help("1 while this replica reconciles").Register(*registry).Add({});
  auto& requests = prometheus::BuildCounter().Name("srexpert_operator_kube_requests_total")
                       .Help("Kubernetes API requests by verb and code").Register(*registry);
  std::mutex mirror_mu;
  CounterMirror m_rec(reconciles), m_err(errors), m_dur(duration), m_wr(writes), m_sw(status_writes);
  std::map<kube::RequestMetrics::Key, std::unique_ptr<CounterMirror>> m_req;
  std::atomic<bool> is_leader{!leader_elect};
  auto refresh = [&] {
    std::lock_guard<std::mutex> lock(mirror_mu);
    const auto& s = ctrl.stats();
    m_rec.Sync(static_cast<double>(s.reconciles));
    m_err.Sync(static_cast<double>(s.reconcile_errors));
    m_dur.Sync(s.total_reconcile_seconds);
    m_wr.Sync(static_cast<double>(s.child_writes));
    m_sw.Sync(static_cast<double>(s.status_writes));
    last.Set(s.last_reconcile_seconds);
    depth.Set(static_cast<double>(ctrl.QueueDepth()));
    leading.Set(is_leader ? 1 : 0);
    for (const auto& [key, count] : (*client)->metrics().Snapshot()) {
      auto& mirror = m_req[key];
      if (!mirror) {
        mirror = std::make_unique<CounterMirror>(
            requests.Add({{"verb", key.first}, {"code", std::to_string(key.second)}}));
      }
      mirror->Sync(static_cast<double>(count));
    }
  };

  runtime::ProbeEndpoints probes({probe_addr, metrics_addr,
                                  [&](std::string* why) {
                                    // A standby replica is healthy and ready to take over.
                                    if (!is_leader || ctrl.Ready()) return true;
                                    *why = "informers not synced yet";
                                    return false;
                                  },
                                  registry, refresh});
  std::string err;
  if (!probes.Start(&err)) {
    log::Error("cannot serve probes/metrics", {{"error", err}});
    return 2;
  }
  log::Info("serving probes and metrics", {{"healthPort", probes.health_port()},
                                           {"metricsPort", probes.metrics_port()}});

  // Start-up tasks (bootstrap AgentConfig, namespace ownership of the
  // operator's cluster RBAC) run on their own thread once this replica
  // leads, so neither probes nor reconciles wait for them.
  std::atomic<bool> quit{false}, lost{false}, bootstrap_rejected{false};
  controller::StartupTasks startup(**client);
  std::thread startup_thread;
  std::once_flag startup_once;
  auto start_tasks = [&] {
    std::call_once(startup_once, [&] {
      startup_thread = std::thread([&] {
        std::vector<kube::ObjectRef> own;
        if (!own_cluster_role.empty()) {
          own.push_back({"rbac.authorization.k8s.io/v1", "ClusterRole", "", own_cluster_role});
        }
        if (!own_cluster_role_binding.empty()) {
          own.push_back({"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "",
                         own_cluster_role_binding});
        }
        if (!helm_storage_role.empty()) {
          own.push_back({"rbac.authorization.k8s.io/v1", "ClusterRole", "", helm_storage_role});
        }
        if (!own.empty() && !startup.OwnByNamespace(ns, own)) return;
        if (bootstrap &&
            startup.CreateAgentConfig(*bootstrap) == controller::StartupTasks::Outcome::kRejected) {
          bootstrap_rejected = true;
          quit = true;
        }
      });
    });
  };
  std::unique_ptr<leaderelection::KubeLeaseLock> lock;
  std::unique_ptr<leaderelection::LeaderElector> elector;
  std::thread election;
  if (leader_elect) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    std::string identity = Env("POD_NAME", host) + "_" + std::to_string(getpid());
    lock = std::make_unique<leaderelection::KubeLeaseLock>(*client, ns, election_id);
    leaderelection::ElectionConfig ec;
    ec.identity = identity;
    elector = std::make_unique<leaderelection::LeaderElector>(
        ec, *lock,
        leaderelection::ElectionCallbacks{
            [&] {
              is_leader = true;
              ctrl.Start();
              start_tasks();
            },
            [&] {
              // Like controller-runtime: a replica that lost its lease exits
              // and restarts clean rather than reconciling on a stale belief.
              if (is_leader.exchange(false)) lost = quit = true;
            },
            nullptr});
    election = std::thread([&] { elector->Run(); });
  } else {
    ctrl.Start();
    start_tasks();
  }

  int sig = runtime::WaitForTermination(quit);
  log::Info("shutting down", {{"signal", sig}, {"leadershipLost", lost.load()}});
  startup.Stop();
  ctrl.Stop();
  if (elector) {
    elector->Stop();
    election.join();
  }
  // After the elector: it can no longer start the tasks' thread.
  if (startup_thread.joinable()) startup_thread.join();
  probes.Stop();
  // Closed watches finish in cpprestsdk's pool after their owners let go.
  // Past the timeout the pool's exit drops what is still queued; say so, as
  // a leak report at exit (sanitizer builds) would otherwise be a riddle.
  if (!kube::WaitForHttpIoQuiet(std::chrono::milliseconds(20), std::chrono::seconds(5))) {
    log::Warn("HTTP I/O was still busy 5s after stopping; exiting anyway");
  }
  if (bootstrap_rejected) return 2;
  return lost ? 1 : 0;
}
