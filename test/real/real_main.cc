// Catch2 main of the real-cluster test binaries: without a control plane
// (the fixture found no KUBEBUILDER_ASSETS) every test case exits 77, which
// ctest reports as skipped (SKIP_RETURN_CODE), never as passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <string>

#include "test/real/real_cluster.h"

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) listing |= std::string(argv[i]).rfind("--list", 0) == 0;
  std::string kubeconfig = srexpert::testing::real::AdminKubeconfig();
  if (!listing && (kubeconfig.empty() || access(kubeconfig.c_str(), R_OK) != 0)) {
    std::printf(
        "SKIPPED: no real control plane (KUBEBUILDER_ASSETS unset, so the real_cluster fixture "
        "started none). Run with KUBEBUILDER_ASSETS=$(realpath ../shared/kube/bin) or envtest "
        "assets from setup-envtest.\n");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
