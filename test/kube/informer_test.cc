#include "kube/informer.h"

#include <catch2/catch.hpp>

#include <mutex>
#include <set>
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

std::string Name(const ObjectPtr& o) { return json::GetString(*o, {"metadata", "name"}); }

// Records handler calls as "add a", "update a", "delete a".
struct Journal {
  std::mutex mu;
  std::vector<std::string> lines;
  ResourceEventHandlers Handlers() {
    return {[this](const ObjectPtr& o) { Add("add " + Name(o)); },
            [this](const ObjectPtr& old_obj, const ObjectPtr& new_obj) {
              REQUIRE(Name(old_obj) == Name(new_obj));
              Add("update " + Name(new_obj));
            },
            [this](const ObjectPtr& o) { Add("delete " + Name(o)); }};
  }
  void Add(std::string s) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(std::move(s));
  }
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mu);
    return lines;
  }
  bool Has(const std::string& s) {
    auto l = Lines();
    return std::find(l.begin(), l.end(), s) != l.end();
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu);
    lines.clear();
  }
};

std::set<std::string> Names(const Informer& inf) {
  std::set<std::string> out;
  for (const auto& o : inf.List()) out.insert(Name(o));
  return out;
}

}  // namespace

TEST_CASE("Informer lists, syncs, and follows adds, updates and deletes", "[kube][informer]") {
  ApiFixture f;
  f.CreateNamespace("inf");
  REQUIRE(f.client().Create(f.ConfigMap("inf", "pre", R"({"k":"0"})")).ok());
  InformerOptions o;
  o.resource = {"v1", "ConfigMap", "inf", ""};
  o.page_size = 1;  // exercise pagination in the initial list
  Informer inf(f.shared_client(), o);
  Journal j;
  inf.AddHandlers(j.Handlers());
  inf.Start();
  REQUIRE(inf.WaitForSync(30s));
  CHECK(inf.HasSynced());
  CHECK(j.Lines() == std::vector<std::string>{"add pre"});
  auto pre = inf.Get("inf", "pre");
  REQUIRE(pre);
  CHECK(json::GetString(*pre, {"kind"}) == "ConfigMap");  // filled in for list items
  CHECK(json::GetString(*pre, {"apiVersion"}) == "v1");

  REQUIRE(f.client().Create(f.ConfigMap("inf", "a")).ok());
  REQUIRE(f.client().Patch({"v1", "ConfigMap", "inf", "pre"}, PatchType::kMerge,
                           R"({"data":{"k":"1"}})")
              .ok());
  REQUIRE(f.client().Delete({"v1", "ConfigMap", "inf", "a"}).ok());
  REQUIRE(Eventually([&] { return j.Lines().size() >= 4; }));
  CHECK(j.Lines() ==
        std::vector<std::string>{"add pre", "add a", "update pre", "delete a"});
  CHECK(json::GetString(*inf.Get("inf", "pre"), {"data", "k"}) == "1");
  CHECK_FALSE(inf.Get("inf", "a"));
  CHECK(Names(inf) == std::set<std::string>{"pre"});
  inf.Stop();
}

TEST_CASE("After a forced 410 the informer relists and emits what the watch missed",
          "[kube][informer]") {
  ApiServerOptions so;
  so.watch_history = 3;  // a short history so the resume point expires
  ApiFixture f(so);
  f.CreateNamespace("relist");
  f.CreateNamespace("default");
  for (const char* n : {"keep", "change", "vanish"}) {
    REQUIRE(f.client().Create(f.ConfigMap("relist", n, R"({"v":"1"})")).ok());
  }
  InformerOptions o;
  o.resource = {"v1", "ConfigMap", "relist", ""};
  o.backoff = {10ms, 100ms, 2.0, false};
  Informer inf(f.shared_client(), o);
  Journal j;
  inf.AddHandlers(j.Handlers());

  // Every watch request fails: while the watch is down the changes below
  // happen, and the history is too short to resume across them.
  f.server().AddFault({Fault::Kind::kStatus, "watch", "", 500, 0, 0ms, -1});
  inf.Start();
  REQUIRE(inf.WaitForSync(30s));
  REQUIRE(Names(inf) == std::set<std::string>{"change", "keep", "vanish"});
  uint64_t relists_before = inf.Relists();
  j.Clear();

  REQUIRE(f.client().Delete({"v1", "ConfigMap", "relist", "vanish"}).ok());
  REQUIRE(f.client().Patch({"v1", "ConfigMap", "relist", "change"}, PatchType::kMerge,
                           R"({"data":{"v":"2"}})")
              .ok());
  REQUIRE(f.client().Create(f.ConfigMap("relist", "new")).ok());
  for (int i = 0; i < 10; ++i) {  // churn elsewhere pushes the old RV out of history
    REQUIRE(f.client().Create(f.ConfigMap("default", "churn-" + std::to_string(i))).ok());
  }
  f.server().ClearFaults();

  REQUIRE(Eventually([&] {
    return j.Has("delete vanish") && j.Has("update change") && j.Has("add new");
  }));
  CHECK(inf.Relists() > relists_before);
  CHECK_FALSE(j.Has("update keep"));  // unchanged objects produce no event
  CHECK(Names(inf) == std::set<std::string>{"change", "keep", "new"});
  CHECK(json::GetString(*inf.Get("relist", "change"), {"data", "v"}) == "2");
  CHECK_FALSE(inf.Get("relist", "vanish"));
}

