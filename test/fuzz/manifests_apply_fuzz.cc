// The manifests.apply payload parser (operator/actions/manifests.h) on any
// bytes, twice: as the "manifests" text of an otherwise valid payload, and as
// the whole payload when the bytes are a JSON object. Either the payload is
// refused with a message, or every object it yields is one the agent may
// apply: an allowed kind, a namespace and a name, within the limits.
#include <set>
#include <string>

#include "actions/manifests.h"
#include "common/json.h"
#include "test/fuzz/fuzz_target.h"

using namespace srexpert;

namespace {

const std::set<std::string> kAllowed = {
    "ConfigMap", "Service", "Deployment", "StatefulSet",   "DaemonSet",
    "Job",       "CronJob", "Ingress",    "NetworkPolicy", "HorizontalPodAutoscaler"};

void Check(const json::Value& payload) {
  actions::ManifestsApplyPayload out;
  std::string error = actions::ParseManifestsApplyPayload(payload, &out);
  if (!error.empty()) {
    FUZZ_CHECK(out.objects.empty());
    return;
  }
  FUZZ_CHECK(!out.objects.empty() && out.objects.size() <= actions::kMaxManifestObjects);
  for (const auto& o : out.objects) {
    FUZZ_CHECK(kAllowed.count(o.target.kind));
    FUZZ_CHECK(!o.target.ns.empty() && o.target.ns.size() <= 63);
    FUZZ_CHECK(!o.target.name.empty() && o.target.name.size() <= 253);
    FUZZ_CHECK(o.body && o.body->IsObject());
    FUZZ_CHECK(json::GetString(*o.body, {"metadata", "namespace"}) == o.target.ns);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  json::Document wrapped(rapidjson::kObjectType);
  auto& a = wrapped.GetAllocator();
  wrapped.AddMember("manifests", json::String(text, a), a);
  wrapped.AddMember("dryRun", size % 2 == 0, a);
  Check(wrapped);
  if (json::NestingDepth(text) <= 64) {
    if (auto doc = json::Parse(text); doc && doc->IsObject()) Check(*doc);
  }
  return 0;
}
