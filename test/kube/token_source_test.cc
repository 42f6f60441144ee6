#include "kube/token_source.h"

#include <catch2/catch.hpp>

#include "test/kube/temp_dir.h"

using namespace srexpert;
using namespace srexpert::kube;
using namespace std::chrono_literals;
using srexpert::kube::testing::TempDir;

TEST_CASE("A token file is re-read after the refresh period, not before",
          "[kube][token_source]") {
  TempDir dir;
  std::string file = dir.Write("token", "first\n");
  FakeClock clock;
  TokenSource tokens("", file, 60s, clock);
  CHECK(tokens.Token().value() == "first");
  dir.Write("token", "second");
  clock.Advance(59s);
  CHECK(tokens.Token().value() == "first");
  clock.Advance(2s);
  CHECK(tokens.Token().value() == "second");
}

TEST_CASE("Invalidate forces an immediate re-read (the client does so after a 401)",
          "[kube][token_source]") {
  TempDir dir;
  std::string file = dir.Write("token", "old");
  FakeClock clock;
  TokenSource tokens("", file, 60s, clock);
  CHECK(tokens.Token().value() == "old");
  dir.Write("token", "new");
  tokens.Invalidate();
  CHECK(tokens.Token().value() == "new");
}

TEST_CASE("A vanished token file keeps the last good token", "[kube][token_source]") {
  TempDir dir;
  std::string file = dir.Write("token", "kept");
  FakeClock clock;
  TokenSource tokens("", file, 1s, clock);
  CHECK(tokens.Token().value() == "kept");
  std::filesystem::remove(file);
  clock.Advance(5s);
  CHECK(tokens.Token().value() == "kept");

  TokenSource never(std::string(), dir.path() + "/absent", 1s, clock);
  auto t = never.Token();
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().reason() == Reason::kConfig);
  CHECK_THAT(t.error().message(), Catch::Contains("absent"));
}

TEST_CASE("A fixed token is returned as configured", "[kube][token_source]") {
  FakeClock clock;
  TokenSource tokens("abc", "", 60s, clock);
  CHECK(tokens.Token().value() == "abc");
  CHECK_FALSE(tokens.Refreshable());
}
