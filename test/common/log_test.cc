#include "common/log.h"

#include "common/json.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace srexpert;

namespace {
std::vector<std::string> g_lines;
void Capture(std::string_view line) { g_lines.emplace_back(line); }
}  // namespace

TEST_CASE("log writes one JSON object per line with typed fields", "[log]") {
  g_lines.clear();
  log::SetSink(&Capture);
  log::SetLevel(log::Level::kInfo);
  log::Info("reconciled", {{"name", "srexpert-agent"}, {"writes", 0}, {"ok", true}, {"q", "a\"b"}});
  log::Debug("hidden");
  log::SetSink(nullptr);
  REQUIRE(g_lines.size() == 1);
  auto doc = json::Parse(g_lines[0]);
  REQUIRE(doc);
  CHECK(json::GetString(*doc, {"level"}) == "info");
  CHECK(json::GetString(*doc, {"msg"}) == "reconciled");
  CHECK(json::GetString(*doc, {"name"}) == "srexpert-agent");
  CHECK(json::GetInt(*doc, {"writes"}, -1) == 0);
  CHECK(json::GetBool(*doc, {"ok"}));
  CHECK(json::GetString(*doc, {"q"}) == "a\"b");
}

TEST_CASE("Redacted never contains the credential", "[log]") {
  CHECK(log::Redacted("s3cr3t-token") == "<redacted len=12>");
}

TEST_CASE("ParseLevel accepts the documented names only", "[log]") {
  log::Level l;
  CHECK(log::ParseLevel("debug", &l));
  CHECK(l == log::Level::kDebug);
  CHECK(log::ParseLevel("error", &l));
  CHECK_FALSE(log::ParseLevel("verbose", &l));
}
