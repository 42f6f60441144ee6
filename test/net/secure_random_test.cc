// Ids that must not be guessed (hub sessions, asynchronous API requests).
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "net/secure_random.h"

TEST_CASE("RandomHex: lower-case hex of the asked length, never the same twice", "[net]") {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    std::string id = srexpert::net::RandomHex(16);
    REQUIRE(id.size() == 32);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 2000);
  CHECK(srexpert::net::RandomHex(0).empty());
}
