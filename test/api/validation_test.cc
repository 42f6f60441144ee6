#include "api/validation.h"

#include <catch2/catch.hpp>

#include "test/api/agent_config_fixture.h"

using namespace srexpert;

TEST_CASE("DNS labels and subdomains follow RFC 1123", "[validation]") {
  CHECK(api::IsDnsLabel("srexpert-system"));
  CHECK(api::IsDnsLabel("a"));
  CHECK(api::IsDnsLabel(std::string(63, 'a')));
  CHECK_FALSE(api::IsDnsLabel(std::string(64, 'a')));
  CHECK_FALSE(api::IsDnsLabel("-a"));
  CHECK_FALSE(api::IsDnsLabel("a-"));
  CHECK_FALSE(api::IsDnsLabel("A"));
  CHECK_FALSE(api::IsDnsLabel("a.b"));
  CHECK_FALSE(api::IsDnsLabel(""));
  CHECK(api::IsDnsSubdomain("a.b-c.d"));
  CHECK_FALSE(api::IsDnsSubdomain("a..b"));
  CHECK_FALSE(api::IsDnsSubdomain(".a"));
  CHECK_FALSE(api::IsDnsSubdomain("a_b"));
}

TEST_CASE("Label keys and values follow the Kubernetes rules", "[validation]") {
  CHECK(api::IsQualifiedName("app"));
  CHECK(api::IsQualifiedName("app.kubernetes.io/name"));
  CHECK(api::IsQualifiedName("Team_1.x"));
  CHECK_FALSE(api::IsQualifiedName("/name"));
  CHECK_FALSE(api::IsQualifiedName("Example.com/name"));
  CHECK_FALSE(api::IsQualifiedName("a/b/c"));
  CHECK_FALSE(api::IsQualifiedName("a b"));
  CHECK(api::IsLabelValue(""));
  CHECK(api::IsLabelValue("v1.2_3-x"));
  CHECK_FALSE(api::IsLabelValue("-x"));
  CHECK_FALSE(api::IsLabelValue(std::string(64, 'a')));
}

TEST_CASE("Quantities parse in every Kubernetes notation", "[validation]") {
  CHECK(*api::ParseQuantity("1") == 1);
  CHECK(*api::ParseQuantity("50m") == Approx(0.05));
  CHECK(*api::ParseQuantity("64Mi") == 64.0L * 1024 * 1024);
  CHECK(*api::ParseQuantity("1Gi") > *api::ParseQuantity("512Mi"));
  CHECK(*api::ParseQuantity("1G") == 1e9L);
  CHECK(*api::ParseQuantity("1.5") == Approx(1.5));
  CHECK(*api::ParseQuantity(".5k") == Approx(500));
  CHECK(*api::ParseQuantity("1e3") == Approx(1000));
  CHECK(*api::ParseQuantity("1E") == Approx(1e18));
  CHECK(*api::ParseQuantity("-1") == -1);
  for (const char* bad : {"", "m", "1mi", "1Ki2", "1e", "abc", "1 Gi", "1.2.3"}) {
    INFO(bad);
    CHECK_FALSE(api::ParseQuantity(bad));
  }
}

TEST_CASE("A CA bundle must consist of parseable PEM certificates", "[validation]") {
  const std::string ca(testing::kTestCaPem);
  CHECK(api::IsPemCertificateBundle(ca));
  CHECK(api::IsPemCertificateBundle(ca + "\n" + ca));
  CHECK_FALSE(api::IsPemCertificateBundle(""));
  CHECK_FALSE(api::IsPemCertificateBundle("garbage\n" + ca));
  CHECK_FALSE(api::IsPemCertificateBundle(
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
  CHECK_FALSE(api::IsPemCertificateBundle(
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  CHECK_FALSE(api::IsPemCertificateBundle(ca.substr(0, ca.size() / 2)));
}
