#include "leaderelection/leader_elector.h"

#include <cstdlib>

#include <fmt/format.h>

#include "common/log.h"

namespace srexpert::leaderelection {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Validate(const ElectionConfig& c) {
  if (c.identity.empty()) return "identity must not be empty";
  if (c.retry_period <= milliseconds::zero()) return "retryPeriod must be positive";
  if (c.renew_deadline <= milliseconds::zero()) return "renewDeadline must be positive";
  if (c.lease_duration <= c.renew_deadline) {
    return fmt::format("leaseDuration ({}ms) must be greater than renewDeadline ({}ms)",
                       c.lease_duration.count(), c.renew_deadline.count());
  }
  if (c.renew_deadline.count() <= kJitterFactor * static_cast<double>(c.retry_period.count())) {
    return fmt::format("renewDeadline ({}ms) must be greater than {} x retryPeriod ({}ms)",
                       c.renew_deadline.count(), kJitterFactor, c.retry_period.count());
  }
  return "";
}

LeaderElector::LeaderElector(ElectionConfig config, LeaseLock& lock, ElectionCallbacks callbacks,
                             Clock& clock, RandomSource* random)
    : config_(std::move(config)),
      lock_(lock),
      callbacks_(std::move(callbacks)),
      clock_(clock),
      random_(random ? random : &own_random_) {
  if (auto why = Validate(config_); !why.empty()) {
    log::Error("invalid leader election config", {{"error", why}});
    std::abort();
  }
}

LeaderElector::~LeaderElector() {
  Stop();
  if (watchdog_.joinable()) watchdog_.join();
}

bool LeaderElector::IsLeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leading_ && clock_.Now() - last_renew_ < config_.renew_deadline;
}

std::string LeaderElector::ObservedLeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return observed_.holder_identity;
}

void LeaderElector::SetAnnotations(std::map<std::string, std::string> annotations) {
  std::lock_guard<std::mutex> lock(mu_);
  annotations_ = std::move(annotations);
}

bool LeaderElector::Observe(const LeaderElectionRecord& record) {
  // Called with mu_ held. Expiry is judged from when *we* saw the record
  // change, so clock skew between nodes cannot steal a live lease.
  bool holder_changed = !observed_any_ || record.holder_identity != observed_.holder_identity;
  if (!observed_any_ || !(record == observed_)) {
    observed_ = record;
    observed_time_ = clock_.Now();
    observed_any_ = true;
  }
  return holder_changed;
}

void LeaderElector::NotifyNewLeader(bool changed, const std::string& holder) {
  if (changed && callbacks_.on_new_leader) callbacks_.on_new_leader(holder);
}

bool LeaderElector::TryAcquireOrRenew() {
  auto now_wall = clock_.WallNow();
  LeaderElectionRecord desired;
  desired.holder_identity = config_.identity;
  desired.lease_duration_seconds =
      static_cast<int>((config_.lease_duration + milliseconds(999)) / seconds(1));
  desired.acquire_time = now_wall;
  desired.renew_time = now_wall;
  {
    std::lock_guard<std::mutex> lock(mu_);
    desired.annotations = annotations_;
  }

  auto current = lock_.Get(NextCall());
  if (!current.ok()) {
    if (!current.error().IsNotFound()) {
      log::Warn("cannot read lease", {{"lease", lock_.Describe()},
                                      {"error", current.error().ToString()}});
      return false;
    }
    auto created = lock_.Create(desired, NextCall());
    if (!created.ok()) {
      log::Info("lease create lost", {{"lease", lock_.Describe()},
                                      {"error", created.error().ToString()}});
      return false;
    }
    bool changed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      observed_rv_ = created->resource_version;
      changed = Observe(created->record);
      last_renew_ = clock_.Now();
    }
    NotifyNewLeader(changed, config_.identity);
    return true;
  }

  const LeaderElectionRecord& old = current->record;
  bool live_lease_of_other;
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    changed = Observe(old);
    observed_rv_ = current->resource_version;
    bool held_by_other = !old.holder_identity.empty() && old.holder_identity != config_.identity;
    live_lease_of_other =
        held_by_other && observed_time_ + seconds(old.lease_duration_seconds) > clock_.Now();
  }
  NotifyNewLeader(changed, old.holder_identity);
  if (live_lease_of_other) return false;

  if (old.holder_identity == config_.identity) {
    desired.acquire_time = old.acquire_time;
    desired.lease_transitions = old.lease_transitions;
  } else {
    desired.lease_transitions = old.lease_transitions + 1;
  }

  auto updated = lock_.Update(desired, current->resource_version, NextCall());
  if (!updated.ok()) {
    log::Info("lease update failed", {{"lease", lock_.Describe()},
                                      {"error", updated.error().ToString()}});
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    observed_rv_ = updated->resource_version;
    changed = Observe(updated->record);
    last_renew_ = clock_.Now();
  }
  NotifyNewLeader(changed, config_.identity);
  return true;
}

