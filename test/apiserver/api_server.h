// Loopback Kubernetes API test server: HTTPS on 127.0.0.1 with a generated CA,
// bearer-token auth and in-memory storage, following the real kube-apiserver's
// semantics closely enough that code passing against it works against a real
// cluster (docs/testing.md lists exactly what is and is not modelled).
//
// Used in-process by unit tests (ApiServer) and as the standalone executable
// `kube-test-apiserver` by e2e tests, the demo and real kubectl.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace srexpert::testing {

struct ApiServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                // 0 = pick a free port
  std::string token;                // bearer token; generated when empty
  std::string state_dir;            // CA/cert/kubeconfig files; temp dir when empty
  size_t watch_history = 10000;     // events kept for watch resume; older → 410 Gone
  std::chrono::milliseconds bookmark_interval{1000};
  std::chrono::milliseconds gc_interval{100};  // background garbage collector period
  // Serve metrics.k8s.io/v1beta1 (as metrics-server would). Off by default:
  // a cluster without metrics-server has no such group.
  bool metrics_api = false;
};

// metrics.k8s.io samples, quantities as metrics-server writes them
// ("250m", "12345n", "1024Ki").
struct NodeMetricsSample {
  std::string name;
  std::string cpu;
  std::string memory;
};
struct ContainerUsage {
  std::string name;
  std::string cpu;
  std::string memory;
};
struct PodMetricsSample {
  std::string ns;
  std::string name;
  std::vector<ContainerUsage> containers;
};

// A fault applied to matching requests (verb/path filters are optional).
struct Fault {
  enum class Kind {
    kStatus,       // respond with `code` and a real Status body (429 carries Retry-After)
    kGone,         // watch: emit an ERROR event with 410 Expired, then close
    kResetWatch,   // watch: drop the connection mid-stream without a final chunk
    kLatency,      // delay the response by `delay`
  };
  Kind kind = Kind::kStatus;
  std::string verb;          // "get","list","watch","create","update","patch","delete"; empty = any
  std::string path_prefix;   // e.g. "/api/v1/namespaces/x/configmaps"; empty = any
  int code = 500;
  int retry_after_seconds = 0;
  std::chrono::milliseconds delay{0};
  int times = 1;             // how many matching requests it applies to; -1 = until cleared
};

class ApiServer {
 public:
  explicit ApiServer(ApiServerOptions options = {});
  ~ApiServer();  // stops the server
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Generates the PKI, binds, and starts serving. Throws std::runtime_error
  // with a clear message on failure.
  void Start();
  void Stop();

  std::string Url() const;           // https://127.0.0.1:<port>
  uint16_t Port() const;
  const std::string& Token() const;
  std::string CaFile() const;        // PEM path of the CA that signed the serving cert
  std::string KubeconfigFile() const;  // kubeconfig for kubectl and our client
  std::string TokenFile() const;       // the bearer token alone, for tokenFile configs
  std::string StateDir() const;        // where the files above live

  void AddFault(const Fault& fault);
  void ClearFaults();

  // Requests served so far, by verb ("create", "update", "patch", ...), for
  // tests asserting e.g. that a no-op reconcile performs zero writes.
  uint64_t RequestCount(const std::string& verb) const;
  void ResetRequestCounts();

  // metrics.k8s.io: switch the group on or off at run time (installing or
  // removing metrics-server) and set what NodeMetrics/PodMetrics return.
  void SetMetricsApiServed(bool served);
  void SetMetrics(std::vector<NodeMetricsSample> nodes, std::vector<PodMetricsSample> pods);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace srexpert::testing
