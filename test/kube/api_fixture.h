// Shared set-up for tests against the loopback API test server: a started
// server and a RestClient configured from the kubeconfig it writes.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/json.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "test/apiserver/api_server.h"

namespace srexpert::kube::testing {

inline rapidjson::Document Json(const std::string& text) {
  std::string err;
  auto doc = json::Parse(text, &err);
  if (!doc) FAIL("bad JSON in test: " << err << ": " << text);
  return std::move(*doc);
}

// Polls `pred` until it holds or `timeout` passes (generous: these are
// correctness tests, not timing tests).
inline bool Eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

class ApiFixture {
 public:
  explicit ApiFixture(srexpert::testing::ApiServerOptions server_options = {},
                      ClientOptions client_options = {})
      : server_(server_options) {
    server_.Start();
    client_ = NewClient(client_options);
  }

  std::shared_ptr<RestClient> NewClient(ClientOptions options = {}) {
    auto cfg = LoadKubeconfig(server_.KubeconfigFile());
    if (!cfg) FAIL(cfg.error().ToString());
    cfg->qps = 0;  // no client-side limiting unless a test asks for it
    auto client = RestClient::New(*cfg, options);
    if (!client) FAIL(client.error().ToString());
    return *client;
  }

  srexpert::testing::ApiServer& server() { return server_; }
  RestClient& client() { return *client_; }
  std::shared_ptr<RestClient> shared_client() { return client_; }

  // Creates namespace `name` (tests use their own namespaces).
  void CreateNamespace(const std::string& name) {
    auto r = client_->Create(Json(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" +
                                  name + R"("}})"));
    if (!r && !r.error().IsAlreadyExists()) FAIL(r.error().ToString());
  }

  rapidjson::Document ConfigMap(const std::string& ns, const std::string& name,
                                const std::string& data_json = "{}",
                                const std::string& labels_json = "{}") {
    return Json(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
                R"(","namespace":")" + ns + R"(","labels":)" + labels_json + R"(},"data":)" +
                data_json + "}");
  }

 private:
  srexpert::testing::ApiServer server_;
  std::shared_ptr<RestClient> client_;
};

}  // namespace srexpert::kube::testing
