// Where the Kubernetes API is and how to authenticate to it: RestConfig and
// its two loaders, in-cluster (service account) and kubeconfig.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "kube/error.h"
#include "kube/exec_credential.h"

namespace srexpert::kube {

struct RestConfig {
  std::string server;               // "https://host:port", optionally with a path prefix
  std::string ca_pem;               // PEM bundle that verifies the server; empty = system CAs
  bool insecure_skip_tls_verify = false;
  // Bearer token: a fixed token, or a file re-read every token_refresh_period
  // (projected service-account tokens rotate) and once more after a 401.
  // When both are set the file wins, like client-go.
  std::string bearer_token;
  std::string bearer_token_file;
  std::chrono::seconds token_refresh_period{60};
  // A kubeconfig exec credential plugin (kube/exec_credential.h): run for a
  // token when none is cached, when it expires, and once after a 401.
  std::optional<ExecPluginConfig> exec;
  std::string client_cert_pem;      // client certificate chain (mTLS), with client_key_pem
  std::string client_key_pem;
  std::string ns = "default";       // default namespace for namespaced objects
  double qps = 20;                  // client-side rate limit; <= 0 disables it
  int burst = 30;
  std::chrono::seconds request_timeout{30};  // per send/receive step of a plain request
  std::string user_agent = "srexpert-agent";
  std::string source;               // where this config came from, for messages

  // "server=... ca=<n bytes> token=<redacted len=N> ..." — safe to log.
  std::string Describe() const;
};

// The service-account files of a pod. `dir` is overridable for tests.
inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// In-cluster config from KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT and
// <dir>/{token,ca.crt,namespace}. The token is referenced by file so that it
// is re-read as it rotates. Fails with kConfig when not running in a pod.
Result<RestConfig> InClusterConfig(const std::string& dir = kServiceAccountDir);

// Loads a kubeconfig. The file is `path` when non-empty (the --kubeconfig
// flag), else the first entry of $KUBECONFIG (a colon-separated list is not
// merged as kubectl does: only its first file is read), else ~/.kube/config.
// `context` overrides current-context when non-empty. Relative file paths in
// the kubeconfig are resolved against the kubeconfig's directory.
//
// Supported: clusters[].cluster.{server, certificate-authority(-data),
// insecure-skip-tls-verify}, users[].user.{token, tokenFile,
// client-certificate(-data), client-key(-data), exec (token credentials;
// see kube/exec_credential.h)}, contexts[].context.{cluster, user,
// namespace}. auth-provider plugins and basic auth are rejected. Any problem yields ONE kConfig error naming the file and the
// field, e.g.
//   kubeconfig /x/config: context "dev" refers to unknown cluster "c1"
//   (contexts[0].context.cluster)
Result<RestConfig> LoadKubeconfig(const std::string& path = "", const std::string& context = "");

// The kubeconfig file LoadKubeconfig would read for `path`.
std::string ResolveKubeconfigPath(const std::string& path);

}  // namespace srexpert::kube
