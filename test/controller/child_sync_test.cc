#include "controller/child_sync.h"

#include <catch2/catch.hpp>

using namespace srexpert;
using namespace srexpert::controller;

TEST_CASE("a live object with server defaults and foreign fields contains the desired body",
          "[child_sync]") {
  auto desired = *json::Parse(R"({"metadata":{"name":"a","labels":{"x":"1"}},"spec":{"containers":[{"name":"c","image":"i"}]}})");
  auto live = *json::Parse(R"({"metadata":{"name":"a","uid":"u","labels":{"x":"1","other":"y"}},"spec":{"containers":[{"name":"c","image":"i","terminationMessagePath":"/dev/termination-log"}],"dnsPolicy":"ClusterFirst"}})");
  CHECK(LiveContains(live, desired));
}

TEST_CASE("a changed, missing or extra list element is out of sync", "[child_sync]") {
  auto desired = *json::Parse(R"({"rules":[{"verbs":["get"]}]})");
  CHECK_FALSE(LiveContains(*json::Parse(R"({"rules":[{"verbs":["get","list"]}]})"), desired));
  CHECK_FALSE(LiveContains(*json::Parse(R"({"rules":[]})"), desired));
  CHECK_FALSE(LiveContains(*json::Parse(R"({"rules":[{"verbs":["get"]},{"verbs":["*"]}]})"), desired));
  CHECK_FALSE(LiveContains(*json::Parse(R"({})"), desired));
}

TEST_CASE("quantities compare by value as the apiserver canonicalizes them", "[child_sync]") {
  auto desired = *json::Parse(R"({"resources":{"requests":{"cpu":"0.5","memory":"0.5Gi"},"limits":{"cpu":1}}})");
  auto live = *json::Parse(R"({"resources":{"requests":{"cpu":"500m","memory":"512Mi"},"limits":{"cpu":"1"}}})");
  CHECK(LiveContains(live, desired));
  auto other = *json::Parse(R"({"resources":{"requests":{"cpu":"501m","memory":"512Mi"},"limits":{"cpu":"1"}}})");
  CHECK_FALSE(LiveContains(other, desired));
  // Outside resources, "1" and 1 differ.
  CHECK_FALSE(LiveContains(*json::Parse(R"({"replicas":"1"})"), *json::Parse(R"({"replicas":1})")));
}

TEST_CASE("the applied hash changes when a field is dropped from the desired body",
          "[child_sync]") {
  auto a = *json::Parse(R"({"metadata":{"name":"x"},"data":{"k":"v","old":"1"}})");
  auto b = *json::Parse(R"({"metadata":{"name":"x"},"data":{"k":"v"}})");
  StampAppliedHash(a);
  StampAppliedHash(b);
  // Live still has the old field and the old hash: it does not contain b.
  CHECK(LiveContains(a, a));
  CHECK_FALSE(LiveContains(a, b));
}

TEST_CASE("ParseQuantity accepts Kubernetes suffixes and rejects the rest", "[child_sync]") {
  long double v;
  REQUIRE(ParseQuantity("100m", &v));
  CHECK(v == Approx(0.1));
  REQUIRE(ParseQuantity("1Ki", &v));
  CHECK(v == Approx(1024));
  REQUIRE(ParseQuantity("2e3", &v));
  CHECK(v == Approx(2000));
  CHECK_FALSE(ParseQuantity("abc", &v));
  CHECK_FALSE(ParseQuantity("1.5x", &v));
  CHECK_FALSE(ParseQuantity("", &v));
}
