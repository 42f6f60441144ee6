// The one-line install served by srexpert-hub: the renderer on its own, then
// a real hub answering `curl .../install.yaml?token=...`, piped into the real
// kubectl against the loopback API server.
#include <catch2/catch.hpp>

#include <yaml-cpp/yaml.h>

#include "common/base64.h"
#include "common/json.h"
#include "controller/bootstrap.h"
#include "hub/install_manifest.h"
#include "test/apiserver/api_server.h"
#include "test/net/test_support.h"
#include "test/packaging/packaging_support.h"

using namespace srexpert;
using namespace srexpert::packaging;

namespace {

constexpr char kHub[] = SRX_BINARY_DIR "/operator/cmd/srexpert-hub";
const std::string kPem =
    "-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n";

YAML::Node BootstrapAgentConfig(const std::vector<YAML::Node>& docs) {
  return YAML::Load(FindOne(docs, "ConfigMap", "srexpert-operator-bootstrap")["data"]
                        ["agentconfig.yaml"]
                            .as<std::string>());
}

// kubectl with its own cache, against one API server.
CommandResult Kubectl(const testing::ApiServer& server, const std::string& cache,
                      std::vector<std::string> args, const std::string& input = {}) {
  std::vector<std::string> argv = {"kubectl", "--kubeconfig", server.KubeconfigFile(),
                                   "--cache-dir", cache};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, input);
}

}  // namespace

TEST_CASE("The install manifest gets the token, cluster, URL and CA, each YAML-escaped",
          "[packaging][install-endpoint]") {
  const std::string tmpl = ReadFile(SourcePath("manifests/install.yaml"));
  CHECK(hub::EmbeddedInstallTemplate() == tmpl);  // the build embeds the committed file

  // Values that would break naive substitution: quotes, a backslash, a
  // comment marker, YAML structure and line breaks.
  hub::InstallValues v{"prod-eu\"1\n# evil: true", "t0k\"en\\:#{x}\nkind: Secret",
                       "wss://hub.example.com:8443/api/v1/tunnel?a=1#b", kPem};
  std::string error;
  auto yaml = hub::RenderInstallManifest(tmpl, v, &error);
  INFO(error);
  REQUIRE(yaml);
  auto docs = LoadDocuments(*yaml);
  CHECK(docs.size() == LoadDocuments(tmpl).size());
  CHECK(FindOne(docs, "Secret")["stringData"]["token"].as<std::string>() == v.token);
  YAML::Node ac = BootstrapAgentConfig(docs);
  CHECK(ac["spec"]["clusterName"].as<std::string>() == v.cluster_name);
  CHECK(ac["spec"]["backend"]["url"].as<std::string>() == v.backend_url);
  CHECK(ac["spec"]["backend"]["caBundle"].as<std::string>() == kPem);
  CHECK(ac["spec"]["backend"]["insecure"].as<bool>() == false);
  // Nothing else moved: the rest of the file is the template's.
  CHECK(yaml->find("token: \"REPLACE_WITH_REGISTRATION_TOKEN\"") == std::string::npos);
  CHECK(Canonical(FindOne(docs, "Deployment")) ==
        Canonical(FindOne(LoadDocuments(tmpl), "Deployment")));

  // A ws:// hub (development) sets insecure and sends no CA.
  auto plain = hub::RenderInstallManifest(
      tmpl, {"dev", "tok", "ws://127.0.0.1:8080/api/v1/tunnel", kPem}, &error);
  REQUIRE(plain);
  YAML::Node dev = BootstrapAgentConfig(LoadDocuments(*plain));
  CHECK(dev["spec"]["backend"]["insecure"].as<bool>());
  CHECK_FALSE(dev["spec"]["backend"]["caBundle"]);

  // A template without the placeholders is an error, not a silent half-fill.
  CHECK_FALSE(hub::RenderInstallManifest("kind: ConfigMap\n", v, &error));
  CHECK(error.find("REPLACE_WITH_REGISTRATION_TOKEN") != std::string::npos);
}

