// protocol::Decode on hostile tunnel text. Properties: never crashes; what
// decodes is valid and re-encodes; the re-encoded text decodes to a message
// of the same type (no message the codec accepts that it cannot send again).
#include "protocol/messages.h"
#include "test/fuzz/fuzz_target.h"

using namespace srexpert;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = fuzz::AsText(data, size);
  auto decoded = protocol::Decode(text, 1 << 20);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.error.kind != protocol::DecodeErrorKind::kNone);
    return 0;
  }
  FUZZ_CHECK(protocol::Validate(*decoded.message).empty());
  std::string error;
  auto encoded = protocol::Encode(*decoded.message, &error);
  FUZZ_CHECK(encoded.has_value());
  auto again = protocol::Decode(*encoded, 1 << 22);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(protocol::TypeName(*again.message) == protocol::TypeName(*decoded.message));
  return 0;
}
