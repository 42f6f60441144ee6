// Label and field selectors with the syntax, semantics and error wording of
// k8s.io/apimachinery/pkg/labels (its lexer and parser, ported) and
// pkg/fields, plus the field labels each kind registers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace srexpert::testing {

struct ResourceType;

// labelSelector: comma-separated requirements, all of which must hold:
// `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k gt 1`,
// `k lt 1`.
class LabelSelector {
 public:
  // nullopt + error message (the real parser's wording) when malformed.
  static std::optional<LabelSelector> Parse(const std::string& text, std::string* error);
  bool Matches(const json::Value& object) const;
  bool Empty() const { return reqs_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist, kGreaterThan, kLessThan };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> reqs_;
};

// metav1.LabelSelectorAsSelector(selector).String() for a metav1.LabelSelector
// (matchLabels and matchExpressions): requirements sorted by key, "k=v",
// "k in (a,b)", "k notin (a,b)", "k", "!k", comma-separated, each value list
// sorted. "" for a null or empty selector; nullopt when an expression has an
// operator other than In, NotIn, Exists or DoesNotExist (the Go function's
// error).
std::optional<std::string> LabelSelectorString(const json::Value* selector);

// fieldSelector: `field=v`, `field==v`, `field!=v`, comma-separated (values
// may escape `\,`, `\=` and `\\`), over the field labels the kind registers:
// metadata.name and metadata.namespace for most kinds (others are 400
// `"x" is not a known field selector: only "metadata.name",
// "metadata.namespace"`), and for kinds with their own conversion function
// (Pod, Node, Namespace, Secret, Event, ReplicaSet, Job) exactly their
// labels (others are 400 `field label not supported: x`).
class FieldSelector {
 public:
  // `type` null: only metadata.name and metadata.namespace.
  static std::optional<FieldSelector> Parse(const std::string& text, const ResourceType* type,
                                            std::string* error);
  static std::optional<FieldSelector> Parse(const std::string& text, std::string* error) {
    return Parse(text, nullptr, error);
  }
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
