// Manifest text as srexpert-scan reads it from a file, stdin or
// `helm template` (and as manifests.apply will read a request), then every
// check of the engine over what parsed: any bytes give objects or one error
// naming the source and document, never a crash, and hostile objects
// (wrong types where checks expect maps, lists or strings) scan without
// one.
#include <string>
#include <vector>

#include "scan/engine.h"
#include "scan/manifests.h"
#include "test/fuzz/fuzz_target.h"

using namespace srexpert;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Limits small enough that a bomb is refused fast, large enough that every
  // seed parses.
  scan::ManifestLimits limits;
  limits.max_bytes = 1 << 20;
  limits.max_depth = 64;
  limits.max_documents = 1000;
  limits.max_nodes = 200000;
  std::vector<scan::Manifest> manifests;
  std::string error = scan::ParseManifests(fuzz::AsText(data, size), "fuzz.yaml", limits, &manifests);
  if (!error.empty()) FUZZ_CHECK(error.find("fuzz.yaml") != std::string::npos);
  std::vector<scan::Object> objects;
  for (const auto& m : manifests) {
    FUZZ_CHECK(m.value != nullptr && m.value->IsObject());
    FUZZ_CHECK(m.document >= 1);
    scan::Object obj = scan::MakeObject(*m.value, m.kind, m.api_version);
    obj.source = m.source;
    obj.line = m.line;
    obj.context_only = m.context_only;
    objects.push_back(std::move(obj));
  }
  scan::Report report = scan::Scan(objects, scan::ScanOptions{});
  for (const auto& f : report.findings) {
    FUZZ_CHECK(f.object < report.objects.size());
    FUZZ_CHECK(!report.Check(f).id.empty());
    (void)report.Message(f);
  }
  return 0;
}
