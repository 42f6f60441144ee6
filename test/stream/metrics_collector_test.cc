#include "stream/metrics_collector.h"

#include <catch2/catch.hpp>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/time_format.h"
#include "test/kube/api_fixture.h"
#include "test/stream/strict_sink.h"

using namespace srexpert;
using namespace srexpert::stream;
using namespace srexpert::kube::testing;
using namespace std::chrono_literals;
using srexpert::testing::ApiServerOptions;
using srexpert::testing::Fault;
using srexpert::testing::NodeMetricsSample;
using srexpert::testing::PodMetricsSample;

namespace {

class MetricsSink : public srexpert::stream::testing::StrictSink {
 public:
  void Metrics(JsonText metrics) override {
    std::lock_guard<std::mutex> lock(mu_);
    samples_.push_back(*metrics);
  }
  std::vector<std::string> Samples() {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> samples_;
};

constexpr const char* kNotServed =
    R"({"available":false,"reason":"metrics.k8s.io is not served by this cluster"})";

}  // namespace

TEST_CASE("Kubernetes quantities scale and round up like Quantity.ScaledValue",
          "[stream][metrics]") {
  struct Case {
    const char* text;
    int scale;
    int64_t want;
  };
  const Case cases[] = {
      {"250m", 3, 250},
      {"1", 3, 1000},
      {"12345n", 3, 1},
      {"12345n", 9, 12345},
      {"1024Ki", 0, 1048576},
      {"1Gi", 0, 1073741824},
      {"1e3", 0, 1000},
      {"1E3", 3, 1000000},
      {"1.5", 3, 1500},
      {"0.1", 3, 100},
      {".5", 3, 500},
      {"5.", 0, 5},
      {"100u", 3, 1},
      {"1500u", 3, 2},
      {"5M", 0, 5000000},
      {"1.5Gi", 0, 1610612736},
      {"1k", 0, 1000},
      {"2E", 0, 2000000000000000000},
      {"0", 3, 0},
      {"0m", 3, 0},
      {"-2", 3, -2000},
      {"+3m", 3, 3},
      {"1e-3", 3, 1},
      {"25e-1", 0, 3},
      {"1Ei", 0, 1152921504606846976},
      {"100000000000000000001", 0, std::numeric_limits<int64_t>::max()},  // saturates
      {"1.0000000000000000000001", 0, 2},  // digits past 18 still round up
      {"3.9", 0, 4},
      {"1Mi", 0, 1048576},
      {"1999999999n", 3, 2000},
  };
  for (const auto& c : cases) {
    INFO(c.text << " scale " << c.scale);
    auto got = ParseQuantityScaled(c.text, c.scale);
    REQUIRE(got.has_value());
    CHECK(*got == c.want);
  }
  for (const char* bad :
       {"", "m", "abc", "1Zi", "1e", "1ee3", "1.2.3", "1 m", "--1", "1Kii", "Ki"}) {
    INFO(bad);
    CHECK_FALSE(ParseQuantityScaled(bad, 3).has_value());
  }
}

TEST_CASE("Without metrics.k8s.io the collector reports unavailable once", "[stream][metrics]") {
  ApiFixture f;  // the test server, like a cluster without metrics-server
  MetricsSink sink;
  MetricsCollector c(f.shared_client(), {}, &sink);
  c.PollOnce();
  c.PollOnce();
  REQUIRE(sink.Samples() == std::vector<std::string>{kNotServed});
  CHECK(c.Stats().polls == 2);
  CHECK(c.Stats().failures == 0);  // not served is a state, not a failure
  CHECK_FALSE(c.Stats().available);
}

TEST_CASE("With metrics.k8s.io the collector reports node and pod usage", "[stream][metrics]") {
  ApiServerOptions so;
  so.metrics_api = true;
  ApiFixture f(so);
  f.server().SetMetrics(
      {{"node-a", "1500m", "4Gi"}, {"node-b", "136351817n", "1523968Ki"}},
      {{"default", "web-0", {{"app", "250m", "100Mi"}, {"sidecar", "12345n", "1024Ki"}}},
       {"kube-system", "dns", {{"coredns", "3m", "20Mi"}}},
       {"batch", "job-1", {}}});
  FakeClock clock;
  MetricsSink sink;
  MetricsCollectorOptions o;
  o.clock = &clock;
  o.excluded_namespaces = {"kube-system"};
  MetricsCollector c(f.shared_client(), o, &sink);
  c.PollOnce();
  REQUIRE(sink.Samples().size() == 1);
  std::string want = std::string(R"({"available":true,"collectedAt":")") +
                     FormatRfc3339(clock.WallNow()) +
                     R"(","nodes":[{"name":"node-a","cpuMilli":1500,"memoryBytes":4294967296},)"
                     R"({"name":"node-b","cpuMilli":137,"memoryBytes":1560543232}],)"
                     R"("pods":[{"namespace":"default","name":"web-0","cpuMilli":251,)"
                     R"("memoryBytes":105906176},)"
                     R"({"namespace":"batch","name":"job-1","cpuMilli":0,"memoryBytes":0}]})";
  CHECK(sink.Samples()[0] == want);
  CHECK(c.Stats().available);

  // Every poll sends a fresh sample.
  clock.Advance(60s);
  c.PollOnce();
  REQUIRE(sink.Samples().size() == 2);
  CHECK(json::GetString(*json::Parse(sink.Samples()[1]), {"collectedAt"}) ==
        FormatRfc3339(clock.WallNow()));
}

TEST_CASE("A failed metrics poll is reported with its reason and retried next interval",
          "[stream][metrics]") {
  ApiServerOptions so;
  so.metrics_api = true;
  kube::ClientOptions co;
  co.retry.max_attempts = 1;  // one request per poll: the fault is seen at once
  ApiFixture f(so, co);
  f.server().SetMetrics({{"node-a", "1", "1Gi"}}, {});
  MetricsSink sink;
  MetricsCollector c(f.shared_client(), {}, &sink);
  c.PollOnce();
  REQUIRE(sink.Samples().size() == 1);
  // The aggregator answers 503 while metrics-server is down (every retry).
  f.server().AddFault(
      {Fault::Kind::kStatus, "list", "/apis/metrics.k8s.io/v1beta1/pods", 503, 0, 0ms, -1});
  c.PollOnce();
  c.PollOnce();
  REQUIRE(sink.Samples().size() == 2);  // the same failure is reported once
  auto failed = json::Parse(sink.Samples()[1]);
  REQUIRE(failed);
  CHECK_FALSE(json::GetBool(*failed, {"available"}, true));
  CHECK(json::GetString(*failed, {"reason"}).find("ServiceUnavailable") != std::string::npos);
  CHECK(c.Stats().failures == 2);
  f.server().ClearFaults();
  c.PollOnce();
  REQUIRE(sink.Samples().size() == 3);
  CHECK(json::GetBool(*json::Parse(sink.Samples()[2]), {"available"}));
}

TEST_CASE("Metrics follow metrics-server being installed and removed", "[stream][metrics]") {
  ApiFixture f;
  f.server().SetMetrics({{"node-a", "2", "1Gi"}}, {});
  MetricsSink sink;
  MetricsCollectorOptions o;
  o.interval = 10ms;
  MetricsCollector c(f.shared_client(), o, &sink);
  c.PollOnce();
  f.server().SetMetricsApiServed(true);  // installed
  c.PollOnce();
  f.server().SetMetricsApiServed(false);  // removed (discovery may still be cached)
  c.PollOnce();
  auto samples = sink.Samples();
  REQUIRE(samples.size() == 3);
  CHECK(samples[0] == kNotServed);
  CHECK(
      samples[1].find(R"("nodes":[{"name":"node-a","cpuMilli":2000,"memoryBytes":1073741824}])") !=
      std::string::npos);
  CHECK(samples[2] == kNotServed);
}

TEST_CASE("The metrics collector polls on its own and stops promptly", "[stream][metrics]") {
  ApiServerOptions so;
  so.metrics_api = true;
  ApiFixture f(so);
  MetricsSink sink;
  MetricsCollectorOptions o;
  o.interval = 1h;
  MetricsCollector c(f.shared_client(), o, &sink);
  c.Start();
  REQUIRE(Eventually([&] { return sink.Samples().size() == 1; }));  // polls at once
  c.Stop();  // would wait out the hour if the wait were not cancellable
  CHECK(c.Stats().polls == 1);
}
