// The stdout of a kubeconfig exec credential plugin (client.authentication.k8s.io
// ExecCredential JSON), which the plugin — any program — controls entirely.
#include "kube/exec_credential.h"
#include "test/fuzz/fuzz_target.h"

using namespace srexpert;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kube::ExecPluginConfig config;
  config.command = "fuzz-plugin";
  config.api_version = (size % 2) ? "client.authentication.k8s.io/v1" : "client.authentication.k8s.io/v1beta1";
  auto credential = kube::ParseExecCredential(config, fuzz::AsText(data, size));
  if (!credential.ok()) FUZZ_CHECK(!credential.error().message().empty());
  return 0;
}
