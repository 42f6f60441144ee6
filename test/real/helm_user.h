// What the Helm real-cluster tests share: the Helm binary the project
// fetched, the small test chart, and a user at a terminal running plain
// helm and kubectl against the real control plane.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "actions/process.h"
#include "test/real/real_cluster.h"

#ifndef SRX_SOURCE_DIR
#error "SRX_SOURCE_DIR must name the source tree"
#endif

namespace srexpert::testing::real {

inline const std::string kConfigMapChartDir =
    std::string(SRX_SOURCE_DIR) + "/test/actions/testdata/charts/configmap-only";

// $HELM, else the binary scripts/install-deps.sh put into .tools.
inline std::string HelmBinary() {
  const char* env = std::getenv("HELM");
  return env ? env : std::string(SRX_SOURCE_DIR) + "/.tools/helm/helm";
}

// A user at a terminal: plain helm / kubectl with their own Helm home and
// the admin kubeconfig, default settings otherwise (storage driver included).
class HelmUser {
 public:
  explicit HelmUser(std::filesystem::path home) : home_(std::move(home)) {
    std::filesystem::create_directories(home_);
  }
  actions::ProcessResult Helm(std::vector<std::string> args) {
    args.insert(args.begin(), HelmBinary());
    args.insert(args.end(), {"--kubeconfig", AdminKubeconfig()});
    return Run(std::move(args));
  }
  actions::ProcessResult Kubectl(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "kubectl", "--kubeconfig", AdminKubeconfig()});
    return Run(std::move(args));
  }

 private:
  actions::ProcessResult Run(std::vector<std::string> argv) {
    actions::ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home_.string(),
                "HELM_CACHE_HOME=" + (home_ / "cache").string(),
                "HELM_CONFIG_HOME=" + (home_ / "config").string(),
                "HELM_DATA_HOME=" + (home_ / "data").string()};
    spec.timeout = std::chrono::seconds(120);
    auto r = actions::RunProcess(spec);
    INFO(spec.argv[1] << " " << (spec.argv.size() > 2 ? spec.argv[2] : "") << ": " << r.err);
    return r;
  }
  std::filesystem::path home_;
};

}  // namespace srexpert::testing::real
