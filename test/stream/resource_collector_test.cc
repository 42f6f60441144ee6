#include "stream/resource_collector.h"

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/json.h"
#include "test/kube/api_fixture.h"
#include "test/stream/strict_sink.h"

using namespace srexpert;
using namespace srexpert::stream;
using namespace srexpert::kube::testing;
using namespace std::chrono_literals;
using srexpert::testing::ApiServerOptions;
using srexpert::testing::Fault;

namespace {

// Records every sink call as a journal line and keeps the resulting state,
// i.e. what the Streamer would know.
class RecordingSink : public srexpert::stream::testing::StrictSink {
 public:
  void Upsert(const std::string& kind, const std::string& ns, const std::string& name,
              JsonText object) override {
    std::lock_guard<std::mutex> lock(mu_);
    state_[kind][ns + "/" + name] = *object;
    journal_.push_back("upsert " + ns + "/" + name);
  }
  void Remove(const std::string& kind, const std::string& ns, const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    state_[kind].erase(ns + "/" + name);
    journal_.push_back("remove " + ns + "/" + name);
  }
  void Synced(const std::string& kind) override { Add("synced " + kind); }
  void Unavailable(const std::string& kind, const std::string& reason) override {
    Add("unavailable " + kind + ": " + reason);
  }

  std::vector<std::string> Journal() {
    std::lock_guard<std::mutex> lock(mu_);
    return journal_;
  }
  bool Has(const std::string& line) {
    auto j = Journal();
    return std::find(j.begin(), j.end(), line) != j.end();
  }
  bool HasPrefix(const std::string& prefix) {
    for (const auto& l : Journal()) {
      if (l.rfind(prefix, 0) == 0) return true;
    }
    return false;
  }
  size_t Count(const std::string& line) {
    auto j = Journal();
    return static_cast<size_t>(std::count(j.begin(), j.end(), line));
  }
  void ClearJournal() {
    std::lock_guard<std::mutex> lock(mu_);
    journal_.clear();
  }
  std::map<std::string, std::string> State(const std::string& kind) {
    std::lock_guard<std::mutex> lock(mu_);
    return state_[kind];
  }

 private:
  void Add(std::string line) {
    std::lock_guard<std::mutex> lock(mu_);
    journal_.push_back(std::move(line));
  }
  std::mutex mu_;
  std::vector<std::string> journal_;
  std::map<std::string, std::map<std::string, std::string>> state_;
};

// A stand-in for the real projection: name and data.v only.
std::optional<std::string> ProjectConfigMap(const rapidjson::Value& o) {
  return fmt::format(R"({{"name":"{}","v":"{}"}})", json::GetString(o, {"metadata", "name"}),
                     json::GetString(o, {"data", "v"}));
}

std::optional<std::string> ProjectName(const rapidjson::Value& o) {
  return fmt::format(R"({{"name":"{}"}})", json::GetString(o, {"metadata", "name"}));
}

// The API's ConfigMaps (outside `excluded`) as the projector renders them.
std::map<std::string, std::string> ApiState(ApiFixture& f,
                                            const std::vector<std::string>& excluded = {}) {
  auto list = f.client().ListAll({"v1", "ConfigMap", "", ""});
  REQUIRE(list.ok());
  std::map<std::string, std::string> out;
  for (const auto& item : (*list)["items"].GetArray()) {
    std::string ns = json::GetString(item, {"metadata", "namespace"});
    if (std::find(excluded.begin(), excluded.end(), ns) != excluded.end()) continue;
    out[ns + "/" + json::GetString(item, {"metadata", "name"})] = *ProjectConfigMap(item);
  }
  return out;
}

ResourceCollectorOptions ConfigMaps() {
  ResourceCollectorOptions o;
  o.collection = {"v1", "ConfigMap", "", ""};
  o.project = ProjectConfigMap;
  o.backoff = {10ms, 100ms, 2.0, false};
  o.unavailable_retry = 50ms;
  return o;
}

}  // namespace

TEST_CASE("The initial list is read page by page and every object reaches the sink before Synced",
          "[stream][collector]") {
  ApiFixture f;
  f.CreateNamespace("a");
  f.CreateNamespace("b");
  for (int i = 0; i < 7; ++i) {
    REQUIRE(f.client()
                .Create(f.ConfigMap(i % 2 ? "a" : "b", "cm-" + std::to_string(i), R"({"v":"x"})"))
                .ok());
  }
  RecordingSink sink;
  auto o = ConfigMaps();
  o.page_size = 2;
  f.server().ResetRequestCounts();
  ResourceCollector c(f.shared_client(), o, &sink);
  c.Start();
  REQUIRE(Eventually([&] { return sink.Has("synced ConfigMap"); }));
  auto journal = sink.Journal();
  REQUIRE(journal.size() == 8);
  CHECK(journal.back() == "synced ConfigMap");  // after every object
  CHECK(sink.State("ConfigMap") == ApiState(f));
  CHECK(f.server().RequestCount("list") >= 4);  // 7 objects in pages of 2
  auto stats = c.Stats();
  CHECK(stats.synced);
  CHECK(stats.objects == 7);
  CHECK(stats.relists == 0);
  c.Stop();
}

