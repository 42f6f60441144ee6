// The agent's config.json (the operator writes it; a hand-edited or corrupt
// ConfigMap must be refused with a reason, never crash the agent).
#include "agent/agent_config_file.h"
#include "test/fuzz/fuzz_target.h"

using namespace srexpert;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string error;
  std::vector<std::string> unknown;
  auto settings = agent::ParseAgentSettings(fuzz::AsText(data, size), &error, &unknown);
  FUZZ_CHECK(settings.has_value() || !error.empty());
  return 0;
}
