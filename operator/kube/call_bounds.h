// How long one API call may take and who may stop it, retries included: the
// per-call context every RestClient verb accepts (Go's context.Context, for
// the two things this client needs from it).
#pragma once

#include <optional>

#include "common/clock.h"
#include "kube/cancellation.h"

namespace srexpert::kube {

struct CallBounds {
  // Cancelling it ends the call, an in-flight request or a retry wait, with
  // kCancelled.
  std::optional<Cancellation> cancel;
  // A point on the client's clock (RestClient::clock()). When set:
  //   * 429 (and, for requests safe to replay, 5xx and transport errors) are
  //     retried until the deadline rather than RetryPolicy::max_attempts
  //     times, each wait at least the server's Retry-After;
  //   * a retry whose wait would end past the deadline is not started: the
  //     call returns that error at once, so the caller keeps its remaining
  //     time instead of sleeping out a long Retry-After;
  //   * a request in flight at the deadline is abandoned with kTimeout
  //     (the server may still have applied it), and none starts after it.
  std::optional<Clock::Steady> deadline;
};

}  // namespace srexpert::kube
