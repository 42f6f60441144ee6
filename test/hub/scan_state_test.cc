// Scan reports on the hub: the delta member `scan` (stream_payload.h), the
// latest and previous report per cluster (state_store.h) and the diff
// served as "new since the last scan" (scan_diff.h).
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>

#include "hub/scan_diff.h"
#include "hub/state_store.h"
#include "hub/stream_payload.h"
#include "test/hub/state_store_fixture.h"
#include "test/net/test_support.h"

using namespace srexpert::hub;
using srexpert::hub::testing::OpenStore;
using srexpert::testing::TempDir;

namespace {

std::string Report(const std::string& at, const std::string& findings, int omitted = 0) {
  return R"({"scannedAt":")" + at +
         R"(","score":50,"counts":{"passed":1,"warnings":0,"dangers":1},"findings":[)" + findings +
         R"(],"omitted":)" + std::to_string(omitted) + "}";
}

std::string Finding(const std::string& check, const std::string& name,
                    const std::string& container = "") {
  std::string c = container.empty() ? "" : R"(,"container":")" + container + R"(")";
  return R"({"check":")" + check +
         R"(","severity":"danger","kind":"Pod","namespace":"a","name":")" + name + R"(")" + c + "}";
}

std::string DeltaError(const std::string& json) {
  std::string error;
  auto p = DecodeDeltaPayload(json, &error);
  INFO(json);
  CHECK_FALSE(p);
  return error;
}

}  // namespace

TEST_CASE("a delta may carry only a scan report, validated", "[hub][payload][scan]") {
  std::string error;
  auto p = DecodeDeltaPayload(R"({"scan":)" + Report("t1", Finding("c", "p")) + "}", &error);
  INFO(error);
  REQUIRE(p);
  REQUIRE(p->scan);
  CHECK(p->changes.empty());
  CHECK(DeltaError(R"({"scan":[]})") == "scan: must be an object");
  CHECK(DeltaError(R"({"scan":{"score":5,"findings":[]}})") == "scan.scannedAt: required");
  CHECK(DeltaError(R"({"scan":{"scannedAt":"t","score":101,"findings":[]}})") ==
        "scan.score: must be 0..100");
  CHECK(DeltaError(R"({"scan":{"scannedAt":"t","score":1}})") == "scan.findings: must be an array");
  CHECK(DeltaError(R"({"scan":{"scannedAt":"t","score":1,"findings":[{"check":"c"}]}})")
            .rfind("scan.findings[0].", 0) == 0);
}

TEST_CASE("the store keeps the latest and the previous scan report across a reopen",
          "[hub][store][scan]") {
  TempDir dir;
  const std::string path = dir.File("state.db");
  std::optional<std::string> latest, previous;
  std::string error;
  {
    auto store = OpenStore(path);
    REQUIRE(store->Scans("prod", &latest, &previous, &error));
    CHECK_FALSE(latest);
    DeltaPayload d;
    d.scan = Report("t1", "");
    REQUIRE(store->ApplyDelta("prod", 1, d).ok());
    d.scan = Report("t2", "");
    REQUIRE(store->ApplyDelta("prod", 2, d).ok());
    d.scan = Report("t3", "");
    REQUIRE(store->ApplyDelta("prod", 3, d).ok());
  }
  auto store = OpenStore(path);
  REQUIRE(store->Scans("prod", &latest, &previous, &error));
  CHECK(latest == Report("t3", ""));
  CHECK(previous == Report("t2", ""));
  // Snapshots replace resources, not scan reports; other clusters are apart.
  SnapshotPayload s;
  s.snapshot = "s";
  s.part = 0;
  s.kinds_json = "[]";
  REQUIRE(store->ApplySnapshot("prod", 4, s, true).ok());
  REQUIRE(store->Scans("prod", &latest, &previous, &error));
  CHECK(latest == Report("t3", ""));
  REQUIRE(store->Scans("dev", &latest, &previous, &error));
  CHECK_FALSE(latest);
}

TEST_CASE("the diff lists new and resolved findings by check, object and container",
          "[hub][scan]") {
  const std::string before = Report(
      "t1", Finding("priv", "a") + "," + Finding("priv", "b") + "," + Finding("cpu", "a", "x"));
  const std::string now = Report(
      "t2", Finding("priv", "a") + "," + Finding("cpu", "a", "y") + "," + Finding("net", "c"));
  rapidjson::Document d;
  d.Parse(ScanDiff(now, before).c_str());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(d["scannedAt"].GetString() == std::string("t2"));
  CHECK(d["previousScannedAt"].GetString() == std::string("t1"));
  CHECK(d["complete"].GetBool());
  REQUIRE(d["new"].Size() == 2);
  CHECK(d["new"][0]["container"].GetString() == std::string("y"));
  CHECK(d["new"][1]["check"].GetString() == std::string("net"));
  REQUIRE(d["resolved"].Size() == 2);
  CHECK(d["resolved"][0]["name"].GetString() == std::string("b"));
  CHECK(d["resolved"][1]["container"].GetString() == std::string("x"));

  // No previous report: everything is new. A cut report makes it incomplete.
  d.Parse(ScanDiff(Report("t3", Finding("priv", "a"), 4), std::nullopt).c_str());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(d["previousScannedAt"].IsNull());
  CHECK_FALSE(d["complete"].GetBool());
  CHECK(d["new"].Size() == 1);
  CHECK(d["resolved"].Size() == 0);
  CHECK(ScanDiff("not json", std::nullopt).empty());
}
