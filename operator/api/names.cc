#include "api/names.h"

namespace srexpert::api {

ChildNames NamesFor(std::string_view agent_config_name) {
  const std::string n(agent_config_name);
  ChildNames names;
  names.service_account = n;
  names.cluster_role = n;
  names.cluster_role_binding = n;
  names.leader_election_role = n + "-leader-election";
  names.leader_election_role_binding = n + "-leader-election";
  names.actions_role = n + "-actions";
  names.secret = n + "-secret";
  names.config_map = n + "-config";
  names.daemon_set = n;
  names.lease = n + "-leader";
  return names;
}

std::map<std::string, std::string> CommonLabels(std::string_view agent_config_name) {
  return {
      {std::string(kLabelName), std::string(kAppName)},
      {std::string(kLabelInstance), std::string(agent_config_name)},
      {std::string(kLabelManagedBy), std::string(kManagedBy)},
      {std::string(kLabelPartOf), std::string(kPartOf)},
      {std::string(kLabelComponent), std::string(kComponent)},
  };
}

std::map<std::string, std::string> SelectorLabels(std::string_view agent_config_name) {
  return {
      {std::string(kLabelName), std::string(kAppName)},
      {std::string(kLabelInstance), std::string(agent_config_name)},
  };
}

const std::vector<std::string>& ReservedLabelKeys() {
  static const std::vector<std::string> keys = {
      std::string(kLabelName), std::string(kLabelInstance), std::string(kLabelManagedBy),
      std::string(kLabelPartOf), std::string(kLabelComponent)};
  return keys;
}

}  // namespace srexpert::api
