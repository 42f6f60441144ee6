#include "scan/score.h"

namespace srexpert::scan {

int Counts::Score() const {
  size_t denominator = 2 * passed + warnings + 2 * dangers;
  if (denominator == 0) return 100;
  return static_cast<int>((200.0 * static_cast<double>(passed)) / static_cast<double>(denominator));
}

void Counts::Add(const Finding& f) {
  if (f.passed) ++passed;
  else if (f.severity == Severity::kDanger) ++dangers;
  else ++warnings;
}

Summary Summarize(const Report& report) {
  Summary s;
  for (const Finding& f : report.findings) {
    s.total.Add(f);
    s.by_category[report.Check(f).category].Add(f);
    const std::string& ns = report.objects[f.object].ns;
    if (!ns.empty()) s.by_namespace[ns].Add(f);
  }
  return s;
}

bool HasFailures(const Report& report, Severity at_least) {
  for (const Finding& f : report.findings) {
    if (f.passed) continue;
    if (at_least == Severity::kWarning || f.severity == Severity::kDanger) return true;
  }
  return false;
}

}  // namespace srexpert::scan