TEST_CASE("Query parameters are percent-decoded, and only certificates become the CA",
          "[packaging][install-endpoint]") {
  CHECK(hub::QueryParam("token=a%2Bb%3D&x=1", "token") == "a+b=");
  CHECK(hub::QueryParam("x=1&token=abc", "token") == "abc");
  CHECK_FALSE(hub::QueryParam("x=1", "token"));
  CHECK(hub::CertificatesOnly("junk\n-----BEGIN PRIVATE KEY-----\nAAA\n-----END PRIVATE KEY-----\n" +
                              kPem + kPem) == kPem + kPem);
  CHECK(hub::YamlQuote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST_CASE("curl | kubectl apply: a real hub serves install.yaml for a real token, refuses "
          "others, and kubectl applies it to a fresh API server",
          "[packaging][install-endpoint][kubectl]") {
  testing::TempDir dir;
  testing::TestPki pki(dir.path());
  const std::string token = "reg-Lq7w2XbN8aTz0pKc";
  testing::WriteFile(dir.File("tokens.json"),
                     R"({"clusters":[{"name":"prod-eu-1","token":")" + token +
                         R"("},{"name":"gone","token":"reg-disabled-0000","disabled":true}]})");
  const uint16_t port = testing::FreePort();
  const std::string public_url = "wss://hub.example.com:443/api/v1/tunnel";
  auto start_hub = [&](const std::string& log, std::vector<std::string> extra) {
    std::vector<std::string> argv = {kHub,
                                     "--port", std::to_string(port),
                                     "--bind-address", "127.0.0.1",
                                     "--tls-cert-file", pki.server_cert,
                                     "--tls-key-file", pki.server_key,
                                     "--tokens-file", dir.File("tokens.json"),
                                     "--api-port", "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<testing::ChildProcess>(argv, log, log);
  };
  const std::string log = dir.File("hub.log");
  auto hub = start_hub(log, {"--public-url", public_url, "--public-ca-file", pki.ca_cert});
  REQUIRE(testing::WaitForPort(port));

  auto get = [&](const std::string& target) {
    return testing::HttpCall(port, "GET", target, "", pki.ca_cert);
  };
  for (const std::string& bad : {std::string("/install.yaml"), std::string("/install.yaml?token="),
                                 std::string("/install.yaml?token=reg-not-a-token")}) {
    auto r = get(bad);
    INFO(bad << ": " << r.error);
    CHECK(r.status == 401);
    CHECK(r.body.find("kind:") == std::string::npos);
  }
  auto disabled = get("/install.yaml?token=reg-disabled-0000");
  CHECK(disabled.status == 403);
  CHECK(disabled.body.find("kind:") == std::string::npos);
  auto ok = get("/install.yaml?token=" + token);
  INFO(ok.error);
  REQUIRE(ok.status == 200);
  CHECK(ok.content_type.rfind("application/yaml", 0) == 0);
  // The operator accepts the AgentConfig it will bootstrap from this file.
  YAML::Node ac = BootstrapAgentConfig(LoadDocuments(ok.body));
  CHECK(ac["spec"]["clusterName"].as<std::string>() == "prod-eu-1");
  CHECK(ac["spec"]["backend"]["url"].as<std::string>() == public_url);
  CHECK(ac["spec"]["backend"]["caBundle"].as<std::string>() ==
        hub::CertificatesOnly(testing::ReadFile(pki.ca_cert)));
  {
    std::string why;
    auto parsed = controller::ParseBootstrapAgentConfig(
        FindOne(LoadDocuments(ok.body), "ConfigMap", "srexpert-operator-bootstrap")["data"]
                                                                                   ["agentconfig.yaml"]
            .as<std::string>(),
        "served", "srexpert-system", &why);
    INFO(why);
    CHECK(parsed);
  }

  // The documented one-liner, with real curl and kubectl.
  testing::ApiServer server;
  server.Start();
  TempDir cache;
  const std::string kubectl = "kubectl --kubeconfig '" + server.KubeconfigFile() +
                              "' --cache-dir '" + cache.path() + "'";
  // The test PKI's certificate names localhost: use it as the host.
  const std::string url = "https://localhost:" + std::to_string(port) + "/install.yaml?token=";
  const std::string fetch = "curl -fsSL --cacert '" + pki.ca_cert + "' '" + url;
  CommandResult dry =
      Run({"bash", "-o", "pipefail", "-c", fetch + token + "' | " + kubectl + " apply --dry-run=client -f -"});
  INFO(dry.Describe());
  CHECK(dry.exit_code == 0);
  CHECK(dry.out.find("configmap/srexpert-operator-bootstrap created (dry run)") !=
        std::string::npos);
  CommandResult applied =
      Run({"bash", "-o", "pipefail", "-c", fetch + token + "' | " + kubectl + " apply -f -"});
  INFO(applied.Describe());
  CHECK(applied.exit_code == 0);
  CommandResult secret = Kubectl(server, cache.path(),
                                 {"get", "secret", "srexpert-agent-registration", "-n",
                                  "srexpert-system", "-o", "jsonpath={.data.token}"});
  CHECK(base64::Decode(secret.out) == token);

  // A wrong token: curl fails, kubectl gets nothing, nothing changes.
  CommandResult refused = Run({"bash", "-o", "pipefail", "-c",
                               fetch + "reg-wrong' | " + kubectl + " apply -f -"});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("401") != std::string::npos);

  // Never a token in the hub's log.
  const std::string hub_log = testing::ReadFile(log);
  CHECK(hub_log.find("install manifest served") != std::string::npos);
  CHECK(hub_log.find(token) == std::string::npos);
  CHECK(hub_log.find("reg-not-a-token") == std::string::npos);
  CHECK(hub_log.find("reg-wrong") == std::string::npos);
  CHECK(hub->Terminate(std::chrono::seconds(10)) == 0);

  // Without --public-url the hub says how to enable the endpoint.
  auto bare = start_hub(dir.File("hub2.log"), {});
  REQUIRE(testing::WaitForPort(port));
  auto unavailable = get("/install.yaml?token=" + token);
  CHECK(unavailable.status == 503);
  CHECK(unavailable.body.find("--public-url") != std::string::npos);
  CHECK(bare->Terminate(std::chrono::seconds(10)) == 0);
}
