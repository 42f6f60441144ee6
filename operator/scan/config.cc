#include "scan/config.h"

#include <fmt/format.h>

#include "scan/json_access.h"
#include "scan/manifests.h"

namespace srexpert::scan {

namespace {

bool StringList(const JsonValue* v, std::vector<std::string>* out, std::string* error,
                std::string_view where) {
  if (v == nullptr || v->IsNull()) return true;
  if (!v->IsArray()) {
    *error = fmt::format("{} must be a list of strings", where);
    return false;
  }
  for (const auto& item : v->GetArray()) {
    if (!item.IsString()) {
      *error = fmt::format("{} must be a list of strings", where);
      return false;
    }
    out->push_back(std::string(View(item)));
  }
  return true;
}

}  // namespace

std::string ParseConfig(std::string_view yaml, ScanConfig* out) {
  rapidjson::Document doc;
  std::string error = ParseYamlDocument(yaml, ManifestLimits{}, &doc);
  if (!error.empty()) return error;
  if (doc.IsNull()) return "";
  if (!doc.IsObject()) return "the configuration must be a mapping";

  // Custom checks first: `checks` may name them.
  if (const JsonValue* custom = Get(doc, "customChecks"); custom && !custom->IsNull()) {
    if (!custom->IsObject()) return "customChecks must be a mapping";
    for (const auto& m : custom->GetObject()) {
      std::string name(View(m.name));
      if (FindCheck(name)) return fmt::format("custom check {}: the name is a built-in check", name);
      rapidjson::Document def;
      def.CopyFrom(m.value, def.GetAllocator());
      if (def.IsObject() && !Get(def, "schema")) {
        std::string_view text = Str(Get(def, "schemaString"));
        if (text.find("{{") != std::string_view::npos) {
          return fmt::format("custom check {}: Go templates in schemaString are not supported", name);
        }
        if (!text.empty()) {
          rapidjson::Document schema;
          std::string e = ParseYamlDocument(text, ManifestLimits{}, &schema);
          if (!e.empty()) return fmt::format("custom check {}: schemaString: {}", name, e);
          rapidjson::Value copy(schema, def.GetAllocator());
          def.AddMember("schema", copy, def.GetAllocator());
        }
      }
      std::string e;
      auto check = CustomCheck::Compile(name, def, &e);
      if (!check) return e;
      out->custom_checks.push_back(std::move(check));
    }
  }

  if (const JsonValue* checks = Get(doc, "checks"); checks && !checks->IsNull()) {
    if (!checks->IsObject()) return "checks must be a mapping of check name to severity";
    std::map<std::string, Severity> map;
    for (const auto& m : checks->GetObject()) {
      std::string_view name = View(m.name);
      Severity severity;
      if (!m.value.IsString() || !ParseSeverity(View(m.value), &severity)) {
        return fmt::format("checks.{}: severity must be danger, warning or ignore", name);
      }
      std::string key(name);
      if (const CheckInfo* info = FindCheck(name)) {
        key = std::string(info->id);
      } else {
        bool custom = false;
        for (const auto& c : out->custom_checks) custom |= c->name() == name;
        if (!custom) return fmt::format("checks.{}: no such check", name);
      }
      map[key] = severity;
    }
    out->checks = std::move(map);
  }

  if (const JsonValue* ex = Get(doc, "exemptions"); ex && !ex->IsNull()) {
    if (!ex->IsArray()) return "exemptions must be a list";
    size_t index = 0;
    for (const auto& item : ex->GetArray()) {
      std::string where = fmt::format("exemptions[{}]", index++);
      if (!item.IsObject()) return where + " must be a mapping";
      Exemption e;
      e.ns = std::string(Str(Get(item, "namespace")));
      if (!StringList(Get(item, "controllerNames"), &e.controller_names, &error,
                      where + ".controllerNames") ||
          !StringList(Get(item, "containerNames"), &e.container_names, &error,
                      where + ".containerNames") ||
          !StringList(Get(item, "rules"), &e.rules, &error, where + ".rules")) {
        return error;
      }
      for (std::string& rule : e.rules) {
        if (const CheckInfo* info = FindCheck(rule)) rule = std::string(info->id);
      }
      out->exemptions.push_back(std::move(e));
    }
  }
  out->disallow_exemptions = IsTrue(Get(doc, "disallowExemptions"));
  out->disallow_config_exemptions = IsTrue(Get(doc, "disallowConfigExemptions"));
  out->disallow_annotation_exemptions = IsTrue(Get(doc, "disallowAnnotationExemptions"));
  return "";
}

}  // namespace srexpert::scan
