#include "test/api/crd_schema.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

namespace srexpert::testing {

namespace {

bool IsInteger(const std::string& s) { return std::regex_match(s, std::regex("[-+]?[0-9]+")); }
bool IsFloat(const std::string& s) {
  return std::regex_match(s, std::regex(R"([-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?)"));
}

std::string TypeOf(const YAML::Node& schema) {
  if (schema["x-kubernetes-int-or-string"] && schema["x-kubernetes-int-or-string"].as<bool>()) {
    return "int-or-string";
  }
  return schema["type"] ? schema["type"].as<std::string>() : "";
}

std::string Escape(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string Compact(const YAML::Node& node) {
  json::Document d;
  json::Value v = YamlToJson(node, d.GetAllocator());
  if (v.IsString()) return v.GetString();
  return json::Dump(v);
}

}  // namespace

YAML::Node LoadCrd() {
  return YAML::LoadFile(std::string(SRX_SOURCE_DIR) + "/crds/agentconfigs.agent.srexpert.io.yaml");
}

YAML::Node RootSchema(const YAML::Node& crd) {
  return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
}

YAML::Node SchemaAt(const YAML::Node& root, const std::string& path) {
  // Nodes are collected by copy-construction: yaml-cpp's Node::operator=
  // assigns through to the referenced tree instead of rebinding.
  std::vector<YAML::Node> chain = {root};
  std::stringstream ss(path);
  std::string step;
  while (std::getline(ss, step, '.')) {
    bool items = step.size() > 2 && step.ends_with("[]");
    bool values = step.size() > 2 && step.ends_with("{}");
    if (items || values) step.resize(step.size() - 2);
    const YAML::Node& node = chain.back();
    if (!node["properties"] || !node["properties"][step]) return YAML::Node();
    chain.push_back(node["properties"][step]);
    if (items) {
      if (!chain.back()["items"]) return YAML::Node();
      chain.push_back(chain.back()["items"]);
    }
    if (values) {
      if (!chain.back()["additionalProperties"] || !chain.back()["additionalProperties"].IsMap())
        return YAML::Node();
      chain.push_back(chain.back()["additionalProperties"]);
    }
  }
  return chain.back();
}

json::Value YamlToJson(const YAML::Node& node, json::Allocator& alloc) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json::Value obj(rapidjson::kObjectType);
      for (const auto& kv : node) {
        json::Set(obj, kv.first.as<std::string>(), YamlToJson(kv.second, alloc), alloc);
      }
      return obj;
    }
    case YAML::NodeType::Sequence: {
      json::Value arr(rapidjson::kArrayType);
      for (const auto& item : node) arr.PushBack(YamlToJson(item, alloc), alloc);
      return arr;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = node.Scalar();
      if (node.Tag() == "!") return json::String(s, alloc);  // quoted
      if (s == "true") return json::Value(true);
      if (s == "false") return json::Value(false);
      if (s == "null" || s == "~") return json::Value();
      if (IsInteger(s)) return json::Value(static_cast<int64_t>(std::stoll(s)));
      if (IsFloat(s)) return json::Value(std::stod(s));
      return json::String(s, alloc);
    }
    default:
      return json::Value();
  }
}

void ApplySchemaDefaults(const YAML::Node& schema, json::Value& value, json::Allocator& alloc) {
  if (value.IsObject()) {
    if (schema["properties"]) {
      for (const auto& kv : schema["properties"]) {
        const std::string key = kv.first.as<std::string>();
        if (!kv.second["default"]) continue;
        auto it = value.FindMember(key.c_str());
        if (it == value.MemberEnd() || it->value.IsNull()) {
          json::Set(value, key, YamlToJson(kv.second["default"], alloc), alloc);
        }
      }
    }
    for (auto& m : value.GetObject()) {
      const std::string key = m.name.GetString();
      if (schema["properties"] && schema["properties"][key]) {
        ApplySchemaDefaults(schema["properties"][key], m.value, alloc);
      } else if (schema["additionalProperties"] && schema["additionalProperties"].IsMap()) {
        ApplySchemaDefaults(schema["additionalProperties"], m.value, alloc);
      }
    }
  } else if (value.IsArray() && schema["items"]) {
    for (auto& item : value.GetArray()) ApplySchemaDefaults(schema["items"], item, alloc);
  }
}

std::vector<std::string> DefaultedPaths(const YAML::Node& schema, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& [path, node] : Properties(schema, prefix)) {
    if (node["default"]) out.push_back(path);
  }
  return out;
}

