#include "common/yaml_documents.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <sstream>

namespace srexpert::yaml {
namespace {

// Counts documents without building anything; throws Stop past `limit`.
class DocumentCounter : public YAML::EventHandler {
 public:
  struct Stop {
    YAML::Mark mark;
  };
  explicit DocumentCounter(size_t limit) : limit_(limit) {}
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++count_ > limit_) throw Stop{mark};
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
  size_t count() const { return count_; }

 private:
  size_t limit_;
  size_t count_ = 0;
};

// Lines that start or end a document: every real document but the first
// needs one, so the parser can never honestly report more than this + 1.
size_t DocumentMarkers(std::string_view text) {
  size_t n = 0;
  size_t p = 0;
  while (p < text.size()) {
    std::string_view line = text.substr(p, text.find('\n', p) - p);
    if (line.substr(0, 3) == "---" || line.substr(0, 3) == "...") ++n;
    size_t nl = text.find('\n', p);
    if (nl == std::string_view::npos) break;
    p = nl + 1;
  }
  return n;
}

}  // namespace

bool LoadAllDocuments(std::string_view text, size_t max_documents, std::vector<YAML::Node>* out,
                      LoadError* error) {
  out->clear();
  const size_t honest = DocumentMarkers(text) + 1;
  const size_t limit = std::min(max_documents, honest);
  std::string copy(text);
  try {
    // Pass 1: events only, bounded. yaml-cpp's syntax errors surface here
    // too, with the same messages LoadAll would give.
    std::istringstream in(copy);
    YAML::Parser parser(in);
    DocumentCounter counter(limit);
    while (parser.HandleNextDocument(counter)) {
    }
    // Pass 2: the nodes, now known to terminate.
    *out = YAML::LoadAll(copy);
    return true;
  } catch (const DocumentCounter::Stop& stop) {
    error->line = stop.mark.line;
    if (max_documents < honest) {
      error->message = "more than " + std::to_string(max_documents) + " documents";
      error->too_many_documents = true;
      return false;
    }
    error->message =
        "the parser made no progress (a stray character such as ',' where a "
        "node was expected)";
    error->runaway = true;
    return false;
  } catch (const YAML::Exception& e) {
    error->message = e.msg;
    error->line = e.mark.line;
    return false;
  }
}

}  // namespace srexpert::yaml
