// Credentials in environment variables and ConfigMaps
// (operator/scan/sensitive_data_checks.cc).
#include <catch2/catch.hpp>

#include "test/scan/scan_test_support.h"

using namespace srexpert::testing::scan;

namespace {

bool EnvPasses(const std::string& env) {
  auto s = ScanText(ModelStream(R"({"env":)" + env + "}"));
  auto r = Results(*s, "sensitive-env-var", "target", "app");
  REQUIRE(r.size() == 1);
  INFO(env);
  return r[0]->passed;
}

bool ConfigMapPasses(const std::string& data) {
  auto s = ScanText("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: target}\n" + data + "\n");
  auto r = Results(*s, "sensitive-configmap-content");
  REQUIRE(r.size() == 1);
  INFO(data);
  return r[0]->passed;
}

}  // namespace

TEST_CASE("sensitive-env-var: literal values under secret-looking names or holding private keys",
          "[scan][sensitive]") {
  for (std::string name : {"aws_secret_access_key", "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_STORAGE_KEY",
                           "OCI_CLI_KEY_CONTENT", "db_Password", "GITHUB_TOKEN", "Bearer", "client_secret"}) {
    CHECK_FALSE(EnvPasses(R"([{"name":")" + name + R"(","value":"x"}])"));
  }
  CHECK(EnvPasses(R"([{"name":"AZURE_KEY","value":"x"}])"));  // AZURE_.+KEY needs a middle
  CHECK(EnvPasses(R"([{"name":"DB_PASSWORD","value":""}])"));
  CHECK(EnvPasses(R"([{"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}])"));
  CHECK_FALSE(EnvPasses(R"([{"name":"CERT","value":"-----BEGIN RSA PRIVATE KEY-----\nabc"}])"));
  CHECK(EnvPasses(R"([{"name":"CERT","value":"-----BEGIN CERTIFICATE-----"}])"));
}

TEST_CASE("sensitive-configmap-content: keys and values", "[scan][sensitive]") {
  CHECK(ConfigMapPasses("data: {color: blue, size: '3'}"));
  CHECK_FALSE(ConfigMapPasses("data: {admin-password: x}"));
  CHECK_FALSE(ConfigMapPasses("data: {tls.key: \"-----BEGIN PRIVATE KEY-----\\n\"}"));
  CHECK(ConfigMapPasses("binaryData: {token: eA==}"));  // only data is read, as in Polaris
  // The leader's projection keeps key names only.
  CHECK_FALSE(ConfigMapPasses("dataKeys: [oauth-token]"));
}
