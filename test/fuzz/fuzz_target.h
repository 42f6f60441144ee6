// The libFuzzer entry point every target in test/fuzz/ defines. The same
// source links either with libFuzzer (clang -fsanitize=fuzzer, for fuzzing:
// scripts/fuzz.sh) or with standalone_main.cc (any compiler, for replaying
// the checked-in corpus as a regression test in ctest). A target signals a
// broken property with FUZZ_CHECK, which aborts: libFuzzer saves the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace srexpert::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace srexpert::fuzz
