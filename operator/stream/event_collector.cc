#include "stream/event_collector.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/json.h"
#include "common/log.h"
#include "kube/watch.h"
#include "stream/paged_list.h"

namespace srexpert::stream {

namespace {

constexpr const char* kEventsApi = "events.k8s.io/v1";
constexpr const char* kCoreApi = "v1";

}  // namespace

// ---------------------------------------------------------------------------
// EventThrottle

EventThrottle::EventThrottle(ChangeSink* sink, Clock& clock, EventThrottleOptions options)
    : sink_(sink), clock_(clock), options_(options) {
  if (options_.burst == 0) options_.burst = 1;
  tokens_ = static_cast<double>(options_.burst);
  last_refill_ = clock_.Now();
}

void EventThrottle::Refill() {
  auto now = clock_.Now();
  if (now <= last_refill_) return;
  double elapsed = std::chrono::duration<double>(now - last_refill_).count();
  last_refill_ = now;
  tokens_ =
      std::min(static_cast<double>(options_.burst), tokens_ + elapsed * options_.events_per_second);
}

void EventThrottle::MaybeLogDrops(bool force) {
  if (dropped_unlogged_ == 0) return;
  auto now = clock_.Now();
  if (!force && drop_logged_ && now - last_drop_log_ < options_.drop_log_interval) return;
  log::Warn("event backlog full; oldest pending events dropped",
            {{"dropped", dropped_unlogged_},
             {"dropped_total", stats_.dropped},
             {"max_pending", options_.max_pending},
             {"events_per_second", options_.events_per_second}});
  dropped_unlogged_ = 0;
  drop_logged_ = true;
  last_drop_log_ = now;
}

void EventThrottle::Offer(const std::string& uid, JsonText event) {
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.offered;
  auto found = by_uid_.find(uid);
  if (found != by_uid_.end()) {
    // A later report of the same series: the latest state, first place in line.
    found->second->event = std::move(event);
    ++stats_.coalesced;
    return;
  }
  if (options_.max_pending > 0 && queue_.size() >= options_.max_pending) {
    by_uid_.erase(queue_.front().uid);
    queue_.pop_front();
    ++stats_.dropped;
    ++dropped_unlogged_;
    MaybeLogDrops(false);
  }
  queue_.push_back(Pending{uid, std::move(event)});
  by_uid_.emplace(uid, std::prev(queue_.end()));
  stats_.pending = queue_.size();
}

std::chrono::nanoseconds EventThrottle::Release() {
  std::lock_guard<std::mutex> order(release_mu_);
  for (;;) {
    Pending next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      MaybeLogDrops(false);
      if (queue_.empty()) return std::chrono::nanoseconds(0);
      bool unlimited = options_.events_per_second <= 0;
      if (!unlimited) {
        Refill();
        if (tokens_ < 1.0) {
          double seconds = (1.0 - tokens_) / options_.events_per_second;
          auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::duration<double>(seconds));
          return std::max(wait, std::chrono::nanoseconds(1));
        }
        tokens_ -= 1.0;
      }
      next = std::move(queue_.front());
      by_uid_.erase(next.uid);
      queue_.pop_front();
      ++stats_.sent;
      stats_.pending = queue_.size();
    }
    // Outside mu_: the sink may take its own locks; release_mu_ keeps order.
    sink_->Event(next.uid, std::move(next.event));
  }
}

EventThrottleStats EventThrottle::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

// ---------------------------------------------------------------------------
// EventCollector

EventCollector::EventCollector(std::shared_ptr<kube::RestClient> client,
                               EventCollectorOptions options, ChangeSink* sink)
    : client_(std::move(client)),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : SystemClock()),
      throttle_(sink, clock_, options_.throttle) {
  excluded_.insert(options_.excluded_namespaces.begin(), options_.excluded_namespaces.end());
  if (options_.page_size <= 0) options_.page_size = 250;
}

EventCollector::~EventCollector() { Stop(); }

void EventCollector::Start() {
  if (started_) return;
  started_ = true;
  send_thread_ = std::thread([this] { SendLoop(); });
  watch_thread_ = std::thread([this] { WatchLoop(); });
}

void EventCollector::Stop() {
  stop_.Cancel();
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_all();
  if (watch_thread_.joinable()) watch_thread_.join();
  if (send_thread_.joinable()) send_thread_.join();
}

EventCollectorStats EventCollector::Stats() const {
  EventCollectorStats s;
  s.throttle = throttle_.Stats();
  s.relists = relists_.load();
  s.errors = errors_.load();
  s.synced = synced_.load();
  std::lock_guard<std::mutex> lock(api_mu_);
  s.api_version = api_version_;
  return s;
}

