// A Report as srexpert-scan prints it: JSON (every result), a table (the
// failures, the score and the namespaces' Pod Security readiness), or SARIF
// 2.1.0 (the failures, as code scanning tools read them).
#pragma once

#include <string>
#include <string_view>

#include "scan/report.h"
#include "scan/score.h"

namespace srexpert::scan {

// {"score":N,"summary":{...},"results":[{"check","aliases":{...},"severity",
// "passed","object":{"apiVersion","kind","namespace","name"},"container",
// "message"}]} — aliases lists only the frameworks the check has; container
// only for per-container checks. Compact, one line, newline-terminated.
std::string RenderJson(const Report& report, const Summary& summary);

// Human-readable, for a terminal.
std::string RenderTable(const Report& report, const Summary& summary);

// SARIF 2.1.0 with one rule per check that produced a result, one result per
// failure; a physical location when the object came from a file.
std::string RenderSarif(const Report& report, std::string_view tool_version);

}  // namespace srexpert::scan
