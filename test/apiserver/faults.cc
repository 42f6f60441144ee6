#include "test/apiserver/faults.h"

namespace srexpert::testing {

void FaultInjector::Add(const Fault& fault) {
  std::lock_guard lock(mu_);
  faults_.push_back(fault);
}

void FaultInjector::Clear() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

bool FaultInjector::Take(const std::string& verb, const std::string& path, Fault* out) {
  std::lock_guard lock(mu_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (!it->verb.empty() && it->verb != verb) continue;
    if (!it->path_prefix.empty() && path.compare(0, it->path_prefix.size(), it->path_prefix) != 0) {
      continue;
    }
    // Watch-only faults never fire on other verbs, so a "reset" aimed at
    // any verb still waits for the next watch.
    if ((it->kind == Fault::Kind::kGone || it->kind == Fault::Kind::kResetWatch) &&
        verb != "watch") {
      continue;
    }
    *out = *it;
    if (it->times > 0 && --it->times == 0) faults_.erase(it);
    return true;
  }
  return false;
}

void FaultInjector::Count(const std::string& verb) {
  std::lock_guard lock(mu_);
  counts_[verb]++;
}

uint64_t FaultInjector::Requests(const std::string& verb) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(verb);
  return it == counts_.end() ? 0 : it->second;
}

std::map<std::string, uint64_t> FaultInjector::AllRequests() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void FaultInjector::ResetCounts() {
  std::lock_guard lock(mu_);
  counts_.clear();
}

std::optional<Fault> FaultFromJson(const json::Value& v, std::string* error) {
  if (!v.IsObject()) {
    if (error) *error = "fault must be a JSON object";
    return std::nullopt;
  }
  Fault f;
  std::string kind = json::GetString(v, {"kind"}, "status");
  if (kind == "status") {
    f.kind = Fault::Kind::kStatus;
  } else if (kind == "gone") {
    f.kind = Fault::Kind::kGone;
  } else if (kind == "resetWatch") {
    f.kind = Fault::Kind::kResetWatch;
  } else if (kind == "latency") {
    f.kind = Fault::Kind::kLatency;
  } else {
    if (error) *error = "unknown fault kind \"" + kind + "\" (status, gone, resetWatch, latency)";
    return std::nullopt;
  }
  f.verb = json::GetString(v, {"verb"});
  f.path_prefix = json::GetString(v, {"pathPrefix"});
  f.code = static_cast<int>(json::GetInt(v, {"code"}, 500));
  f.retry_after_seconds = static_cast<int>(json::GetInt(v, {"retryAfterSeconds"}, 0));
  f.delay = std::chrono::milliseconds(json::GetInt(v, {"delayMs"}, 0));
  f.times = static_cast<int>(json::GetInt(v, {"times"}, 1));
  if (f.times == 0) {
    if (error) *error = "times must be positive or -1";
    return std::nullopt;
  }
  return f;
}

}  // namespace srexpert::testing
