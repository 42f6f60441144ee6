// Polaris custom checks: a JSON Schema applied to a target (a container, a
// pod spec, a pod template, a workload, or every object of a kind), with
// success/failure messages and a category. Validated with RapidJSON's
// schema validator.
//
// Polaris writes schemas in draft 2019-09; RapidJSON validates draft-04. The
// schema is translated on load, keyword by keyword with the same meaning:
// const → enum, contains → "not every item fails", if/then/else → anyOf,
// numeric exclusiveMinimum/Maximum → the draft-04 boolean form,
// dependentRequired/dependentSchemas → dependencies, and Go's (?i) in
// patterns → a case-insensitive character-class expansion. What cannot be
// expressed — Go templates ({{ }}), propertyNames, unevaluated*,
// min/maxContains, prefixItems, additionalSchemas, Polaris' resourceMinimum/
// resourceMaximum — is rejected with an error naming the check, never
// silently ignored.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "scan/catalogue.h"

namespace srexpert::scan {

enum class CustomTarget {
  kContainer,    // each container (schemaTarget PodSpec: the pod spec holding just it)
  kPodSpec,      // the pod spec of each workload
  kPodTemplate,  // the pod template (metadata + spec) of each workload; a Pod itself
  kController,   // each workload object as a whole
  kKind,         // each object of one kind ("ConfigMap", "/ConfigMap", "apps/Deployment")
};

class CustomCheck {
 public:
  // Compiles the definition found under customChecks.<name>. nullptr and
  // `error` ("custom check myCheck: ...") when it cannot be used.
  static std::unique_ptr<CustomCheck> Compile(std::string name, const rapidjson::Value& definition,
                                              std::string* error);
  ~CustomCheck();
  CustomCheck(const CustomCheck&) = delete;
  CustomCheck& operator=(const CustomCheck&) = delete;

  const std::string& name() const { return name_; }
  CustomTarget target() const { return target_; }
  // For kKind: the kind matched.
  const std::string& kind() const { return kind_; }
  bool schema_target_pod_spec() const { return schema_target_pod_spec_; }
  // Catalogue entry (id = name, aliases.polaris = name); its severity is
  // the default and is replaced by the configuration's.
  CheckInfo Info(Severity severity) const;

  // controllers.include/exclude (workload kinds) and containers.include/
  // exclude ("initContainer", "container").
  bool AppliesToKind(std::string_view workload_kind) const;
  bool AppliesToContainer(bool init_container) const;

  // Whether `value` validates against the schema.
  bool Validate(const rapidjson::Value& value) const;

 private:
  CustomCheck() = default;
  struct Compiled;

  std::string name_;
  std::string category_text_;
  Category category_ = Category::kSecurity;
  std::string success_message_, failure_message_, target_text_;
  CustomTarget target_ = CustomTarget::kContainer;
  std::string kind_;
  bool schema_target_pod_spec_ = false;
  std::vector<std::string> include_kinds_, exclude_kinds_, include_containers_, exclude_containers_;
  std::unique_ptr<Compiled> compiled_;
};

// The draft 2019-09 → draft-04 translation, exposed for tests: "" on
// success, otherwise what is unsupported (with its JSON path).
std::string TranslateSchema(const rapidjson::Value& in, rapidjson::Value* out,
                            rapidjson::Document::AllocatorType& alloc);
// Go RE2 pattern → ECMAScript pattern (as std::regex reads it): (?i)
// becomes per-letter character classes. "" error on success.
std::string TranslatePattern(std::string_view go, std::string* ecma);

}  // namespace srexpert::scan
