#include "runtime/runtime.h"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>

#include <fmt/format.h>

#include "net/http_server.h"

namespace srexpert::runtime {

kube::Result<kube::RestConfig> LoadRestConfig(const std::string& kubeconfig_flag) {
  if (!kubeconfig_flag.empty()) return kube::LoadKubeconfig(kubeconfig_flag);
  if (std::getenv("KUBERNETES_SERVICE_HOST") != nullptr) return kube::InClusterConfig();
  return kube::LoadKubeconfig("");
}

std::optional<BindAddress> ParseBindAddress(const std::string& text, std::string* error) {
  error->clear();
  if (text == "0") return std::nullopt;
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *error = fmt::format("bind address {:?}: expected [host]:port", text);
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      *error = fmt::format("bind address {:?}: expected host:port, :port or 0", text);
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) {
    *error = fmt::format("bind address {:?}: port must be 0-65535", text);
    return std::nullopt;
  }
  return BindAddress{host.empty() ? "0.0.0.0" : host, static_cast<uint16_t>(p)};
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGPIPE);  // a peer closing a socket is an error code, not a death
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTermination(const std::atomic<bool>& stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  timespec tick{0, 100'000'000};
  while (!stop.load()) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig > 0) return sig;
  }
  return 0;
}

ProbeEndpoints::ProbeEndpoints(Options options) : options_(std::move(options)) {}
ProbeEndpoints::~ProbeEndpoints() { Stop(); }

bool ProbeEndpoints::Start(std::string* error) {
  std::string err;
  auto health = ParseBindAddress(options_.health_probe_bind_address, &err);
  if (!err.empty()) {
    *error = "--health-probe-bind-address: " + err;
    return false;
  }
  auto metrics = ParseBindAddress(options_.metrics_bind_address, &err);
  if (!err.empty()) {
    *error = "--metrics-bind-address: " + err;
    return false;
  }
  auto ready = options_.ready;
  auto add_probes = [ready](net::HttpServer& s) {
    s.Handle("GET", "/healthz", [](const net::HttpRequest&) {
      return net::HttpResponse::Text(200, "ok\n");
    });
    s.Handle("GET", "/readyz", [ready](const net::HttpRequest&) {
      std::string why;
      if (!ready || ready(&why)) return net::HttpResponse::Text(200, "ok\n");
      return net::HttpResponse::Text(503, "not ready: " + why + "\n");
    });
  };
  auto options_for = [](const BindAddress& b) {
    net::HttpServerOptions o;
    o.bind_address = b.host;
    o.port = b.port;
    return o;
  };
  auto add_metrics = [this](net::HttpServer& s) {
    if (options_.registry) {
      s.Handle("GET", "/metrics", net::MetricsHandler(options_.registry, options_.refresh_metrics));
    }
  };
  bool shared = health && metrics && health->host == metrics->host && health->port == metrics->port &&
                health->port != 0;
  if (health) {
    health_ = std::make_unique<net::HttpServer>(options_for(*health));
    add_probes(*health_);
    if (shared) add_metrics(*health_);
    if (!health_->Start(&err)) {
      *error = "health probe endpoint: " + err;
      return false;
    }
  }
  if (metrics && !shared) {
    metrics_ = std::make_unique<net::HttpServer>(options_for(*metrics));
    add_metrics(*metrics_);
    if (!metrics_->Start(&err)) {
      *error = "metrics endpoint: " + err;
      return false;
    }
  }
  return true;
}

void ProbeEndpoints::Stop() {
  if (health_) health_->Stop();
  if (metrics_) metrics_->Stop();
}

uint16_t ProbeEndpoints::health_port() const { return health_ ? health_->port() : 0; }
uint16_t ProbeEndpoints::metrics_port() const {
  if (metrics_) return metrics_->port();
  return health_ && options_.registry ? health_->port() : 0;
}

}  // namespace srexpert::runtime
