// The AgentConfig CRD on a real kube-apiserver: it is accepted (every CEL
// rule holds for the defaults as the server checks them), it defaults a
// minimal object exactly as our schema model and api::Parse assume, it
// rejects exactly the invalid objects the CRD claims to enforce (schema or
// CEL) and accepts those only the operator catches, the shipped examples
// pass, and `kubectl explain` documents the fields.
#include <catch2/catch.hpp>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/json.h"
#include "test/api/agent_config_fixture.h"
#include "test/api/crd_schema.h"
#include "test/api/invalid_agent_configs.h"
#include "test/net/test_support.h"
#include "test/real/real_cluster.h"

using namespace srexpert;
using namespace std::chrono_literals;

namespace {

constexpr const char* kCrdFile = SRX_SOURCE_DIR "/crds/agentconfigs.agent.srexpert.io.yaml";
constexpr const char* kNs = "crd-real";

std::shared_ptr<kube::RestClient> Client() {
  auto c = testing::real::AdminClient();
  REQUIRE(c.ok());
  return *c;
}

std::string Kubectl(const std::string& args, int* status = nullptr) {
  std::string out;
  int rc = testing::RunShell("kubectl --kubeconfig '" + testing::real::AdminKubeconfig() + "' " +
                                 args,
                             &out);
  if (status) *status = rc;
  return out;
}

// The CRD applied server-side and Established, and the test namespace.
void Install(kube::RestClient& client) {
  int rc = 0;
  std::string out = Kubectl(std::string("apply --server-side -f ") + kCrdFile, &rc);
  INFO(out);
  REQUIRE(rc == 0);
  out = Kubectl("wait --for=condition=Established --timeout=60s crd/agentconfigs.agent.srexpert.io",
                &rc);
  INFO(out);
  REQUIRE(rc == 0);
  auto ns = json::Parse(std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") +
                        kNs + R"("}})");
  auto created = client.Create(*ns);
  REQUIRE((created.ok() || created.error().IsAlreadyExists()));
}

// A fixture object as a user would send it: no server-set metadata, in our
// test namespace.
json::Document AsSubmitted(json::Document doc) {
  auto& meta = *json::FindMutable(doc, {"metadata"});
  json::Remove(meta, "uid");
  json::Remove(meta, "generation");
  json::SetString(meta, "namespace", kNs, doc.GetAllocator());
  return doc;
}

}  // namespace

TEST_CASE("kube-apiserver accepts the CRD: every CEL rule holds for the defaults", "[real][crd]") {
  auto client = Client();
  Install(*client);
  // The rules the server compiled are the ones in the file (nothing dropped).
  auto crd = client->Get({"apiextensions.k8s.io/v1", "CustomResourceDefinition", "",
                          "agentconfigs.agent.srexpert.io"});
  REQUIRE(crd.ok());
  std::string stored = json::Dump(*crd);
  CHECK(stored.find("renewDeadline must be less than leaseDuration") != std::string::npos);
  CHECK(stored.find("batchInterval must be between 1ms and 1m") != std::string::npos);
}

TEST_CASE("kube-apiserver defaults an AgentConfig exactly as the schema model and api::Parse",
          "[real][crd]") {
  auto client = Client();
  Install(*client);
  const YAML::Node root = testing::RootSchema(testing::LoadCrd());
  for (std::string name : {"minimal", "full"}) {
    SECTION(name) {
      auto submitted = AsSubmitted(name == "minimal" ? testing::MinimalAgentConfig()
                                                     : testing::FullAgentConfig());
      auto created = client->Create(submitted, {.field_manager = "crd-real-test", .dry_run = true});
      INFO((created.ok() ? std::string() : created.error().ToString()));
      REQUIRE(created.ok());
      json::Document expected = json::Clone(submitted);
      testing::ApplySchemaDefaults(root, expected, expected.GetAllocator());
      INFO("server:   " << json::Dump((*created)["spec"]));
      INFO("expected: " << json::Dump(expected["spec"]));
      CHECK(json::Equal((*created)["spec"], expected["spec"]));
    }
  }
}

TEST_CASE("kube-apiserver rejects exactly the invalid AgentConfigs the CRD enforces",
          "[real][crd]") {
  auto client = Client();
  Install(*client);
  for (const auto& c : testing::InvalidAgentConfigCases()) {
    SECTION(c.name) {
      auto doc = AsSubmitted(testing::Patched(testing::MinimalAgentConfig(), c.patch));
      auto created = client->Create(doc, {.field_manager = "crd-real-test", .dry_run = true});
      std::string error = created.ok() ? "" : created.error().ToString();
      INFO("object: " << json::Dump(doc));
      INFO("server: " << (created.ok() ? "accepted" : error));
      if (c.enforced == testing::Enforced::kOperator) {
        // The CRD cannot express it: the operator reports it as Degraded.
        CHECK(created.ok());
      } else {
        REQUIRE_FALSE(created.ok());
        CHECK(created.error().IsInvalid());
        if (c.enforced == testing::Enforced::kCel) {
          CHECK(error.find(c.cel_message) != std::string::npos);
        }
      }
    }
  }
}

TEST_CASE("the shipped AgentConfig examples are accepted by kube-apiserver", "[real][crd]") {
  auto client = Client();
  Install(*client);
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SRX_SOURCE_DIR "/manifests/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    ++seen;
    int rc = 0;
    std::string out;
    rc = testing::RunShell("sed 's/namespace: srexpert-system/namespace: " + std::string(kNs) +
                               "/' '" + entry.path().string() + "' | kubectl --kubeconfig '" +
                               testing::real::AdminKubeconfig() +
                               "' create --dry-run=server -o name -f -",
                           &out);
    INFO(entry.path().filename().string() << ": " << out);
    CHECK(rc == 0);
    CHECK(out.find("agentconfig.agent.srexpert.io/") != std::string::npos);
  }
  CHECK(seen >= 3);
}

TEST_CASE("kubectl explain documents AgentConfig from the served schema", "[real][crd]") {
  auto client = Client();
  Install(*client);
  // Discovery and the OpenAPI document follow the CRD a moment later.
  std::string out;
  int rc = 1;
  for (int i = 0; i < 100 && rc != 0; ++i) {
    out = Kubectl("explain agentconfig.spec", &rc);
    if (rc != 0) std::this_thread::sleep_for(200ms);
  }
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("Desired state of the agent installation") != std::string::npos);
  for (const char* field : {"backend", "token", "clusterName", "leaderElection", "tunnel",
                            "collection", "stream", "scans", "actions"}) {
    CHECK(out.find(std::string(field) + "\t") != std::string::npos);
  }
  out = Kubectl("explain agentconfig.spec.leaderElection.renewDeadline", &rc);
  INFO(out);
  CHECK(rc == 0);
  // kubectl wraps descriptions at its own width.
  std::string flat;
  for (char c : out) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!flat.empty() && flat.back() != ' ') flat += ' ';
    } else {
      flat += c;
    }
  }
  CHECK(flat.find("work; less than leaseDuration") != std::string::npos);
}
