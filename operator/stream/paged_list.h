// ListPaged: the list half of the collectors' list+watch, one page in memory
// at a time (docs/streaming.md: memory is the design constraint on the
// leader, so neither collector uses RestClient::ListAll).
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <string>

#include "kube/cancellation.h"
#include "kube/error.h"
#include "kube/rest_client.h"

namespace srexpert::stream {

// Lists `collection` (all namespaces) with limit=`page_size`, following
// metadata.continue, and hands every item to `visit` as its page arrives.
// The page is freed before the next one is requested.
//
// Items lacking apiVersion or kind (built-in lists leave them out; watch
// objects carry them) get those of `collection` first, so a visitor sees the
// same shape from a list as from a watch.
//
// Items come without managedFields and the last-applied annotation
// (ListOptions::skip_server_bookkeeping): no projection uses them.
//
// Returns the list's resourceVersion, to watch from. Fails with kCancelled
// once `cancel` fires (checked before each item and by the requests), else
// with the failed List's error. When that error is a 410 on a continue
// request (the snapshot behind the token was compacted), `*continue_expired`
// is set if given: the items visited so far came from the abandoned snapshot,
// and a caller that needs one consistent pass lists again from the start.
kube::Result<std::string> ListPaged(kube::RestClient& client, const kube::ObjectRef& collection,
                                    int64_t page_size, const kube::Cancellation& cancel,
                                    const std::function<void(rapidjson::Value& item)>& visit,
                                    bool* continue_expired = nullptr);

}  // namespace srexpert::stream
