// The leader's scan of its cache (the state stream's projected objects,
// stream::Streamer::ForEachObject) and the report it sends upstream
// (docs/protocol.md: delta payload `scan`, and the `scan.run` response).
//
// Pure apart from the clock it reads for scannedAt and durationMs: no API
// call — the scan costs the cluster nothing beyond collection.
//
// The cache holds projections, not whole objects: a check whose inputs the
// projection drops (NotEvaluatedInCluster; none today, values are reduced to
// the sensitive-data checks' verdicts) would not be run rather than
// reported wrongly, and the report lists such checks under `notEvaluated`.
//
// Reports stay below a byte budget (a stream message or response): failed
// findings only, in a fixed order (danger before warning, then catalogue
// order, namespace, kind, name, container), cut when the next would not
// fit; `omitted` counts what was cut. The counts and the score always
// cover every result.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "scan/config.h"
#include "scan/score.h"

namespace srexpert::agent {

// What a `scan.run` request may narrow the scan to; empty lists: everything.
struct ScanScope {
  std::vector<std::string> namespaces;
  std::vector<std::string> kinds;
  std::vector<std::string> checks;  // ids, Polaris names, custom check names, categories
  bool Full() const { return namespaces.empty() && kinds.empty() && checks.empty(); }
};

// Parses a `scan.run` payload ({"namespaces":[...],"kinds":[...],
// "checks":[...]}, each optional, 0..256 strings). "" on success, otherwise
// what is wrong (the request's `invalid` error message).
std::string ParseScanScope(std::string_view payload, ScanScope* out);

// Visits every cached object: kind, namespace, name, projected JSON text.
using CachedObjects = std::function<void(
    const std::function<void(const std::string& kind, const std::string& ns,
                             const std::string& name, const std::string& json)>& visit)>;

struct ScanOutcome {
  std::string json;  // the report, at most max_bytes (see above)
  scan::Counts counts;
  std::map<scan::Category, scan::Counts> by_category;
  size_t findings = 0;  // failed results
  size_t omitted = 0;   // failed results left out of `json`
  size_t objects = 0;   // objects scanned
  std::chrono::milliseconds duration{0};
  std::string error;  // non-empty: nothing was scanned (e.g. an unknown check in the scope)
};

// Check ids the leader cannot evaluate from its cache.
const std::vector<std::string>& NotEvaluatedInCluster();

ScanOutcome RunCacheScan(const CachedObjects& objects, const ScanScope& scope,
                         std::shared_ptr<const scan::ScanConfig> config, size_t max_bytes,
                         Clock& clock);

}  // namespace srexpert::agent
