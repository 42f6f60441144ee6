// The hub's state-stream payload decoders (snapshot, delta) on hostile JSON:
// the first byte picks the decoder. Never a crash; a refusal always says why.
#include "hub/stream_payload.h"
#include "test/fuzz/fuzz_target.h"

using namespace srexpert;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto text = fuzz::AsText(data + 1, size - 1);
  std::string error;
  if (data[0] & 1) {
    auto snapshot = hub::DecodeSnapshotPayload(text, &error);
    FUZZ_CHECK(snapshot.has_value() || !error.empty());
  } else {
    auto delta = hub::DecodeDeltaPayload(text, &error);
    FUZZ_CHECK(delta.has_value() || !error.empty());
  }
  return 0;
}
