// Maps HTTP requests onto the API: authentication, discovery, resource
// routing (paths, verbs, query parameters, content types), fault injection,
// request counting and the /_test admin endpoints.
#pragma once

#include <string>

#include "test/apiserver/api_server.h"
#include "test/apiserver/faults.h"
#include "test/apiserver/http_server.h"
#include "test/apiserver/metrics_api.h"
#include "test/apiserver/rest_storage.h"

namespace srexpert::testing {

class ApiHandler {
 public:
  ApiHandler(RestStorage& storage, FaultInjector& faults, const ApiServerOptions& options,
             std::string token, MetricsApi* metrics = nullptr);
  HttpResponse Handle(const HttpRequest& request);
  // host:port for /api's serverAddressByClientCIDRs; set once bound.
  void SetServerAddress(std::string address) { server_address_ = std::move(address); }

 private:
  HttpResponse HandleAdmin(const HttpRequest& request);
  HttpResponse HandleResource(const HttpRequest& request, const std::string& group,
                              const std::string& version, const std::vector<std::string>& rest);
  HttpResponse HandleMetrics(const HttpRequest& request, const std::vector<std::string>& segs);

  RestStorage& storage_;
  FaultInjector& faults_;
  MetricsApi* metrics_;  // metrics.k8s.io; null = never served
  ApiServerOptions options_;
  std::string token_;
  std::string server_address_;
};

}  // namespace srexpert::testing
