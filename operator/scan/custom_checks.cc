// RapidJSON's schema validator with std::regex (ECMAScript) for "pattern":
// its internal regex engine lacks \s, \d and friends that Polaris' patterns
// use. rapidjson/schema.h (1.1) turns the internal engine off when this
// macro is defined at all and then picks std::regex itself — defining
// RAPIDJSON_SCHEMA_USE_STDREGEX too would switch patterns off entirely. No
// other translation unit of the project includes rapidjson/schema.h, so the
// choice is consistent program-wide.
#define RAPIDJSON_SCHEMA_USE_INTERNALREGEX 0
#include "scan/custom_checks.h"

#include <fmt/format.h>
#include <rapidjson/schema.h>

#include <algorithm>
#include <regex>

#include "scan/json_access.h"
#include "scan/object.h"

namespace srexpert::scan {

namespace {

using Alloc = rapidjson::Document::AllocatorType;

rapidjson::Value Str(std::string_view s, Alloc& a) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

bool IsSchemaMap(std::string_view key) {
  return key == "properties" || key == "patternProperties" || key == "definitions" ||
         key == "$defs" || key == "dependentSchemas";
}
bool IsSchemaList(std::string_view key) { return key == "allOf" || key == "anyOf" || key == "oneOf"; }
bool IsSingleSchema(std::string_view key) {
  return key == "not" || key == "additionalProperties" || key == "additionalItems" ||
         key == "contains" || key == "if" || key == "then" || key == "else";
}

std::string Translate(const rapidjson::Value& in, rapidjson::Value* out, Alloc& a,
                      const std::string& path);

// A schema position: booleans (draft-06+) become {} / {"not": {}}.
std::string TranslateSub(const rapidjson::Value& in, rapidjson::Value* out, Alloc& a,
                         const std::string& path) {
  if (in.IsBool()) {
    out->SetObject();
    if (!in.GetBool()) out->AddMember("not", rapidjson::Value(rapidjson::kObjectType), a);
    return "";
  }
  if (!in.IsObject()) return fmt::format("{}: a schema must be an object", path);
  return Translate(in, out, a, path);
}

std::string Translate(const rapidjson::Value& in, rapidjson::Value* out, Alloc& a,
                      const std::string& path) {
  out->SetObject();
  rapidjson::Value extra_all_of(rapidjson::kArrayType);  // constraints added by the translation
  const rapidjson::Value* if_schema = nullptr;
  const rapidjson::Value* then_schema = nullptr;
  const rapidjson::Value* else_schema = nullptr;
  for (const auto& m : in.GetObject()) {
    std::string_view key = View(m.name);
    std::string sub_path = path + "/" + std::string(key);
    const rapidjson::Value& v = m.value;
    if (key == "$schema" || key == "$comment" || key == "$id" || key == "$anchor" ||
        key == "title" || key == "description" || key == "examples" || key == "default") {
      continue;
    }
    if (key == "propertyNames" || key == "unevaluatedProperties" || key == "unevaluatedItems" ||
        key == "minContains" || key == "maxContains" || key == "prefixItems" ||
        key == "resourceMinimum" || key == "resourceMaximum" || key == "$recursiveRef" ||
        key == "$dynamicRef") {
      return fmt::format("{}: \"{}\" is not supported", path.empty() ? "/" : path, key);
    }
    if (key == "if") {
      if_schema = &v;
      continue;
    }
    if (key == "then") {
      then_schema = &v;
      continue;
    }
    if (key == "else") {
      else_schema = &v;
      continue;
    }
    if (key == "const") {
      rapidjson::Value e(rapidjson::kArrayType);
      e.PushBack(rapidjson::Value(v, a), a);
      rapidjson::Value holder(rapidjson::kObjectType);
      holder.AddMember("enum", e, a);
      extra_all_of.PushBack(holder, a);
      continue;
    }
    if (key == "contains") {
      // contains S: for arrays, not every item fails S.
      rapidjson::Value s;
      std::string err = TranslateSub(v, &s, a, sub_path);
      if (!err.empty()) return err;
      rapidjson::Value not_s(rapidjson::kObjectType);
      not_s.AddMember("not", s, a);
      rapidjson::Value items(rapidjson::kObjectType);
      items.AddMember("items", not_s, a);
      rapidjson::Value some(rapidjson::kObjectType);
      some.AddMember("not", items, a);
      rapidjson::Value type_array(rapidjson::kObjectType);
      type_array.AddMember("type", "array", a);
      rapidjson::Value non_array(rapidjson::kObjectType);
      non_array.AddMember("not", type_array, a);
      rapidjson::Value any(rapidjson::kArrayType);
      any.PushBack(non_array, a);
      any.PushBack(some, a);
      rapidjson::Value holder(rapidjson::kObjectType);
      holder.AddMember("anyOf", any, a);
      extra_all_of.PushBack(holder, a);
      continue;
    }
    if ((key == "exclusiveMinimum" || key == "exclusiveMaximum") && v.IsNumber()) {
      rapidjson::Value holder(rapidjson::kObjectType);
      holder.AddMember(key == "exclusiveMinimum" ? "minimum" : "maximum", rapidjson::Value(v, a), a);
      rapidjson::Value exclusive(true);
      holder.AddMember(Str(key, a), exclusive, a);
      extra_all_of.PushBack(holder, a);
      continue;
    }
    if (key == "dependentRequired" || key == "dependentSchemas") {
      if (!v.IsObject()) return fmt::format("{}: must be an object", sub_path);
      rapidjson::Value deps(rapidjson::kObjectType);
      for (const auto& d : v.GetObject()) {
        rapidjson::Value dv;
        if (key == "dependentRequired") {
          dv.CopyFrom(d.value, a);
        } else {
          std::string err = TranslateSub(d.value, &dv, a, sub_path + "/" + std::string(View(d.name)));
          if (!err.empty()) return err;
        }
        deps.AddMember(rapidjson::Value(d.name, a), dv, a);
      }
      rapidjson::Value holder(rapidjson::kObjectType);
      holder.AddMember("dependencies", deps, a);
      extra_all_of.PushBack(holder, a);
      continue;
    }
    if (key == "required") {
      if (!v.IsArray() || v.Empty()) continue;  // Polaris' schemas write "required:" empty
      out->AddMember(Str(key, a), rapidjson::Value(v, a), a);
      continue;
    }
    if (key == "pattern") {
      if (!v.IsString()) return fmt::format("{}: must be a string", sub_path);
      std::string ecma;
      std::string err = TranslatePattern(View(v), &ecma);
      if (!err.empty()) return fmt::format("{}: {}", sub_path, err);
      out->AddMember("pattern", Str(ecma, a), a);
      continue;
    }
    if (IsSchemaMap(key)) {
      if (!v.IsObject()) return fmt::format("{}: must be an object", sub_path);
      // RapidJSON resolves $ref into "definitions" only: $defs moves there.
      if (key == "$defs") {
        if (in.HasMember("definitions")) {
          return fmt::format("{}: both $defs and definitions are not supported", path.empty() ? "/" : path);
        }
        key = "definitions";
      }
      rapidjson::Value map(rapidjson::kObjectType);
      for (const auto& p : v.GetObject()) {
        rapidjson::Value s;
        std::string err = TranslateSub(p.value, &s, a, sub_path + "/" + std::string(View(p.name)));
        if (!err.empty()) return err;
        std::string name(View(p.name));
        if (key == "patternProperties") {
          std::string ecma;
          err = TranslatePattern(name, &ecma);
          if (!err.empty()) return fmt::format("{}: {}", sub_path, err);
          name = ecma;
        }
        map.AddMember(Str(name, a), s, a);
      }
      out->AddMember(Str(key, a), map, a);
      continue;
    }
    if (key == "dependencies") {
      if (!v.IsObject()) return fmt::format("{}: must be an object", sub_path);
      rapidjson::Value deps(rapidjson::kObjectType);
      for (const auto& d : v.GetObject()) {
        rapidjson::Value dv;
        if (d.value.IsArray()) {
          dv.CopyFrom(d.value, a);
        } else {
          std::string err = TranslateSub(d.value, &dv, a, sub_path + "/" + std::string(View(d.name)));
          if (!err.empty()) return err;
        }
        deps.AddMember(rapidjson::Value(d.name, a), dv, a);
      }
      out->AddMember("dependencies", deps, a);
      continue;
    }
    if (IsSchemaList(key)) {
      if (!v.IsArray() || v.Empty()) return fmt::format("{}: must be a non-empty array", sub_path);
      rapidjson::Value list(rapidjson::kArrayType);
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        rapidjson::Value s;
        std::string err = TranslateSub(v[i], &s, a, sub_path + "/" + std::to_string(i));
        if (!err.empty()) return err;
        list.PushBack(s, a);
      }
      if (key == "allOf") {
        for (auto& s : list.GetArray()) extra_all_of.PushBack(s, a);
      } else {
        out->AddMember(Str(key, a), list, a);
      }
      continue;
    }
    if (key == "items") {
      rapidjson::Value s;
      if (v.IsArray()) {
        s.SetArray();
        for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
          rapidjson::Value item;
          std::string err = TranslateSub(v[i], &item, a, sub_path + "/" + std::to_string(i));
          if (!err.empty()) return err;
          s.PushBack(item, a);
        }
      } else {
        std::string err = TranslateSub(v, &s, a, sub_path);
        if (!err.empty()) return err;
      }
      out->AddMember("items", s, a);
      continue;
    }
    if (IsSingleSchema(key)) {
      if ((key == "additionalProperties" || key == "additionalItems") && v.IsBool()) {
        rapidjson::Value b(v.GetBool());
        out->AddMember(Str(key, a), b, a);
        continue;
      }
      rapidjson::Value s;
      std::string err = TranslateSub(v, &s, a, sub_path);
      if (!err.empty()) return err;
      out->AddMember(Str(key, a), s, a);
      continue;
    }
    if (key == "$ref" && v.IsString()) {
      std::string ref(View(v));
      if (ref.rfind("#/$defs/", 0) == 0) ref = "#/definitions/" + ref.substr(8);
      out->AddMember("$ref", Str(ref, a), a);
      continue;
    }
    // Every other keyword (type, enum, minimum, maxItems, format, ...)
    // means the same in draft-04.
    out->AddMember(Str(key, a), rapidjson::Value(v, a), a);
  }
  if (if_schema) {
    rapidjson::Value if_t, then_t(rapidjson::kObjectType), else_t(rapidjson::kObjectType);
    std::string err = TranslateSub(*if_schema, &if_t, a, path + "/if");
    if (err.empty() && then_schema) err = TranslateSub(*then_schema, &then_t, a, path + "/then");
    if (err.empty() && else_schema) err = TranslateSub(*else_schema, &else_t, a, path + "/else");
    if (!err.empty()) return err;
    rapidjson::Value if_copy(if_t, a);
    rapidjson::Value when_true(rapidjson::kArrayType);
    when_true.PushBack(if_t, a);
    when_true.PushBack(then_t, a);
    rapidjson::Value branch_true(rapidjson::kObjectType);
    branch_true.AddMember("allOf", when_true, a);
    rapidjson::Value not_if(rapidjson::kObjectType);
    not_if.AddMember("not", if_copy, a);
    rapidjson::Value when_false(rapidjson::kArrayType);
    when_false.PushBack(not_if, a);
    when_false.PushBack(else_t, a);
    rapidjson::Value branch_false(rapidjson::kObjectType);
    branch_false.AddMember("allOf", when_false, a);
    rapidjson::Value any(rapidjson::kArrayType);
    any.PushBack(branch_true, a);
    any.PushBack(branch_false, a);
    rapidjson::Value holder(rapidjson::kObjectType);
    holder.AddMember("anyOf", any, a);
    extra_all_of.PushBack(holder, a);
  }
  if (!extra_all_of.Empty()) out->AddMember("allOf", extra_all_of, a);
  return "";
}

}  // namespace

