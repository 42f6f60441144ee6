// "New since the last scan": the failed findings of the latest scan report
// that the previous report did not have, and those of the previous report
// the latest no longer has (resolved). Pure; reports as docs/protocol.md
// defines them (delta payload `scan`).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace srexpert::hub {

// The diff as the hub serves it (docs/protocol.md, hub API):
// {"scannedAt","previousScannedAt" (null without a previous report),
//  "complete" (false when either report left findings out),
//  "new":[finding...],"resolved":[finding...]} — findings keyed by check,
// kind, namespace, name and container, in the reports' own order. Without a
// previous report every finding is new. "" when a report is not valid JSON
// of that shape (the store only holds validated reports).
std::string ScanDiff(std::string_view latest, const std::optional<std::string>& previous);

}  // namespace srexpert::hub
