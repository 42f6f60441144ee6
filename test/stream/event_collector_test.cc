#include "stream/event_collector.h"

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "test/kube/api_fixture.h"
#include "test/stream/strict_sink.h"

using namespace srexpert;
using namespace srexpert::stream;
using namespace srexpert::kube::testing;
using namespace std::chrono_literals;

namespace {

// Keeps the events in the order the sink received them ("uid=json").
class EventSink : public srexpert::stream::testing::StrictSink {
 public:
  void Event(const std::string& uid, JsonText event) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(uid + "=" + *event);
  }

  std::vector<std::string> Events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    events_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> events_;
};

JsonText Text(const std::string& s) { return std::make_shared<const std::string>(s); }

std::mutex log_mu;
std::vector<std::string> log_lines;
void CaptureLog(std::string_view line) {
  std::lock_guard<std::mutex> lock(log_mu);
  log_lines.emplace_back(line);
}

std::optional<std::string> ProjectEvent(const rapidjson::Value& o) {
  std::string out = fmt::format(R"({{"name":"{}","note":"{}")", json::GetString(o, {"metadata", "name"}),
                                json::GetString(o, {"note"}));
  if (const auto* series = json::Find(o, {"series", "count"})) {
    out += fmt::format(R"(,"series":{})", json::Dump(*series));
  }
  return out + "}";
}

rapidjson::Document NewEvent(const std::string& ns, const std::string& name,
                             const std::string& note) {
  return Json(fmt::format(
      R"({{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{{"name":"{}","namespace":"{}"}},)"
      R"("eventTime":"2026-01-02T15:04:05.000000Z","reportingController":"kubelet",)"
      R"("reportingInstance":"node-a","action":"Pulling","reason":"Pulling","type":"Normal",)"
      R"("regarding":{{"kind":"Pod","namespace":"{}","name":"web-0"}},"note":"{}"}})",
      name, ns, ns, note));
}

std::string UidOf(const kube::Result<rapidjson::Document>& created) {
  REQUIRE(created.ok());
  return json::GetString(*created, {"metadata", "uid"});
}

}  // namespace

TEST_CASE("A repeated event of a series replaces its pending entry in place", "[stream][events]") {
  FakeClock clock;
  EventSink sink;
  EventThrottle t(&sink, clock, {1.0, 2, 100, 60s});
  t.Offer("a", Text("a1"));
  t.Offer("b", Text("b1"));
  t.Offer("c", Text("c1"));
  t.Release();  // the burst: a and b
  CHECK(sink.Events() == std::vector<std::string>{"a=a1", "b=b1"});
  t.Offer("c", Text("c2"));  // not sent yet: replaces c1
  t.Offer("a", Text("a2"));  // a1 was sent: a new pending entry, behind c
  t.Offer("c", Text("c3"));
  auto wait = t.Release();
  CHECK(wait > 0ns);
  CHECK(wait <= 1s);
  CHECK(sink.Events().size() == 2);  // the bucket is empty
  clock.Advance(1s);
  t.Release();
  clock.Advance(1s);
  t.Release();
  CHECK(sink.Events() == std::vector<std::string>{"a=a1", "b=b1", "c=c3", "a=a2"});
  auto s = t.Stats();
  CHECK(s.offered == 6);
  CHECK(s.coalesced == 2);
  CHECK(s.sent == 4);
  CHECK(s.pending == 0);
  CHECK(t.Release() == 0ns);  // nothing pending
}

TEST_CASE("The token bucket releases a burst then events_per_second", "[stream][events]") {
  FakeClock clock;
  EventSink sink;
  EventThrottle t(&sink, clock, {10.0, 5, 100, 60s});
  for (int i = 0; i < 30; ++i) t.Offer("e" + std::to_string(i), Text(std::to_string(i)));
  t.Release();
  CHECK(sink.Events().size() == 5);
  clock.Advance(100ms);
  t.Release();
  CHECK(sink.Events().size() == 6);
  clock.Advance(300ms);
  t.Release();
  CHECK(sink.Events().size() == 9);
  clock.Advance(10s);  // a long pause refills only up to the burst
  t.Release();
  CHECK(sink.Events().size() == 14);
  auto events = sink.Events();
  for (size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i] == fmt::format("e{}={}", i, i));  // arrival order
  }
}