TEST_CASE("Watched adds, updates and deletes reach the sink in order", "[stream][collector]") {
  ApiFixture f;
  f.CreateNamespace("w");
  REQUIRE(f.client().Create(f.ConfigMap("w", "pre", R"({"v":"0"})")).ok());
  RecordingSink sink;
  ResourceCollector c(f.shared_client(), ConfigMaps(), &sink);
  c.Start();
  REQUIRE(Eventually([&] { return sink.Has("synced ConfigMap"); }));
  sink.ClearJournal();

  REQUIRE(f.client().Create(f.ConfigMap("w", "a", R"({"v":"1"})")).ok());
  REQUIRE(
      f.client()
          .Patch({"v1", "ConfigMap", "w", "pre"}, kube::PatchType::kMerge, R"({"data":{"v":"2"}})")
          .ok());
  REQUIRE(f.client().Delete({"v1", "ConfigMap", "w", "a"}).ok());
  REQUIRE(Eventually([&] { return sink.Journal().size() >= 3; }));
  CHECK(sink.Journal() == std::vector<std::string>{"upsert w/a", "upsert w/pre", "remove w/a"});
  CHECK(sink.State("ConfigMap") == ApiState(f));
  CHECK(sink.State("ConfigMap").at("w/pre") == R"({"name":"pre","v":"2"})");
  CHECK(c.Stats().objects == 1);
}

TEST_CASE("After a forced 410 the relist reports exactly what changed during the gap",
          "[stream][collector]") {
  ApiServerOptions so;
  so.watch_history = 3;  // the resume point expires during the outage below
  ApiFixture f(so);
  f.CreateNamespace("gap");
  f.CreateNamespace("churn");
  for (const char* n : {"keep", "change", "vanish"}) {
    REQUIRE(f.client().Create(f.ConfigMap("gap", n, R"({"v":"1"})")).ok());
  }
  RecordingSink sink;
  ResourceCollector c(f.shared_client(), ConfigMaps(), &sink);
  // Every watch fails while the changes happen, so only a relist can see them.
  f.server().AddFault({Fault::Kind::kStatus, "watch", "", 500, 0, 0ms, -1});
  c.Start();
  REQUIRE(Eventually([&] { return sink.Has("synced ConfigMap"); }));
  sink.ClearJournal();

  REQUIRE(f.client().Delete({"v1", "ConfigMap", "gap", "vanish"}).ok());
  REQUIRE(f.client()
              .Patch({"v1", "ConfigMap", "gap", "change"}, kube::PatchType::kMerge,
                     R"({"data":{"v":"2"}})")
              .ok());
  REQUIRE(f.client().Create(f.ConfigMap("gap", "new", R"({"v":"1"})")).ok());
  for (int i = 0; i < 10; ++i) {
    REQUIRE(f.client().Create(f.ConfigMap("churn", "c-" + std::to_string(i))).ok());
  }
  REQUIRE(f.client().Delete({"v1", "ConfigMap", "churn", "c-0"}).ok());
  f.server().ClearFaults();

  REQUIRE(Eventually([&] { return c.Stats().relists >= 1; }));
  CHECK(sink.State("ConfigMap") == ApiState(f));
  CHECK(sink.Has("remove gap/vanish"));
  CHECK(sink.Has("upsert gap/change"));
  CHECK(sink.Has("upsert gap/new"));
  CHECK_FALSE(sink.Has("upsert gap/keep"));    // unchanged: no report
  CHECK_FALSE(sink.Has("upsert churn/c-0"));   // created and deleted within the gap
  CHECK(sink.Count("synced ConfigMap") == 0);  // Synced is reported once
  CHECK(c.Stats().objects == ApiState(f).size());
}