TEST_CASE("Informer relists on a 410 ERROR event and stays consistent", "[kube][informer]") {
  ApiFixture f;
  f.CreateNamespace("ev410");
  REQUIRE(f.client().Create(f.ConfigMap("ev410", "a")).ok());
  InformerOptions o;
  o.resource = {"v1", "ConfigMap", "ev410", ""};
  o.watch_timeout_seconds = 1;  // the server ends each watch quickly; the next one gets the fault
  Informer inf(f.shared_client(), o);
  Journal j;
  inf.AddHandlers(j.Handlers());
  inf.Start();
  REQUIRE(inf.WaitForSync(30s));
  REQUIRE(inf.Relists() == 0);
  f.server().AddFault({Fault::Kind::kGone, "watch", "", 410, 0, 0ms, 1});
  REQUIRE(Eventually([&] { return inf.Relists() >= 1; }));
  REQUIRE(f.client().Create(f.ConfigMap("ev410", "b")).ok());
  REQUIRE(Eventually([&] { return j.Has("add b"); }));
  CHECK(Names(inf) == std::set<std::string>{"a", "b"});
  // The relist found nothing new: "a" was added once, never re-added.
  auto lines = j.Lines();
  CHECK(std::count(lines.begin(), lines.end(), "add a") == 1);
}

TEST_CASE("Informer transform hook shapes what is cached", "[kube][informer]") {
  ApiFixture f;
  f.CreateNamespace("tx");
  REQUIRE(f.client().Create(f.ConfigMap("tx", "big", R"({"payload":"xxxxxxxxxxxxxxxx"})")).ok());
  InformerOptions o;
  o.resource = {"v1", "ConfigMap", "tx", ""};
  o.transform = [](rapidjson::Document d) {
    json::Remove(d, "data");
    json::Remove(d["metadata"], "managedFields");
    return d;
  };
  Informer inf(f.shared_client(), o);
  inf.Start();
  REQUIRE(inf.WaitForSync(30s));
  auto big = inf.Get("tx", "big");
  REQUIRE(big);
  CHECK_FALSE(big->HasMember("data"));
  REQUIRE(f.client().Create(f.ConfigMap("tx", "big2", R"({"p":"y"})")).ok());
  REQUIRE(Eventually([&] { return inf.Get("tx", "big2") != nullptr; }));
  CHECK_FALSE(inf.Get("tx", "big2")->HasMember("data"));
}

TEST_CASE("Informer Stop returns promptly while a watch is open", "[kube][informer]") {
  ApiFixture f;
  InformerOptions o;
  o.resource = {"v1", "Namespace", "", ""};
  o.watch_timeout_seconds = 3600;
  Informer inf(f.shared_client(), o);
  inf.Start();
  REQUIRE(inf.WaitForSync(30s));
  inf.Stop();  // would block for the watch's hour if cancellation did not work
  CHECK(inf.HasSynced());
}

TEST_CASE("Informer Stop returns promptly while its list is being retried", "[kube][informer]") {
  ApiFixture f;
  ClientOptions patient;
  patient.retry.max_attempts = 1000;  // without cancellation Stop would wait for hours
  patient.retry.backoff = {std::chrono::seconds(5), std::chrono::seconds(30), 2.0, false};
  auto client = f.NewClient(patient);
  f.server().AddFault({Fault::Kind::kStatus, "list", "", 500, 0, 0ms, -1});
  InformerOptions o;
  o.resource = {"v1", "ConfigMap", "", ""};
  Informer inf(client, o);
  inf.Start();
  REQUIRE(Eventually([&] { return client->metrics().Count("list", 500) >= 1; }));
  inf.Stop();
  CHECK_FALSE(inf.HasSynced());
}
