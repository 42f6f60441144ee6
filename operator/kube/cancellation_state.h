// Internal: the pplx side of Cancellation, for the transport's use only.
#pragma once

#include <pplx/pplxtasks.h>

#include <condition_variable>
#include <mutex>

#include "kube/cancellation.h"

namespace srexpert::kube {

struct Cancellation::State {
  pplx::cancellation_token_source source;
  std::mutex mu;
  std::condition_variable cv;
  bool cancelled = false;
  // Set for children: the parent's registration, removed when the child dies
  // so that a long-lived parent does not accumulate callbacks.
  pplx::cancellation_token parent = pplx::cancellation_token::none();
  pplx::cancellation_token_registration registration;
  bool registered = false;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (registered) parent.deregister_callback(registration);
  }
};

}  // namespace srexpert::kube
