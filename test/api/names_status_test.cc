#include <catch2/catch.hpp>

#include "api/names.h"
#include "api/status.h"
#include "test/api/agent_config_fixture.h"

using namespace srexpert;

TEST_CASE("The default AgentConfig's children carry the seed's names", "[names]") {
  auto n = api::NamesFor("srexpert-agent");
  CHECK(n.service_account == "srexpert-agent");
  CHECK(n.cluster_role == "srexpert-agent");
  CHECK(n.cluster_role_binding == "srexpert-agent");
  CHECK(n.secret == "srexpert-agent-secret");
  CHECK(n.config_map == "srexpert-agent-config");
  CHECK(n.daemon_set == "srexpert-agent");
  CHECK(n.lease == "srexpert-agent-leader");
  CHECK(n.leader_election_role == "srexpert-agent-leader-election");
  CHECK(n.leader_election_role_binding == "srexpert-agent-leader-election");
}

TEST_CASE("Other AgentConfigs follow the same pattern", "[names]") {
  auto n = api::NamesFor("edge");
  CHECK(n.cluster_role == "edge");
  CHECK(n.secret == "edge-secret");
  CHECK(n.config_map == "edge-config");
  CHECK(n.lease == "edge-leader");
}

TEST_CASE("Labels identify the instance and the selector is a subset", "[names]") {
  auto labels = api::CommonLabels("edge");
  CHECK(labels.at("app.kubernetes.io/name") == "srexpert-agent");
  CHECK(labels.at("app.kubernetes.io/instance") == "edge");
  CHECK(labels.at("app.kubernetes.io/managed-by") == "srexpert-operator");
  CHECK(labels.at("app.kubernetes.io/part-of") == "srexpert");
  for (const auto& [k, v] : api::SelectorLabels("edge")) CHECK(labels.at(k) == v);
  for (const auto& [k, v] : labels) {
    CHECK(std::find(api::ReservedLabelKeys().begin(), api::ReservedLabelKeys().end(), k) !=
          api::ReservedLabelKeys().end());
  }
}

TEST_CASE("lastTransitionTime changes only when a condition's status flips", "[status]") {
  std::vector<api::Condition> conditions;
  CHECK(api::SetCondition(&conditions, {"Ready", "False", "Progressing", "0/3", "", 1}, "T1"));
  REQUIRE(conditions.size() == 1);
  CHECK(conditions[0].last_transition_time == "T1");
  // Same status, new message: updated, transition time kept.
  CHECK(api::SetCondition(&conditions, {"Ready", "False", "Progressing", "1/3", "", 1}, "T2"));
  CHECK(conditions[0].last_transition_time == "T1");
  CHECK(conditions[0].message == "1/3");
  // Nothing different: no change reported, so no status write.
  CHECK_FALSE(
      api::SetCondition(&conditions, {"Ready", "False", "Progressing", "1/3", "", 1}, "T3"));
  CHECK(conditions[0].last_transition_time == "T1");
  // Flip.
  CHECK(api::SetCondition(&conditions, {"Ready", "True", "AgentsReady", "3/3", "", 2}, "T4"));
  CHECK(conditions[0].last_transition_time == "T4");
  CHECK(api::SetCondition(&conditions, {"Degraded", "False", "AsExpected", "", "", 2}, "T5"));
  CHECK(conditions.size() == 2);
  CHECK(api::FindCondition(conditions, "Degraded")->last_transition_time == "T5");
  CHECK(api::FindCondition(conditions, "Progressing") == nullptr);
}

TEST_CASE("Condition messages are truncated to what the CRD accepts", "[status]") {
  std::vector<api::Condition> conditions;
  api::SetCondition(&conditions,
                    {"Degraded", "True", "InvalidSpec", std::string(40000, 'x'), "", 1}, "T");
  CHECK(conditions[0].message.size() == api::kMaxConditionMessage);
}

