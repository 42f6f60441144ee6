#include "agent/scan_runner.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <map>

#include "common/log.h"

namespace srexpert::agent {
namespace {

protocol::Response Failure(std::string code, std::string message) {
  protocol::Response resp;
  resp.ok = false;
  resp.error = {std::move(code), std::move(message)};
  return resp;
}

// Below the message limit: room for the envelope around the payload.
constexpr size_t kEnvelope = 1024;

// The srexpert_scan_* metrics: the last full scan's results. Registering
// the same names again (a later leadership) yields the same series.
struct ScanMetrics {
  prometheus::Counter* scans = nullptr;
  prometheus::Gauge* duration = nullptr;
  prometheus::Gauge* score = nullptr;
  prometheus::Gauge* objects = nullptr;
  std::map<std::pair<scan::Severity, scan::Category>, prometheus::Gauge*> findings;

  void Init(prometheus::Registry& r) {
    scans = &prometheus::BuildCounter()
                 .Name("srexpert_scans_total")
                 .Help("Full scans of the leader's cache completed")
                 .Register(r)
                 .Add({});
    duration = &prometheus::BuildGauge()
                    .Name("srexpert_scan_duration_seconds")
                    .Help("How long the last full scan took")
                    .Register(r)
                    .Add({});
    score = &prometheus::BuildGauge()
                 .Name("srexpert_scan_score")
                 .Help("The last full scan's score (0..100, Polaris' formula)")
                 .Register(r)
                 .Add({});
    objects = &prometheus::BuildGauge()
                   .Name("srexpert_scan_objects")
                   .Help("Objects the last full scan covered")
                   .Register(r)
                   .Add({});
    auto& family = prometheus::BuildGauge()
                       .Name("srexpert_scan_findings")
                       .Help("Failed results of the last full scan, by severity and category")
                       .Register(r);
    for (auto severity : {scan::Severity::kWarning, scan::Severity::kDanger}) {
      for (auto category :
           {scan::Category::kSecurity, scan::Category::kReliability, scan::Category::kEfficiency,
            scan::Category::kNetwork, scan::Category::kRbac}) {
        findings[{severity, category}] =
            &family.Add({{"severity", std::string(scan::SeverityName(severity))},
                         {"category", std::string(scan::CategoryName(category))}});
      }
    }
  }

  void Record(const ScanOutcome& out) {
    if (!scans) return;
    scans->Increment();
    duration->Set(std::chrono::duration<double>(out.duration).count());
    score->Set(out.counts.Score());
    objects->Set(static_cast<double>(out.objects));
    for (auto& [key, gauge] : findings) {
      auto it = out.by_category.find(key.second);
      const scan::Counts c = it == out.by_category.end() ? scan::Counts{} : it->second;
      gauge->Set(
          static_cast<double>(key.first == scan::Severity::kDanger ? c.dangers : c.warnings));
    }
  }
};

struct Queued {
  ScanScope scope;
  Reply reply;  // sets the request's id
};

}  // namespace

struct ScanRunner::State {
  State(std::weak_ptr<stream::ClusterStream> st, ScanRunnerOptions o, Clock& c)
      : stream(std::move(st)), options(std::move(o)), clock(c) {}
  const std::weak_ptr<stream::ClusterStream> stream;
  const ScanRunnerOptions options;
  Clock& clock;
  std::function<void(const ScanOutcome&)> observer;  // set before Start()
  ScanMetrics metrics;                               // set in the constructor
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Queued> queue;
  bool stop = false;
  ScanRunnerStats stats;
};

ScanRunner::ScanRunner(std::weak_ptr<stream::ClusterStream> stream, ScanRunnerOptions options,
                       Clock& clock)
    : state_(std::make_shared<State>(std::move(stream), std::move(options), clock)) {
  if (state_->options.registry) state_->metrics.Init(*state_->options.registry);
}

ScanRunner::~ScanRunner() { Stop(); }

void ScanRunner::OnScan(std::function<void(const ScanOutcome&)> observer) {
  state_->observer = std::move(observer);
}

void ScanRunner::Start() {
  std::lock_guard lock(state_->mu);
  if (thread_.joinable() || state_->stop) return;
  thread_ = std::thread([s = state_] { Loop(s); });
}

void ScanRunner::Stop() {
  std::deque<Queued> left;
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
    left.swap(state_->queue);
  }
  state_->cv.notify_all();
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // see State
    } else {
      thread_.join();
    }
  }
  for (auto& q : left)
    q.reply(Failure("internal", "the agent stopped leading before the scan ran"));
}

