#include "common/time_format.h"

#include <catch2/catch.hpp>

using namespace srexpert;
using namespace std::chrono_literals;

TEST_CASE("timestamps format as metav1.Time and metav1.MicroTime", "[time]") {
  auto t = std::chrono::system_clock::from_time_t(1'767'366'245) + 123456us;
  CHECK(FormatRfc3339(t) == "2026-01-02T15:04:05Z");
  CHECK(FormatRfc3339Micro(t) == "2026-01-02T15:04:05.123456Z");
}

TEST_CASE("ParseRfc3339 round-trips and honours offsets", "[time]") {
  auto t = std::chrono::system_clock::from_time_t(1'767'366'245) + 123456us;
  CHECK(ParseRfc3339(FormatRfc3339Micro(t)) == t);
  CHECK(ParseRfc3339("2026-01-02T15:04:05Z") == std::chrono::system_clock::from_time_t(1'767'366'245));
  CHECK(ParseRfc3339("2026-01-02T17:04:05+02:00") ==
        std::chrono::system_clock::from_time_t(1'767'366'245));
}

TEST_CASE("ParseRfc3339 rejects malformed timestamps", "[time]") {
  for (const char* bad : {"", "2026-01-02", "2026-01-02T15:04:05", "2026-13-02T15:04:05Z",
                          "2026-01-02T15:04:05.Z", "2026-01-02T15:04:05Zjunk", "yesterday"}) {
    INFO(bad);
    CHECK_FALSE(ParseRfc3339(bad));
  }
}