TEST_CASE("An expired continue token restarts the paged list and the result is still exact",
          "[stream][collector]") {
  ApiServerOptions so;
  so.watch_history = 3;  // the first page's snapshot is compacted by the churn below
  ApiFixture f(so);
  f.CreateNamespace("pages");
  f.CreateNamespace("churn");
  for (const char* n : {"a", "b", "c", "d"}) {
    REQUIRE(f.client().Create(f.ConfigMap("pages", n, R"({"v":"1"})")).ok());
  }
  RecordingSink sink;
  auto o = ConfigMaps();
  o.page_size = 2;
  bool churned = false;  // collector thread only
  // Between the first and the second page (while "b" of page one is being
  // projected): "a", already reported, is deleted, "e" appears, and enough
  // writes happen that the continue token expires.
  o.project = [&](const rapidjson::Value& obj) {
    if (!churned && json::GetString(obj, {"metadata", "name"}) == "b") {
      churned = true;
      REQUIRE(f.client().Delete({"v1", "ConfigMap", "pages", "a"}).ok());
      REQUIRE(f.client().Create(f.ConfigMap("pages", "e", R"({"v":"1"})")).ok());
      for (int i = 0; i < 5; ++i) {
        REQUIRE(f.client().Create(f.ConfigMap("churn", "c-" + std::to_string(i))).ok());
      }
    }
    return ProjectConfigMap(obj);
  };
  ResourceCollector c(f.shared_client(), o, &sink);
  c.Start();
  REQUIRE(Eventually([&] { return sink.Has("synced ConfigMap"); }));
  auto journal = sink.Journal();
  auto at = [&](const std::string& line) {
    return std::find(journal.begin(), journal.end(), line) - journal.begin();
  };
  CHECK(sink.Has("upsert pages/a"));                     // reported from the first, abandoned pass
  CHECK(at("remove pages/a") < at("synced ConfigMap"));  // and taken back before Synced
  CHECK(sink.Has("upsert pages/e"));
  CHECK(sink.State("ConfigMap") == ApiState(f));
  CHECK(c.Stats().errors == 0);  // a restart is not an error
  CHECK(c.Stats().relists == 0);
}

TEST_CASE("A 410 ERROR event on the watch causes a relist without duplicate reports",
          "[stream][collector]") {
  ApiFixture f;
  f.CreateNamespace("ev");
  REQUIRE(f.client().Create(f.ConfigMap("ev", "a")).ok());
  RecordingSink sink;
  auto o = ConfigMaps();
  o.watch_timeout_seconds = 1;  // the next watch request takes the fault
  ResourceCollector c(f.shared_client(), o, &sink);
  c.Start();
  REQUIRE(Eventually([&] { return sink.Has("synced ConfigMap"); }));
  f.server().AddFault({Fault::Kind::kGone, "watch", "", 410, 0, 0ms, 1});
  REQUIRE(Eventually([&] { return c.Stats().relists >= 1; }));
  REQUIRE(f.client().Create(f.ConfigMap("ev", "b")).ok());
  REQUIRE(Eventually([&] { return sink.Has("upsert ev/b"); }));
  CHECK(sink.Count("upsert ev/a") == 1);  // the relist found it unchanged
  CHECK(sink.State("ConfigMap") == ApiState(f));
}

TEST_CASE("Objects in excluded namespaces and excluded Namespace objects are never reported",
          "[stream][collector]") {
  ApiFixture f;
  f.CreateNamespace("secret-team");
  f.CreateNamespace("open");
  REQUIRE(f.client().Create(f.ConfigMap("secret-team", "hidden")).ok());
  REQUIRE(f.client().Create(f.ConfigMap("open", "shown")).ok());

  RecordingSink sink;
  auto cm = ConfigMaps();
  cm.excluded_namespaces = {"secret-team"};
  ResourceCollector configmaps(f.shared_client(), cm, &sink);
  ResourceCollectorOptions nso;
  nso.collection = {"v1", "Namespace", "", ""};
  nso.project = ProjectName;
  nso.excluded_namespaces = {"secret-team"};
  ResourceCollector namespaces(f.shared_client(), nso, &sink);
  configmaps.Start();
  namespaces.Start();
  REQUIRE(Eventually([&] { return sink.Has("synced ConfigMap") && sink.Has("synced Namespace"); }));
  REQUIRE(f.client().Create(f.ConfigMap("secret-team", "later")).ok());
  REQUIRE(f.client().Create(f.ConfigMap("open", "later")).ok());
  REQUIRE(Eventually([&] { return sink.Has("upsert open/later"); }));
  REQUIRE(f.client().Delete({"v1", "ConfigMap", "secret-team", "hidden"}).ok());
  REQUIRE(f.client().Delete({"v1", "ConfigMap", "open", "shown"}).ok());
  REQUIRE(Eventually([&] { return sink.Has("remove open/shown"); }));

  CHECK(sink.State("ConfigMap") == ApiState(f, {"secret-team"}));
  for (const auto& line : sink.Journal()) CHECK(line.find("secret-team") == std::string::npos);
  auto ns = sink.State("Namespace");
  CHECK(ns.count("/open") == 1);
  CHECK(ns.count("/default") == 1);
  CHECK(ns.count("/secret-team") == 0);
}

