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
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <stdlib.h>

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

// A fresh directory under /tmp for a target's files, removed when the
// process exits normally (libFuzzer's end of run and the corpus replay both
// call exit): every CI run replays every corpus, and a directory left per
// run adds up. A crashing input aborts and leaves it, next to the crash.
inline std::string ScratchDir(const char* name) {
  static std::vector<std::string> dirs;
  std::string tmpl = std::string("/tmp/srx-fuzz-") + name + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    std::abort();
  }
  if (dirs.empty()) {
    std::atexit([] {
      for (const auto& d : dirs) {
        std::error_code ec;
        std::filesystem::remove_all(d, ec);
      }
    });
  }
  dirs.push_back(tmpl);
  return tmpl;
}

}  // namespace srexpert::fuzz
