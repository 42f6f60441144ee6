// One line of a watch body from the API server (or anything in between).
#include "kube/watch.h"
#include "test/fuzz/fuzz_target.h"

using namespace srexpert;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto line = fuzz::AsText(data, size);
  for (bool skip : {false, true}) {
    auto event = kube::DecodeWatchEvent(line, skip);
    if (!event.ok()) FUZZ_CHECK(!event.error().message().empty());
  }
  return 0;
}
