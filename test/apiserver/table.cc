#include "test/apiserver/table.h"

#include <fmt/format.h>

#include <cctype>

#include "common/time_format.h"

namespace srexpert::testing {
namespace {

// ObjectMeta's field descriptions, which the real converters put into the
// Name and Age column definitions.
constexpr char kNameDescription[] =
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
constexpr char kCreationTimestampDescription[] =
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#metadata";

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

struct Column {
  std::string name;
  std::string type;
  std::string format;
  std::string description;
  int64_t priority = 0;
  std::string json_path;  // empty for the implicit Name column
};

// The columns of a custom resource version: Name, then the CRD's
// additionalPrinterColumns, or Age when it declares none
// (apiextensions-apiserver's serveDefaultColumnsIfEmpty + tableconvertor.New).
std::vector<Column> CustomColumns(const ResourceType& type, const std::string& version) {
  std::vector<Column> cols{{"Name", "string", "name", kNameDescription, 0, ""}};
  const json::Value* declared = nullptr;
  if (const json::Value* v = type.CrdVersion(version)) {
    declared = json::Find(*v, {"additionalPrinterColumns"});
  }
  if (declared == nullptr || !declared->IsArray() || declared->Empty()) {
    cols.push_back({"Age", "date", "", kCreationTimestampDescription, 0,
                    ".metadata.creationTimestamp"});
    return cols;
  }
  for (const auto& c : declared->GetArray()) {
    Column col;
    col.name = json::GetString(c, {"name"});
    col.type = json::GetString(c, {"type"});
    col.format = json::GetString(c, {"format"});
    col.json_path = json::GetString(c, {"jsonPath"});
    col.priority = json::GetInt(c, {"priority"});
    col.description = json::GetString(c, {"description"});
    if (col.description.empty()) {
      col.description = "Custom resource definition column (in JSONPath format): " + col.json_path;
    }
    cols.push_back(std::move(col));
  }
  return cols;
}

std::string AgeOf(const json::Value& obj, std::chrono::system_clock::time_point now) {
  auto ts = ParseRfc3339(json::GetString(obj, {"metadata", "creationTimestamp"}));
  // metatable.ConvertToHumanReadableDateType: a zero time is "<unknown>".
  if (!ts) return "<unknown>";
  return HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *ts));
}

// How jsonpath's PrintResults renders a scalar for a string column.
std::string PrintValue(const json::Value& v) {
  if (v.IsString()) return v.GetString();
  return json::Dump(v);
}

// apiextensions' cellForJSONValue: typed cells for non-string columns, nil
// (JSON null) when the value does not fit the declared type.
json::Value Cell(const Column& col, const json::Value& v, json::Allocator& a,
                 std::chrono::system_clock::time_point now) {
  if (col.type == "string") return json::String(PrintValue(v), a);
  if (col.type == "integer" && v.IsNumber()) {
    return json::Value(v.IsInt64() ? v.GetInt64() : static_cast<int64_t>(v.GetDouble()));
  }
  if (col.type == "number" && v.IsNumber()) return json::Value(v.GetDouble());
  if (col.type == "boolean" && v.IsBool()) return json::Value(v.GetBool());
  if (col.type == "date" && v.IsString()) {
    auto ts = ParseRfc3339(v.GetString());
    if (!ts) return json::String("<invalid>", a);
    return json::String(
        HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *ts)), a);
  }
  return json::Value(rapidjson::kNullType);
}

json::Value RowObject(const ResourceType& type, const std::string& version, const json::Value& obj,
                      const TableRequest& req, json::Allocator& a) {
  if (req.include_object == "None") return json::Value(rapidjson::kNullType);
  if (req.include_object == "Object") {
    json::Value full(obj, a);
    json::SetString(full, "apiVersion", type.ApiVersion(version), a);
    json::SetString(full, "kind", type.kind, a);
    return full;
  }
  json::Value partial(rapidjson::kObjectType);
  json::SetString(partial, "kind", "PartialObjectMetadata", a);
  json::SetString(partial, "apiVersion", req.group_version, a);
  if (const json::Value* meta = json::Find(obj, {"metadata"})) {
    json::Set(partial, "metadata", json::Value(*meta, a), a);
  }
  return partial;
}

}  // namespace

