// Fault injection: a list of pending faults consumed by matching requests,
// and per-verb request counters. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "test/apiserver/api_server.h"

namespace srexpert::testing {

class FaultInjector {
 public:
  void Add(const Fault& fault);
  void Clear();
  // Consumes (one use of) the first fault matching the request into `out`.
  bool Take(const std::string& verb, const std::string& path, Fault* out);

  void Count(const std::string& verb);
  uint64_t Requests(const std::string& verb) const;
  std::map<std::string, uint64_t> AllRequests() const;
  void ResetCounts();

 private:
  mutable std::mutex mu_;
  std::vector<Fault> faults_;
  std::map<std::string, uint64_t> counts_;
};

// The admin endpoint's JSON form of a Fault:
// {"kind":"status|gone|resetWatch|latency","verb":"list","pathPrefix":"/api/v1/...",
//  "code":429,"retryAfterSeconds":1,"delayMs":200,"times":1}
std::optional<Fault> FaultFromJson(const json::Value& v, std::string* error);

}  // namespace srexpert::testing
