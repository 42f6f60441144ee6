#include "common/yaml_documents.h"

#include <catch2/catch.hpp>

using srexpert::yaml::LoadAllDocuments;
using srexpert::yaml::LoadError;

TEST_CASE("LoadAllDocuments reads every document of a stream", "[common][yaml]") {
  std::vector<YAML::Node> docs;
  LoadError error;
  REQUIRE(LoadAllDocuments("a: 1\n---\nb: 2\n---\n- x\n", 100, &docs, &error));
  REQUIRE(docs.size() == 3);
  CHECK(docs[0]["a"].as<int>() == 1);
  CHECK(docs[2][0].as<std::string>() == "x");
  REQUIRE(LoadAllDocuments("", 100, &docs, &error));
  CHECK(docs.size() <= 1);
  REQUIRE(LoadAllDocuments("--- a\n...\n--- b\n", 100, &docs, &error));
  CHECK(docs.size() == 2);
}

TEST_CASE("a stray comma is an error, not yaml-cpp's endless loop", "[common][yaml]") {
  // yaml-cpp 0.7's LoadAll() allocates an empty document per turn, forever,
  // on each of these (jbeder/yaml-cpp#1040).
  for (const char* text : {",", "a: 1\n---\n,\n", ", a", "- ,x\n---\n,"}) {
    INFO(text);
    std::vector<YAML::Node> docs;
    LoadError error;
    REQUIRE_FALSE(LoadAllDocuments(text, 1000, &docs, &error));
    CHECK(docs.empty());
    CHECK_FALSE(error.message.empty());
  }
  std::vector<YAML::Node> docs;
  LoadError error;
  REQUIRE_FALSE(LoadAllDocuments("a: 1\n---\n,\n", 1000, &docs, &error));
  CHECK(error.runaway);
  CHECK(error.line == 2);
}

TEST_CASE("LoadAllDocuments refuses more documents than allowed", "[common][yaml]") {
  std::vector<YAML::Node> docs;
  LoadError error;
  REQUIRE_FALSE(LoadAllDocuments("a: 1\n---\nb: 2\n---\nc: 3\n", 2, &docs, &error));
  CHECK(error.message == "more than 2 documents");
  CHECK(error.too_many_documents);
  CHECK_FALSE(error.runaway);
}

TEST_CASE("yaml-cpp's own syntax errors come back with their line", "[common][yaml]") {
  std::vector<YAML::Node> docs;
  LoadError error;
  REQUIRE_FALSE(LoadAllDocuments("a: 1\nb: [1, 2\n", 100, &docs, &error));
  CHECK(error.message.find("end of sequence") != std::string::npos);
  CHECK_FALSE(error.runaway);
}
