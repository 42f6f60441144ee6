#include "scan/manifests.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <unordered_set>

#include "common/json.h"
#include "common/yaml_documents.h"
#include "scan/json_access.h"

namespace srexpert::scan {

namespace {

// ---- nesting depth without parsing -------------------------------------------

bool IsScalarStart(char prev) {
  return prev == 0 || prev == ':' || prev == '-' || prev == '[' || prev == '{' || prev == ',' ||
         prev == '?';
}

// Whether the line's last token is a block scalar header: | or > with an
// optional chomping indicator and indentation digit.
bool IsBlockScalarHeader(std::string_view line) {
  size_t end = line.find_last_not_of(" \t\r");
  if (end == std::string_view::npos) return false;
  size_t start = line.find_last_of(" \t", end);
  start = start == std::string_view::npos ? 0 : start + 1;
  std::string_view token = line.substr(start, end - start + 1);
  if (token.empty() || (token[0] != '|' && token[0] != '>') || token.size() > 3) return false;
  for (size_t i = 1; i < token.size(); ++i) {
    char c = token[i];
    if (c != '+' && c != '-' && (c < '1' || c > '9')) return false;
  }
  return true;
}

}  // namespace

int YamlNestingDepth(std::string_view text) {
  int max_depth = 0;
  int flow = 0;
  char quote = 0;               // open quote spanning lines
  std::vector<size_t> indents;  // block indentation stack
  size_t block_scalar_indent = std::string_view::npos;  // inside a | or > scalar: its parent's indent
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    size_t indent = 0;
    while (indent < line.size() && (line[indent] == ' ' || line[indent] == '\t')) ++indent;
    bool blank = indent == line.size() || line[indent] == '#' || line[indent] == '\r';
    if (block_scalar_indent != std::string_view::npos) {
      if (blank || indent > block_scalar_indent) {
        if (pos > text.size()) break;
        continue;
      }
      block_scalar_indent = std::string_view::npos;
    }
    if (blank && quote == 0 && flow == 0) {
      if (pos > text.size()) break;
      continue;
    }
    int line_depth = 0;
    if (quote == 0 && flow == 0) {
      if (line.substr(indent, 3) == "---" || line.substr(indent, 3) == "...") {
        indents.clear();
        if (pos > text.size()) break;
        continue;
      }
      while (!indents.empty() && indents.back() >= indent) indents.pop_back();
      indents.push_back(indent);
    }
    line_depth = static_cast<int>(indents.size()) + flow;
    int dashes = 0;
    char prev = 0;
    size_t i = indent;
    // Leading sequence indicators: "- - - x" nests once per dash.
    while (quote == 0 && flow == 0 && i + 1 < line.size() && line[i] == '-' &&
           (line[i + 1] == ' ' || line[i + 1] == '\t')) {
      ++dashes;
      i += 2;
      while (i < line.size() && line[i] == ' ') ++i;
      prev = '-';
    }
    int peak = line_depth + dashes;
    size_t content_end = line.size();
    for (; i < line.size(); ++i) {
      char c = line[i];
      if (quote == '"') {
        if (c == '\\') ++i;
        else if (c == '"') quote = 0;
        continue;
      }
      if (quote == '\'') {
        if (c == '\'') {
          if (i + 1 < line.size() && line[i + 1] == '\'') ++i;
          else quote = 0;
        }
        continue;
      }
      if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
        content_end = i;
        break;
      }
      if (c == ' ' || c == '\t' || c == '\r') continue;
      if ((c == '"' || c == '\'') && IsScalarStart(prev)) {
        quote = c;
        prev = c;
        continue;
      }
      if ((c == '[' || c == '{') && (flow > 0 || IsScalarStart(prev))) {
        ++flow;
        peak = std::max(peak, static_cast<int>(indents.size()) + dashes + flow);
      } else if ((c == ']' || c == '}') && flow > 0) {
        --flow;
      }
      prev = c;
    }
    max_depth = std::max(max_depth, peak);
    // "key: |" / "- >-": the following more-indented lines are text.
    if (quote == 0 && flow == 0 && IsBlockScalarHeader(line.substr(0, content_end))) {
      block_scalar_indent = indent;
    }
    if (pos > text.size()) break;
  }
  return max_depth;
}

