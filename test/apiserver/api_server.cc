#include "test/apiserver/api_server.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "common/clock.h"
#include "test/apiserver/api_handler.h"
#include "test/apiserver/faults.h"
#include "test/apiserver/gc.h"
#include "test/apiserver/http_server.h"
#include "test/apiserver/metrics_api.h"
#include "test/apiserver/pki.h"
#include "test/apiserver/resources.h"
#include "test/apiserver/rest_storage.h"
#include "test/apiserver/storage.h"

namespace srexpert::testing {

namespace fs = std::filesystem;

class ApiServer::Impl {
 public:
  explicit Impl(ApiServerOptions o)
      : options(std::move(o)),
        store(options.watch_history),
        storage(store, registry, SystemClock()),
        metrics(SystemClock(), options.metrics_api) {}

  ApiServerOptions options;
  std::string token;
  std::string state_dir;
  bool own_state_dir = false;
  PkiFiles pki;
  Store store;
  ResourceRegistry registry;
  RestStorage storage;
  FaultInjector faults;
  MetricsApi metrics;
  std::unique_ptr<ApiHandler> handler;
  std::unique_ptr<HttpsServer> http;
  std::unique_ptr<GarbageCollector> gc;
  bool started = false;
};

namespace {

std::string RandomToken() {
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 32; ++i) s += fmt::format("{:02x}", rd() & 0xff);
  return s;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::trunc);
  f << content;
  if (!f) throw std::runtime_error("kube-test-apiserver: cannot write " + path);
}

}  // namespace

ApiServer::ApiServer(ApiServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

ApiServer::~ApiServer() {
  Stop();
  if (impl_->own_state_dir) {
    std::error_code ec;
    fs::remove_all(impl_->state_dir, ec);
  }
}

void ApiServer::Start() {
  auto& i = *impl_;
  if (i.started) return;
  i.token = i.options.token.empty() ? RandomToken() : i.options.token;
  if (i.options.state_dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "kube-test-apiserver-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("kube-test-apiserver: cannot create a temp dir");
    }
    i.state_dir = tmpl;
    i.own_state_dir = true;
  } else {
    i.state_dir = i.options.state_dir;
    fs::create_directories(i.state_dir);
  }
  i.pki = GeneratePki(i.state_dir);

  // The namespaces every cluster starts with.
  auto ns_type = i.registry.Find("", "v1", "namespaces");
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    auto body = json::Parse(fmt::format(R"({{"metadata":{{"name":"{}"}}}})", ns));
    i.storage.Create(*ns_type, "v1", "", std::move(*body), WriteOptions{});
  }

  i.handler = std::make_unique<ApiHandler>(i.storage, i.faults, i.options, i.token, &i.metrics);
  i.http = std::make_unique<HttpsServer>(
      i.options.host, i.options.port, i.pki.server_cert, i.pki.server_key,
      [h = i.handler.get()](const HttpRequest& r) { return h->Handle(r); });
  i.http->Start();
  i.handler->SetServerAddress(fmt::format("{}:{}", i.options.host, i.http->Port()));
  i.gc = std::make_unique<GarbageCollector>(i.storage, i.options.gc_interval);
  i.gc->Start();

  WriteFile(i.state_dir + "/token", i.token);
  WriteFile(KubeconfigFile(), fmt::format(R"(apiVersion: v1
kind: Config
clusters:
- name: kube-test-apiserver
  cluster:
    server: {}
    certificate-authority: {}
users:
- name: kube-test-user
  user:
    token: {}
contexts:
- name: kube-test-apiserver
  context:
    cluster: kube-test-apiserver
    user: kube-test-user
    namespace: default
current-context: kube-test-apiserver
preferences: {{}}
)",
                                          Url(), i.pki.ca_cert, i.token));
  i.started = true;
}

void ApiServer::Stop() {
  auto& i = *impl_;
  if (!i.started) return;
  i.started = false;
  if (i.gc) i.gc->Stop();
  if (i.http) i.http->Stop();
}

std::string ApiServer::Url() const {
  return fmt::format("https://{}:{}", impl_->options.host, Port());
}
uint16_t ApiServer::Port() const { return impl_->http ? impl_->http->Port() : 0; }
const std::string& ApiServer::Token() const { return impl_->token; }
std::string ApiServer::CaFile() const { return impl_->pki.ca_cert; }
std::string ApiServer::KubeconfigFile() const { return impl_->state_dir + "/kubeconfig"; }
std::string ApiServer::TokenFile() const { return impl_->state_dir + "/token"; }
std::string ApiServer::StateDir() const { return impl_->state_dir; }

void ApiServer::AddFault(const Fault& fault) { impl_->faults.Add(fault); }
void ApiServer::ClearFaults() { impl_->faults.Clear(); }
uint64_t ApiServer::RequestCount(const std::string& verb) const {
  return impl_->faults.Requests(verb);
}
void ApiServer::ResetRequestCounts() { impl_->faults.ResetCounts(); }

void ApiServer::SetMetricsApiServed(bool served) { impl_->metrics.SetServed(served); }
void ApiServer::SetMetrics(std::vector<NodeMetricsSample> nodes,
                           std::vector<PodMetricsSample> pods) {
  impl_->metrics.Set(std::move(nodes), std::move(pods));
}

}  // namespace srexpert::testing
