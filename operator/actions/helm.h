// The Helm driver: the helm.* action kinds carried out by the real Helm
// binary (never a re-implementation of charts or Go templates).
//
// Contract:
//  - Every request is validated before anything runs (release name as Helm
//    requires it: DNS-1123 label of at most 53 characters; namespace: DNS-1123
//    label; chart: an archive from the request or a repository reference with
//    an http(s):// or oci:// URL, never a local path or file://; version: an
//    exact chart version). A refused request is HelmError::kInvalid and no
//    process was started.
//  - Helm runs through RunProcess (process.h): no shell, an environment built
//    here from nothing (HOME and HELM_{CACHE,CONFIG,DATA}_HOME inside
//    HelmConfig::home, HELM_DRIVER=secret, the in-cluster service variables and
//    the proxy variables copied from the agent only), a hard timeout, bounded
//    output, cancellable.
//  - Releases are stored with Helm's default driver (Secrets of type
//    helm.sh/release.v1 in the release namespace), so plain `helm` run by a
//    user sees, upgrades, rolls back and uninstalls them, and the agent sees
//    the user's.
//  - Chart archives and values are written to a private (0700) directory per
//    request under HelmConfig::home, removed when the call returns; values
//    reach Helm as a file, never on its command line.
//  - Responses are compact summaries parsed from Helm's JSON output; a
//    release's values (config), rendered manifest and live resources, which
//    may hold credentials, are never returned (dry runs return the manifest
//    with Secrets hidden by Helm's --hide-secret).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actions/process.h"
#include "common/json.h"

namespace srexpert::actions::helm {

struct HelmConfig {
  std::string binary;      // path to the helm executable
  std::string home;        // private writable directory (the pod's memory-backed emptyDir)
  std::string kubeconfig;  // out of cluster; empty: Helm's in-cluster config (ServiceAccount)
  std::string ca_file;     // CA bundle for chart repositories; empty: the system's
  // The agent's own environment variables Helm may see, by name: in-cluster
  // API address and proxy settings. Read from the agent's environment at
  // construction; anything else of the agent's environment is withheld.
  std::vector<std::string> passthrough_env = {"KUBERNETES_SERVICE_HOST",
                                              "KUBERNETES_SERVICE_PORT",
                                              "HTTPS_PROXY",
                                              "https_proxy",
                                              "HTTP_PROXY",
                                              "http_proxy",
                                              "NO_PROXY",
                                              "no_proxy"};
  // An explicit proxy for chart repositories (the agent's configured proxy,
  // when it has one rather than the environment's): Helm gets it as
  // HTTPS_PROXY/HTTP_PROXY, `no_proxy` plus the in-cluster API server's
  // address as NO_PROXY (Helm's API calls must not go through it), and the
  // environment's proxy variables are then not passed through.
  std::string proxy_url;
  std::vector<std::string> no_proxy;
  std::chrono::seconds default_timeout{300};  // Helm's --timeout when the request has none
  std::chrono::seconds max_timeout{1800};     // ceiling for a request's timeout
  // Time Helm gets beyond its own --timeout before it is killed.
  std::chrono::seconds process_slack{30};
  std::size_t max_output_bytes = 4 << 20;
  std::size_t max_archive_bytes = 8 << 20;
};

struct HelmError {
  enum class Code {
    kInvalid,    // bad request; nothing ran
    kNotFound,   // no such release (or revision)
    kConflict,   // name in use, or another Helm operation in progress
    kForbidden,  // the API server refused the agent's credentials
    kTimeout,    // Helm's --timeout or our hard limit
    kCancelled,  // ProcessCancel (tunnel dropped, shutdown)
    kFailed,     // Helm failed otherwise (message from its stderr)
    kInternal,   // could not run Helm at all (binary, home directory)
  };
  Code code = Code::kFailed;
  std::string message;
  bool retryable() const { return code == Code::kConflict || code == Code::kTimeout; }
};

const char* ErrorCodeName(HelmError::Code code);

// Where the chart comes from: exactly one of archive / repository reference.
struct ChartSource {
  std::string archive;   // the .tgz bytes (decoded from the request's base64)
  std::string repo_url;  // https://, http:// or oci://
  std::string chart;     // chart name in that repository
  std::string version;   // exact version; empty: the repository's latest
};

struct InstallRequest {
  bool upgrade =
      false;  // false: helm.install (fails if the release exists); true: install-or-upgrade
  std::string release;
  std::string namespace_;
  ChartSource chart;
  std::string values_json = "{}";  // a JSON object
  bool dry_run = false;
  bool wait = false;
  bool atomic = false;  // Helm 4 --rollback-on-failure (Helm 3's --atomic)
  std::optional<std::chrono::seconds> timeout;
};

struct RollbackRequest {
  std::string release;
  std::string namespace_;
  int revision = 0;  // 0: the previous revision
  bool dry_run = false;
  bool wait = false;
  std::optional<std::chrono::seconds> timeout;
};

struct UninstallRequest {
  std::string release;
  std::string namespace_;
  bool dry_run = false;
  bool keep_history = false;
  bool wait = false;
  std::optional<std::chrono::seconds> timeout;
};

struct ReleaseQuery {  // helm.status / helm.history
  std::string release;
  std::string namespace_;
  int revision = 0;  // status only; 0: the latest
  int max = 0;       // history only; 0: Helm's default (256)
};

struct ListRequest {  // what `helm list -n <namespace>` shows a user
  std::string namespace_;
};

// Parsers of the request payloads (the `payload` object of a tunnel
// request). They validate everything; false + *error on any problem.
bool ParseInstall(const json::Value& payload, bool upgrade, InstallRequest* out,
                  std::string* error);
bool ParseRollback(const json::Value& payload, RollbackRequest* out, std::string* error);
bool ParseUninstall(const json::Value& payload, UninstallRequest* out, std::string* error);
bool ParseReleaseQuery(const json::Value& payload, ReleaseQuery* out, std::string* error);
bool ParseList(const json::Value& payload, ListRequest* out, std::string* error);

// Validation rules, exposed for tests and the handlers' namespace checks.
std::optional<std::string> ValidateReleaseName(std::string_view name);
std::optional<std::string> ValidateNamespace(std::string_view ns);
std::optional<std::string> ValidateChartSource(const ChartSource& chart, std::size_t max_archive);

// Helm's JSON outputs → our response bodies.
bool ReleaseSummaryFromHelm(std::string_view helm_json, json::Document* out, std::string* error);
// `helm get metadata -o json` → body["chart"] {name, version, appVersion}.
bool AddChartFromMetadata(std::string_view metadata_json, json::Document* body, std::string* error);
bool ListFromHelm(std::string_view helm_json, json::Document* out, std::string* error);
bool HistoryFromHelm(std::string_view helm_json, json::Document* out, std::string* error);
// Helm's stderr + how the process ended → an error.
HelmError ClassifyFailure(const ProcessResult& result);

struct HelmResult {
  std::optional<HelmError> error;  // set: failed
  json::Document body;             // the response body when !error
  bool ok() const { return !error.has_value(); }
};

class HelmDriver {
 public:
  explicit HelmDriver(HelmConfig config);

