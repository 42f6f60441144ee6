#include "stream/cluster_stream.h"

#include "common/log.h"
#include "stream/projection.h"

namespace srexpert::stream {

ClusterStream::ClusterStream(std::shared_ptr<kube::RestClient> client,
                             ClusterStreamOptions options, Clock& clock)
    : client_(std::move(client)), options_(std::move(options)), clock_(clock) {
  std::vector<StreamKind> kinds;
  for (const CollectedKind& k : CollectedKinds()) kinds.push_back({k.kind, k.api_version});
  streamer_ = std::make_unique<Streamer>(options_.streamer, std::move(kinds), clock_);

  for (const CollectedKind& k : CollectedKinds()) {
    ResourceCollectorOptions o;
    o.collection = kube::ObjectRef{k.api_version, k.kind, "", ""};
    std::string kind = k.kind;
    o.project = [kind](const rapidjson::Value& object) { return Project(kind, object); };
    o.excluded_namespaces = options_.excluded_namespaces;
    o.page_size = options_.page_size;
    resources_.push_back(std::make_unique<ResourceCollector>(client_, std::move(o), streamer_.get()));
  }
  if (options_.events) {
    EventCollectorOptions o;
    o.project = [](const rapidjson::Value& object) { return ProjectEvent(object); };
    o.excluded_namespaces = options_.excluded_namespaces;
    o.throttle = options_.event_throttle;
    o.clock = &clock_;
    o.page_size = options_.page_size;
    events_ = std::make_unique<EventCollector>(client_, std::move(o), streamer_.get());
  }
  if (options_.metrics) {
    MetricsCollectorOptions o;
    o.interval = options_.metrics_interval;
    o.excluded_namespaces = options_.excluded_namespaces;
    o.clock = &clock_;
    metrics_ = std::make_unique<MetricsCollector>(client_, std::move(o), streamer_.get());
  } else {
    // The backend learns that metrics are off by configuration, not missing.
    streamer_->Metrics(std::make_shared<const std::string>(
        R"({"available":false,"reason":"metrics collection is disabled in the AgentConfig"})"));
  }
}

ClusterStream::~ClusterStream() { Stop(); }

void ClusterStream::Start() {
  if (started_) return;
  started_ = true;
  streamer_->Start();
  for (auto& c : resources_) c->Start();
  if (events_) events_->Start();
  if (metrics_) metrics_->Start();
  log::Info("cluster stream started",
            {{"kinds", static_cast<int64_t>(resources_.size())},
             {"events", options_.events},
             {"metrics", options_.metrics},
             {"excludedNamespaces", static_cast<int64_t>(options_.excluded_namespaces.size())}});
}

void ClusterStream::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& c : resources_) c->Stop();
  if (events_) events_->Stop();
  if (metrics_) metrics_->Stop();
  streamer_->Stop();
}

ClusterStreamStats ClusterStream::Stats() const {
  ClusterStreamStats s;
  s.streamer = streamer_->Stats();
  for (const auto& c : resources_) s.kinds.emplace_back(c->kind(), c->Stats());
  if (events_) s.events = events_->Stats();
  if (metrics_) s.metrics = metrics_->Stats();
  return s;
}

}  // namespace srexpert::stream
