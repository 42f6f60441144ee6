// Serving one watch request: replays history or the current state, then
// streams changes as newline-delimited JSON WatchEvents, with selector
// transitions, bookmarks, timeoutSeconds and 410 Expired like the watch cache.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "test/apiserver/api_server.h"
#include "test/apiserver/http_server.h"
#include "test/apiserver/rest_storage.h"
#include "test/apiserver/selectors.h"
#include "test/apiserver/table.h"

namespace srexpert::testing {

struct WatchRequest {
  ResourceTypePtr type;
  std::string version;
  std::string ns;  // "" = all namespaces (or cluster-scoped)
  LabelSelector labels;
  FieldSelector fields;
  // nullopt for resourceVersion "" or "0": start with synthetic ADDED events
  // for the current state.
  std::optional<uint64_t> from_rv;
  bool bookmarks = false;
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds bookmark_interval{1000};
  std::optional<Fault> fault;  // kGone or kResetWatch, applied after fault->delay
  // Set when the client asked for Tables: every event's object is a Table
  // with one row; only the first carries columnDefinitions (the real watch
  // encoder sets NoHeaders after the first object). ERROR events keep
  // their Status.
  std::optional<TableRequest> table;
};

void ServeWatch(RestStorage& storage, const WatchRequest& request, StreamWriter& out);

}  // namespace srexpert::testing
