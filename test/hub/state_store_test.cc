#include "hub/state_store.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "test/hub/state_store_fixture.h"
#include "test/net/test_support.h"

using namespace srexpert::hub;
using srexpert::hub::testing::OpenStore;
using srexpert::testing::TempDir;

namespace {

ResourceRecord Obj(const std::string& kind, const std::string& ns, const std::string& name,
                   const std::string& object = "{}") {
  return {kind, ns, name, object};
}

SnapshotPayload Part(const std::string& id, int64_t part, std::vector<ResourceRecord> objects,
                     const std::string& kinds = R"([{"apiVersion":"v1","kind":"Pod","available":true}])") {
  SnapshotPayload p;
  p.snapshot = id;
  p.part = part;
  if (part == 0) p.kinds_json = kinds;
  p.objects = std::move(objects);
  return p;
}

Change Upsert(ChangeOp op, ResourceRecord r) { return {op, std::move(r)}; }
Change Delete(const std::string& kind, const std::string& ns, const std::string& name) {
  return {ChangeOp::kDeleted, {kind, ns, name, ""}};
}

EventRecord Ev(const std::string& uid, const std::string& ns, const std::string& time, int count = 1) {
  return {uid, ns, time,
          fmt::format(R"({{"uid":"{}","namespace":"{}","lastTimestamp":"{}","count":{}}})", uid, ns,
                      time, count)};
}

// "kind/ns/name" of every stored resource, in the store's order.
std::vector<std::string> Names(StateStore& store, const std::string& cluster,
                               ResourceFilter filter = {}) {
  ResourcesView view;
  std::string error;
  REQUIRE(store.Resources(cluster, filter, &view, &error));
  std::vector<std::string> out;
  for (const auto& r : view.items) out.push_back(r.kind + "/" + r.ns + "/" + r.name);
  return out;
}

std::string Kinds(StateStore& store, const std::string& cluster) {
  ResourcesView view;
  std::string error;
  REQUIRE(store.Resources(cluster, {}, &view, &error));
  return view.kinds_json;
}

std::vector<std::string> EventUids(StateStore& store, const std::string& cluster,
                                   std::optional<std::string> ns = {}, int64_t limit = 500) {
  std::vector<std::string> events;
  std::string error;
  REQUIRE(store.Events(cluster, ns, limit, &events, &error));
  std::vector<std::string> uids;
  for (const auto& e : events) {
    auto at = e.find(R"("uid":")") + 7;
    uids.push_back(e.substr(at, e.find('"', at) - at));
  }
  return uids;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("a one-part snapshot replaces the resources and records the seq", "[hub][store]") {
  auto store = OpenStore();
  CHECK(store->LastAck("prod") == 0);
  CHECK(Names(*store, "prod").empty());
  CHECK(Kinds(*store, "prod") == "[]");
  REQUIRE(store->ApplySnapshot("prod", 3, Part("s1", 0, {Obj("Pod", "b", "p2"), Obj("Pod", "a", "p1"),
                                                         Obj("Node", "", "n1", R"({"x":1})")}),
                               true).ok());
  CHECK(store->LastAck("prod") == 3);
  CHECK(Names(*store, "prod") == Strings{"Node//n1", "Pod/a/p1", "Pod/b/p2"});
  CHECK(Kinds(*store, "prod") == R"([{"apiVersion":"v1","kind":"Pod","available":true}])");
  CHECK_FALSE(store->Staging("prod"));

  REQUIRE(store->ApplySnapshot("prod", 9, Part("s2", 0, {Obj("Pod", "c", "p3")}, "[]"), true).ok());
  CHECK(Names(*store, "prod") == Strings{"Pod/c/p3"});
  CHECK(Kinds(*store, "prod") == "[]");
  CHECK(store->LastAck("prod") == 9);
  // Other clusters are untouched.
  CHECK(Names(*store, "dev").empty());
}

TEST_CASE("filters select by kind and namespace", "[hub][store]") {
  auto store = OpenStore();
  REQUIRE(store->ApplySnapshot("prod", 1,
                               Part("s", 0, {Obj("Pod", "a", "p1"), Obj("Pod", "b", "p2"),
                                             Obj("Service", "a", "s1"), Obj("Node", "", "n1")}),
                               true).ok());
  CHECK(Names(*store, "prod", {"Pod", std::nullopt}) == Strings{"Pod/a/p1", "Pod/b/p2"});
  CHECK(Names(*store, "prod", {std::nullopt, "a"}) == Strings{"Pod/a/p1", "Service/a/s1"});
  CHECK(Names(*store, "prod", {"Pod", "b"}) == Strings{"Pod/b/p2"});
  CHECK(Names(*store, "prod", {std::nullopt, ""}) == Strings{"Node//n1"});
  CHECK(Names(*store, "prod", {"Ingress", std::nullopt}).empty());
}

TEST_CASE("a multi-part snapshot is staged and swapped in at the final part", "[hub][store]") {
  auto store = OpenStore();
  REQUIRE(store->ApplySnapshot("prod", 1, Part("old", 0, {Obj("Pod", "a", "old")}, "[1]"), true).ok());
  REQUIRE(store->ApplySnapshot("prod", 2, Part("s", 0, {Obj("Pod", "a", "p1")}, "[2]"), false).ok());
  // Readers still see the old state, kinds included.
  CHECK(Names(*store, "prod") == Strings{"Pod/a/old"});
  CHECK(Kinds(*store, "prod") == "[1]");
  CHECK(store->LastAck("prod") == 2);
  auto staging = store->Staging("prod");
  REQUIRE(staging);
  CHECK(staging->snapshot == "s");
  CHECK(staging->next_part == 1);

  REQUIRE(store->ApplySnapshot("prod", 3, Part("s", 1, {Obj("Pod", "a", "p2")}), false).ok());
  CHECK(Names(*store, "prod") == Strings{"Pod/a/old"});
  REQUIRE(store->ApplySnapshot("prod", 4, Part("s", 2, {Obj("Pod", "a", "p3")}), true).ok());
  CHECK(Names(*store, "prod") == Strings{"Pod/a/p1", "Pod/a/p2", "Pod/a/p3"});
  CHECK(Kinds(*store, "prod") == "[2]");
  CHECK_FALSE(store->Staging("prod"));
  CHECK(store->LastAck("prod") == 4);
}

TEST_CASE("snapshot parts that do not continue the staging are rejected", "[hub][store]") {
  auto store = OpenStore();
  // No staging at all.
  auto r = store->ApplySnapshot("prod", 1, Part("s", 1, {}), true);
  CHECK(r.status == ApplyResult::Status::kRejected);
  CHECK(r.error == "part: snapshot s part 1 continues no unfinished snapshot");
  CHECK(store->LastAck("prod") == 0);

  REQUIRE(store->ApplySnapshot("prod", 1, Part("s", 0, {Obj("Pod", "a", "p1")}), false).ok());
  r = store->ApplySnapshot("prod", 2, Part("other", 1, {}), true);
  CHECK(r.status == ApplyResult::Status::kRejected);
  CHECK(r.error == "part: snapshot other part 1 does not continue snapshot s (expected part 1)");
  r = store->ApplySnapshot("prod", 2, Part("s", 2, {}), true);
  CHECK(r.error == "part: snapshot s part 2 does not continue snapshot s (expected part 1)");
  CHECK(store->LastAck("prod") == 1);
  // A delta cannot interleave with an unfinished snapshot.
  DeltaPayload d;
  d.changes.push_back(Upsert(ChangeOp::kAdded, Obj("Pod", "a", "x")));
  r = store->ApplyDelta("prod", 2, d);
  CHECK(r.status == ApplyResult::Status::kRejected);
  CHECK(r.error == "payload: a delta while snapshot s is unfinished (expected part 1)");
  // A seq that is not new is refused whatever the payload.
  r = store->ApplySnapshot("prod", 1, Part("n", 0, {}), true);
  CHECK(r.status == ApplyResult::Status::kRejected);
  CHECK(r.error == "seq 1 is not after the last accepted 1");

  // Part 0 of another snapshot discards the unfinished one.
  REQUIRE(store->ApplySnapshot("prod", 5, Part("t", 0, {Obj("Pod", "a", "t0")}), false).ok());
  REQUIRE(store->ApplySnapshot("prod", 6, Part("t", 1, {Obj("Pod", "a", "t1")}), true).ok());
  CHECK(Names(*store, "prod") == Strings{"Pod/a/t0", "Pod/a/t1"});
}

TEST_CASE("staged parts survive reopening the same file", "[hub][store]") {
  TempDir dir;
  std::string path = dir.File("state.db");
  {
    auto store = OpenStore(path);
    REQUIRE(store->ApplySnapshot("prod", 1, Part("old", 0, {Obj("Pod", "a", "old")}), true).ok());
    REQUIRE(store->ApplySnapshot("prod", 2, Part("s", 0, {Obj("Pod", "a", "p1")}, "[3]"), false).ok());
  }
  auto store = OpenStore(path);
  CHECK(store->LastAck("prod") == 2);
  auto staging = store->Staging("prod");
  REQUIRE(staging);
  CHECK(staging->snapshot == "s");
  CHECK(staging->next_part == 1);
  CHECK(Names(*store, "prod") == Strings{"Pod/a/old"});
  REQUIRE(store->ApplySnapshot("prod", 3, Part("s", 1, {Obj("Pod", "a", "p2")}), true).ok());
  CHECK(Names(*store, "prod") == Strings{"Pod/a/p1", "Pod/a/p2"});
  CHECK(Kinds(*store, "prod") == "[3]");
}

TEST_CASE("deltas add, modify and delete in order", "[hub][store]") {
  auto store = OpenStore();
  REQUIRE(store->ApplySnapshot("prod", 1, Part("s", 0, {Obj("Pod", "a", "p1", R"({"v":1})")}), true).ok());
  DeltaPayload d;
  d.changes = {Upsert(ChangeOp::kAdded, Obj("Pod", "a", "p2", R"({"v":1})")),
               Upsert(ChangeOp::kModified, Obj("Pod", "a", "p1", R"({"v":2})")),
               Delete("Pod", "a", "p2"),
               Upsert(ChangeOp::kAdded, Obj("Pod", "a", "p3")),
               Delete("Pod", "a", "never-existed"),
               Upsert(ChangeOp::kModified, Obj("Service", "a", "s1"))};  // an upsert
  REQUIRE(store->ApplyDelta("prod", 2, d).ok());
  CHECK(store->LastAck("prod") == 2);
  ResourcesView view;
  std::string error;
  REQUIRE(store->Resources("prod", {}, &view, &error));
  REQUIRE(view.items.size() == 3);
  CHECK(view.items[0].name == "p1");
  CHECK(view.items[0].object == R"({"v":2})");
  CHECK(view.items[1].name == "p3");
  CHECK(view.items[2].kind == "Service");
}

TEST_CASE("a modified object may come as a merge patch of the stored form", "[hub][store]") {
  auto store = OpenStore();
  REQUIRE(store->ApplySnapshot("prod", 1,
                               Part("s", 0, {Obj("Pod", "a", "p1", R"({"spec":{"n":"x"},"status":{"phase":"Pending","ip":"1"}})")}),
                               true).ok());
  DeltaPayload d;
  Change patch{ChangeOp::kModified, {"Pod", "a", "p1", ""}, R"({"status":{"phase":"Running","ip":null},"l":[1]})"};
  d.changes = {patch};
  REQUIRE(store->ApplyDelta("prod", 2, d).ok());
  ResourcesView view;
  std::string error;
  REQUIRE(store->Resources("prod", {}, &view, &error));
  REQUIRE(view.items.size() == 1);
  CHECK(view.items[0].object == R"({"spec":{"n":"x"},"status":{"phase":"Running"},"l":[1]})");

  // A patch of an object the store does not hold rejects the whole delta.
  Change orphan{ChangeOp::kModified, {"Pod", "a", "ghost", ""}, R"({"x":1})"};
  d.changes = {Upsert(ChangeOp::kAdded, Obj("Pod", "a", "p2")), orphan};
  auto r = store->ApplyDelta("prod", 3, d);
  CHECK(r.status == ApplyResult::Status::kRejected);
  CHECK(r.error == "changes[1].patch: the hub holds no Pod a/ghost to patch");
  CHECK(Names(*store, "prod") == Strings{"Pod/a/p1"});
  CHECK(store->LastAck("prod") == 2);
}

TEST_CASE("events are upserted by uid, served newest first and bounded", "[hub][store]") {
  auto store = OpenStore("", 3);
  DeltaPayload d;
  d.events = {Ev("e1", "a", "2026-01-01T00:00:01Z"), Ev("e2", "b", "2026-01-01T00:00:03Z"),
              Ev("e3", "a", "2026-01-01T00:00:02Z")};
  REQUIRE(store->ApplyDelta("prod", 1, d).ok());
  CHECK(EventUids(*store, "prod") == Strings{"e2", "e3", "e1"});
  CHECK(EventUids(*store, "prod", "a") == Strings{"e3", "e1"});
  CHECK(EventUids(*store, "prod", {}, 1) == Strings{"e2"});

  // A repeated event (higher count, later time) replaces its row.
  d.events = {Ev("e1", "a", "2026-01-01T00:00:09Z", 5)};
  REQUIRE(store->ApplyDelta("prod", 2, d).ok());
  std::vector<std::string> events;
  std::string error;
  REQUIRE(store->Events("prod", std::nullopt, 10, &events, &error));
  REQUIRE(events.size() == 3);
  CHECK(events[0] == R"({"uid":"e1","namespace":"a","lastTimestamp":"2026-01-01T00:00:09Z","count":5})");

  // Over the bound, the oldest go.
  d.events = {Ev("e4", "a", "2026-01-01T00:00:05Z"), Ev("e5", "a", "2026-01-01T00:00:04Z")};
  REQUIRE(store->ApplyDelta("prod", 3, d).ok());
  CHECK(EventUids(*store, "prod") == Strings{"e1", "e4", "e5"});
  // Per cluster.
  d.events = {Ev("x1", "a", "2026-01-01T00:00:00Z")};
  REQUIRE(store->ApplyDelta("dev", 1, d).ok());
  CHECK(EventUids(*store, "dev") == Strings{"x1"});
  CHECK(EventUids(*store, "prod").size() == 3);
}

TEST_CASE("metrics keep the latest sample and survive snapshots with events", "[hub][store]") {
  auto store = OpenStore();
  std::optional<std::string> metrics;
  std::string error;
  REQUIRE(store->Metrics("prod", &metrics, &error));
  CHECK_FALSE(metrics);
  DeltaPayload d;
  d.metrics = R"({"available":true,"nodes":[]})";
  d.events = {Ev("e1", "a", "t")};
  REQUIRE(store->ApplyDelta("prod", 1, d).ok());
  d.metrics = R"({"available":false,"reason":"gone"})";
  d.events.clear();
  REQUIRE(store->ApplyDelta("prod", 2, d).ok());
  REQUIRE(store->Metrics("prod", &metrics, &error));
  CHECK(metrics == R"({"available":false,"reason":"gone"})");
  REQUIRE(store->ApplySnapshot("prod", 3, Part("s", 0, {}), true).ok());
  REQUIRE(store->Metrics("prod", &metrics, &error));
  CHECK(metrics == R"({"available":false,"reason":"gone"})");
  CHECK(EventUids(*store, "prod") == Strings{"e1"});
}

TEST_CASE("last acks and clusters persist across a reopen", "[hub][store]") {
  TempDir dir;
  std::string path = dir.File("state.db");
  {
    auto store = OpenStore(path);
    REQUIRE(store->ApplySnapshot("prod", 41, Part("s", 0, {Obj("Pod", "a", "p1")}), true).ok());
    DeltaPayload d;
    d.changes = {Upsert(ChangeOp::kAdded, Obj("Pod", "a", "p2"))};
    d.metrics = R"({"available":true})";
    REQUIRE(store->ApplyDelta("prod", 42, d).ok());
    std::string error;
    REQUIRE(store->RememberCluster("dev", &error));
    REQUIRE(store->RememberCluster("dev", &error));  // idempotent
  }
  auto store = OpenStore(path);
  CHECK(store->LastAck("prod") == 42);
  CHECK(store->LastAck("dev") == 0);
  std::vector<StoredCluster> clusters;
  std::string error;
  REQUIRE(store->Clusters(&clusters, &error));
  REQUIRE(clusters.size() == 2);
  CHECK(clusters[0].name == "dev");
  CHECK(clusters[1].name == "prod");
  CHECK(clusters[1].last_ack == 42);
  CHECK(Names(*store, "prod") == Strings{"Pod/a/p1", "Pod/a/p2"});
  std::optional<std::string> metrics;
  REQUIRE(store->Metrics("prod", &metrics, &error));
  CHECK(metrics == R"({"available":true})");
}

TEST_CASE("opening refuses files that are not a state store", "[hub][store]") {
  TempDir dir;
  srexpert::testing::WriteFile(dir.File("junk.db"), std::string(4096, 'x'));
  StateStoreOptions o;
  o.path = dir.File("junk.db");
  std::string error;
  CHECK_FALSE(StateStore::Open(o, &error));
  CHECK(error.find("file is not a database") != std::string::npos);

  o.path = dir.File("missing-dir/state.db");
  CHECK_FALSE(StateStore::Open(o, &error));
  CHECK(error.find("cannot open state store") == 0);

  o.path = dir.File("future.db");
  OpenStore(o.path);
  {
    // A later hub's schema.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(o.path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  CHECK_FALSE(StateStore::Open(o, &error));
  CHECK(error == "state store " + o.path + " has schema version 99, this hub reads 1");
}
