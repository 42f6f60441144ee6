#include "kube/watch.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "common/json.h"
#include "test/kube/api_fixture.h"

using namespace srexpert;
using namespace srexpert::kube;
using namespace srexpert::kube::testing;
using namespace std::chrono_literals;
using srexpert::testing::ApiServerOptions;
using srexpert::testing::Fault;

namespace {

ObjectRef Cms(const std::string& ns) { return {"v1", "ConfigMap", ns, ""}; }

std::string ListRv(ApiFixture& f, const std::string& ns) {
  auto list = f.client().List(Cms(ns));
  REQUIRE(list.ok());
  return json::GetString(*list, {"metadata", "resourceVersion"});
}

// Runs a Watcher on a thread and records what it saw.
class WatchRecorder {
 public:
  WatchRecorder(std::shared_ptr<RestClient> client, ObjectRef ref, WatcherOptions options)
      : watcher_(std::move(client), std::move(ref), std::move(options)) {
    thread_ = std::thread([this] {
      auto r = watcher_.Run([this](const WatchEvent& e) {
        std::lock_guard<std::mutex> lock(mu_);
        if (e.type == WatchEvent::Type::kBookmark) {
          ++bookmarks_;
          return;
        }
        events_.push_back(std::string(WatchEventTypeName(e.type)) + " " +
                          json::GetString(*e.object, {"metadata", "name"}));
      });
      std::lock_guard<std::mutex> lock(mu_);
      result_ = r.ok() ? Error() : r.error();
      done_ = true;
    });
  }
  ~WatchRecorder() { Stop(); }

  void Stop() {
    watcher_.Stop();
    if (thread_.joinable()) thread_.join();
  }
  std::vector<std::string> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  int bookmarks() {
    std::lock_guard<std::mutex> lock(mu_);
    return bookmarks_;
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  Error result() {
    std::lock_guard<std::mutex> lock(mu_);
    return result_;
  }
  Watcher& watcher() { return watcher_; }

 private:
  Watcher watcher_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> events_;
  int bookmarks_ = 0;
  bool done_ = false;
  Error result_;
};

}  // namespace

TEST_CASE("A watch body is delivered as it streams, not when the response ends",
          "[kube][watch]") {
  ApiFixture f;
  f.CreateNamespace("stream");
  std::string rv = ListRv(f, "stream");
  WatchOptions o;
  o.resource_version = rv;
  o.timeout_seconds = 600;  // the response would end only after ten minutes
  Cancellation cancel;
  auto body = f.client().OpenWatch(Cms("stream"), o, cancel);
  REQUIRE(body.ok());
  WatchStream stream(std::move(*body));
  REQUIRE(f.client().Create(f.ConfigMap("stream", "a")).ok());
  auto event = stream.Next(30s);
  REQUIRE(event.ok());
  REQUIRE(event->has_value());
  CHECK((*event)->type == WatchEvent::Type::kAdded);
  CHECK(json::GetString(*(*event)->object, {"metadata", "name"}) == "a");

  // Cancelling from another thread ends a blocked read promptly.
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    cancel.Cancel();
  });
  auto after = stream.Next(std::chrono::minutes(5));
  stopper.join();
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().reason() == Reason::kCancelled);
}

// Our established connections to `port` (from /proc/net/tcp): whether each
// has the kernel's keepalive timer running (timer_active 2).
std::vector<bool> KeepaliveOfConnectionsTo(uint16_t port) {
  std::vector<bool> out;
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string slot, local, remote, state, queues, timer;
    row >> slot >> local >> remote >> state >> queues >> timer;
    if (state != "01") continue;  // ESTABLISHED
    unsigned remote_port = std::stoul(remote.substr(remote.find(':') + 1), nullptr, 16);
    if (remote_port != port) continue;
    out.push_back(timer.rfind("02:", 0) == 0);
  }
  return out;
}

TEST_CASE("A watch connection is kept alive by TCP keepalive however quiet it is",
          "[kube][watch]") {
  // A quiet kind's watch may carry no byte for minutes on a real API server;
  // the kernel's keepalive probes are what find a dead peer meanwhile.
  ApiFixture f;
  f.CreateNamespace("quiet");
  WatchOptions o;
  o.resource_version = ListRv(f, "quiet");
  o.timeout_seconds = 600;
  Cancellation cancel;
  auto body = f.client().OpenWatch(Cms("quiet"), o, cancel);
  REQUIRE(body.ok());
  auto connections = KeepaliveOfConnectionsTo(f.server().Port());
  REQUIRE_FALSE(connections.empty());
  for (bool keepalive : connections) CHECK(keepalive);
  cancel.Cancel();
}

