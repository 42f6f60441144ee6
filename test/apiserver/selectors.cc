#include "test/apiserver/selectors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "test/apiserver/resources.h"

namespace srexpert::testing {
namespace {

// --- labels: k8s.io/apimachinery/pkg/labels/selector.go's Lexer and Parser.

enum class Tok {
  kError, kEnd, kClosePar, kComma, kDoesNotExist, kDoubleEquals, kEquals, kGreaterThan,
  kIdentifier, kIn, kLessThan, kNotEquals, kNotIn, kOpenPar,
};

struct Item {
  Tok tok;
  std::string lit;
};

bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsSpecialSymbol(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

const std::map<std::string, Tok>& Keywords() {
  static const std::map<std::string, Tok> k = {
      {")", Tok::kClosePar}, {",", Tok::kComma},     {"!", Tok::kDoesNotExist},
      {"==", Tok::kDoubleEquals}, {"=", Tok::kEquals}, {">", Tok::kGreaterThan},
      {"in", Tok::kIn},      {"<", Tok::kLessThan},  {"!=", Tok::kNotEquals},
      {"notin", Tok::kNotIn}, {"(", Tok::kOpenPar}};
  return k;
}

std::vector<Item> Lex(const std::string& s) {
  std::vector<Item> out;
  size_t pos = 0;
  while (true) {
    while (pos < s.size() && IsWhitespace(s[pos])) ++pos;
    if (pos >= s.size() || s[pos] == '\0') {
      out.push_back({Tok::kEnd, ""});
      return out;
    }
    if (IsSpecialSymbol(s[pos])) {
      // The longest run of special symbols that is a token.
      std::string buffer;
      std::optional<Item> last;
      while (pos < s.size() && IsSpecialSymbol(s[pos])) {
        buffer.push_back(s[pos]);
        auto it = Keywords().find(buffer);
        if (it != Keywords().end()) {
          last = Item{it->second, buffer};
          ++pos;
        } else if (last) {
          break;
        } else {
          ++pos;
        }
      }
      out.push_back(last ? *last : Item{Tok::kError, "error expected: keyword found '" + buffer + "'"});
      continue;
    }
    std::string id;
    while (pos < s.size() && s[pos] != '\0' && !IsWhitespace(s[pos]) && !IsSpecialSymbol(s[pos])) {
      id.push_back(s[pos++]);
    }
    auto it = Keywords().find(id);
    out.push_back(it != Keywords().end() ? Item{it->second, id} : Item{Tok::kIdentifier, id});
  }
}

// RegexError and the label key/value checks of pkg/util/validation (the
// same wording as object validation).
std::string RegexError(const std::string& msg, const std::string& re,
                       std::initializer_list<const char*> examples) {
  std::vector<std::string> quoted;
  for (const char* e : examples) quoted.push_back(fmt::format("'{}'", e));
  return msg + " (e.g. " + fmt::format("{}", fmt::join(quoted, ",  or ")) +
         ", regex used for validation is '" + re + "')";
}

bool MatchesQualifiedNamePart(const std::string& s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s.front())) ||
      !std::isalnum(static_cast<unsigned char>(s.back()))) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool MatchesDns1123Subdomain(const std::string& s) {
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string label = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || !std::isalnum(static_cast<unsigned char>(label.front())) ||
        !std::isalnum(static_cast<unsigned char>(label.back()))) {
      return false;
    }
    for (char c : label) {
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
        return false;
      }
    }
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