std::vector<std::pair<std::string, YAML::Node>> Properties(const YAML::Node& schema,
                                                           const std::string& prefix) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  if (!schema["properties"]) return out;
  for (const auto& kv : schema["properties"]) {
    const std::string path =
        prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
    out.emplace_back(path, kv.second);
    for (auto& sub : Properties(kv.second, path)) out.push_back(std::move(sub));
    if (kv.second["items"]) {
      for (auto& sub : Properties(kv.second["items"], path + "[]")) out.push_back(std::move(sub));
    }
    // Maps of objects (spec.scans.customChecks): their values' fields.
    if (kv.second["additionalProperties"] && kv.second["additionalProperties"].IsMap()) {
      for (auto& sub : Properties(kv.second["additionalProperties"], path + "{}"))
        out.push_back(std::move(sub));
    }
  }
  return out;
}

std::vector<std::string> SchemaErrors(const YAML::Node& schema, const json::Value& value,
                                      const std::string& path) {
  std::vector<std::string> errors;
  auto fail = [&](const std::string& what) { errors.push_back(path + ": " + what); };
  const std::string type = TypeOf(schema);
  if (type == "object" && !value.IsObject()) return {path + ": not an object"};
  if (type == "array" && !value.IsArray()) return {path + ": not an array"};
  if (type == "string" && !value.IsString()) return {path + ": not a string"};
  if (type == "boolean" && !value.IsBool()) return {path + ": not a boolean"};
  if (type == "integer" && !value.IsInt64()) return {path + ": not an integer"};
  if (type == "number" && !value.IsNumber()) return {path + ": not a number"};
  if (type == "int-or-string" && !value.IsString() && !value.IsInt64()) {
    return {path + ": not an int or string"};
  }
  if (schema["enum"]) {
    bool found = false;
    json::Document d;
    for (const auto& e : schema["enum"])
      found |= json::Equal(YamlToJson(e, d.GetAllocator()), value);
    if (!found) fail("not in enum");
  }
  if (value.IsString()) {
    const std::string s(value.GetString(), value.GetStringLength());
    if (schema["pattern"] &&
        !std::regex_search(s, std::regex(schema["pattern"].as<std::string>()))) {
      fail("does not match pattern");
    }
    if (schema["minLength"] && s.size() < schema["minLength"].as<size_t>()) fail("too short");
    if (schema["maxLength"] && s.size() > schema["maxLength"].as<size_t>()) fail("too long");
  }
  if (value.IsNumber()) {
    // kube-openapi checks an integer value against the bound truncated to an
    // integer: minimum 0.1 lets an integer 0 through (a CEL rule must catch
    // it; the real-cluster suite showed this).
    auto bound = [&](const char* name) {
      double b = schema[name].as<double>();
      return value.IsInt64() ? std::trunc(b) : b;
    };
    if (schema["minimum"] && value.GetDouble() < bound("minimum")) fail("below minimum");
    if (schema["maximum"] && value.GetDouble() > bound("maximum")) fail("above maximum");
  }
  if (value.IsArray()) {
    if (schema["maxItems"] && value.Size() > schema["maxItems"].as<size_t>())
      fail("too many items");
    if (schema["x-kubernetes-list-type"] && schema["x-kubernetes-list-type"].as<std::string>() == "set") {
      for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
        for (rapidjson::SizeType j = 0; j < i; ++j) {
          if (json::Equal(value[i], value[j])) fail(fmt::format("[{}]: duplicate value in a set", i));
        }
      }
    }
    for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
      if (!schema["items"]) break;
      auto sub = SchemaErrors(schema["items"], value[i], fmt::format("{}[{}]", path, i));
      errors.insert(errors.end(), sub.begin(), sub.end());
    }
  }
  if (value.IsObject()) {
    if (schema["maxProperties"] && value.MemberCount() > schema["maxProperties"].as<size_t>()) {
      fail("too many properties");
    }
    if (schema["required"]) {
      for (const auto& r : schema["required"]) {
        auto it = value.FindMember(r.as<std::string>().c_str());
        if (it == value.MemberEnd() || it->value.IsNull()) fail("missing " + r.as<std::string>());
      }
    }
    for (const auto& m : value.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string key = m.name.GetString();
      std::vector<std::string> sub;
      if (schema["properties"] && schema["properties"][key]) {
        sub = SchemaErrors(schema["properties"][key], m.value, path + "." + key);
      } else if (schema["additionalProperties"] && schema["additionalProperties"].IsMap()) {
        sub = SchemaErrors(schema["additionalProperties"], m.value, path + "[" + key + "]");
      }
      errors.insert(errors.end(), sub.begin(), sub.end());
    }
  }
  return errors;
}

