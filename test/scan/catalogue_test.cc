// The check catalogue: at least 50 checks, stable well-formed ids, every
// field filled, every check Polaris ships by default mapped to exactly one
// check, and docs/checks.md generated from it.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <regex>
#include <set>

#include "scan/catalogue.h"
#include "test/api/crd_schema.h"

using namespace srexpert::scan;

namespace {

// Every check in Polaris' default configuration (pkg/config/default.yaml).
const std::vector<std::string> kPolarisDefaults = {
    "deploymentMissingReplicas", "priorityClassNotSet", "tagNotSpecified", "pullPolicyNotAlways",
    "readinessProbeMissing", "livenessProbeMissing", "metadataAndInstanceMismatched",
    "pdbDisruptionsIsZero", "missingPodDisruptionBudget", "topologySpreadConstraint",
    "hpaMaxAvailability", "hpaMinAvailability", "pdbMinAvailableGreaterThanOrEqualToHPAMinReplicas",
    "cpuRequestsMissing", "cpuLimitsMissing", "memoryRequestsMissing", "memoryLimitsMissing",
    "automountServiceAccountToken", "hostIPCSet", "hostPathSet", "hostProcess", "hostPIDSet",
    "linuxHardening", "missingNetworkPolicy", "notReadOnlyRootFilesystem",
    "privilegeEscalationAllowed", "procMount", "runAsRootAllowed", "runAsPrivileged",
    "dangerousCapabilities", "insecureCapabilities", "hostNetworkSet", "hostPortSet",
    "tlsSettingsMissing", "sensitiveContainerEnvVar", "sensitiveConfigmapContent",
    "clusterrolePodExecAttach", "rolePodExecAttach", "clusterrolebindingPodExecAttach",
    "rolebindingClusterRolePodExecAttach", "rolebindingRolePodExecAttach",
    "clusterrolebindingClusterAdmin", "rolebindingClusterAdminClusterRole",
    "rolebindingClusterAdminRole"};

// The controls of the Pod Security Standards page, by level.
const std::set<std::pair<std::string, std::string>> kPssControls = {
    {"HostProcess", "baseline"},          {"Host Namespaces", "baseline"},
    {"Privileged Containers", "baseline"}, {"Capabilities", "baseline"},
    {"HostPath Volumes", "baseline"},     {"Host Ports", "baseline"},
    {"Host Probes / Lifecycle Hooks", "baseline"}, {"AppArmor", "baseline"},
    {"SELinux", "baseline"},              {"/proc Mount Type", "baseline"},
    {"Seccomp", "baseline"},              {"Sysctls", "baseline"},
    {"Volume Types", "restricted"},       {"Privilege Escalation", "restricted"},
    {"Running as Non-root", "restricted"}, {"Running as Non-root user", "restricted"},
    {"Seccomp", "restricted"},            {"Capabilities", "restricted"}};

std::string Cell(std::string_view s) { return s.empty() ? "" : std::string(s); }

std::string RenderReference() {
  std::string out;
  out += "| Id | Title | Category | Severity | Polaris | Pod Security Standards | CIS |\n";
  out += "| --- | --- | --- | --- | --- | --- | --- |\n";
  for (const CheckInfo& c : Catalogue()) {
    std::string pss = c.aliases.pss.empty()
                          ? ""
                          : fmt::format("{} ({})", c.aliases.pss, c.aliases.pss_level);
    out += fmt::format("| [`{}`](#{}) | {} | {} | {} | {} | {} | {} |\n", c.id, c.id, c.title,
                       CategoryName(c.category), SeverityName(c.severity),
                       c.aliases.polaris.empty() ? "" : fmt::format("`{}`", c.aliases.polaris), pss,
                       Cell(c.aliases.cis));
  }
  for (const CheckInfo& c : Catalogue()) {
    out += fmt::format("\n### {}\n\n", c.id);
    out += fmt::format("**{}** — {}, {} by default; one result per {}. Applies to: {}.\n\n", c.title,
                       CategoryName(c.category), SeverityName(c.severity),
                       c.scope == Scope::kContainer ? "container"
                       : c.scope == Scope::kPod    ? "pod or pod template"
                                                   : "object",
                       c.applies_to);
    out += fmt::format("*Why:* {}\n\n", c.why);
    out += fmt::format("*Fix:* {}\n\n", c.remediation);
    std::vector<std::string> aliases;
    if (!c.aliases.polaris.empty()) aliases.push_back(fmt::format("Polaris `{}`", c.aliases.polaris));
    if (!c.aliases.pss.empty()) {
      aliases.push_back(fmt::format("Pod Security Standards \"{}\" ({})", c.aliases.pss, c.aliases.pss_level));
    }
    if (!c.aliases.cis.empty()) aliases.push_back(fmt::format("CIS Kubernetes Benchmark {}", c.aliases.cis));
    if (!c.aliases.nsa.empty()) aliases.push_back(fmt::format("NSA/CISA hardening guide: {}", c.aliases.nsa));
    if (!aliases.empty()) {
      out += "*Also known as:* ";
      for (size_t i = 0; i < aliases.size(); ++i) out += (i ? "; " : "") + aliases[i];
      out += ".\n\n";
    }
    out += fmt::format("*Messages:* \"{}\" / \"{}\"\n", c.success_message, c.failure_message);
  }
  return out;
}

}  // namespace