void EventCollector::SendLoop() {
  while (!stop_.cancelled()) {
    auto wait = throttle_.Release();
    // Nothing pending: sleep until an Offer wakes us. Otherwise until the
    // bucket has a token. Capped so that a clock that is not the real one
    // (tests) is still consulted regularly.
    std::chrono::nanoseconds cap = std::chrono::seconds(1);
    auto sleep = wait.count() == 0 ? cap : std::min(wait, cap);
    std::unique_lock<std::mutex> lock(wake_mu_);
    wake_cv_.wait_for(lock, sleep, [&] { return wake_; });
    wake_ = false;
  }
}

void EventCollector::Offer(const rapidjson::Value& object) {
  if (!excluded_.empty() && excluded_.count(json::GetString(object, {"metadata", "namespace"}))) {
    return;
  }
  std::string uid = json::GetString(object, {"metadata", "uid"});
  if (uid.empty()) return;
  auto projected = options_.project(object);
  if (!projected) return;
  throttle_.Offer(uid, std::make_shared<const std::string>(std::move(*projected)));
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_one();
}

kube::Result<std::string> EventCollector::ListAll(const kube::ObjectRef& ref) {
  // Page by page, offering as we go: never a whole list in memory. A 410 on
  // a continue token just fails this pass; the caller lists again (events
  // already offered are upserted again, harmlessly).
  return ListPaged(*client_, ref, options_.page_size, stop_,
                   [this](rapidjson::Value& item) { Offer(item); });
}

bool EventCollector::WaitAfterError(const kube::Error& error, const char* during,
                                    BackoffSchedule& backoff) {
  errors_.fetch_add(1);
  auto r = error.reason();
  bool fatal = r == kube::Reason::kForbidden || r == kube::Reason::kNotFound;
  auto delay = fatal ? options_.unavailable_retry : backoff.Next();
  log::Warn(fatal ? "event collection unavailable; retrying later"
                  : "event collection request failed; retrying",
            {{"during", during},
             {"error", error.ToString()},
             {"retryable", error.retryable()},
             {"delay_ms", static_cast<int64_t>(delay.count())}});
  return stop_.WaitFor(delay);
}

void EventCollector::WatchLoop() {
  BackoffSchedule backoff(options_.backoff, random_);
  kube::ObjectRef ref;  // empty until discovery chose the API
  bool listed_once = false;
  while (!stop_.cancelled()) {
    if (ref.api_version.empty()) {
      auto info = client_->Resolve(kEventsApi, "Event");
      if (info) {
        ref = {kEventsApi, "Event", "", ""};
      } else if (info.error().IsNotFound()) {
        ref = {kCoreApi, "Event", "", ""};  // clusters before 1.19
      } else {
        if (WaitAfterError(info.error(), "discovery", backoff)) break;
        continue;
      }
      std::lock_guard<std::mutex> lock(api_mu_);
      if (api_version_ != ref.api_version) {
        log::Info("event collector using API", {{"apiVersion", ref.api_version}});
      }
      api_version_ = ref.api_version;
    }
    auto listed = ListAll(ref);
    if (stop_.cancelled()) break;
    if (!listed) {
      // NotFound: the API may have gone; choose again after the delay.
      if (listed.error().IsNotFound()) ref = {};
      if (WaitAfterError(listed.error(), "list", backoff)) break;
      continue;
    }
    if (listed_once) relists_.fetch_add(1);
    listed_once = true;
    synced_.store(true);

    kube::WatcherOptions wo;
    wo.watch.resource_version = *listed;
    wo.watch.allow_bookmarks = true;
    wo.watch.timeout_seconds = options_.watch_timeout_seconds;
    wo.idle_timeout = options_.idle_timeout;
    wo.backoff = options_.backoff;
    wo.skip_server_bookkeeping = true;  // never projected; ~45 % of a pod's bytes
    kube::Watcher watcher(client_, ref, wo, stop_);
    bool progressed = false;
    auto watched = watcher.Run([this, &progressed](const kube::WatchEvent& e) {
      progressed = true;
      if (e.type == kube::WatchEvent::Type::kAdded || e.type == kube::WatchEvent::Type::kModified) {
        Offer(*e.object);
      }
    });
    if (stop_.cancelled()) break;
    if (progressed) backoff.Reset();
    if (watched.ok()) continue;
    if (watched.error().IsGone()) {
      log::Info("event watch expired; relisting",
                {{"resourceVersion", watcher.resource_version()}});
      continue;
    }
    if (watched.error().IsNotFound()) ref = {};
    if (WaitAfterError(watched.error(), "watch", backoff)) break;
  }
}

}  // namespace srexpert::stream