std::string RenderFieldReference(const YAML::Node& root) {
  std::string out;
  for (const char* section : {"spec", "status"}) {
    out += fmt::format("\n### `{}`\n\n", section);
    out += "| Field | Type | Default | Validation | Description |\n";
    out += "| --- | --- | --- | --- | --- |\n";
    const YAML::Node top = root["properties"][section];
    std::vector<std::pair<std::string, YAML::Node>> rows = {{section, top}};
    for (auto& p : Properties(top, section)) rows.push_back(std::move(p));
    for (const auto& [path, node] : rows) {
      std::string type = TypeOf(node);
      if (type == "object" && node["additionalProperties"]) {
        type = fmt::format("map[string]{}", TypeOf(node["additionalProperties"]));
      } else if (type == "array" && node["items"]) {
        type = fmt::format("[]{}", TypeOf(node["items"]));
      }
      std::vector<std::string> rules;
      const YAML::Node parent_required = [&] {
        auto dot = path.rfind('.');
        if (dot == std::string::npos) return YAML::Node();
        std::string parent = path.substr(0, dot);
        YAML::Node p = parent == section ? top : SchemaAt(top, parent.substr(parent.find('.') + 1));
        return p ? p["required"] : YAML::Node();
      }();
      const std::string leaf = path.substr(path.rfind('.') + 1);
      if (parent_required) {
        for (const auto& r : parent_required) {
          if (r.as<std::string>() == leaf) rules.push_back("required");
        }
      }
      // Maps and lists of scalars: show the constraints of their values.
      const YAML::Node constraints = type.starts_with("map[") ? node["additionalProperties"]
                                     : type == "[]string"     ? node["items"]
                                                              : node;
      if (constraints["enum"]) {
        std::vector<std::string> values;
        for (const auto& e : constraints["enum"]) {
          const std::string v = e.as<std::string>();
          values.push_back(v.empty() ? "`\"\"`" : fmt::format("`{}`", v));
        }
        std::string joined;
        for (const auto& v : values) joined += (joined.empty() ? "" : ", ") + v;
        rules.push_back("one of " + joined);
      }
      if (constraints["pattern"])
        rules.push_back(fmt::format("pattern `{}`", constraints["pattern"].as<std::string>()));
      if (constraints["minLength"])
        rules.push_back("min length " + constraints["minLength"].as<std::string>());
      if (constraints["maxLength"])
        rules.push_back("max length " + constraints["maxLength"].as<std::string>());
      if (node["minimum"]) rules.push_back("≥ " + node["minimum"].as<std::string>());
      if (node["maximum"]) rules.push_back("≤ " + node["maximum"].as<std::string>());
      if (node["maxItems"])
        rules.push_back("at most " + node["maxItems"].as<std::string>() + " items");
      if (node["maxProperties"])
        rules.push_back("at most " + node["maxProperties"].as<std::string>() + " entries");
      // Rules of the object itself, then of each of its items or map values.
      for (const YAML::Node& holder :
           {node, node["items"] ? node["items"] : YAML::Node(),
            node["additionalProperties"] && node["additionalProperties"].IsMap()
                ? node["additionalProperties"]
                : YAML::Node()}) {
        if (!holder || !holder["x-kubernetes-validations"]) continue;
        for (const auto& v : holder["x-kubernetes-validations"]) {
          rules.push_back("CEL: " + v["message"].as<std::string>());
        }
      }
      std::string joined;
      for (const auto& r : rules) joined += (joined.empty() ? "" : "; ") + r;
      const std::string def = node["default"] ? fmt::format("`{}`", Compact(node["default"])) : "";
      out += fmt::format("| `{}` | {} | {} | {} | {} |\n", path, type, Escape(def), Escape(joined),
                         Escape(node["description"] ? node["description"].as<std::string>() : ""));
    }
  }
  return out;
}

std::string CheckGeneratedSection(const std::string& file, const std::string& begin,
                                  const std::string& end, const std::string& generated) {
  std::ifstream in(file);
  if (!in) return "cannot read " + file;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const size_t b = text.find(begin + "\n");
  const size_t e = text.find(end);
  if (b == std::string::npos || e == std::string::npos || e < b) {
    return fmt::format("{} lacks the markers {} / {}", file, begin, end);
  }
  const size_t body = b + begin.size() + 1;
  const std::string current = text.substr(body, e - body);
  if (current == generated) return "";
  const char* update = std::getenv("SRX_UPDATE_DOCS");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream out(file, std::ios::trunc);
    out << text.substr(0, body) << generated << text.substr(e);
    return out ? "" : "cannot write " + file;
  }
  return fmt::format("{} is out of date; regenerate it with SRX_UPDATE_DOCS=1 ctest -R docs", file);
}

}  // namespace srexpert::testing
