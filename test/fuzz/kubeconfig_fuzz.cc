// A kubeconfig (YAML) as LoadKubeconfig reads it from disk: any content gets
// a config or one clear error naming the file, never a crash.
#include <cstdio>
#include <string>

#include "kube/config.h"
#include "test/fuzz/fuzz_target.h"
#include "test/kube/temp_dir.h"

using namespace srexpert;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const kube::testing::TempDir dir;  // removed at exit
  static const std::string path = dir.path() + "/config";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto config = kube::LoadKubeconfig(path);
  if (!config.ok()) FUZZ_CHECK(config.error().message().find(path) != std::string::npos);
  return 0;
}
