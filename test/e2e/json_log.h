// Reading the JSON logs of srexpert processes (one object per line, the
// message under "msg"), for the e2e tests and the benchmarks, which wait for
// lines such as "hub listening" and read the ports they carry.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"

namespace srexpert::testing {

// The lines of `log` whose "msg" is `msg`, in order; other lines (and lines
// that are not JSON objects) are skipped.
inline std::vector<json::Document> JsonLogLines(const std::string& log, std::string_view msg) {
  std::vector<json::Document> out;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    auto doc = json::Parse(line);
    if (doc && doc->IsObject() && json::GetString(*doc, {"msg"}) == msg) {
      out.push_back(std::move(*doc));
    }
  }
  return out;
}

// The first such line, without parsing the rest of the log.
inline std::optional<json::Document> FirstJsonLogLine(const std::string& log,
                                                      std::string_view msg) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    auto doc = json::Parse(line);
    if (doc && doc->IsObject() && json::GetString(*doc, {"msg"}) == msg) return std::move(*doc);
  }
  return std::nullopt;
}

}  // namespace srexpert::testing