std::string TranslateSchema(const rapidjson::Value& in, rapidjson::Value* out, Alloc& alloc) {
  return TranslateSub(in, out, alloc, "");
}

std::string TranslatePattern(std::string_view go, std::string* ecma) {
  bool icase = false;
  std::string pattern;
  for (size_t i = 0; i < go.size();) {
    if (go.substr(i, 4) == "(?i)") {
      icase = true;
      i += 4;
      continue;
    }
    if (go.substr(i, 2) == "(?" && go.substr(i, 3) != "(?:") {
      return fmt::format("pattern \"{}\": inline flags other than (?i) are not supported", go);
    }
    pattern += go[i++];
  }
  if (icase) {
    auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    auto other_case = [](char c) {
      return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : static_cast<char>(c - 'A' + 'a');
    };
    std::string expanded;
    bool in_class = false;
    for (size_t i = 0; i < pattern.size(); ++i) {
      char c = pattern[i];
      if (c == '\\' && i + 1 < pattern.size()) {
        expanded += c;
        expanded += pattern[++i];
        continue;
      }
      if (!in_class && c == '[') {
        in_class = true;
        expanded += c;
        continue;
      }
      if (in_class && c == ']') {
        in_class = false;
        expanded += c;
        continue;
      }
      if (!letter(c)) {
        expanded += c;
        continue;
      }
      if (!in_class) {
        expanded += '[';
        expanded += c;
        expanded += other_case(c);
        expanded += ']';
        continue;
      }
      // Inside a class: a letter range gets its other-case twin (c-d → c-dC-D).
      if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']' &&
          letter(pattern[i + 2])) {
        char hi = pattern[i + 2];
        expanded += c;
        expanded += '-';
        expanded += hi;
        expanded += other_case(c);
        expanded += '-';
        expanded += other_case(hi);
        i += 2;
        continue;
      }
      expanded += c;
      expanded += other_case(c);
    }
    pattern = expanded;
  }
  try {
    std::regex check(pattern, std::regex_constants::ECMAScript);
  } catch (const std::regex_error& e) {
    return fmt::format("pattern \"{}\" is not a valid regular expression", go);
  }
  *ecma = pattern;
  return "";
}