TEST_CASE("Status survives a JSON round trip", "[status]") {
  api::AgentConfigStatus s;
  s.observed_generation = 9;
  api::SetCondition(&s.conditions, {"Ready", "True", "AgentsReady", "ok", "", 9},
                    "2024-01-01T00:00:00Z");
  s.daemon_set = {4, 3, 2};
  s.leader = "p1";
  s.tunnel = "Connected";
  s.scan = api::ScanStatus{93, 1, 7, "2024-01-01T00:05:00Z"};
  s.managed_resources = {{"apps/v1", "DaemonSet", "x", "ns"}};
  json::Document d(rapidjson::kObjectType);
  json::Set(d, "status", api::StatusToJson(s, d.GetAllocator()), d.GetAllocator());
  CHECK(json::GetString(d, {"status", "daemonSet", "summary"}) == "3/4");
  auto back = api::ParseStatus(d);
  CHECK(back.observed_generation == 9);
  REQUIRE(back.conditions.size() == 1);
  CHECK(back.conditions[0].reason == "AgentsReady");
  CHECK(back.conditions[0].last_transition_time == "2024-01-01T00:00:00Z");
  CHECK(back.conditions[0].observed_generation == 9);
  CHECK(back.daemon_set.desired == 4);
  CHECK(back.daemon_set.ready == 3);
  CHECK(back.daemon_set.updated == 2);
  CHECK(back.leader == "p1");
  CHECK(back.tunnel == "Connected");
  CHECK(back.scan == s.scan);
  CHECK(json::GetInt(d, {"status", "scan", "score"}) == 93);
  REQUIRE(back.managed_resources.size() == 1);
  CHECK(back.managed_resources[0].kind == "DaemonSet");
  CHECK(back.managed_resources[0].namespace_ == "ns");
}

TEST_CASE("Status without a scan has no status.scan", "[status]") {
  // No scan yet: the SCORE column stays empty rather than showing 0.
  json::Document d(rapidjson::kObjectType);
  json::Set(d, "status", api::StatusToJson(api::AgentConfigStatus{}, d.GetAllocator()),
            d.GetAllocator());
  CHECK(json::Find(d, {"status", "scan"}) == nullptr);
  CHECK_FALSE(api::ParseStatus(d).scan);
}

TEST_CASE("The scan summary is read from the leader's Lease annotations", "[status][scan]") {
  std::map<std::string, std::string> a = {
      {std::string(api::kLeaseScanScoreAnnotation), "87"},
      {std::string(api::kLeaseScanDangersAnnotation), "3"},
      {std::string(api::kLeaseScanWarningsAnnotation), "12"},
      {std::string(api::kLeaseScanTimeAnnotation), "2024-05-01T10:00:00Z"},
      {std::string(api::kLeaseTunnelStateAnnotation), "Connected"},
  };
  auto scan = api::ScanStatusFromAnnotations(a);
  REQUIRE(scan);
  CHECK(*scan == api::ScanStatus{87, 3, 12, "2024-05-01T10:00:00Z"});
  // Any one missing or malformed: nothing, so the status keeps what it had.
  for (const auto& [key, bad] : std::vector<std::pair<std::string_view, std::string>>{
           {api::kLeaseScanScoreAnnotation, "101"},
           {api::kLeaseScanScoreAnnotation, "-1"},
           {api::kLeaseScanScoreAnnotation, "8 7"},
           {api::kLeaseScanDangersAnnotation, ""},
           {api::kLeaseScanWarningsAnnotation, "many"},
           {api::kLeaseScanTimeAnnotation, "yesterday"},
       }) {
    auto copy = a;
    copy[std::string(key)] = bad;
    INFO(key << "=" << bad);
    CHECK_FALSE(api::ScanStatusFromAnnotations(copy));
    copy.erase(std::string(key));
    CHECK_FALSE(api::ScanStatusFromAnnotations(copy));
  }
}
