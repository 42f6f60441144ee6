// The audit writer (hub/audit_writer.h): records stored in order on its own
// thread, none lost at Close, and a full queue that blocks API threads but
// drops, counts and logs for the tunnel thread, which must not wait.
#include "hub/audit_writer.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "hub/state_store.h"
#include "test/hub/state_store_fixture.h"
#include "test/net/test_support.h"

using namespace srexpert;
using namespace srexpert::hub;
using namespace std::chrono_literals;
using srexpert::hub::testing::OpenStore;
using srexpert::hub::testing::SqliteWriteLock;
using srexpert::testing::TempDir;

namespace {

std::string Record(int n) { return R"({"n":)" + std::to_string(n) + "}"; }

// The stored records of `cluster`, oldest first.
std::vector<std::string> Stored(StateStore& store, const std::string& cluster) {
  std::vector<std::string> newest_first;
  std::string error;
  REQUIRE(store.Audit(cluster, 100, &newest_first, &error));
  return {newest_first.rbegin(), newest_first.rend()};
}

std::vector<std::string> g_log;
std::mutex g_log_mu;
void Capture(std::string_view line) {
  std::lock_guard lock(g_log_mu);
  g_log.emplace_back(line);
}
size_t LogLinesWith(std::string_view text) {
  std::lock_guard lock(g_log_mu);
  size_t n = 0;
  for (const auto& line : g_log) n += line.find(text) != std::string::npos;
  return n;
}
// The sum of the counts in the "audit records dropped" lines.
uint64_t DropsLogged() {
  std::lock_guard lock(g_log_mu);
  uint64_t sum = 0;
  for (const auto& line : g_log) {
    if (line.find("audit records dropped") == std::string::npos) continue;
    size_t at = line.find(R"("dropped":)");
    REQUIRE(at != std::string::npos);
    sum += std::stoull(line.substr(at + 10));
  }
  return sum;
}

}  // namespace

TEST_CASE(
    "AuditWriter: records are stored in the order they were queued, and those still "
    "queued at Close are stored before it returns",
    "[hub][audit]") {
  TempDir dir;
  auto store = OpenStore(dir.File("state.db"));
  AuditWriter writer(store.get());
  {
    // The store is busy: the first record waits in SQLite, the rest in the queue.
    SqliteWriteLock busy(dir.File("state.db"));
    for (int i = 1; i <= 5; ++i) {
      CHECK(writer.Append("prod", Record(i), AuditWriter::WhenFull::kDrop));
    }
    CHECK(writer.Append("dev", Record(9), AuditWriter::WhenFull::kWait));
    // Closed while they wait: Close stores them all before it returns.
    auto release = std::async(std::launch::async, [&] {
      std::this_thread::sleep_for(200ms);
      busy.Release();
    });
    writer.Close();
    release.get();
  }
  CHECK(Stored(*store, "prod") ==
        std::vector<std::string>{Record(1), Record(2), Record(3), Record(4), Record(5)});
  CHECK(Stored(*store, "dev") == std::vector<std::string>{Record(9)});
  CHECK(writer.dropped() == 0);

  // Once closed, a record is stored on the caller's thread: still not lost.
  writer.Close();
  CHECK(writer.Append("prod", Record(6), AuditWriter::WhenFull::kDrop));
  CHECK(Stored(*store, "prod").back() == Record(6));
}

TEST_CASE(
    "AuditWriter: with the queue full, kDrop returns at once and drops, counts and logs "
    "the records",
    "[hub][audit]") {
  TempDir dir;
  auto store = OpenStore(dir.File("state.db"));
  log::SetSink(&Capture);
  std::vector<std::string> accepted;
  uint64_t dropped = 0;
  {
    AuditWriter writer(store.get(), 1);
    SqliteWriteLock busy(dir.File("state.db"));
    // One record in SQLite and one queued at most: of six, four or more drop.
    const auto start = std::chrono::steady_clock::now();
    for (int i = 1; i <= 6; ++i) {
      if (writer.Append("prod", Record(i), AuditWriter::WhenFull::kDrop)) {
        accepted.push_back(Record(i));
      }
    }
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    dropped = writer.dropped();
    CHECK(dropped >= 4);
    CHECK(dropped + accepted.size() == 6);
    // Said at once, while the store still holds the writer up.
    CHECK(LogLinesWith("audit queue full") >= 1);
    busy.Release();
    writer.Close();
  }
  log::SetSink(nullptr);
  CHECK(Stored(*store, "prod") == accepted);
  // And counted, every one, once the writer had room again.
  CHECK(DropsLogged() == dropped);
}

TEST_CASE("AuditWriter: with the queue full, kWait blocks until there is room and loses nothing",
          "[hub][audit]") {
  TempDir dir;
  auto store = OpenStore(dir.File("state.db"));
  AuditWriter writer(store.get(), 1);
  SqliteWriteLock busy(dir.File("state.db"));
  auto appended = std::async(std::launch::async, [&] {
    for (int i = 1; i <= 3; ++i) writer.Append("prod", Record(i), AuditWriter::WhenFull::kWait);
  });
  CHECK(appended.wait_for(300ms) == std::future_status::timeout);
  busy.Release();
  CHECK(appended.wait_for(10s) == std::future_status::ready);
  writer.Close();
  CHECK(Stored(*store, "prod") == std::vector<std::string>{Record(1), Record(2), Record(3)});
  CHECK(writer.dropped() == 0);
}

TEST_CASE("AuditWriter: needs a store and room for one record", "[hub][audit]") {
  auto store = OpenStore("");
  CHECK_THROWS_AS(AuditWriter(nullptr), std::invalid_argument);
  CHECK_THROWS_AS(AuditWriter(store.get(), 0), std::invalid_argument);
}
