#include <catch2/catch.hpp>

#include "common/json.h"
#include "kube/watch.h"

using namespace srexpert;
using namespace srexpert::kube;

TEST_CASE("Watch events decode with their object as the document root", "[kube][watch]") {
  auto e = DecodeWatchEvent(
      R"J({"type":"MODIFIED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"n","resourceVersion":"42"},"data":{"k":"v"}}})J");
  REQUIRE(e.ok());
  CHECK(e->type == WatchEvent::Type::kModified);
  CHECK(e->resource_version() == "42");
  CHECK(json::GetString(*e->object, {"data", "k"}) == "v");
  CHECK_FALSE(e->object->HasMember("type"));

  auto bookmark = DecodeWatchEvent(
      R"J({"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"77"}}})J");
  REQUIRE(bookmark.ok());
  CHECK(bookmark->type == WatchEvent::Type::kBookmark);
  CHECK(bookmark->resource_version() == "77");
}

TEST_CASE("Malformed watch lines are decode errors", "[kube][watch]") {
  CHECK(DecodeWatchEvent("{not json").error().reason() == Reason::kDecode);
  CHECK(DecodeWatchEvent(R"J({"type":"ADDED"})J").error().reason() == Reason::kDecode);
  CHECK(DecodeWatchEvent(R"J({"type":"WHAT","object":{}})J").error().reason() == Reason::kDecode);
}