TEST_CASE("Beyond max_pending the oldest pending event is dropped, counted and logged",
          "[stream][events]") {
  {
    std::lock_guard<std::mutex> lock(log_mu);
    log_lines.clear();
  }
  log::SetSink(CaptureLog);
  FakeClock clock;
  EventSink sink;
  EventThrottle t(&sink, clock, {1.0, 1, 3, 60s});
  t.Offer("e1", Text("1"));
  t.Release();  // e1 sent; the bucket is empty now
  for (int i = 2; i <= 6; ++i) t.Offer("e" + std::to_string(i), Text(std::to_string(i)));
  t.Offer("e7", Text("7"));
  log::SetSink(nullptr);
  auto s = t.Stats();
  CHECK(s.dropped == 3);  // e2, e3, e4
  CHECK(s.pending == 3);
  for (int i = 0; i < 3; ++i) {
    clock.Advance(1s);
    t.Release();
  }
  CHECK(sink.Events() == std::vector<std::string>{"e1=1", "e5=5", "e6=6", "e7=7"});
  std::lock_guard<std::mutex> lock(log_mu);
  size_t warnings = 0;
  for (const auto& l : log_lines) {
    if (l.find("oldest pending events dropped") != std::string::npos) {
      ++warnings;
      CHECK(l.find(R"("dropped":1)") != std::string::npos);  // the first drop, at once
    }
  }
  CHECK(warnings == 1);  // the later drops wait for the interval
}

TEST_CASE("The event collector sends existing and new events.k8s.io events keyed by uid",
          "[stream][events]") {
  ApiFixture f;
  f.CreateNamespace("app");
  f.CreateNamespace("noisy");
  std::string old_uid = UidOf(f.client().Create(NewEvent("app", "old", "before start")));
  UidOf(f.client().Create(NewEvent("noisy", "hidden", "excluded")));
  EventSink sink;
  EventCollectorOptions o;
  o.project = ProjectEvent;
  o.excluded_namespaces = {"noisy"};
  o.page_size = 1;
  o.throttle.events_per_second = 1000;
  EventCollector c(f.shared_client(), o, &sink);
  c.Start();
  REQUIRE(Eventually([&] { return sink.Events().size() == 1; }));
  CHECK(sink.Events()[0] == old_uid + R"(={"name":"old","note":"before start"})");
  CHECK(c.Stats().api_version == "events.k8s.io/v1");
  REQUIRE(Eventually([&] { return c.Stats().synced; }));

  std::string new_uid = UidOf(f.client().Create(NewEvent("app", "new", "pulling")));
  UidOf(f.client().Create(NewEvent("noisy", "hidden2", "excluded")));
  REQUIRE(Eventually([&] { return sink.Events().size() == 2; }));
  // A recurrence updates the series; through events.k8s.io/v1 nothing else
  // may change (kube-apiserver refuses a new note as immutable).
  REQUIRE(f.client()
              .Patch({"events.k8s.io/v1", "Event", "app", "new"}, kube::PatchType::kMerge,
                     R"({"series":{"count":2,"lastObservedTime":"2026-01-02T15:05:05.000000Z"}})")
              .ok());
  REQUIRE(Eventually([&] { return sink.Events().size() == 3; }));
  CHECK(sink.Events()[1] == new_uid + R"(={"name":"new","note":"pulling"})");
  CHECK(sink.Events()[2] == new_uid + R"(={"name":"new","note":"pulling","series":2})");
  REQUIRE(f.client().Delete({"events.k8s.io/v1", "Event", "app", "old"}).ok());
  REQUIRE(f.client().Create(NewEvent("app", "marker", "after delete")).ok());
  REQUIRE(Eventually([&] { return sink.Events().size() == 4; }));  // the deletion sent nothing
  CHECK(sink.Events()[3].find("marker") != std::string::npos);
  for (const auto& e : sink.Events()) CHECK(e.find("hidden") == std::string::npos);
  c.Stop();
}

TEST_CASE("The event collector's rate follows the injected clock", "[stream][events]") {
  ApiFixture f;
  f.CreateNamespace("burst");
  for (int i = 0; i < 5; ++i) {
    REQUIRE(f.client().Create(NewEvent("burst", "e" + std::to_string(i), "n")).ok());
  }
  FakeClock clock;
  EventSink sink;
  EventCollectorOptions o;
  o.project = ProjectEvent;
  o.clock = &clock;
  o.throttle.events_per_second = 1;
  o.throttle.burst = 2;
  EventCollector c(f.shared_client(), o, &sink);
  c.Start();
  REQUIRE(Eventually([&] { return c.Stats().throttle.offered == 5; }));
  REQUIRE(Eventually([&] { return sink.Events().size() == 2; }));
  CHECK(c.Stats().throttle.pending == 3);
  clock.Advance(1s);
  REQUIRE(Eventually([&] { return sink.Events().size() == 3; }));
  clock.Advance(2s);
  REQUIRE(Eventually([&] { return sink.Events().size() == 5; }));
  CHECK(c.Stats().throttle.dropped == 0);
  c.Stop();
}

TEST_CASE("The event collector stops promptly while its watch is open", "[stream][events]") {
  ApiFixture f;
  EventSink sink;
  EventCollectorOptions o;
  o.project = ProjectEvent;
  o.watch_timeout_seconds = 3600;
  EventCollector c(f.shared_client(), o, &sink);
  c.Start();
  REQUIRE(Eventually([&] { return c.Stats().synced; }));
  c.Stop();
  CHECK(c.Stats().errors == 0);
}
