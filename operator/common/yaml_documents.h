// Multi-document YAML into yaml-cpp nodes, safe against the parser's own
// runaway: yaml-cpp 0.7 (Debian bookworm) loops forever in LoadAll() on
// some invalid input — a document that is only "," is enough — pushing one
// empty document per turn until memory runs out (upstream issue
// jbeder/yaml-cpp#1040, fixed after 0.8 by #1318/#1319). A one-byte typo in
// a manifest must be an error, not an out-of-memory crash, in srexpert-scan
// and in anything that parses YAML from a request.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace srexpert::yaml {

struct LoadError {
  std::string message;  // yaml-cpp's message, or why the input was refused
  int line = 0;         // 0-based line of the error (yaml-cpp's Mark)
  bool runaway = false;  // the parser made no progress (the yaml-cpp bug above)
  bool too_many_documents = false;  // more than max_documents
};

// Loads every document of `text` into `out`. At most `max_documents`
// documents; more is an error, and so is a parser that reports more
// documents than the text has document markers ("---" / "..." lines) plus
// one, which only the runaway above does. Returns false and fills `error`;
// `out` is then empty. Never throws.
bool LoadAllDocuments(std::string_view text, size_t max_documents, std::vector<YAML::Node>* out,
                      LoadError* error);

}  // namespace srexpert::yaml
