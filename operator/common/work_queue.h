// A work queue with client-go's semantics, for level-triggered controllers:
//  - a key is queued at most once however often it is added (de-duplication);
//  - a key being processed is never handed to a second worker; if it is added
//    meanwhile it is processed again after Done() (nothing is lost);
//  - AddRateLimited() delays a key by a per-key exponential backoff
//    (base * 2^failures, capped), Forget() resets it after a success;
//  - AddAfter() delays a key (periodic resync, Retry-After).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/clock.h"

namespace srexpert {

class WorkQueue {
 public:
  struct Options {
    std::chrono::milliseconds base_delay{5};
    std::chrono::milliseconds max_delay{1000 * 60 * 16};  // client-go's 1000s cap, rounded
  };

  explicit WorkQueue(Options options, Clock& clock = SystemClock());
  WorkQueue() : WorkQueue(Options{}) {}
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& key);
  void AddAfter(const std::string& key, std::chrono::milliseconds delay);
  // Adds after the key's next backoff delay and counts a failure.
  void AddRateLimited(const std::string& key);
  // Clears the key's failure count.
  void Forget(const std::string& key);
  int Failures(const std::string& key) const;

  // Blocks until a key is ready or the queue shuts down (nullopt).
  std::optional<std::string> Get();
  // Like Get() but gives up after `timeout` (nullopt); for tests and loops
  // that must notice other conditions.
  std::optional<std::string> GetFor(std::chrono::milliseconds timeout);
  // Marks a key from Get() as finished; re-queues it if it was added while
  // it was being processed.
  void Done(const std::string& key);

  // Stops handing out keys; Get() returns nullopt once called.
  void ShutDown();
  bool ShuttingDown() const;

  // Keys ready to be handed out (not counting delayed or in-flight keys).
  size_t Len() const;
  // Keys waiting for their delay.
  size_t DelayedLen() const;
  // Keys handed out by Get() and not yet Done().
  size_t InFlight() const;

 private:
  void AddLocked(const std::string& key);
  void PromoteDueLocked();
  std::chrono::milliseconds NextDelayLocked(const std::string& key);

  Options options_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;       // queued or to be re-queued
  std::set<std::string> processing_;  // handed out, not yet Done()
  std::multimap<Clock::Steady, std::string> delayed_;
  std::map<std::string, int> failures_;
  bool shutting_down_ = false;
};

}  // namespace srexpert