void LeaderElector::BecomeLeader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (leading_) return;
    leading_ = true;
  }
  log::Info("became leader", {{"lease", lock_.Describe()}, {"identity", config_.identity}});
  if (callbacks_.on_started_leading) callbacks_.on_started_leading();
}

void LeaderElector::LoseLeadership(const char* why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!leading_) return;
    leading_ = false;
  }
  log::Warn("stopped leading", {{"lease", lock_.Describe()}, {"identity", config_.identity},
                                {"reason", why}});
  if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
}

void LeaderElector::EnforceRenewDeadline() {
  bool expired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    expired = leading_ && clock_.Now() - last_renew_ >= config_.renew_deadline;
  }
  if (expired) LoseLeadership("renew deadline exceeded");
}

bool LeaderElector::Step() {
  EnforceRenewDeadline();
  bool ok = TryAcquireOrRenew();
  // A renewal that returns after the deadline must not revive a leader that
  // already stopped its work; it only counts for the next acquisition.
  EnforceRenewDeadline();
  if (ok) {
    std::lock_guard<std::mutex> lock(mu_);
    ok = clock_.Now() - last_renew_ < config_.renew_deadline;
  }
  if (ok) {
    BecomeLeader();
  } else {
    std::string holder = ObservedLeader();
    if (holder != config_.identity) LoseLeadership("lease held by another candidate");
  }
  return IsLeader();
}

LeaseCall LeaderElector::NextCall() const {
  LeaseCall call;
  call.cancel = stop_signal_;
  std::lock_guard<std::mutex> lock(mu_);
  auto now = clock_.Now();
  auto until = leading_ ? last_renew_ + config_.renew_deadline : now + config_.renew_deadline;
  call.timeout = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(until - now));
  return call;
}

milliseconds LeaderElector::NextWait() {
  if (IsLeader()) return config_.retry_period;
  double factor = 1.0 + kJitterFactor * random_->Uniform01();
  return milliseconds(static_cast<int64_t>(static_cast<double>(config_.retry_period.count()) * factor));
}

void LeaderElector::Run() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
  }
  // The watchdog enforces the renew deadline even while the loop is blocked
  // in a slow API call.
  watchdog_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      stop_cv_.wait_for(lock, milliseconds(100));
      lock.unlock();
      EnforceRenewDeadline();
      lock.lock();
    }
  });
  for (;;) {
    Step();
    auto wait = NextWait();
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_cv_.wait_for(lock, wait, [this] { return stopping_ || nudged_; }) && stopping_) break;
    nudged_ = false;
  }
  watchdog_.join();
  if (config_.release_on_stop) Release();
  LoseLeadership("stopped");
}

void LeaderElector::Nudge() {
  std::lock_guard<std::mutex> lock(mu_);
  if (leading_) return;  // the leader renews on its own schedule
  nudged_ = true;
  stop_cv_.notify_all();
}

void LeaderElector::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    stop_cv_.notify_all();
  }
  stop_signal_.Cancel();
}

bool LeaderElector::Release() {
  std::string rv;
  LeaderElectionRecord record;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!observed_any_ || observed_.holder_identity != config_.identity) return false;
    rv = observed_rv_;
    record = observed_;
  }
  // client-go's release: no holder, a 1 s lease, transitions kept.
  auto now = clock_.WallNow();
  record.holder_identity.clear();
  record.lease_duration_seconds = 1;
  record.acquire_time = now;
  record.renew_time = now;
  record.annotations.clear();
  // Stop work first: once the write lands a standby may lead at once.
  LoseLeadership("releasing lease");
  // Not cancelled by Stop() (which leads here), but bounded: a release
  // that cannot be written in renewDeadline is left to expire.
  LeaseCall call;
  call.timeout = config_.renew_deadline;
  auto updated = lock_.Update(record, rv, call);
  if (!updated.ok() && updated.error().IsConflict()) {
    // Stop() abandons a renewal in flight, which the server may still have
    // written: our resourceVersion is then stale though the Lease is ours.
    // Read it again and release it if it still is.
    auto current = lock_.Get(call);
    if (current.ok() && current->record.holder_identity == config_.identity) {
      updated = lock_.Update(record, current->resource_version, call);
    }
  }
  if (!updated.ok()) {
    log::Warn("lease release failed", {{"lease", lock_.Describe()},
                                       {"error", updated.error().ToString()}});
    return false;
  }
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    observed_rv_ = updated->resource_version;
    changed = Observe(updated->record);
  }
  NotifyNewLeader(changed, "");
  log::Info("released lease", {{"lease", lock_.Describe()}, {"identity", config_.identity}});
  return true;
}

}  // namespace srexpert::leaderelection
