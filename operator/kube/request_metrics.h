// Counts of API requests by verb ("get", "list", "watch", "create", ...) and
// HTTP code (0 = the request failed before a response: transport error).
// Every attempt counts, retries included. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace srexpert::kube {

class RequestMetrics {
 public:
  using Key = std::pair<std::string, int>;  // verb, code

  void Record(const std::string& verb, int code);
  uint64_t Count(const std::string& verb, int code) const;
  uint64_t CountVerb(const std::string& verb) const;  // all codes
  std::map<Key, uint64_t> Snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<Key, uint64_t> counts_;
};

}  // namespace srexpert::kube
