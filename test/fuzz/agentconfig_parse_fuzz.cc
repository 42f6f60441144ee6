// api::Parse on arbitrary JSON objects (what a user, GitOps or a broken
// client can put in an AgentConfig): an answer for every input, errors with a
// path, and a parse that succeeds is deterministic.
#include "api/agent_config.h"
#include "common/json.h"
#include "test/fuzz/fuzz_target.h"

using namespace srexpert;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = fuzz::AsText(data, size);
  if (json::NestingDepth(text) > 64) return 0;  // the API server bounds nesting first
  auto doc = json::Parse(text);
  if (!doc) return 0;
  auto result = api::Parse(*doc);
  if (!result.ok()) {
    for (const auto& e : result.errors) FUZZ_CHECK(!e.message.empty());
    FUZZ_CHECK(!result.Summary().empty());
    return 0;
  }
  FUZZ_CHECK(api::Parse(*doc).ok());
  return 0;
}
