// The summary of a Report and Polaris' score:
//   score = 2·passed / (2·passed + warnings + 2·dangers), as a whole percent
// (truncated, as Polaris does), where warnings and dangers count failed
// results by severity. 100 when there is nothing to count. Overall, per
// namespace (namespaced objects) and per category.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "scan/catalogue.h"
#include "scan/report.h"

namespace srexpert::scan {

struct Counts {
  size_t passed = 0;
  size_t warnings = 0;  // failed, severity warning
  size_t dangers = 0;   // failed, severity danger
  int Score() const;
  size_t Total() const { return passed + warnings + dangers; }
  void Add(const Finding& f);
};

struct Summary {
  Counts total;
  std::map<std::string, Counts> by_namespace;
  std::map<Category, Counts> by_category;
};

Summary Summarize(const Report& report);

// Whether a failed result of severity `at_least` or worse exists (danger
// counts for warning too).
bool HasFailures(const Report& report, Severity at_least);

}  // namespace srexpert::scan
