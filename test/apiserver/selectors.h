// Label and field selectors with the syntax and semantics of
// k8s.io/apimachinery/pkg/labels and pkg/fields.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace srexpert::testing {

// labelSelector: comma-separated requirements, all of which must hold:
// `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
class LabelSelector {
 public:
  // nullopt + error message (the real parser's wording) when malformed.
  static std::optional<LabelSelector> Parse(const std::string& text, std::string* error);
  bool Matches(const json::Value& object) const;
  bool Empty() const { return reqs_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> reqs_;
};

// fieldSelector: `field=v`, `field==v`, `field!=v`, comma-separated, over the
// two field labels every kind registers: metadata.name and metadata.namespace.
// Kind-specific field labels (spec.nodeName on pods, ...) are rejected with
// the real "field label not supported" error.
class FieldSelector {
 public:
  static std::optional<FieldSelector> Parse(const std::string& text, std::string* error);
  bool Matches(const json::Value& object) const;
  bool Empty() const { return reqs_.empty(); }
  // metadata.name=<x> when the selector pins a single name (for watches of
  // one object, as kubectl get -w <name> sends).
  std::optional<std::string> ExactName() const;

 private:
  struct Requirement {
    std::string field;
    bool equals;
    std::string value;
  };
  std::vector<Requirement> reqs_;
};

}  // namespace srexpert::testing
