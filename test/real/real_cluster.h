// The real-cluster suite's view of its control plane (test/real/
// control_plane.sh, started once per ctest run as the fixture
// `real_cluster`): where its kubeconfig is, and a client for it.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>

#include "kube/config.h"
#include "kube/rest_client.h"

namespace srexpert::testing::real {

// $SRX_REAL_CLUSTER_DIR/kubeconfig (admin, group system:masters), or "" when
// the suite runs without a control plane (KUBEBUILDER_ASSETS unset).
inline std::string AdminKubeconfig() {
  const char* dir = std::getenv("SRX_REAL_CLUSTER_DIR");
  return dir ? std::string(dir) + "/kubeconfig" : std::string();
}

inline kube::Result<std::shared_ptr<kube::RestClient>> AdminClient() {
  auto cfg = kube::LoadKubeconfig(AdminKubeconfig());
  if (!cfg.ok()) return cfg.error();
  cfg->qps = 0;
  return kube::RestClient::New(*cfg);
}

}  // namespace srexpert::testing::real