std::string TableRequest::MediaType() const {
  auto slash = group_version.find('/');
  return fmt::format("application/json;as=Table;v={};g={}", group_version.substr(slash + 1),
                     group_version.substr(0, slash));
}

std::optional<TableRequest> TableFromAccept(const std::string& accept,
                                            const std::string& include_object,
                                            std::optional<ApiError>* error) {
  size_t pos = 0;
  while (pos <= accept.size()) {
    size_t end = accept.find(',', pos);
    if (end == std::string::npos) end = accept.size();
    std::string item = accept.substr(pos, end - pos);
    pos = end + 1;
    size_t semi = item.find(';');
    std::string media = Trim(item.substr(0, semi));
    std::string as, v, g;
    while (semi != std::string::npos) {
      size_t next = item.find(';', semi + 1);
      std::string param = item.substr(semi + 1, next == std::string::npos ? next : next - semi - 1);
      size_t eq = param.find('=');
      if (eq != std::string::npos) {
        std::string key = Trim(param.substr(0, eq));
        std::string val = Trim(param.substr(eq + 1));
        if (key == "as") as = val;
        if (key == "v") v = val;
        if (key == "g") g = val;
      }
      semi = next;
    }
    if (media != "application/json" && media != "*/*" && media != "application/*") continue;
    if (as.empty()) return std::nullopt;  // plain JSON is acceptable and comes first
    if (as == "Table" && g == "meta.k8s.io" && (v == "v1" || v == "v1beta1")) {
      TableRequest r;
      r.group_version = "meta.k8s.io/" + v;
      if (!include_object.empty()) {
        if (include_object != "Metadata" && include_object != "Object" && include_object != "None") {
          *error = BadRequest(fmt::format("unrecognized includeObject value: \"{}\"", include_object));
          return std::nullopt;
        }
        r.include_object = include_object;
      }
      return r;
    }
    // Other transformations (PartialObjectMetadata) are not served: try the
    // next alternative.
  }
  return std::nullopt;
}

json::Document ToTable(const ResourceType& type, const std::string& version,
                       const json::Value& object_or_list, const TableRequest& request,
                       bool no_headers, std::chrono::system_clock::time_point now) {
  std::vector<Column> cols =
      type.custom ? CustomColumns(type, version)
                  : std::vector<Column>{{"Name", "string", "name", kNameDescription, 0, ""},
                                        {"Age", "string", "", kCreationTimestampDescription, 0, ""}};
  json::Document t(rapidjson::kObjectType);
  auto& a = t.GetAllocator();
  json::SetString(t, "kind", "Table", a);
  json::SetString(t, "apiVersion", request.group_version, a);
  json::Value meta(rapidjson::kObjectType);
  const json::Value* items = json::Find(object_or_list, {"items"});
  bool is_list = items != nullptr && items->IsArray();
  if (is_list) {
    for (const char* key : {"resourceVersion", "continue", "remainingItemCount"}) {
      if (const json::Value* m = json::Find(object_or_list, {"metadata", key})) {
        json::Set(meta, key, json::Value(*m, a), a);
      }
    }
  } else {
    std::string rv = json::GetString(object_or_list, {"metadata", "resourceVersion"});
    if (!rv.empty()) json::SetString(meta, "resourceVersion", rv, a);
  }
  json::Set(t, "metadata", std::move(meta), a);
  if (no_headers) {
    json::Set(t, "columnDefinitions", json::Value(rapidjson::kNullType), a);
  } else {
    json::Value defs(rapidjson::kArrayType);
    for (const auto& c : cols) {
      json::Value d(rapidjson::kObjectType);
      json::SetString(d, "name", c.name, a);
      json::SetString(d, "type", c.type, a);
      json::SetString(d, "format", c.format, a);
      json::SetString(d, "description", c.description, a);
      json::Set(d, "priority", json::Value(c.priority), a);
      defs.PushBack(d, a);
    }
    json::Set(t, "columnDefinitions", std::move(defs), a);
  }
  json::Value rows(rapidjson::kArrayType);
  auto add_row = [&](const json::Value& obj) {
    json::Value cells(rapidjson::kArrayType);
    cells.PushBack(json::String(json::GetString(obj, {"metadata", "name"}), a), a);
    for (size_t i = 1; i < cols.size(); ++i) {
      const Column& c = cols[i];
      if (!type.custom) {
        cells.PushBack(json::String(AgeOf(obj, now), a), a);
        continue;
      }
      auto found = EvalJsonPath(obj, c.json_path);
      if (!found || found->empty()) {
        cells.PushBack(json::Value(rapidjson::kNullType), a);
        continue;
      }
      cells.PushBack(Cell(c, *found->front(), a, now), a);
    }
    json::Value row(rapidjson::kObjectType);
    json::Set(row, "cells", std::move(cells), a);
    json::Set(row, "object", RowObject(type, version, obj, request, a), a);
    rows.PushBack(row, a);
  };
  if (is_list) {
    for (const auto& item : items->GetArray()) add_row(item);
  } else {
    add_row(object_or_list);
  }
  json::Set(t, "rows", std::move(rows), a);
  return t;
}

