#include "kube/url.h"

#include <catch2/catch.hpp>

using namespace srexpert::kube;

TEST_CASE("Query strings percent-encode selectors and skip empty values", "[kube][url]") {
  QueryString q;
  q.Add("labelSelector", "app in (a,b),!x").Add("fieldSelector", "").Add("limit", 5LL).AddBool(
      "force", false);
  CHECK(q.str() == "?labelSelector=app%20in%20%28a%2Cb%29%2C%21x&limit=5");
  CHECK(QueryString().str().empty());
  CHECK(PercentEncode("a-b.c_d~e/f=g") == "a-b.c_d~e%2Ff%3Dg");
}
