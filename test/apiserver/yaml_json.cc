#include "test/apiserver/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <regex>

namespace srexpert::testing {
namespace {

json::Value Convert(const YAML::Node& node, json::Allocator& a) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json::Value obj(rapidjson::kObjectType);
      for (const auto& kv : node) {
        json::Set(obj, kv.first.as<std::string>(), Convert(kv.second, a), a);
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
        if (s == "true" || s == "True" || s == "TRUE") return json::Value(true);
        if (s == "false" || s == "False" || s == "FALSE") return json::Value(false);
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
