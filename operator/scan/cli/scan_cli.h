// srexpert-scan without its flag parsing: options in, report out, exit code
// back. operator/cmd/scan_main.cc maps flags onto CliOptions; tests call
// RunScanCli directly or run the binary.
//
// Exit codes: 0 scanned (no findings at --fail-on); 3 findings at the
// --fail-on level exist; 1 the input, configuration or cluster could not be
// read (the message names the file and document); 2 invalid options.
#pragma once

#include <cstddef>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace srexpert::scan::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitFindings = 3;

struct CliOptions {
  std::vector<std::string> files;  // -f FILE|DIR|- (repeatable)
  std::string kubeconfig;          // --kubeconfig: list this cluster
  bool use_cluster = false;        // --kubeconfig was given
  std::string ns;                  // --namespace (cluster mode)
  std::string output = "table";    // -o table|json|sarif
  std::string config_file;         // --config polaris-style.yaml
  std::string fail_on;             // --fail-on danger|warning
  std::vector<std::string> only, skip;
  std::string pss_level = "restricted";  // --pss-level baseline|restricted|privileged
  std::string pss_version;               // --pss-version vX.Y|latest
  std::string kubernetes_version;        // --kubernetes-version vX.Y (the API server emulated)
  bool include_owned = false;            // --include-owned
  size_t max_file_bytes = 64u << 20;     // --max-file-size
};

int RunScanCli(const CliOptions& options, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace srexpert::scan::cli
