// Configuration compatible with Polaris' config file (YAML):
//
//   checks:                        # severity per check: danger | warning | ignore
//     hostIPCSet: danger           # Polaris names and our ids both work
//     pss-volume-types: ignore
//     myCustomCheck: warning
//   customChecks:                  # Polaris custom checks (custom_checks.h)
//     myCustomCheck: {target: Container, schema: {...}, ...}
//   exemptions:                    # Polaris exemptions
//     - namespace: kube-system     # all optional; an exemption applies when
//       controllerNames: [coredns] # every given field matches (names by prefix)
//       containerNames: [sidecar]
//       rules: [hostNetworkSet]    # none: every check
//   disallowExemptions: false      # ignore exemptions and exemption annotations
//   disallowConfigExemptions: false
//   disallowAnnotationExemptions: false
//
// As in Polaris, when `checks` is present a check with a Polaris name runs
// only if listed there; checks without a Polaris name (the Pod Security
// Standards controls, the RBAC analysis) keep running unless listed as
// ignore. Unknown top-level keys (mutations, displayName, ...) are ignored;
// unknown check names and bad severities are errors.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scan/catalogue.h"
#include "scan/custom_checks.h"

namespace srexpert::scan {

struct Exemption {
  std::string ns;
  std::vector<std::string> controller_names;  // prefixes of the object's name
  std::vector<std::string> container_names;   // prefixes of the container's name
  std::vector<std::string> rules;             // check ids, Polaris or custom names
};

struct ScanConfig {
  // Severity per check, keyed by built-in id or custom check name (Polaris
  // names are resolved to ids when parsed). nullopt when the file has no
  // `checks` section.
  std::optional<std::map<std::string, Severity>> checks;
  std::vector<Exemption> exemptions;
  bool disallow_exemptions = false;
  bool disallow_config_exemptions = false;
  bool disallow_annotation_exemptions = false;
  std::vector<std::shared_ptr<const CustomCheck>> custom_checks;
};

// Parses a config file's text. "" on success, otherwise what is wrong.
std::string ParseConfig(std::string_view yaml, ScanConfig* out);

}  // namespace srexpert::scan
