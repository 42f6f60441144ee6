#include "kube/cancellation.h"

#include "kube/cancellation_state.h"

namespace srexpert::kube {

Cancellation::Cancellation() : state_(std::make_shared<State>()) {}

void Cancellation::Cancel() const {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->cancelled) return;
    state_->cancelled = true;
  }
  state_->cv.notify_all();
  // Runs registered callbacks (children, in-flight cpprestsdk requests) after
  // our own lock is released.
  state_->source.cancel();
}

bool Cancellation::cancelled() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->cancelled;
}

bool Cancellation::WaitFor(std::chrono::nanoseconds d) const {
  std::unique_lock<std::mutex> lock(state_->mu);
  return state_->cv.wait_for(lock, d, [&] { return state_->cancelled; });
}

Cancellation Cancellation::Child() const {
  Cancellation child;
  std::weak_ptr<State> weak = child.state_;
  auto token = state_->source.get_token();
  if (token.is_canceled()) {
    child.Cancel();
    return child;
  }
  // The callback only holds a weak reference, so the parent does not keep
  // finished children alive; a child's death removes the registration.
  child.state_->parent = token;
  child.state_->registration = token.register_callback([weak] {
    if (auto s = weak.lock()) Cancellation(s).Cancel();
  });
  child.state_->registered = true;
  return child;
}

}  // namespace srexpert::kube
