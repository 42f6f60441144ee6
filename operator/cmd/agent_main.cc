// srexpert-agent: one per node (DaemonSet); the Lease holder keeps the
// tunnel to the backend, the others stand by (docs/agent.md). Flags follow
// controller-runtime; the rest comes from config.json, written by the
// operator (docs/agentconfig.md, "Agent contract").
#include <prometheus/registry.h>
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "agent/agent.h"
#include "agent/agent_config_file.h"
#include "common/log.h"
#include "kube/io_threads.h"
#include "kube/rest_client.h"
#include "runtime/runtime.h"

using namespace srexpert;

namespace {

std::string Env(const char* name, std::string fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string Hostname() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace

int main(int argc, char** argv) {
  // Memory is a product feature here (docs/performance.md): glibc gives
  // every thread that allocates its own malloc arena, and with a collector
  // thread per kind the freed pages of list pages and watch events stay
  // scattered across a dozen arenas. Two arenas keep the leader's RSS close
  // to what it actually holds. Set before any thread exists.
  mallopt(M_ARENA_MAX, 2);
  // A fixed mmap threshold: list pages (megabytes of JSON) are mapped and
  // unmapped instead of raising glibc's dynamic threshold and then staying
  // in the heap as free but resident fragments.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  // cpprestsdk's shared I/O pool defaults to 40 threads, each with its own
  // stack; the API traffic here is a few dozen mostly idle watch streams
  // and paged lists, which a handful of asio threads serve.
  kube::SetHttpIoThreads(6);
  runtime::BlockTerminationSignals();

  std::string kubeconfig, config_file = Env(agent::kConfigFileEnv, agent::kDefaultConfigFile);
  std::string probe_addr, metrics_addr = ":8080", log_level, log_format = "json";
  std::string pod_name = Env("POD_NAME"), pod_namespace = Env("POD_NAMESPACE"),
              node_name = Env("NODE_NAME");
  agent::AgentOptions::Helm helm;
  helm.binary = Env("SRX_HELM_BINARY", helm.binary.c_str());
  helm.home = Env("SRX_HELM_HOME");
  CLI::App app{"srexpert-agent: keeps the tunnel to SRExpert from the Lease holder"};
  app.add_option(
      "--kubeconfig", kubeconfig,
      "Path to a kubeconfig (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)");
  app.add_option("--config", config_file,
                 "config.json written by srexpert-operator ($SRX_CONFIG_FILE)")
      ->capture_default_str();
  app.add_option(
      "--health-probe-bind-address", probe_addr,
      "Address of /healthz and /readyz; 0 disables them (default :<healthPort of the config>)");
  app.add_option("--metrics-bind-address", metrics_addr,
                 "Address of /metrics; 0 disables it; equal to the probe address shares its port")
      ->capture_default_str();
  app.add_option("--pod-name", pod_name,
                 "This pod's name: the Lease identity ($POD_NAME, else the host name)");
  app.add_option("--pod-namespace", pod_namespace,
                 "Namespace of the Lease when the config names none ($POD_NAMESPACE)");
  app.add_option("--node-name", node_name, "Node this pod runs on ($NODE_NAME)");
  app.add_option("--helm-binary", helm.binary,
                 "The helm executable for the helm.* actions ($SRX_HELM_BINARY)")
      ->capture_default_str();
  app.add_option("--helm-home", helm.home,
                 "Private writable directory for Helm's cache and config ($SRX_HELM_HOME; the "
                 "operator mounts a memory-backed emptyDir there when spec.actions.helm is on)");
  app.add_option("--log-level", log_level,
                 "debug, info, warn or error (overrides the config's logLevel)");
  app.add_option("--log-format", log_format, "json or text")->capture_default_str();
  app.set_version_flag("--version", SREXPERT_VERSION);
  CLI11_PARSE(app, argc, argv);
  log::SetFormat(log_format);

  std::string error;
  std::vector<std::string> unknown;
  auto settings = agent::LoadAgentSettings(config_file, &error, &unknown);
  if (!settings) {
    log::Error("invalid configuration", {{"error", error}});
    return 2;
  }
  if (log_level.empty()) log_level = settings->log_level;
  log::Level level;
  if (!log::ParseLevel(log_level, &level)) {
    log::Error("invalid --log-level", {{"value", log_level}});
    return 2;
  }
  log::SetLevel(level);
  for (const auto& field : unknown) {
    // An operator newer than this agent may write fields it does not know.
    log::Warn("ignoring unknown configuration field", {{"field", field}, {"file", config_file}});
  }
  if (probe_addr.empty()) probe_addr = ":" + std::to_string(settings->health_port);
  if (pod_name.empty()) pod_name = Hostname();

  auto rest = runtime::LoadRestConfig(kubeconfig);
  if (!rest.ok()) {
    log::Error("cannot load Kubernetes configuration", {{"error", rest.error().ToString()}});
    return 2;
  }
  rest->user_agent = "srexpert-agent/" SREXPERT_VERSION;
  // Like client-go, a Lease call must not outlive the renew deadline by much:
  // the fencing watchdog stops the tunnel regardless, but a hung call would
  // delay the next attempt.
  auto deadline_s = std::chrono::duration_cast<std::chrono::seconds>(
      settings->leader_election.renew_deadline + std::chrono::milliseconds(999));
  rest->request_timeout = std::clamp(deadline_s, std::chrono::seconds(1), std::chrono::seconds(30));
  kube::ClientOptions client_options;
  client_options.retry.max_attempts = 3;
  auto client = kube::RestClient::New(*rest, client_options);
  if (!client.ok()) {
    log::Error("cannot create Kubernetes client", {{"error", client.error().ToString()}});
    return 2;
  }

  agent::AgentOptions options;
  options.settings = std::move(*settings);
  options.pod_name = pod_name;
  options.pod_namespace = pod_namespace;
  options.node_name = node_name;
  // Helm calls the API with the agent's own credentials: the same kubeconfig
  // out of cluster, its in-cluster ServiceAccount otherwise.
  helm.kubeconfig = kubeconfig.empty() && !std::getenv("KUBERNETES_SERVICE_HOST")
                        ? Env("KUBECONFIG")
                        : kubeconfig;
  options.helm = helm;
  auto registry = std::make_shared<prometheus::Registry>();
  agent::Agent agent(std::move(options), *client, registry);

  runtime::ProbeEndpoints probes({probe_addr, metrics_addr,
                                  [&](std::string* why) { return agent.Ready(why); }, registry,
                                  [&] { agent.RefreshMetrics(); }});
  if (!probes.Start(&error)) {
    log::Error("cannot serve probes/metrics", {{"error", error}});
    return 2;
  }
  log::Info("serving probes and metrics",
            {{"healthPort", probes.health_port()}, {"metricsPort", probes.metrics_port()}});
  log::Info("starting srexpert-agent",
            {{"version", SREXPERT_VERSION}, {"config", config_file}, {"api", rest->Describe()}});
  if (!agent.Start(&error)) {
    log::Error("cannot start the agent", {{"error", error}});
    return 2;
  }

  std::atomic<bool> never{false};
  int sig = runtime::WaitForTermination(never);
  log::Info("shutting down", {{"signal", sig}});
  agent.Stop();
  probes.Stop();
  // Closed watches finish in cpprestsdk's pool after their owners let go.
  // Past the timeout the pool's exit drops what is still queued; say so, as
  // a leak report at exit (sanitizer builds) would otherwise be a riddle.
  if (!kube::WaitForHttpIoQuiet(std::chrono::milliseconds(20), std::chrono::seconds(5))) {
    log::Warn("HTTP I/O was still busy 5s after stopping; exiting anyway");
  }
  log::Info("stopped");
  return 0;
}
