// net::MessageDecompressor on hostile frames (deflate bombs, garbage), and
// the compressor/decompressor pair on arbitrary messages. Properties: the
// output never exceeds the limit; a broken stream stays refused; what the
// compressor makes, the decompressor restores exactly.
#include "net/message_deflate.h"
#include "test/fuzz/fuzz_target.h"

using namespace srexpert;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t limit = 1 + data[0] * 257u;  // 1 .. 65536 bytes
  auto rest = fuzz::AsText(data + 1, size - 1);

  // Hostile frames, split where the input has a 0xff byte.
  net::MessageDecompressor inflater;
  bool broken = false;
  size_t start = 0;
  for (size_t i = 0; i <= rest.size(); ++i) {
    if (i != rest.size() && rest[i] != '\xff') continue;
    std::string text, error;
    auto status = inflater.Decompress(rest.substr(start, i - start), limit, &text, &error);
    if (broken) FUZZ_CHECK(status != net::MessageDecompressor::Status::kOk);
    if (status == net::MessageDecompressor::Status::kOk) {
      FUZZ_CHECK(text.size() <= limit);
    } else {
      FUZZ_CHECK(!error.empty());
      broken = true;
    }
    start = i + 1;
  }

  // Round trip: the same pieces as messages.
  net::MessageCompressor deflater;
  net::MessageDecompressor restorer;
  start = 0;
  for (size_t i = 0; i <= rest.size(); ++i) {
    if (i != rest.size() && rest[i] != '\xff') continue;
    auto message = rest.substr(start, i - start);
    auto frame = deflater.Compress(message);
    FUZZ_CHECK(frame.has_value());
    std::string text, error;
    auto status = restorer.Decompress(*frame, message.size(), &text, &error);
    if (status != net::MessageDecompressor::Status::kOk) {
      std::fprintf(stderr, "round trip of %zu bytes: %s\n", message.size(), error.c_str());
    }
    FUZZ_CHECK(status == net::MessageDecompressor::Status::kOk);
    FUZZ_CHECK(text == message);
    start = i + 1;
  }
  return 0;
}
