// Kubeconfig exec credential plugins (client.authentication.k8s.io), as
// kubectl runs them: `aws eks get-token`, `gke-gcloud-auth-plugin`,
// `kubelogin` and the like print an ExecCredential whose status carries a
// bearer token and, usually, when it expires.
//
// This client runs the plugin non-interactively (stdin is /dev/null and
// spec.interactive is false), with the plugin's env added to ours and
// KUBERNETES_EXEC_INFO set, and reads at most 1 MiB of stdout. Only token
// credentials are supported: a plugin that answers with a client
// certificate gets a clear kConfig error (cpprestsdk fixes a connection's
// TLS identity when it is created, so a rotating certificate cannot be
// applied). The plugin's stderr goes to ours, as with kubectl, so its own
// prompts and hints reach the user; the token never does.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kube/error.h"

namespace srexpert::kube {

struct ExecPluginConfig {
  std::string api_version;  // client.authentication.k8s.io/v1 or /v1beta1
  std::string command;      // resolved: absolute, or looked up in PATH
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string install_hint;  // shown when the command cannot be run
  std::string source;        // "kubeconfig <file> (users[i].user.exec)", for messages
  // provideClusterInfo: the cluster is passed in KUBERNETES_EXEC_INFO.
  bool provide_cluster_info = false;
  std::string cluster_server;
  std::string cluster_ca_pem;
  bool cluster_insecure = false;
  // A plugin that has not answered by then is killed (kubectl has no limit;
  // a controller must not hang on a stuck plugin forever).
  std::chrono::seconds timeout{60};
};

struct ExecCredential {
  std::string token;
  // status.expirationTimestamp; nullopt = valid until a 401 says otherwise.
  std::optional<std::chrono::system_clock::time_point> expiry;
};

// The KUBERNETES_EXEC_INFO value for `config` (an ExecCredential with spec).
std::string ExecInfoJson(const ExecPluginConfig& config);

// Parses a plugin's stdout. Fails with kConfig naming `config.source` on
// malformed JSON, a kind or apiVersion other than the requested one, a
// certificate-only answer, a missing token or a bad expirationTimestamp.
Result<ExecCredential> ParseExecCredential(const ExecPluginConfig& config, std::string_view out);

// Runs the plugin and parses its answer. Failing to start it, a non-zero
// exit, a signal or the timeout give kConfig errors that name the command
// (and the install hint when it could not be started).
Result<ExecCredential> RunExecPlugin(const ExecPluginConfig& config);

}  // namespace srexpert::kube