struct CustomCheck::Compiled {
  rapidjson::Document schema_json;
  std::unique_ptr<rapidjson::SchemaDocument> schema;
};

CustomCheck::~CustomCheck() = default;

std::unique_ptr<CustomCheck> CustomCheck::Compile(std::string name,
                                                  const rapidjson::Value& def,
                                                  std::string* error) {
  auto fail = [&](const std::string& what) {
    *error = fmt::format("custom check {}: {}", name, what);
    return nullptr;
  };
  if (!def.IsObject()) return fail("must be a mapping");
  std::unique_ptr<CustomCheck> c(new CustomCheck());
  c->name_ = name;
  c->success_message_ = std::string(scan::Str(Get(def, "successMessage")));
  c->failure_message_ = std::string(scan::Str(Get(def, "failureMessage")));
  if (c->failure_message_.empty()) c->failure_message_ = std::string(scan::Str(Get(def, "FailureMessage")));
  if (c->success_message_.empty()) c->success_message_ = name + " passed";
  if (c->failure_message_.empty()) c->failure_message_ = name + " failed";
  std::string_view category = scan::Str(Get(def, "category"), "Security");
  if (!ParseCategory(category, &c->category_)) {
    return fail(fmt::format("unknown category \"{}\" (Security, Reliability, Efficiency, Network, "
                            "RBAC)",
                            category));
  }
  std::string_view target = scan::Str(Get(def, "target"));
  c->target_text_ = std::string(target);
  if (target == "Container") {
    c->target_ = CustomTarget::kContainer;
  } else if (target == "PodSpec" || target == "Pod") {
    c->target_ = CustomTarget::kPodSpec;
  } else if (target == "PodTemplate") {
    c->target_ = CustomTarget::kPodTemplate;
  } else if (target == "Controller") {
    c->target_ = CustomTarget::kController;
  } else if (!target.empty()) {
    c->target_ = CustomTarget::kKind;
    size_t slash = target.rfind('/');
    c->kind_ = std::string(slash == std::string_view::npos ? target : target.substr(slash + 1));
    if (c->kind_.empty()) return fail(fmt::format("target \"{}\" names no kind", target));
  } else {
    return fail("no target");
  }
  std::string_view schema_target = scan::Str(Get(def, "schemaTarget"));
  if (!schema_target.empty()) {
    if (schema_target != "PodSpec" || c->target_ != CustomTarget::kContainer) {
      return fail("schemaTarget PodSpec is supported with target Container only");
    }
    c->schema_target_pod_spec_ = true;
  }
  auto list = [](const JsonValue* v, std::vector<std::string>* out) {
    if (!Arr(v)) return;
    for (const auto& item : v->GetArray()) {
      if (item.IsString()) out->push_back(std::string(View(item)));
    }
  };
  list(Path(&def, {"controllers", "include"}), &c->include_kinds_);
  list(Path(&def, {"controllers", "exclude"}), &c->exclude_kinds_);
  list(Path(&def, {"containers", "include"}), &c->include_containers_);
  list(Path(&def, {"containers", "exclude"}), &c->exclude_containers_);
  if (Get(def, "additionalSchemas") || Get(def, "additionalSchemaStrings")) {
    return fail("additionalSchemas are not supported");
  }

  auto compiled = std::make_unique<Compiled>();
  const JsonValue* schema = Get(def, "schema");
  rapidjson::Document parsed;
  // ParseConfig turns a schemaString (YAML or JSON text) into "schema".
  if (!schema) return fail("needs schema or schemaString");
  if (!schema->IsObject()) return fail("schema must be a mapping");
  rapidjson::Value translated;
  std::string err = TranslateSchema(*schema, &translated, compiled->schema_json.GetAllocator());
  if (!err.empty()) return fail("schema" + err);
  static_cast<rapidjson::Value&>(compiled->schema_json) = std::move(translated);
  compiled->schema = std::make_unique<rapidjson::SchemaDocument>(compiled->schema_json);
  c->compiled_ = std::move(compiled);
  return c;
}

