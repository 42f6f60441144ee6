// Kubernetes Events (core/v1) about an object, like client-go's recorder:
// an Event that repeats (same object, type, reason and message) within the
// de-duplication window bumps `count` and `lastTimestamp` of the existing
// Event instead of creating another. Failures to record are logged, never
// fatal: events are diagnostics, not state.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/json.h"
#include "kube/rest_client.h"

namespace srexpert::controller {

class EventRecorder {
 public:
  EventRecorder(std::shared_ptr<kube::RestClient> client, std::string component,
                Clock& clock = SystemClock());

  // `type` is "Normal" or "Warning". `object` is the involved object (its
  // apiVersion, kind, namespace, name, uid, resourceVersion are used).
  void Record(const json::Value& object, std::string_view type, std::string_view reason,
              std::string_view message);

 private:
  struct Seen {
    std::string event_name;
    int64_t count = 0;
    Clock::Steady last{};
  };

  std::shared_ptr<kube::RestClient> client_;
  std::string component_;
  Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Seen> seen_;  // key: uid|type|reason|message
  uint64_t sequence_ = 0;
};

}  // namespace srexpert::controller
