// A stop signal shared between a blocking call (watch connect, stream read,
// retry sleep) and the thread that wants it to return. Cancel() is
// thread-safe, idempotent and final. Copies share the same signal.
#pragma once

#include <chrono>
#include <memory>

namespace srexpert::kube {

class Cancellation {
 public:
  Cancellation();

  void Cancel() const;
  bool cancelled() const;
  // Waits up to `d`; returns true early (and at once) when cancelled.
  bool WaitFor(std::chrono::nanoseconds d) const;

  // A new signal that is cancelled when this one is (but not vice versa).
  Cancellation Child() const;

  struct State;
  const std::shared_ptr<State>& state() const { return state_; }

 private:
  explicit Cancellation(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace srexpert::kube
