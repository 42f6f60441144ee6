#include "kube/request_metrics.h"

namespace srexpert::kube {

void RequestMetrics::Record(const std::string& verb, int code) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[{verb, code}];
}

uint64_t RequestMetrics::Count(const std::string& verb, int code) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find({verb, code});
  return it == counts_.end() ? 0 : it->second;
}

uint64_t RequestMetrics::CountVerb(const std::string& verb) const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = 0;
  for (auto it = counts_.lower_bound({verb, -1}); it != counts_.end() && it->first.first == verb;
       ++it) {
    n += it->second;
  }
  return n;
}

std::map<RequestMetrics::Key, uint64_t> RequestMetrics::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

}  // namespace srexpert::kube
