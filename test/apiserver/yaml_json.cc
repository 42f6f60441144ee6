#include "test/apiserver/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <regex>
#include <set>

namespace srexpert::testing {
namespace {

// kube-apiserver reads YAML with go-yaml v2, which resolves plain scalars by
// YAML 1.1: y/yes/on and n/no/off are booleans too (yaml-cpp keeps them as
// strings).
std::optional<bool> Yaml11Bool(const YAML::Node& node) {
  if (node.Type() != YAML::NodeType::Scalar || node.Tag() == "!") return std::nullopt;
  static const std::set<std::string> kTrue = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
                                              "true", "True", "TRUE"};
  static const std::set<std::string> kFalse = {"n", "N", "no", "No", "NO", "off", "Off", "OFF",
                                               "false", "False", "FALSE"};
  if (kTrue.count(node.Scalar())) return true;
  if (kFalse.count(node.Scalar())) return false;
  return std::nullopt;
}

json::Value Convert(const YAML::Node& node, json::Allocator& a) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json::Value obj(rapidjson::kObjectType);
      for (const auto& kv : node) {
        // sigs.k8s.io/yaml turns non-string keys into their text: a key
        // `y` is the boolean true, i.e. "true".
        auto b = Yaml11Bool(kv.first);
        std::string key = b ? (*b ? "true" : "false") : kv.first.as<std::string>();
        json::Set(obj, key, Convert(kv.second, a), a);
      }
      return obj;
    }
    case YAML::NodeType::Sequence: {
      json::Value arr(rapidjson::kArrayType);
      for (const auto& item : node) arr.PushBack(Convert(item, a), a);
      return arr;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      // yaml-cpp tags quoted scalars "!" and plain ones "?".
      if (node.Tag() != "!") {
        static const std::regex kInt("[-+]?[0-9]+");
        static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
        if (s == "null" || s == "Null" || s == "NULL" || s == "~") return json::Value();
        if (auto b = Yaml11Bool(node)) return json::Value(*b);
        if (std::regex_match(s, kInt)) {
          try {
            return json::Value(static_cast<int64_t>(std::stoll(s)));
          } catch (const std::exception&) {
            return json::String(s, a);
          }
        }
        if (std::regex_match(s, kFloat)) return json::Value(std::stod(s));
      }
      return json::String(s, a);
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json::Value();
  }
  return json::Value();
}

}  // namespace

std::optional<json::Document> YamlToJson(const std::string& text, std::string* error) {
  try {
    YAML::Node node = YAML::Load(text);
    json::Document d;
    json::Value v = Convert(node, d.GetAllocator());
    static_cast<json::Value&>(d) = std::move(v);
    return d;
  } catch (const YAML::Exception& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

}  // namespace srexpert::testing