std::vector<std::string> QualifiedNameErrors(const std::string& value) {
  static const char kFmt[] = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
  static const char kMsg[] =
      "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
      "alphanumeric character";
  std::vector<std::string> errs;
  std::string name = value;
  size_t slashes = std::count(value.begin(), value.end(), '/');
  if (slashes > 1) {
    errs.push_back("a qualified name " + RegexError(kMsg, kFmt, {"MyName", "my.name", "123-abc"}) +
                   " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (slashes == 1) {
    std::string prefix = value.substr(0, value.find('/'));
    name = value.substr(value.find('/') + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      if (prefix.size() > 253) errs.push_back("prefix part must be no more than 253 characters");
      if (!MatchesDns1123Subdomain(prefix)) {
        errs.push_back("prefix part " +
                       RegexError("a lowercase RFC 1123 subdomain must consist of lower case "
                                  "alphanumeric characters, '-' or '.', and must start and end "
                                  "with an alphanumeric character",
                                  "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
                                  {"example.com"}));
      }
    }
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part must be no more than 63 characters");
  }
  if (!MatchesQualifiedNamePart(name)) {
    errs.push_back("name part " + RegexError(kMsg, kFmt, {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> LabelValueErrors(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!v.empty() && !MatchesQualifiedNamePart(v)) {
    errs.push_back(RegexError("a valid label must be an empty string or consist of alphanumeric "
                              "characters, '-', '_' or '.', and must start and end with an "
                              "alphanumeric character",
                              "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?",
                              {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  return fmt::format("{}", fmt::join(v, sep));
}

class LabelParser {
 public:
  explicit LabelParser(const std::string& text) : items_(Lex(text)) {}

  // Errors are returned as the text kube-apiserver puts in its 400.
  std::optional<std::string> Parse(std::vector<std::tuple<std::string, std::string, std::vector<std::string>>>& out) {
    while (true) {
      auto [tok, lit] = Lookahead();
      switch (tok) {
        case Tok::kIdentifier:
        case Tok::kDoesNotExist: {
          std::tuple<std::string, std::string, std::vector<std::string>> req;
          if (auto err = ParseRequirement(req)) return "unable to parse requirement: " + *err;
          out.push_back(std::move(req));
          auto [t, l] = Consume();
          if (t == Tok::kEnd) return std::nullopt;
          if (t == Tok::kComma) {
            auto [t2, l2] = Lookahead();
            if (t2 != Tok::kIdentifier && t2 != Tok::kDoesNotExist) {
              return "found '" + l2 + "', expected: identifier after ','";
            }
            break;
          }
          return "found '" + l + "', expected: ',' or 'end of string'";
        }
        case Tok::kEnd:
          return std::nullopt;
        default:
          return "found '" + lit + "', expected: !, identifier, or 'end of string'";
      }
    }
  }

 private:
  // In the Values context "in"/"notin" are identifiers.
  Item Lookahead(bool values = true) const {
    Item it = items_[std::min(pos_, items_.size() - 1)];
    if (values && (it.tok == Tok::kIn || it.tok == Tok::kNotIn)) it.tok = Tok::kIdentifier;
    return it;
  }
  Item Consume(bool values = true) {
    Item it = Lookahead(values);
    if (pos_ < items_.size() - 1) ++pos_;
    return it;
  }

  std::optional<std::string> ParseRequirement(
      std::tuple<std::string, std::string, std::vector<std::string>>& req) {
    auto& [key, op, values] = req;
    Item first = Consume();
    if (first.tok == Tok::kDoesNotExist) {
      op = "!";
      first = Consume();
    }
    const Tok tok = first.tok;
    const std::string lit = first.lit;
    if (tok != Tok::kIdentifier) return "found '" + lit + "', expected: identifier";
    if (auto errs = QualifiedNameErrors(lit); !errs.empty()) {
      return "<nil>: Invalid value: \"" + lit + "\": " + Join(errs, "; ");
    }
    key = lit;
    if (auto t = Lookahead().tok; t == Tok::kEnd || t == Tok::kComma) {
      if (op.empty()) op = "exists";
    }
    if (op == "!" || op == "exists") return std::nullopt;
    auto [otok, olit] = Consume(false);
    switch (otok) {
      case Tok::kIn: op = "in"; break;
      case Tok::kNotIn: op = "notin"; break;
      case Tok::kEquals: op = "="; break;
      case Tok::kDoubleEquals: op = "=="; break;
      case Tok::kNotEquals: op = "!="; break;
      case Tok::kGreaterThan: op = "gt"; break;
      case Tok::kLessThan: op = "lt"; break;
      default:
        return "found '" + olit + "', expected: in, notin, =, ==, !=, gt, lt";
    }
    std::set<std::string> set;
    if (op == "in" || op == "notin") {
      auto [t, l] = Consume();
      if (t != Tok::kOpenPar) return "found '" + l + "' expected: '('";
      auto [t2, l2] = Lookahead();
      if (t2 == Tok::kIdentifier || t2 == Tok::kComma) {
        if (auto err = ParseIdentifiers(set)) return err;
        if (Consume().tok != Tok::kClosePar) return "found '" + l2 + "', expected: ')'";
      } else if (t2 == Tok::kClosePar) {
        Consume();
        set.insert("");
      } else {
        return "found '" + l2 + "', expected: ',', ')' or identifier";
      }
    } else {
      auto t = Lookahead().tok;
      if (t == Tok::kEnd || t == Tok::kComma) {
        set.insert("");
      } else {
        auto [vt, vl] = Consume();
        if (vt != Tok::kIdentifier) return "found '" + vl + "', expected: identifier";
        set.insert(vl);
      }
    }
    values.assign(set.begin(), set.end());
    // NewRequirement's checks.
    std::vector<std::string> errs;
    if (op == "gt" || op == "lt") {
      for (size_t i = 0; i < values.size(); ++i) {
        char* end = nullptr;
        std::strtoll(values[i].c_str(), &end, 10);
        if (values[i].empty() || *end != '\0') {
          errs.push_back(fmt::format("values[{}]: Invalid value: \"{}\": for 'Gt', 'Lt' operators, the value must be an integer",
                                     i, values[i]));
        }
      }
    }
    for (size_t i = 0; i < values.size(); ++i) {
      if (auto ve = LabelValueErrors(values[i]); !ve.empty()) {
        errs.push_back(fmt::format("values[{}][{}]: Invalid value: \"{}\": {}", i, key, values[i], Join(ve, "; ")));
      }
    }
    if (errs.size() == 1) return errs[0];
    if (!errs.empty()) return "[" + Join(errs, ", ") + "]";
    return std::nullopt;
  }

  std::optional<std::string> ParseIdentifiers(std::set<std::string>& set) {
    while (true) {
      auto [tok, lit] = Consume();
      if (tok == Tok::kIdentifier) {
        set.insert(lit);
        auto [t2, l2] = Lookahead();
        if (t2 == Tok::kComma) continue;
        if (t2 == Tok::kClosePar) return std::nullopt;
        return "found '" + l2 + "', expected: ',' or ')'";
      }
      if (tok == Tok::kComma) {
        if (set.empty()) set.insert("");
        auto t2 = Lookahead().tok;
        if (t2 == Tok::kClosePar) {
          set.insert("");
          return std::nullopt;
        }
        if (t2 == Tok::kComma) {
          Consume();
          set.insert("");
        }
        continue;
      }
      return "found '" + lit + "', expected: ',', or identifier";
    }
  }

  std::vector<Item> items_;
  size_t pos_ = 0;
};

std::optional<std::string> Label(const json::Value& obj, const std::string& key) {
  const json::Value* labels = json::Find(obj, {"metadata", "labels"});
  if (labels == nullptr || !labels->IsObject()) return std::nullopt;
  auto it = labels->FindMember(key.c_str());
  if (it == labels->MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString());
}

// --- fields -------------------------------------------------------------------

// The field labels of the kinds with their own field label conversion
// function (kube-apiserver v1.26); null for the others, which take only
// metadata.name and metadata.namespace.
const std::vector<std::string>* CustomFieldLabels(const ResourceType& t) {
  static const std::vector<std::string> kPod = {
      "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
      "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
      "status.podIP", "status.nominatedNodeName"};
  static const std::vector<std::string> kNode = {"metadata.name", "spec.unschedulable"};
  static const std::vector<std::string> kNamespace = {"metadata.name", "status.phase"};
  static const std::vector<std::string> kSecret = {"metadata.name", "metadata.namespace", "type"};
  static const std::vector<std::string> kEvent = {
      "metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace",
      "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
      "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent",
      "source", "type"};
  static const std::vector<std::string> kReplicaSet = {"metadata.name", "metadata.namespace",
                                                       "status.replicas"};
  static const std::vector<std::string> kJob = {"metadata.name", "metadata.namespace",
                                                "status.successful"};
  if (t.custom) return nullptr;
  if (t.group.empty()) {
    if (t.resource == "pods") return &kPod;
    if (t.resource == "nodes") return &kNode;
    if (t.resource == "namespaces") return &kNamespace;
    if (t.resource == "secrets") return &kSecret;
    if (t.resource == "events") return &kEvent;
  }
  if (t.group == "apps" && t.resource == "replicasets") return &kReplicaSet;
  if (t.group == "batch" && t.resource == "jobs") return &kJob;
  return nullptr;
}

// fields.UnescapeValue: `\\`, `\,` and `\=` only.
std::optional<std::string> Unescape(const std::string& s, std::string* error) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (i + 1 >= s.size()) {
      if (error) *error = "unterminated escape sequence at end of string";
      return std::nullopt;
    }
    char c = s[++i];
    if (c != '\\' && c != ',' && c != '=') {
      if (error) *error = fmt::format("invalid field selector: invalid escape sequence: \\{}", c);
      return std::nullopt;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::optional<LabelSelector> LabelSelector::Parse(const std::string& text, std::string* error) {
  LabelSelector sel;
  std::vector<std::tuple<std::string, std::string, std::vector<std::string>>> reqs;
  if (auto err = LabelParser(text).Parse(reqs)) {
    if (error) *error = *err;
    return std::nullopt;
  }
  for (auto& [key, op, values] : reqs) {
    Requirement r{key, Op::kExists, values};
    if (op == "=" || op == "==") r.op = Op::kEquals;
    else if (op == "!=") r.op = Op::kNotEquals;
    else if (op == "in") r.op = Op::kIn;
    else if (op == "notin") r.op = Op::kNotIn;
    else if (op == "!") r.op = Op::kDoesNotExist;
    else if (op == "gt") r.op = Op::kGreaterThan;
    else if (op == "lt") r.op = Op::kLessThan;
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool LabelSelector::Matches(const json::Value& obj) const {
  for (const auto& r : reqs_) {
    auto v = Label(obj, r.key);
    bool in = v && std::find(r.values.begin(), r.values.end(), *v) != r.values.end();
    switch (r.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!in) return false;
        break;
      // Like the real selector, `!=` and `notin` also match objects without
      // the label.
      case Op::kNotEquals:
      case Op::kNotIn:
        if (in) return false;
        break;
      case Op::kExists:
        if (!v) return false;
        break;
      case Op::kDoesNotExist:
        if (v) return false;
        break;
      case Op::kGreaterThan:
      case Op::kLessThan: {
        if (!v || r.values.size() != 1) return false;
        char* end = nullptr;
        long long have = std::strtoll(v->c_str(), &end, 10);
        if (v->empty() || *end != '\0') return false;
        long long want = std::strtoll(r.values[0].c_str(), nullptr, 10);
        if (r.op == Op::kGreaterThan ? !(have > want) : !(have < want)) return false;
        break;
      }
    }
  }
  return true;
}

std::optional<FieldSelector> FieldSelector::Parse(const std::string& text, const ResourceType* type,
                                                  std::string* error) {
  FieldSelector sel;
  // fields.splitTerms: commas not escaped by a backslash.
  std::vector<std::string> parts;
  std::string cur;
  bool slash = false;
  for (char c : text) {
    if (slash) {
      slash = false;
    } else if (c == '\\') {
      slash = true;
    } else if (c == ',') {
      parts.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  if (!text.empty()) parts.push_back(cur);
  const auto* custom = type ? CustomFieldLabels(*type) : nullptr;
  for (const auto& part : parts) {
    if (part.empty()) continue;
    Requirement r;
    // fields.splitTerm: the first position where "!=", "==" or "=" starts;
    // no whitespace is trimmed.
    size_t pos = std::string::npos;
    std::string op;
    for (size_t i = 0; i < part.size() && pos == std::string::npos; ++i) {
      for (const char* o : {"!=", "==", "="}) {
        if (part.compare(i, std::char_traits<char>::length(o), o) == 0) {
          pos = i;
          op = o;
          break;
        }
      }
    }
    if (pos == std::string::npos) {
      if (error) *error = "invalid selector: '" + text + "'; can't understand '" + part + "'";
      return std::nullopt;
    }
    r.field = part.substr(0, pos);
    r.equals = op != "!=";
    auto value = Unescape(part.substr(pos + op.size()), error);
    if (!value) return std::nullopt;
    r.value = *value;
    if (custom != nullptr) {
      bool known = std::find(custom->begin(), custom->end(), r.field) != custom->end();
      if (!known) {
        if (error) *error = "field label not supported: " + r.field;
        return std::nullopt;
      }
    } else if (r.field != "metadata.name" && r.field != "metadata.namespace") {
      if (error) {
        *error = fmt::format("\"{}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                             r.field);
      }
      return std::nullopt;
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::Matches(const json::Value& obj) const {
  for (const auto& r : reqs_) {
    std::string v;
    if (r.field == "metadata.name" || r.field == "metadata.namespace") {
      v = json::GetString(obj, {"metadata", r.field == "metadata.name" ? "name" : "namespace"});
    } else {
      // A kind-specific label: its value as the kind's field set holds it
      // (Go's zero value when unset).
      static const std::map<std::string, std::vector<std::string>> kPaths = {
          {"spec.nodeName", {"spec", "nodeName"}}, {"spec.restartPolicy", {"spec", "restartPolicy"}},
          {"spec.schedulerName", {"spec", "schedulerName"}},
          {"spec.serviceAccountName", {"spec", "serviceAccountName"}},
          {"spec.hostNetwork", {"spec", "hostNetwork"}}, {"status.phase", {"status", "phase"}},
          {"status.podIP", {"status", "podIP"}}, {"status.nominatedNodeName", {"status", "nominatedNodeName"}},
          {"spec.unschedulable", {"spec", "unschedulable"}}, {"type", {"type"}},
          {"involvedObject.kind", {"involvedObject", "kind"}},
          {"involvedObject.namespace", {"involvedObject", "namespace"}},
          {"involvedObject.name", {"involvedObject", "name"}},
          {"involvedObject.uid", {"involvedObject", "uid"}},
          {"involvedObject.apiVersion", {"involvedObject", "apiVersion"}},
          {"involvedObject.resourceVersion", {"involvedObject", "resourceVersion"}},
          {"involvedObject.fieldPath", {"involvedObject", "fieldPath"}}, {"reason", {"reason"}},
          {"reportingComponent", {"reportingComponent"}}, {"source", {"source", "component"}},
          {"status.replicas", {"status", "replicas"}}, {"status.successful", {"status", "succeeded"}}};
      auto it = kPaths.find(r.field);
      const json::Value* cur = &obj;
      if (it != kPaths.end()) {
        for (const auto& seg : it->second) {
          if (!cur || !cur->IsObject()) {
            cur = nullptr;
            break;
          }
          auto m = cur->FindMember(seg.c_str());
          cur = m == cur->MemberEnd() ? nullptr : &m->value;
        }
      } else {
        cur = nullptr;
      }
      bool is_bool = r.field == "spec.hostNetwork" || r.field == "spec.unschedulable";
      bool is_int = r.field == "status.replicas" || r.field == "status.successful";
      if (cur && cur->IsString()) v = cur->GetString();
      else if (cur && cur->IsBool()) v = cur->GetBool() ? "true" : "false";
      else if (cur && cur->IsInt64()) v = std::to_string(cur->GetInt64());
      else if (is_bool) v = "false";
      else if (is_int) v = "0";
    }
    if ((v == r.value) != r.equals) return false;
  }
  return true;
}

std::optional<std::string> FieldSelector::ExactName() const {
  for (const auto& r : reqs_) {
    if (r.field == "metadata.name" && r.equals) return r.value;
  }
  return std::nullopt;
}

std::optional<std::string> LabelSelectorString(const json::Value* selector) {
  std::vector<std::pair<std::string, std::string>> reqs;  // key, requirement
  if (selector == nullptr || !selector->IsObject()) return std::string();
  if (const auto* ml = json::Find(*selector, {"matchLabels"}); ml && ml->IsObject()) {
    for (const auto& m : ml->GetObject()) {
      reqs.emplace_back(m.name.GetString(), std::string(m.name.GetString()) + "=" +
                                                (m.value.IsString() ? m.value.GetString() : ""));
    }
  }
  if (const auto* me = json::Find(*selector, {"matchExpressions"}); me && me->IsArray()) {
    for (const auto& e : me->GetArray()) {
      std::string key = json::GetString(e, {"key"});
      std::string op = json::GetString(e, {"operator"});
      std::vector<std::string> values;
      if (const auto* vs = json::Find(e, {"values"}); vs && vs->IsArray()) {
        for (const auto& v : vs->GetArray()) {
          if (v.IsString()) values.emplace_back(v.GetString());
        }
      }
      std::sort(values.begin(), values.end());
      std::string joined = fmt::format("{}", fmt::join(values, ","));
      if (op == "In") reqs.emplace_back(key, key + " in (" + joined + ")");
      else if (op == "NotIn") reqs.emplace_back(key, key + " notin (" + joined + ")");
      else if (op == "Exists") reqs.emplace_back(key, key);
      else if (op == "DoesNotExist") reqs.emplace_back(key, "!" + key);
      else return std::nullopt;
    }
  }
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> parts;
  for (const auto& r : reqs) parts.push_back(r.second);
  return fmt::format("{}", fmt::join(parts, ","));
}

}  // namespace srexpert::testing