  HelmResult Install(const InstallRequest& req, ProcessCancel* cancel = nullptr);
  HelmResult Rollback(const RollbackRequest& req, ProcessCancel* cancel = nullptr);
  HelmResult Uninstall(const UninstallRequest& req, ProcessCancel* cancel = nullptr);
  HelmResult Status(const ReleaseQuery& req, ProcessCancel* cancel = nullptr);
  HelmResult History(const ReleaseQuery& req, ProcessCancel* cancel = nullptr);
  HelmResult List(const ListRequest& req, ProcessCancel* cancel = nullptr);

  // The environment Helm runs with (tests check nothing else leaks in).
  const std::vector<std::string>& environment() const { return env_; }
  const HelmConfig& config() const { return config_; }

 private:
  // Runs helm with `args` (global flags added here); `hard_timeout` bounds it.
  ProcessResult Run(std::vector<std::string> args, std::chrono::seconds hard_timeout,
                    ProcessCancel* cancel);
  std::chrono::seconds HelmTimeout(const std::optional<std::chrono::seconds>& requested) const;
  // The shape every command shares: validate the release (when non-empty)
  // and namespace, run helm, classify a failure, then let `parse` turn the
  // output into *body (false + *error: kFailed with that message).
  using OutputParser =
      std::function<bool(const ProcessResult& r, json::Document* body, std::string* error)>;
  HelmResult RunQuery(std::string_view release, std::string_view ns, std::vector<std::string> args,
                      std::chrono::seconds hard_timeout, const OutputParser& parse,
                      ProcessCancel* cancel);

  HelmConfig config_;
  std::vector<std::string> env_;
};

}  // namespace srexpert::actions::helm
