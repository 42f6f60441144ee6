#include "common/work_queue.h"

#include <algorithm>

namespace srexpert {

WorkQueue::WorkQueue(Options options, Clock& clock) : options_(options), clock_(clock) {}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  AddLocked(key);
}

void WorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;  // already queued or pending re-queue
  if (processing_.count(key)) return;      // Done() re-queues it
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  if (delay <= std::chrono::milliseconds::zero()) {
    AddLocked(key);
    return;
  }
  delayed_.emplace(clock_.Now() + delay, key);
  cv_.notify_all();  // a waiting GetFor() may need an earlier wake-up
}

std::chrono::milliseconds WorkQueue::NextDelayLocked(const std::string& key) {
  int n = failures_[key]++;
  auto delay = options_.base_delay;
  for (int i = 0; i < n && delay < options_.max_delay; ++i) delay *= 2;
  return std::min(delay, options_.max_delay);
}

void WorkQueue::AddRateLimited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard<std::mutex> lock(mu_);
    delay = NextDelayLocked(key);
  }
  AddAfter(key, delay);
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(key);
}

int WorkQueue::Failures(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::PromoteDueLocked() {
  auto now = clock_.Now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    AddLocked(key);
  }
}

std::optional<std::string> WorkQueue::Get() {
  return GetFor(std::chrono::milliseconds::max());
}

std::optional<std::string> WorkQueue::GetFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  // Waits use real time: a FakeClock only decides when delayed keys are due,
  // and tests that step it call GetFor with a short timeout.
  auto give_up = timeout == std::chrono::milliseconds::max()
                     ? std::chrono::steady_clock::time_point::max()
                     : std::chrono::steady_clock::now() + timeout;
  for (;;) {
    PromoteDueLocked();
    if (shutting_down_) return std::nullopt;
    if (!queue_.empty()) break;
    auto wake = give_up;
    if (!delayed_.empty()) {
      auto due_in = delayed_.begin()->first - clock_.Now();
      wake = std::min(wake, std::chrono::steady_clock::now() +
                                std::chrono::duration_cast<std::chrono::steady_clock::duration>(due_in));
    }
    if (wake == std::chrono::steady_clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, wake);
      if (std::chrono::steady_clock::now() >= give_up) {
        PromoteDueLocked();
        if (queue_.empty() || shutting_down_) return std::nullopt;
        break;
      }
    }
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) && !shutting_down_) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutting_down_ = true;
  cv_.notify_all();
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

size_t WorkQueue::DelayedLen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return delayed_.size();
}

size_t WorkQueue::InFlight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return processing_.size();
}

}  // namespace srexpert