std::string HumanDuration(std::chrono::seconds d) {
  int64_t seconds = d.count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return fmt::format("{}s", seconds);
  int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t s = seconds % 60;
    return s == 0 ? fmt::format("{}m", minutes) : fmt::format("{}m{}s", minutes, s);
  }
  if (minutes < 60 * 3) return fmt::format("{}m", minutes);
  int64_t hours = seconds / 3600;
  if (hours < 8) {
    int64_t m = minutes % 60;
    return m == 0 ? fmt::format("{}h", hours) : fmt::format("{}h{}m", hours, m);
  }
  if (hours < 48) return fmt::format("{}h", hours);
  if (hours < 24 * 8) {
    int64_t h = hours % 24;
    return h == 0 ? fmt::format("{}d", hours / 24) : fmt::format("{}d{}h", hours / 24, h);
  }
  if (hours < 24 * 365 * 2) return fmt::format("{}d", hours / 24);
  if (hours < 24 * 365 * 8) {
    int64_t dy = (hours / 24) % 365;
    return dy == 0 ? fmt::format("{}y", hours / 24 / 365)
                   : fmt::format("{}y{}d", hours / 24 / 365, dy);
  }
  return fmt::format("{}y", hours / 24 / 365);
}

namespace {

// One step of a parsed path.
struct Step {
  enum class Kind { kField, kIndex, kAll, kFilter } kind = Kind::kField;
  std::string field;
  int64_t index = 0;
  // Filter: @<rel_path> <op> <literal>; op empty = existence test.
  std::vector<std::string> rel_path;
  std::string op;
  json::Document literal;
};

bool ParseLiteral(const std::string& text, json::Document* out) {
  std::string t = Trim(text);
  if (t.size() >= 2 && (t.front() == '\'' || t.front() == '"') && t.back() == t.front()) {
    out->SetString(t.substr(1, t.size() - 2).c_str(),
                   static_cast<rapidjson::SizeType>(t.size() - 2), out->GetAllocator());
    return true;
  }
  auto parsed = json::Parse(t);
  if (!parsed) return false;
  out->CopyFrom(*parsed, out->GetAllocator());
  return true;
}

std::optional<std::vector<Step>> ParsePath(std::string p) {
  p = Trim(p);
  if (p.size() >= 2 && p.front() == '{' && p.back() == '}') p = p.substr(1, p.size() - 2);
  std::vector<Step> steps;
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '.') {
      if (i + 1 < p.size() && p[i + 1] == '.') return std::nullopt;  // recursive descent
      size_t j = i + 1;
      while (j < p.size() && p[j] != '.' && p[j] != '[') ++j;
      if (j > i + 1) {
        Step s;
        s.field = p.substr(i + 1, j - i - 1);
        if (s.field == "*") s.kind = Step::Kind::kAll;
        steps.push_back(std::move(s));
      }
      i = j;
    } else if (p[i] == '[') {
      size_t close = p.find(']', i);
      if (p.compare(i, 3, "[?(") == 0) close = p.find(")]", i) + 1;
      if (close == std::string::npos || close == 0) return std::nullopt;
      std::string inner = p.substr(i + 1, close - i - 1);
      Step s;
      if (inner == "*") {
        s.kind = Step::Kind::kAll;
      } else if (!inner.empty() && (inner[0] == '\'' || inner[0] == '"')) {
        s.field = inner.substr(1, inner.size() - 2);
      } else if (inner.rfind("?(", 0) == 0 && inner.back() == ')') {
        s.kind = Step::Kind::kFilter;
        std::string expr = inner.substr(2, inner.size() - 3);
        size_t op = expr.find("==");
        if (op == std::string::npos) op = expr.find("!=");
        std::string lhs = Trim(op == std::string::npos ? expr : expr.substr(0, op));
        if (lhs.rfind("@", 0) != 0) return std::nullopt;
        if (op != std::string::npos) {
          s.op = expr.substr(op, 2);
          if (!ParseLiteral(expr.substr(op + 2), &s.literal)) return std::nullopt;
        }
        size_t k = 1;
        while (k < lhs.size()) {
          if (lhs[k] != '.') return std::nullopt;
          size_t e = lhs.find('.', k + 1);
          if (e == std::string::npos) e = lhs.size();
          s.rel_path.push_back(lhs.substr(k + 1, e - k - 1));
          k = e;
        }
      } else {
        char* end = nullptr;
        s.index = std::strtoll(inner.c_str(), &end, 10);
        if (inner.empty() || *end != '\0') return std::nullopt;  // slices are not supported
        s.kind = Step::Kind::kIndex;
      }
      steps.push_back(std::move(s));
      i = close + 1;
    } else {
      return std::nullopt;
    }
  }
  return steps;
}