TEST_CASE("Watcher resumes from the last resourceVersion when the server ends each watch",
          "[kube][watch]") {
  ApiFixture f;
  f.CreateNamespace("resume");
  WatcherOptions o;
  o.watch.resource_version = ListRv(f, "resume");
  o.watch.timeout_seconds = 1;
  WatchRecorder rec(f.shared_client(), Cms("resume"), o);
  std::vector<std::string> expected;
  for (int i = 0; i < 6; ++i) {
    std::string name = "cm-" + std::to_string(i);
    REQUIRE(f.client().Create(f.ConfigMap("resume", name)).ok());
    expected.push_back("ADDED " + name);
    std::this_thread::sleep_for(400ms);  // spread over several watch connections
  }
  REQUIRE(f.client().Delete({"v1", "ConfigMap", "resume", "cm-0"}).ok());
  expected.push_back("DELETED cm-0");
  REQUIRE(Eventually([&] { return rec.events().size() >= expected.size(); }));
  std::this_thread::sleep_for(300ms);
  CHECK(rec.events() == expected);  // nothing lost, nothing repeated
  CHECK(rec.watcher().reconnects() >= 1);
  CHECK_FALSE(rec.done());
}

TEST_CASE("Bookmarks advance the resourceVersion a watch resumes from", "[kube][watch]") {
  ApiServerOptions so;
  so.bookmark_interval = 100ms;
  ApiFixture f(so);
  f.CreateNamespace("bm");
  f.CreateNamespace("bm-other");
  WatcherOptions o;
  o.watch.resource_version = ListRv(f, "bm");
  WatchRecorder rec(f.shared_client(), Cms("bm"), o);
  // Changes elsewhere move the global resourceVersion; only bookmarks tell
  // this watch about it.
  auto other = f.client().Create(f.ConfigMap("bm-other", "x"));
  REQUIRE(other.ok());
  int64_t other_rv = std::stoll(json::GetString(*other, {"metadata", "resourceVersion"}));
  REQUIRE(Eventually([&] {
    std::string rv = rec.watcher().resource_version();
    return rec.bookmarks() > 0 && !rv.empty() && std::stoll(rv) >= other_rv;
  }));
  CHECK(rec.events().empty());
}

TEST_CASE("Watching from a compacted resourceVersion surfaces Gone (relist needed)",
          "[kube][watch]") {
  ApiServerOptions so;
  so.watch_history = 5;
  ApiFixture f(so);
  f.CreateNamespace("gone");
  std::string old_rv = ListRv(f, "gone");
  for (int i = 0; i < 20; ++i) {
    REQUIRE(f.client().Create(f.ConfigMap("gone", "cm-" + std::to_string(i))).ok());
  }
  WatcherOptions o;
  o.watch.resource_version = old_rv;
  Watcher watcher(f.shared_client(), Cms("gone"), o);
  auto r = watcher.Run([](const WatchEvent&) {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().IsGone());
}

TEST_CASE("A 410 ERROR event mid-watch surfaces Gone", "[kube][watch]") {
  ApiFixture f;
  f.CreateNamespace("gone-event");
  f.server().AddFault({Fault::Kind::kGone, "watch", "", 410, 0, 200ms, 1});
  WatcherOptions o;
  o.watch.resource_version = ListRv(f, "gone-event");
  Watcher watcher(f.shared_client(), Cms("gone-event"), o);
  auto r = watcher.Run([](const WatchEvent&) {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().IsGone());
  CHECK(r.error().code() == 410);
}

TEST_CASE("A connection reset mid-watch reconnects without losing events", "[kube][watch]") {
  ApiFixture f;
  f.CreateNamespace("reset");
  WatcherOptions o;
  o.watch.resource_version = ListRv(f, "reset");
  o.backoff = {10ms, 100ms, 2.0, true};
  f.server().AddFault({Fault::Kind::kResetWatch, "watch", "", 0, 0, 300ms, 2});
  WatchRecorder rec(f.shared_client(), Cms("reset"), o);
  std::vector<std::string> expected;
  for (int i = 0; i < 8; ++i) {
    std::string name = "cm-" + std::to_string(i);
    REQUIRE(f.client().Create(f.ConfigMap("reset", name)).ok());
    expected.push_back("ADDED " + name);
    std::this_thread::sleep_for(150ms);
  }
  REQUIRE(Eventually([&] { return rec.events().size() >= expected.size(); }));
  std::this_thread::sleep_for(300ms);
  CHECK(rec.events() == expected);
  CHECK(rec.watcher().reconnects() >= 2);
}

TEST_CASE("An idle watch is replaced after the idle timeout", "[kube][watch]") {
  ApiServerOptions so;
  so.bookmark_interval = std::chrono::hours(1);  // nothing keeps the stream alive
  ApiFixture f(so);
  f.CreateNamespace("idle");
  WatcherOptions o;
  o.watch.resource_version = ListRv(f, "idle");
  o.idle_timeout = 300ms;
  o.backoff = {10ms, 50ms, 2.0, false};
  WatchRecorder rec(f.shared_client(), Cms("idle"), o);
  REQUIRE(Eventually([&] { return rec.watcher().reconnects() >= 2; }));
  REQUIRE(f.client().Create(f.ConfigMap("idle", "late")).ok());
  REQUIRE(Eventually([&] { return rec.events().size() == 1; }));
  CHECK(rec.events()[0] == "ADDED late");
}

TEST_CASE("Watch on a forbidden or unknown resource returns the error", "[kube][watch]") {
  ApiFixture f;
  Watcher watcher(f.shared_client(), {"nope.io/v1", "Thing", "", ""}, {});
  auto r = watcher.Run([](const WatchEvent&) {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().IsNotFound());
}