namespace {

// ---- YAML scalars as Kubernetes reads manifests -------------------------------

bool IsNull(std::string_view s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

std::optional<bool> AsBool(std::string_view s) {
  static constexpr std::array<std::string_view, 11> kTrue = {
      "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static constexpr std::array<std::string_view, 11> kFalse = {
      "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  for (auto t : kTrue) {
    if (s == t) return true;
  }
  for (auto f : kFalse) {
    if (s == f) return false;
  }
  return std::nullopt;
}

// Integers as Go's strconv.ParseInt(s, 0, 64): sign, 0x/0o/0b prefixes, a
// leading 0 for octal, underscores between digits.
std::optional<int64_t> AsInt(std::string_view s) {
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i >= s.size()) return std::nullopt;
  int base = 10;
  if (s.size() - i > 1 && s[i] == '0') {
    char p = s[i + 1];
    if (p == 'x' || p == 'X') base = 16, i += 2;
    else if (p == 'o' || p == 'O') base = 8, i += 2;
    else if (p == 'b' || p == 'B') base = 2, i += 2;
    else base = 8, i += 1;
  }
  if (i >= s.size()) return std::nullopt;
  unsigned __int128 v = 0;
  bool digit_seen = false;
  char last = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') {
      if (!digit_seen) return std::nullopt;
      last = c;
      continue;
    }
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return std::nullopt;
    if (d >= base) return std::nullopt;
    v = v * base + d;
    if (v > (static_cast<unsigned __int128>(1) << 63)) return std::nullopt;
    digit_seen = true;
    last = c;
  }
  if (!digit_seen || last == '_') return std::nullopt;
  if (!neg && v > static_cast<unsigned __int128>(INT64_MAX)) return std::nullopt;
  return neg ? -static_cast<int64_t>(v - 1) - 1 : static_cast<int64_t>(v);
}

std::optional<double> AsFloat(std::string_view s) {
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF") {
    return HUGE_VAL;
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -HUGE_VAL;
  // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  std::string copy(s);
  return std::strtod(copy.c_str(), nullptr);
}

struct Converter {
  rapidjson::Document::AllocatorType& alloc;
  size_t budget;  // nodes left
  int max_depth;
  std::string error;

  bool Convert(const YAML::Node& node, rapidjson::Value* out, int depth) {
    if (budget == 0) {
      error = "too many values (YAML aliases expand beyond the limit)";
      return false;
    }
    --budget;
    if (depth > max_depth) {
      error = fmt::format("nested deeper than {} levels", max_depth);
      return false;
    }
    switch (node.Type()) {
      case YAML::NodeType::Map: {
        out->SetObject();
        std::unordered_set<std::string> keys;
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            error = fmt::format("line {}: mapping keys must be scalars", kv.first.Mark().line + 1);
            return false;
          }
          const std::string& key = kv.first.Scalar();
          if (!keys.insert(key).second) {
            error = fmt::format("line {}: mapping key \"{}\" appears twice", kv.first.Mark().line + 1,
                                key);
            return false;
          }
          rapidjson::Value v;
          if (!Convert(kv.second, &v, depth + 1)) return false;
          out->AddMember(rapidjson::Value(key.c_str(), static_cast<rapidjson::SizeType>(key.size()), alloc),
                         v, alloc);
        }
        return true;
      }
      case YAML::NodeType::Sequence: {
        out->SetArray();
        for (const auto& item : node) {
          rapidjson::Value v;
          if (!Convert(item, &v, depth + 1)) return false;
          out->PushBack(v, alloc);
        }
        return true;
      }
      case YAML::NodeType::Scalar: {
        const std::string& s = node.Scalar();
        const std::string& tag = node.Tag();
        bool plain = tag == "?";
        bool str_tag = tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "!!str";
        if (!str_tag) {
          if (plain && IsNull(s)) {
            out->SetNull();
            return true;
          }
          if (auto b = AsBool(s); b && (plain || tag == "tag:yaml.org,2002:bool")) {
            out->SetBool(*b);
            return true;
          }
          if (auto i = AsInt(s); i && (plain || tag == "tag:yaml.org,2002:int")) {
            out->SetInt64(*i);
            return true;
          }
          if (auto f = AsFloat(s); f && std::isfinite(*f) && (plain || tag == "tag:yaml.org,2002:float")) {
            out->SetDouble(*f);
            return true;
          }
        }
        out->SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), alloc);
        return true;
      }
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        out->SetNull();
        return true;
    }
    out->SetNull();
    return true;
  }
};

// ---- built-in API groups and their kinds ---------------------------------------

struct GroupKinds {
  std::string_view group;
  std::vector<std::string_view> kinds;
};