bool FilterMatches(const Step& s, const json::Value& item) {
  const json::Value* v = &item;
  for (const auto& key : s.rel_path) {
    if (!v->IsObject()) return false;
    auto it = v->FindMember(key.c_str());
    if (it == v->MemberEnd()) return false;
    v = &it->value;
  }
  if (s.op.empty()) return true;
  bool eq = json::Equal(*v, s.literal);
  return s.op == "==" ? eq : !eq;
}

}  // namespace

std::optional<std::vector<const json::Value*>> EvalJsonPath(const json::Value& root,
                                                            const std::string& path) {
  auto steps = ParsePath(path);
  if (!steps) return std::nullopt;
  std::vector<const json::Value*> cur{&root};
  for (const auto& s : *steps) {
    std::vector<const json::Value*> next;
    for (const json::Value* v : cur) {
      switch (s.kind) {
        case Step::Kind::kField:
          if (v->IsObject()) {
            auto it = v->FindMember(s.field.c_str());
            if (it != v->MemberEnd()) next.push_back(&it->value);
          }
          break;
        case Step::Kind::kIndex:
          if (v->IsArray()) {
            int64_t n = static_cast<int64_t>(v->Size());
            int64_t idx = s.index < 0 ? n + s.index : s.index;
            if (idx >= 0 && idx < n) next.push_back(&(*v)[static_cast<rapidjson::SizeType>(idx)]);
          }
          break;
        case Step::Kind::kAll:
          if (v->IsArray()) {
            for (const auto& e : v->GetArray()) next.push_back(&e);
          } else if (v->IsObject()) {
            for (const auto& m : v->GetObject()) next.push_back(&m.value);
          }
          break;
        case Step::Kind::kFilter:
          if (v->IsArray()) {
            for (const auto& e : v->GetArray()) {
              if (FilterMatches(s, e)) next.push_back(&e);
            }
          }
          break;
      }
    }
    cur = std::move(next);
  }
  return cur;
}

}  // namespace srexpert::testing