void ScanRunner::Handle(const protocol::Request& request, Reply reply) {
  auto with_id = [id = request.id, reply](protocol::Response r) {
    r.id = id;
    reply(std::move(r));
  };
  if (!state_->options.enabled) {
    return with_id(
        Failure("forbidden", "scans are disabled in the AgentConfig (spec.scans.enabled)"));
  }
  ScanScope scope;
  if (std::string e = ParseScanScope(request.payload, &scope); !e.empty()) {
    return with_id(Failure("invalid", e));
  }
  {
    std::lock_guard lock(state_->mu);
    if (state_->stop) return with_id(Failure("internal", "the agent is not leading"));
    if (state_->queue.size() >= state_->options.max_queued_requests) {
      return with_id(
          Failure("busy", fmt::format("{} scans are already queued", state_->queue.size())));
    }
    state_->queue.push_back({std::move(scope), std::move(with_id)});
  }
  state_->cv.notify_all();
}

ScanRunnerStats ScanRunner::Stats() const {
  std::lock_guard lock(state_->mu);
  return state_->stats;
}

bool ScanRunner::ScanNow(State& s, const ScanScope& scope, ScanOutcome* out) {
  auto cs = s.stream.lock();
  if (!cs) return false;
  stream::Streamer& streamer = cs->streamer();
  if (!streamer.CacheReady()) return false;
  const size_t limit = streamer.MessageLimit();
  *out = RunCacheScan([&](const auto& visit) { streamer.ForEachObject(visit); }, scope,
                      s.options.config, limit > 2 * kEnvelope ? limit - kEnvelope : limit / 2,
                      s.clock);
  if (!out->error.empty()) return true;
  {
    std::lock_guard lock(s.mu);
    ++s.stats.scans;
    if (scope.Full()) {
      s.stats.has_last = true;
      s.stats.last = out->counts;
      s.stats.last_at = s.clock.WallNow();
      s.stats.last_duration = out->duration;
      ++s.stats.reports_published;
    }
  }
  if (scope.Full()) {
    streamer.ScanReport(std::make_shared<const std::string>(out->json));
    s.metrics.Record(*out);
    if (s.observer) s.observer(*out);
  }
  log::Info("scan finished", {{"objects", static_cast<int64_t>(out->objects)},
                              {"score", out->counts.Score()},
                              {"dangers", static_cast<int64_t>(out->counts.dangers)},
                              {"warnings", static_cast<int64_t>(out->counts.warnings)},
                              {"omitted", static_cast<int64_t>(out->omitted)},
                              {"durationMs", static_cast<int64_t>(out->duration.count())},
                              {"full", scope.Full()}});
  return true;
}

void ScanRunner::Loop(std::shared_ptr<State> sp) {
  using Steady = std::chrono::steady_clock;
  State& s = *sp;
  // The first periodic scan runs as soon as the cache is complete.
  auto next_due = Steady::now();
  bool periodic = s.options.enabled;
  std::unique_lock lock(s.mu);
  while (!s.stop) {
    if (!s.queue.empty()) {
      Queued q = std::move(s.queue.front());
      s.queue.pop_front();
      lock.unlock();
      ScanOutcome outcome;
      protocol::Response resp;
      if (!ScanNow(s, q.scope, &outcome)) {
        // Not the request's fault: the backend may ask again.
        resp = Failure("busy",
                       "the agent's cache is not complete yet (syncing, or leadership ending)");
      } else if (!outcome.error.empty()) {
        resp = Failure("invalid", "checks: " + outcome.error);
      } else {
        resp.ok = true;
        resp.payload = std::move(outcome.json);
        if (q.scope.Full()) next_due = Steady::now() + s.options.interval;
      }
      lock.lock();
      ++s.stats.requests;  // counted before the answer is seen
      lock.unlock();
      q.reply(std::move(resp));
      lock.lock();
      continue;
    }
    if (periodic && s.stream.expired()) periodic = false;  // the leadership ended
    if (periodic && Steady::now() >= next_due) {
      lock.unlock();
      ScanOutcome outcome;
      const bool done = ScanNow(s, {}, &outcome);
      if (done && !outcome.error.empty()) {
        // Only a configuration the operator validated reaches here.
        log::Error("scan configuration rejected by the engine", {{"error", outcome.error}});
      }
      next_due = Steady::now() + (done ? s.options.interval : s.options.cache_poll);
      lock.lock();
      continue;
    }
    if (periodic) {
      s.cv.wait_until(lock, next_due, [&] { return s.stop || !s.queue.empty(); });
    } else {
      s.cv.wait(lock, [&] { return s.stop || !s.queue.empty(); });
    }
  }
}

}  // namespace srexpert::agent
