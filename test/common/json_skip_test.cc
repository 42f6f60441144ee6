#include "common/json_skip.h"

#include <catch2/catch.hpp>

#include "common/json.h"

using namespace srexpert;

namespace {

std::string Skipping(std::string_view text, const std::vector<json::SkipPath>& skip) {
  std::string error;
  auto doc = json::ParseSkipping(text, skip, &error);
  REQUIRE(doc);
  return json::Dump(*doc);
}

}  // namespace

TEST_CASE("ParseSkipping leaves out a member named by its path and keeps everything else") {
  std::string text =
      R"({"metadata":{"name":"p","managedFields":[{"manager":"kubelet","fieldsV1":{"f:status":{}}}],)"
      R"("labels":{"a":"1"}},"spec":{"managedFields":"not metadata's"}})";
  CHECK(Skipping(text, {{"metadata", "managedFields"}}) ==
        R"({"metadata":{"name":"p","labels":{"a":"1"}},"spec":{"managedFields":"not metadata's"}})");
}

TEST_CASE("ParseSkipping matches a path as a suffix at any depth and through arrays") {
  std::string event = R"({"type":"MODIFIED","object":{"metadata":{"managedFields":[1,2],"name":"a"}}})";
  CHECK(Skipping(event, json::ServerBookkeepingPaths()) ==
        R"({"type":"MODIFIED","object":{"metadata":{"name":"a"}}})");
  std::string list =
      R"({"items":[{"metadata":{"name":"a","managedFields":[]}},{"metadata":{"managedFields":{},"name":"b"}}]})";
  CHECK(Skipping(list, json::ServerBookkeepingPaths()) ==
        R"({"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})");
  CHECK(Skipping(list, {{"items", "metadata", "name"}}) ==
        R"({"items":[{"metadata":{"managedFields":[]}},{"metadata":{"managedFields":{}}}]})");
}

TEST_CASE("ParseSkipping drops the last-applied annotation but not other annotations") {
  std::string text =
      R"({"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"big\":1}",)"
      R"("team":"x"}},"data":{"kubectl.kubernetes.io/last-applied-configuration":"kept"}})";
  CHECK(Skipping(text, json::ServerBookkeepingPaths()) ==
        R"({"metadata":{"annotations":{"team":"x"}},"data":{"kubectl.kubernetes.io/last-applied-configuration":"kept"}})");
}

TEST_CASE("ParseSkipping gives the same document as Parse when nothing matches") {
  std::string text = R"({"a":[1,-2,3.5,true,null,"s",{"b":[]}],"c":{"d":{"e":18446744073709551615}}})";
  CHECK(Skipping(text, json::ServerBookkeepingPaths()) == json::Dump(*json::Parse(text)));
  CHECK(Skipping("[1,[2,[3]],{}]", {{"x"}}) == "[1,[2,[3]],{}]");
  CHECK(Skipping(R"("just a string")", {{"x"}}) == R"("just a string")");
}

TEST_CASE("ParseSkipping still rejects malformed JSON, inside a skipped member too") {
  std::string error;
  CHECK_FALSE(json::ParseSkipping(R"({"metadata":{"managedFields":[1,}})", json::ServerBookkeepingPaths(), &error));
  CHECK(error.find("invalid JSON at offset") == 0);
  CHECK_FALSE(json::ParseSkipping(R"({"a":1)", {}, &error));
  CHECK_FALSE(json::ParseSkipping("", {}, &error));
  CHECK_FALSE(json::ParseSkipping(R"({"a":1} trailing)", {}, &error));
}

TEST_CASE("ParseSkipping keeps duplicate members as Parse does so validators still see them") {
  std::string text = R"({"a":1,"a":2,"metadata":{"managedFields":1,"managedFields":2}})";
  auto doc = json::ParseSkipping(text, json::ServerBookkeepingPaths());
  REQUIRE(doc);
  CHECK((*doc)["metadata"].MemberCount() == 0);
  CHECK(doc->MemberCount() == 3);
}

TEST_CASE("ParseSkipping returns a document that does not depend on the input text") {
  std::optional<json::Document> doc;
  {
    std::string text = R"({"metadata":{"name":"escaped \"name\"","managedFields":[]}})";
    doc = json::ParseSkipping(text, json::ServerBookkeepingPaths());
    text.assign(text.size(), 'x');
  }
  REQUIRE(doc);
  CHECK(json::GetString(*doc, {"metadata", "name"}) == R"(escaped "name")");
}

TEST_CASE("ParseSkipping and Parse agree on a NUL byte in the input") {
  std::string inside("{\"a\":\"x\0y\"}", 11);
  CHECK_FALSE(json::Parse(inside));
  CHECK_FALSE(json::ParseSkipping(inside, {}));
  std::string after("{\"a\":1}\0{", 9);
  CHECK(json::Parse(after).has_value() == json::ParseSkipping(after, {}).has_value());
}