const std::vector<GroupKinds>& BuiltInGroups() {
  static const std::vector<GroupKinds> groups = {
      {"", {"Pod", "Service", "ConfigMap", "Secret", "Namespace", "ServiceAccount",
            "PersistentVolumeClaim", "PersistentVolume", "Node", "Endpoints", "Event", "LimitRange",
            "ResourceQuota", "ReplicationController", "PodTemplate", "Binding",
            "ComponentStatus"}},
      {"apps", {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ControllerRevision"}},
      {"batch", {"Job", "CronJob"}},
      {"networking.k8s.io", {"Ingress", "IngressClass", "NetworkPolicy", "IPAddress", "ServiceCIDR"}},
      {"policy", {"PodDisruptionBudget", "PodSecurityPolicy", "Eviction"}},
      {"rbac.authorization.k8s.io", {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}},
      {"autoscaling", {"HorizontalPodAutoscaler", "Scale"}},
      {"storage.k8s.io", {"StorageClass", "CSIDriver", "CSINode", "VolumeAttachment",
                          "CSIStorageCapacity", "VolumeAttributesClass"}},
      {"admissionregistration.k8s.io", {"ValidatingWebhookConfiguration",
                                        "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
                                        "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
                                        "MutatingAdmissionPolicyBinding"}},
      {"apiextensions.k8s.io", {"CustomResourceDefinition"}},
      {"scheduling.k8s.io", {"PriorityClass"}},
      {"coordination.k8s.io", {"Lease", "LeaseCandidate"}},
      {"discovery.k8s.io", {"EndpointSlice"}},
      {"node.k8s.io", {"RuntimeClass"}},
      {"certificates.k8s.io", {"CertificateSigningRequest", "ClusterTrustBundle"}},
      {"events.k8s.io", {"Event"}},
      {"apiregistration.k8s.io", {"APIService"}},
      {"flowcontrol.apiserver.k8s.io", {"FlowSchema", "PriorityLevelConfiguration"}},
  };
  return groups;
}

bool IsList(const rapidjson::Value& v) {
  std::string_view kind = Str(Get(v, "kind"));
  return kind.size() >= 4 && kind.substr(kind.size() - 4) == "List" && Arr(Get(v, "items"));
}

std::string Where(std::string_view source, int document, int line) {
  if (line > 0) return fmt::format("{}: document {} (line {})", source, document, line);
  return fmt::format("{}: document {}", source, document);
}

// Moves the objects of `root` (an object, a List, or an array of either)
// into `array`, validating each.
std::string Collect(rapidjson::Value& root, rapidjson::Value& array,
                    rapidjson::Document::AllocatorType& alloc, std::string_view where) {
  if (root.IsNull()) return "";
  if (root.IsArray()) {
    for (auto& item : root.GetArray()) {
      std::string e = Collect(item, array, alloc, where);
      if (!e.empty()) return e;
    }
    return "";
  }
  if (!root.IsObject()) return fmt::format("{}: not an object", where);
  if (IsList(root)) {
    rapidjson::Value& items = root["items"];
    size_t index = 0;
    for (auto& item : items.GetArray()) {
      ++index;
      std::string e = ValidateObject(item);
      if (!e.empty()) return fmt::format("{}: item {}: {}", where, index, e);
      array.PushBack(item, alloc);
    }
    return "";
  }
  std::string e = ValidateObject(root);
  if (!e.empty()) return fmt::format("{}: {}", where, e);
  array.PushBack(root, alloc);
  return "";
}

}  // namespace

bool YamlPlainScalarIsString(std::string_view s) {
  return !IsNull(s) && !AsBool(s) && !AsInt(s) && !AsFloat(s);
}

std::string ValidateObject(const rapidjson::Value& object) {
  if (!object.IsObject()) return "not an object";
  const JsonValue* kind = Get(object, "kind");
  const JsonValue* api_version = Get(object, "apiVersion");
  if (!IsString(kind) || Str(kind).empty()) return "no kind: not a Kubernetes object";
  if (!IsString(api_version) || Str(api_version).empty()) {
    return fmt::format("kind {} has no apiVersion", Str(kind));
  }
  const JsonValue* meta = Obj(Get(object, "metadata"));
  if (!IsString(Get(meta, "name")) && !IsString(Get(meta, "generateName"))) {
    return fmt::format("{} has no metadata.name", Str(kind));
  }
  std::string_view av = Str(api_version);
  size_t slash = av.find('/');
  std::string_view group = slash == std::string_view::npos ? std::string_view() : av.substr(0, slash);
  for (const auto& g : BuiltInGroups()) {
    if (g.group != group) continue;
    for (std::string_view k : g.kinds) {
      if (k == Str(kind)) return "";
    }
    return fmt::format("unknown kind \"{}\" for apiVersion {}", Str(kind), av);
  }
  return "";
}

std::string ParseYamlDocument(std::string_view text, const ManifestLimits& limits,
                              rapidjson::Document* out) {
  if (text.size() > limits.max_bytes) {
    return fmt::format("{} bytes is more than the limit of {}", text.size(), limits.max_bytes);
  }
  int depth = YamlNestingDepth(text);
  if (depth > limits.max_depth) {
    return fmt::format("nested {} levels deep, more than the limit of {}", depth, limits.max_depth);
  }
  try {
    YAML::Node node = YAML::Load(std::string(text));
    Converter conv{out->GetAllocator(), limits.max_nodes, limits.max_depth + 2, ""};
    rapidjson::Value v;
    if (!conv.Convert(node, &v, 0)) return conv.error;
    static_cast<rapidjson::Value&>(*out) = std::move(v);
    return "";
  } catch (const YAML::Exception& e) {
    return fmt::format("invalid YAML at line {}: {}", e.mark.line + 1, e.msg);
  }
}

std::string ParseManifests(std::string_view text, std::string_view source,
                           const ManifestLimits& limits, std::vector<Manifest>* out) {
  if (text.size() > limits.max_bytes) {
    return fmt::format("{}: {} bytes is more than the limit of {} bytes", source, text.size(),
                       limits.max_bytes);
  }
  auto doc = std::make_shared<rapidjson::Document>();
  auto& alloc = doc->GetAllocator();
  doc->SetArray();
  // Document index and line of each object, parallel to doc's array.
  std::vector<std::pair<int, int>> origin;
  auto record = [&](size_t before, int document, int line) {
    for (size_t i = before; i < doc->Size(); ++i) origin.emplace_back(document, line);
  };

  size_t first = text.find_first_not_of(" \t\r\n");
  bool json_text = first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
  rapidjson::Document parsed(&alloc);
  if (json_text) {
    int depth = json::NestingDepth(text);
    if (depth > limits.max_depth) {
      return fmt::format("{}: nested {} levels deep, more than the limit of {}", source, depth,
                         limits.max_depth);
    }
    parsed.Parse(text.data(), text.size());
    // A JSON document followed by more documents is a YAML stream.
    if (parsed.HasParseError() && parsed.GetParseError() == rapidjson::kParseErrorDocumentRootNotSingular) {
      json_text = false;
    }
  }
  if (json_text) {
    if (parsed.HasParseError()) {
      std::string error;
      json::Parse(text, &error);
      return fmt::format("{}: {}", source, error);
    }
    if (json::HasDuplicateMembers(parsed)) {
      return fmt::format("{}: an object repeats a member name", source);
    }
    std::string e = Collect(parsed, *doc, alloc, Where(source, 1, 1));
    if (!e.empty()) return e;
    record(0, 1, 1);
  } else {
    int depth = YamlNestingDepth(text);
    if (depth > limits.max_depth) {
      return fmt::format("{}: nested {} levels deep, more than the limit of {}", source, depth,
                         limits.max_depth);
    }
    std::vector<YAML::Node> nodes;
    yaml::LoadError load_error;
    // Not YAML::LoadAll: yaml-cpp 0.7 loops without end on some input
    // (common/yaml_documents.h).
    if (!yaml::LoadAllDocuments(text, limits.max_documents, &nodes, &load_error)) {
      if (load_error.too_many_documents) {
        return fmt::format("{}: more documents than the limit of {}", source, limits.max_documents);
      }
      // The document index: "---" separators before the error's line, plus
      // one when content precedes the first separator.
      int line_no = load_error.line;
      int separators = 0;
      bool content_before_first = false;
      size_t p = 0;
      for (int l = 0; p <= text.size() && l < line_no; ++l) {
        size_t nl = text.find('\n', p);
        std::string_view ln = text.substr(p, nl == std::string_view::npos ? text.size() - p : nl - p);
        if (ln.substr(0, 3) == "---") {
          ++separators;
        } else if (separators == 0 && !ln.empty() && ln[0] != '#' &&
                   ln.find_first_not_of(" \t\r") != std::string_view::npos) {
          content_before_first = true;
        }
        if (nl == std::string_view::npos) break;
        p = nl + 1;
      }
      int document = std::max(1, separators + (content_before_first ? 1 : 0));
      return fmt::format("{}: invalid YAML: {}", Where(source, document, line_no + 1),
                         load_error.message);
    }
    Converter conv{alloc, limits.max_nodes, limits.max_depth + 2, ""};
    for (size_t i = 0; i < nodes.size(); ++i) {
      int document = static_cast<int>(i) + 1;
      int line = nodes[i].Mark().line >= 0 ? nodes[i].Mark().line + 1 : 0;
      rapidjson::Value v;
      if (!conv.Convert(nodes[i], &v, 0)) {
        return fmt::format("{}: {}", Where(source, document, line), conv.error);
      }
      size_t before = doc->Size();
      std::string e = Collect(v, *doc, alloc, Where(source, document, line));
      if (!e.empty()) return e;
      record(before, document, line);
    }
  }
  // Pointers into the array are taken once it no longer grows.
  for (rapidjson::SizeType i = 0; i < doc->Size(); ++i) {
    Manifest m;
    m.doc = doc;
    m.value = &(*doc)[i];
    m.source = std::string(source);
    m.document = origin[i].first;
    m.line = origin[i].second;
    out->push_back(std::move(m));
  }
  return "";
}

}  // namespace srexpert::scan
