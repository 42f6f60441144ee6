#include "common/json.h"

#include <catch2/catch.hpp>

using namespace srexpert;

TEST_CASE("Parse reports the offset of malformed JSON", "[json]") {
  std::string err;
  CHECK_FALSE(json::Parse(R"({"a": })", &err));
  CHECK(err.find("offset 6") != std::string::npos);
  CHECK_FALSE(json::Parse(R"({"a":1} trailing)", &err));
  CHECK(json::Parse(R"({"a":1})"));
}

TEST_CASE("Find and typed getters walk nested objects", "[json]") {
  auto doc = *json::Parse(R"({"metadata":{"name":"x","generation":3,"flag":true}})");
  CHECK(json::GetString(doc, {"metadata", "name"}) == "x");
  CHECK(json::GetInt(doc, {"metadata", "generation"}) == 3);
  CHECK(json::GetBool(doc, {"metadata", "flag"}));
  CHECK(json::GetString(doc, {"metadata", "missing"}, "d") == "d");
  CHECK(json::GetString(doc, {"metadata", "generation"}, "d") == "d");
  CHECK(json::Find(doc, {"metadata", "name", "deeper"}) == nullptr);
}

TEST_CASE("EnsureObject creates the path and Set replaces members", "[json]") {
  json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  auto& labels = json::EnsureObject(doc, {"metadata", "labels"}, a);
  json::SetString(labels, "app", "srexpert", a);
  json::SetString(labels, "app", "agent", a);
  CHECK(json::Dump(doc) == R"({"metadata":{"labels":{"app":"agent"}}})");
  CHECK(json::Remove(labels, "app"));
  CHECK_FALSE(json::Remove(labels, "app"));
}

TEST_CASE("Equal ignores member order and compares numbers by value", "[json]") {
  auto a = *json::Parse(R"({"x":1,"y":[1,2,{"z":1.0}]})");
  auto b = *json::Parse(R"({"y":[1,2,{"z":1}],"x":1})");
  auto c = *json::Parse(R"({"y":[2,1,{"z":1}],"x":1})");
  CHECK(json::Equal(a, b));
  CHECK_FALSE(json::Equal(a, c));
}

TEST_CASE("MergePatch follows RFC 7386", "[json]") {
  // Examples from RFC 7386 appendix A.
  auto target = *json::Parse(R"({"a":"b","c":{"d":"e","f":"g"},"arr":[1,2]})");
  auto patch = *json::Parse(R"({"a":"z","c":{"f":null},"arr":[3],"n":{"x":null,"y":1}})");
  json::MergePatch(target, patch, target.GetAllocator());
  auto want = *json::Parse(R"({"a":"z","c":{"d":"e"},"arr":[3],"n":{"y":1}})");
  CHECK(json::Equal(target, want));
}

TEST_CASE("NestingDepth counts brackets outside strings", "[json]") {
  CHECK(json::NestingDepth("") == 0);
  CHECK(json::NestingDepth("42") == 0);
  CHECK(json::NestingDepth("{}") == 1);
  CHECK(json::NestingDepth(R"({"a":[{"b":[]}],"c":{}})") == 4);
  CHECK(json::NestingDepth(R"({"a":"[[[{{{\"[[["})") == 1);
  CHECK(json::NestingDepth(R"(["\\",[]])") == 2);
  // Not parsed: unbalanced or invalid text still gets a depth.
  CHECK(json::NestingDepth(std::string(100, '[')) == 100);
}

TEST_CASE("HasDuplicateMembers finds repeated names at the scope asked for", "[json]") {
  auto parse = [](std::string_view text) {
    json::Document doc;
    doc.Parse(text.data(), text.size());
    REQUIRE_FALSE(doc.HasParseError());
    return doc;
  };
  CHECK_FALSE(json::HasDuplicateMembers(parse(R"({"a":1,"b":{"a":2},"c":[{"a":3}]})")));
  CHECK(json::HasDuplicateMembers(parse(R"({"a":1,"a":2})")));
  CHECK(json::HasDuplicateMembers(parse(R"({"a":1,"a":2})"), json::MemberScope::kTopLevel));

  // Nested duplicates: in an object member and in an array element.
  auto in_object = parse(R"({"a":{"x":1,"x":2}})");
  CHECK(json::HasDuplicateMembers(in_object));
  CHECK_FALSE(json::HasDuplicateMembers(in_object, json::MemberScope::kTopLevel));
  auto in_array = parse(R"({"a":[1,{"x":1,"y":2,"x":3}]})");
  CHECK(json::HasDuplicateMembers(in_array));
  CHECK_FALSE(json::HasDuplicateMembers(in_array, json::MemberScope::kTopLevel));

  // More than eight members take the sorted path.
  CHECK_FALSE(json::HasDuplicateMembers(
      parse(R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10})")));
  CHECK(json::HasDuplicateMembers(
      parse(R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"d":10})")));
  CHECK_FALSE(json::HasDuplicateMembers(parse("[1,2]")));
  CHECK_FALSE(json::HasDuplicateMembers(parse("3")));
}
