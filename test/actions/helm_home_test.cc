// The agent pod gives Helm a home (operator/controller/desired_daemonset.cc):
// with spec.actions.helm on, a memory-backed emptyDir mounted writable at
// /var/lib/srexpert/helm and named to the agent by SRX_HELM_HOME (the root
// filesystem stays read-only); with it off, the pod is unchanged.
#include <rapidjson/pointer.h>

#include <catch2/catch.hpp>
#include <string>

#include "api/agent_config.h"
#include "controller/desired.h"
#include "test/api/agent_config_fixture.h"

using namespace srexpert;

namespace {

json::Document DaemonSetWithHelm(bool helm) {
  auto doc = testing::MinimalAgentConfig();
  auto& a = doc.GetAllocator();
  json::Value& actions = json::EnsureObject(doc, {"spec", "actions"}, a);
  json::Set(actions, "helm", json::Value(helm), a);
  // Helm needs the namespaces it may use (its release Secrets are read there).
  json::Value namespaces(rapidjson::kArrayType);
  namespaces.PushBack(json::String("shop", a), a);
  json::Set(actions, "namespaces", std::move(namespaces), a);
  auto parsed = api::Parse(doc);
  INFO(parsed.Summary());
  REQUIRE(parsed.ok());
  return controller::DesiredDaemonSet(parsed.config, {"5d1e0b6a-0000-4000-8000-00000000ns01",
                                                      std::string(testing::kTestToken), "img"});
}

const json::Value* Named(const json::Value& array, const std::string& name) {
  for (const auto& item : array.GetArray()) {
    if (json::GetString(item, {"name"}) == name) return &item;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("with Helm actions on, the agent pod has a memory-backed Helm home", "[helm]") {
  auto ds = DaemonSetWithHelm(true);
  const auto& pod = *rapidjson::Pointer("/spec/template/spec").Get(ds);
  const auto& c = *rapidjson::Pointer("/spec/template/spec/containers/0").Get(ds);

  const auto* volume = Named(pod["volumes"], "helm-home");
  REQUIRE(volume != nullptr);
  CHECK(json::GetString(*volume, {"emptyDir", "medium"}) == "Memory");
  CHECK_FALSE(json::GetString(*volume, {"emptyDir", "sizeLimit"}).empty());

  const auto* mount = Named(c["volumeMounts"], "helm-home");
  REQUIRE(mount != nullptr);
  CHECK(json::GetString(*mount, {"mountPath"}) == "/var/lib/srexpert/helm");
  CHECK_FALSE(json::GetBool(*mount, {"readOnly"}));

  const auto* env = Named(c["env"], "SRX_HELM_HOME");
  REQUIRE(env != nullptr);
  CHECK(json::GetString(*env, {"value"}) == "/var/lib/srexpert/helm");

  // Still nothing else writable: the root filesystem stays read-only.
  CHECK(json::GetBool(c, {"securityContext", "readOnlyRootFilesystem"}));
}

TEST_CASE("with Helm actions off, the agent pod has no Helm home", "[helm]") {
  auto ds = DaemonSetWithHelm(false);
  const auto& pod = *rapidjson::Pointer("/spec/template/spec").Get(ds);
  const auto& c = *rapidjson::Pointer("/spec/template/spec/containers/0").Get(ds);
  CHECK(Named(pod["volumes"], "helm-home") == nullptr);
  CHECK(Named(c["volumeMounts"], "helm-home") == nullptr);
  CHECK(Named(c["env"], "SRX_HELM_HOME") == nullptr);
}
