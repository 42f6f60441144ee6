// Files of test/actions/testdata (fake-helm.sh, recorded helm 4 output) and
// whole-file reads for the tests of the Helm driver.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace srexpert::actions::testing {

// The file's bytes; "" when it cannot be read (the caller's CHECK on the
// contents then fails with the path in its message).
inline std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::filesystem::path TestdataPath(const std::string& name) {
  return std::filesystem::path(SRX_SOURCE_DIR) / "test/actions/testdata" / name;
}

inline std::string Testdata(const std::string& name) { return Slurp(TestdataPath(name)); }

}  // namespace srexpert::actions::testing