TEST_CASE("A forbidden kind is reported unavailable and synced once access is granted",
          "[stream][collector]") {
  ApiFixture f;
  f.CreateNamespace("rbac");
  REQUIRE(f.client().Create(f.ConfigMap("rbac", "a")).ok());
  // The list across all namespaces is refused, as without a ClusterRole rule.
  f.server().AddFault({Fault::Kind::kStatus, "list", "/api/v1/configmaps", 403, 0, 0ms, -1});
  RecordingSink sink;
  ResourceCollector c(f.shared_client(), ConfigMaps(), &sink);
  c.Start();
  REQUIRE(Eventually([&] { return sink.HasPrefix("unavailable ConfigMap: Forbidden"); }));
  CHECK_FALSE(c.Stats().available);
  CHECK_FALSE(sink.Has("synced ConfigMap"));
  // Reported once, not on every retry.
  REQUIRE(Eventually([&] { return c.Stats().errors >= 3; }));
  size_t unavailable = 0;
  for (const auto& l : sink.Journal()) unavailable += l.rfind("unavailable", 0) == 0;
  CHECK(unavailable == 1);

  f.server().ClearFaults();
  REQUIRE(Eventually([&] { return sink.Has("synced ConfigMap"); }));
  CHECK(c.Stats().available);
  CHECK(sink.State("ConfigMap") == ApiState(f));
}

TEST_CASE("A kind the API does not serve is reported unavailable", "[stream][collector]") {
  ApiFixture f;
  RecordingSink sink;
  ResourceCollectorOptions o;
  o.collection = {"storage.k8s.io/v1", "CSIDriver", "", ""};
  o.project = ProjectName;
  o.unavailable_retry = 1h;
  ResourceCollector c(f.shared_client(), o, &sink);
  c.Start();
  REQUIRE(Eventually([&] { return sink.HasPrefix("unavailable CSIDriver: NotFound"); }));
  c.Stop();  // prompt although the retry delay is an hour
  CHECK_FALSE(c.Stats().synced);
}

TEST_CASE("An object the projector declines is not reported, and removed once it is declined",
          "[stream][collector]") {
  ApiFixture f;
  f.CreateNamespace("filter");
  REQUIRE(f.client().Create(f.ConfigMap("filter", "a", R"({"v":"1"})")).ok());
  REQUIRE(f.client().Create(f.ConfigMap("filter", "skip", R"({"v":"skip"})")).ok());
  RecordingSink sink;
  auto o = ConfigMaps();
  o.project = [](const rapidjson::Value& obj) -> std::optional<std::string> {
    if (json::GetString(obj, {"data", "v"}) == "skip") return std::nullopt;
    return ProjectConfigMap(obj);
  };
  ResourceCollector c(f.shared_client(), o, &sink);
  c.Start();
  REQUIRE(Eventually([&] { return sink.Has("synced ConfigMap"); }));
  CHECK(sink.State("ConfigMap").size() == 1);
  REQUIRE(f.client()
              .Patch({"v1", "ConfigMap", "filter", "a"}, kube::PatchType::kMerge,
                     R"({"data":{"v":"skip"}})")
              .ok());
  REQUIRE(Eventually([&] { return sink.Has("remove filter/a"); }));
  CHECK(sink.State("ConfigMap").empty());
  CHECK(c.Stats().objects == 0);
}

TEST_CASE("Stop returns promptly while a watch is open", "[stream][collector]") {
  ApiFixture f;
  RecordingSink sink;
  auto o = ConfigMaps();
  o.watch_timeout_seconds = 3600;
  ResourceCollector c(f.shared_client(), o, &sink);
  c.Start();
  REQUIRE(Eventually([&] { return sink.Has("synced ConfigMap"); }));
  c.Stop();  // would block for the watch's hour if cancellation did not reach it
  CHECK(c.Stats().synced);
}

TEST_CASE("Resource version fingerprints are exact for numbers and distinct for other strings",
          "[stream][collector]") {
  CHECK(ResourceVersionFingerprint("12345") == 12345u);
  CHECK(ResourceVersionFingerprint("12345") != ResourceVersionFingerprint("12346"));
  CHECK(ResourceVersionFingerprint("abc") != ResourceVersionFingerprint("abd"));
  CHECK(ResourceVersionFingerprint("abc") == ResourceVersionFingerprint("abc"));
  CHECK(ResourceVersionFingerprint("abc") >> 63 == 1u);  // never equal to a numeric one
  CHECK(ResourceVersionFingerprint("99999999999999999999") >> 63 == 1u);  // too long: hashed
}
