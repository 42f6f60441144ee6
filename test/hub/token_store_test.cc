#include "hub/token_store.h"

#include <catch2/catch.hpp>

#include <thread>

#include "test/net/test_support.h"

using namespace srexpert::hub;
using srexpert::testing::TempDir;
using srexpert::testing::WriteFile;

namespace {
std::string Hex(const std::string& raw) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}
}  // namespace

TEST_CASE("tokens map to clusters, plain or as SHA-256", "[hub][tokens]") {
  TempDir dir;
  WriteFile(dir.File("tokens.json"),
            R"({"clusters":[{"name":"prod","token":"tok-prod"},
                            {"name":"dev","tokenSha256":")" + Hex(Sha256("tok-dev")) + R"("},
                            {"name":"old","token":"tok-old","disabled":true}]})");
  TokenStore store(dir.File("tokens.json"));
  std::string error;
  REQUIRE(store.Load(&error));
  CHECK(store.size() == 3);
  auto prod = store.Lookup("tok-prod");
  REQUIRE(prod);
  CHECK(prod->cluster == "prod");
  CHECK_FALSE(prod->disabled);
  REQUIRE(store.Lookup("tok-dev"));
  CHECK(store.Lookup("tok-dev")->cluster == "dev");
  REQUIRE(store.Lookup("tok-old"));
  CHECK(store.Lookup("tok-old")->disabled);
  CHECK_FALSE(store.Lookup("tok-unknown"));
  CHECK_FALSE(store.Lookup(""));
}

TEST_CASE("a changed token file is reloaded on lookup", "[hub][tokens]") {
  TempDir dir;
  WriteFile(dir.File("tokens.json"), R"({"clusters":[{"name":"a","token":"one"}]})");
  TokenStore store(dir.File("tokens.json"));
  std::string error;
  REQUIRE(store.Load(&error));
  CHECK(store.Lookup("one"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // distinct mtime
  WriteFile(dir.File("tokens.json"), R"({"clusters":[{"name":"a","token":"two"}]})");
  CHECK_FALSE(store.Lookup("one"));
  CHECK(store.Lookup("two"));
  // A broken rewrite keeps the previous tokens.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  WriteFile(dir.File("tokens.json"), "{not json");
  CHECK(store.Lookup("two"));
}

TEST_CASE("malformed token files are rejected with the reason", "[hub][tokens]") {
  TempDir dir;
  std::string error;
  TokenStore missing(dir.File("nope.json"));
  CHECK_FALSE(missing.Load(&error));
  CHECK(error.find("cannot read token file") == 0);

  struct Case {
    const char* content;
    const char* message_part;
  };
  const Case cases[] = {
      {"[]", "\"clusters\" must be an array"},
      {"{oops", "invalid JSON"},
      {R"({"clusters":[{"token":"x"}]})", "clusters[0] needs a name"},
      {R"({"clusters":[{"name":"a"}]})", "clusters[0]: needs exactly one of token, tokenSha256"},
      {R"({"clusters":[{"name":"a","token":"x","tokenSha256":"00"}]})", "exactly one of"},
      {R"({"clusters":[{"name":"a","tokenSha256":"abc"}]})", "is not 64 hex digits"},
  };
  for (const auto& c : cases) {
    INFO(c.content);
    WriteFile(dir.File("t.json"), c.content);
    TokenStore store(dir.File("t.json"));
    CHECK_FALSE(store.Load(&error));
    CHECK(error.find(c.message_part) != std::string::npos);
  }
}
