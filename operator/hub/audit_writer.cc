#include "hub/audit_writer.h"

#include <stdexcept>

#include "common/log.h"
#include "hub/state_store.h"

namespace srexpert::hub {

AuditWriter::AuditWriter(StateStore* store, size_t capacity) : store_(store), capacity_(capacity) {
  if (!store_) throw std::invalid_argument("AuditWriter needs a state store");
  if (capacity_ == 0) throw std::invalid_argument("AuditWriter needs a capacity of at least 1");
  thread_ = std::thread([this] { Run(); });
}

AuditWriter::~AuditWriter() { Close(); }

bool AuditWriter::Append(std::string cluster, std::string record, WhenFull when_full) {
  std::unique_lock lock(mu_);
  if (when_full == WhenFull::kWait) {
    room_.wait(lock, [&] { return closing_ || queue_.size() < capacity_; });
  } else if (!closing_ && queue_.size() >= capacity_) {
    ++dropped_;
    if (unreported_drops_++ == 0) {
      // Once per run of drops: the count follows when the writer has room.
      log::Error("audit queue full: dropping audit records until the state store catches up",
                 {{"cluster", cluster}, {"queueCapacity", capacity_}});
    }
    return false;
  }
  if (closing_) {
    lock.unlock();
    Store(cluster, record);
    return true;
  }
  queue_.emplace_back(std::move(cluster), std::move(record));
  lock.unlock();
  work_.notify_one();
  return true;
}

void AuditWriter::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  work_.notify_all();
  room_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t AuditWriter::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void AuditWriter::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) return;  // closing, and everything queued is stored
    auto [cluster, record] = std::move(queue_.front());
    queue_.pop_front();
    // A drop needs a full queue, so a record is always taken after it: the
    // count is reported here, when there is room again.
    const uint64_t drops = std::exchange(unreported_drops_, 0);
    lock.unlock();
    room_.notify_one();
    if (drops > 0) {
      log::Error("audit records dropped: the audit queue was full",
                 {{"dropped", drops}, {"queueCapacity", capacity_}});
    }
    Store(cluster, record);
    lock.lock();
  }
}

void AuditWriter::Store(const std::string& cluster, const std::string& record) {
  std::string error;
  if (!store_->AppendAudit(cluster, record, &error)) {
    log::Error("audit record not stored", {{"cluster", cluster}, {"error", error}});
  }
}

}  // namespace srexpert::hub
