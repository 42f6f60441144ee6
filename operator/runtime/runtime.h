// Process plumbing shared by srexpert-operator and srexpert-agent: choosing
// the Kubernetes configuration, controller-runtime style bind addresses,
// termination signals, and the probe and metrics endpoints.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "kube/config.h"
#include "kube/error.h"

namespace prometheus {
class Registry;
}
namespace srexpert::net {
class HttpServer;
}

namespace srexpert::runtime {

// --kubeconfig when given; otherwise in-cluster when KUBERNETES_SERVICE_HOST
// is set; otherwise $KUBECONFIG or ~/.kube/config (like controller-runtime's
// GetConfig).
kube::Result<kube::RestConfig> LoadRestConfig(const std::string& kubeconfig_flag);

struct BindAddress {
  std::string host;  // "0.0.0.0" for ":8080"
  uint16_t port = 0;
};
// Parses "host:port", ":port" or "[v6]:port"; "0" means disabled (nullopt
// with no error, as controller-runtime's "0" turns the endpoint off).
// `error` is set for anything malformed.
std::optional<BindAddress> ParseBindAddress(const std::string& text, std::string* error);

// Blocks SIGTERM/SIGINT/SIGPIPE in the calling thread and every thread it
// starts afterwards (call first thing in main), so that WaitForTermination
// receives them synchronously.
void BlockTerminationSignals();
// Waits for SIGTERM or SIGINT, or until `stop` becomes true (checked every
// 100 ms). Returns the signal number, or 0 when stopped by the flag.
int WaitForTermination(const std::atomic<bool>& stop);

// /healthz, /readyz on the probe address and /metrics on the metrics address
// (they may be the same address, or either disabled with "0").
class ProbeEndpoints {
 public:
  struct Options {
    std::string health_probe_bind_address;
    std::string metrics_bind_address;
    std::function<bool(std::string* why)> ready;       // /readyz
    std::shared_ptr<prometheus::Registry> registry;     // /metrics
    std::function<void()> refresh_metrics;              // before each scrape
  };
  explicit ProbeEndpoints(Options options);
  ~ProbeEndpoints();
  // Binds both; false with `error` on a bad address or a bind failure.
  bool Start(std::string* error);
  void Stop();
  uint16_t health_port() const;
  uint16_t metrics_port() const;

 private:
  Options options_;
  std::unique_ptr<net::HttpServer> health_;
  std::unique_ptr<net::HttpServer> metrics_;
};

}  // namespace srexpert::runtime
