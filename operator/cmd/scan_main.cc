// srexpert-scan: security and policy checks over manifests or a cluster
// (docs/scan.md). A thin main: flags into CliOptions, then RunScanCli().
#include <CLI/CLI.hpp>
#include <iostream>

#include "common/log.h"
#include "scan/cli/scan_cli.h"

using namespace srexpert::scan::cli;

int main(int argc, char** argv) {
  CliOptions o;
  std::string only, skip;
  CLI::App app{"srexpert-scan: Pod Security Standards, Polaris-compatible and RBAC checks over "
               "Kubernetes manifests or a cluster"};
  app.add_option("-f,--filename", o.files,
                 "Manifest file, directory (recursive: *.yaml, *.yml, *.json) or - for stdin; "
                 "repeatable");
  auto* kubeconfig = app.add_option("--kubeconfig", o.kubeconfig,
                                    "Scan the cluster of this kubeconfig (\"\" for the default)");
  app.add_option("-n,--namespace", o.ns, "With --kubeconfig: scan only this namespace");
  app.add_option("-o,--output", o.output, "table, json or sarif")->capture_default_str();
  app.add_option("--config", o.config_file, "Polaris-style configuration file (YAML)");
  app.add_option("--fail-on", o.fail_on, "Exit 3 when failed checks at this level exist: danger or warning");
  app.add_option("--only", only, "Comma-separated check ids, Polaris names or categories to run");
  app.add_option("--skip", skip, "Comma-separated check ids, Polaris names or categories to skip");
  app.add_option("--pss-level", o.pss_level,
                 "Pod Security Standards controls reported: baseline, restricted or privileged (none)")
      ->capture_default_str();
  app.add_option("--pss-version", o.pss_version,
                 "Pod Security policy version, vX.Y or latest (default: each namespace's "
                 "enforce-version label, else latest)");
  app.add_option("--kubernetes-version", o.kubernetes_version,
                 "Evaluate Pod Security as an API server of this version vX.Y does (default: the "
                 "newest modeled)");
  app.add_flag("--include-owned", o.include_owned,
               "Also report objects whose controller is scanned (ReplicaSets and Pods of a Deployment)");
  app.add_option("--max-file-size", o.max_file_bytes, "Largest manifest input, in bytes")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  o.use_cluster = kubeconfig->count() > 0;
  // A command-line tool: the Kubernetes client's informational log lines
  // would only clutter stderr.
  srexpert::log::SetLevel(srexpert::log::Level::kWarn);
  auto split = [](const std::string& s, std::vector<std::string>* out) {
    size_t start = 0;
    while (start <= s.size() && !s.empty()) {
      size_t comma = s.find(',', start);
      std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!item.empty()) out->push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  };
  split(only, &o.only);
  split(skip, &o.skip);
  return RunScanCli(o, std::cin, std::cout, std::cerr);
}