TEST_CASE("the catalogue has at least 50 checks with unique kebab-case ids", "[scan][catalogue]") {
  const auto& checks = Catalogue();
  CHECK(checks.size() >= 50);
  CHECK(checks.size() == static_cast<size_t>(CheckId::kCount));
  std::set<std::string_view> ids, polaris;
  const std::regex kebab("[a-z][a-z0-9]*(-[a-z0-9]+)*");
  for (const CheckInfo& c : checks) {
    INFO(c.id);
    CHECK(std::regex_match(std::string(c.id), kebab));
    CHECK(ids.insert(c.id).second);
    if (!c.aliases.polaris.empty()) CHECK(polaris.insert(c.aliases.polaris).second);
    CHECK_FALSE(c.title.empty());
    CHECK_FALSE(c.applies_to.empty());
    CHECK(c.why.size() > 40);
    CHECK(c.remediation.size() > 15);
    CHECK_FALSE(c.success_message.empty());
    CHECK_FALSE(c.failure_message.empty());
    CHECK(c.severity != Severity::kIgnore);
    CHECK((c.aliases.pss.empty() == c.aliases.pss_level.empty()));
    CHECK(&Info(IdOf(c)) == &c);
  }
}

TEST_CASE("every check Polaris runs by default has exactly one counterpart", "[scan][catalogue]") {
  for (const std::string& name : kPolarisDefaults) {
    INFO(name);
    const CheckInfo* c = FindCheck(name);
    REQUIRE(c != nullptr);
    CHECK(c->aliases.polaris == name);
    CHECK(FindCheck(c->id) == c);
  }
  CHECK(FindCheck("noSuchCheck") == nullptr);
}

TEST_CASE("every Pod Security Standards control is a check of its own", "[scan][catalogue]") {
  std::set<std::pair<std::string, std::string>> seen;
  for (const CheckInfo& c : Catalogue()) {
    if (c.id.substr(0, 4) == "pss-" && !c.aliases.pss.empty()) {
      seen.emplace(std::string(c.aliases.pss), std::string(c.aliases.pss_level));
    }
  }
  CHECK(seen == kPssControls);
}

TEST_CASE("severity and category names parse back", "[scan][catalogue]") {
  for (Severity s : {Severity::kIgnore, Severity::kWarning, Severity::kDanger}) {
    Severity back;
    REQUIRE(ParseSeverity(SeverityName(s), &back));
    CHECK(back == s);
  }
  Severity s;
  CHECK(ParseSeverity("DANGER", &s));
  CHECK(s == Severity::kDanger);
  CHECK_FALSE(ParseSeverity("critical", &s));
  Category c;
  CHECK(ParseCategory("Security", &c));
  CHECK(c == Category::kSecurity);
  CHECK(ParseCategory("rbac", &c));
  CHECK_FALSE(ParseCategory("speed", &c));
}

TEST_CASE("docs/checks.md lists every check as the catalogue defines it", "[scan][catalogue][docs]") {
  const std::string problem = srexpert::testing::CheckGeneratedSection(
      std::string(SRX_SOURCE_DIR) + "/docs/checks.md",
      "<!-- BEGIN GENERATED CHECK REFERENCE (test/scan/catalogue_test.cc) -->",
      "<!-- END GENERATED CHECK REFERENCE -->", RenderReference());
  INFO(problem);
  INFO("regenerate with SRX_UPDATE_DOCS=1 build-scan/test/scan/scan_test '[docs]'");
  CHECK(problem.empty());
}