CheckInfo CustomCheck::Info(Severity severity) const {
  CheckInfo info{};
  info.id = name_;
  info.title = name_;
  info.category = category_;
  info.severity = severity;
  info.scope = target_ == CustomTarget::kContainer
                   ? Scope::kContainer
                   : (target_ == CustomTarget::kPodSpec || target_ == CustomTarget::kPodTemplate
                          ? Scope::kPod
                          : Scope::kObject);
  info.applies_to = target_text_;
  info.why = failure_message_;
  info.remediation = "";
  info.aliases.polaris = name_;
  info.success_message = success_message_;
  info.failure_message = failure_message_;
  return info;
}

bool CustomCheck::AppliesToKind(std::string_view kind) const {
  if (!include_kinds_.empty() &&
      std::find(include_kinds_.begin(), include_kinds_.end(), kind) == include_kinds_.end()) {
    return false;
  }
  return std::find(exclude_kinds_.begin(), exclude_kinds_.end(), kind) == exclude_kinds_.end();
}

bool CustomCheck::AppliesToContainer(bool init) const {
  std::string_view which = init ? "initContainer" : "container";
  if (!include_containers_.empty() &&
      std::find(include_containers_.begin(), include_containers_.end(), which) ==
          include_containers_.end()) {
    return false;
  }
  return std::find(exclude_containers_.begin(), exclude_containers_.end(), which) ==
         exclude_containers_.end();
}

bool CustomCheck::Validate(const rapidjson::Value& value) const {
  rapidjson::SchemaValidator validator(*compiled_->schema);
  value.Accept(validator);
  return validator.IsValid();
}

}  // namespace srexpert::scan
