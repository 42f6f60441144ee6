#include "test/apiserver/selectors.h"

#include <algorithm>
#include <cctype>

namespace srexpert::testing {
namespace {

std::string Trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// Splits on commas that are not inside parentheses (`a in (x,y),b`).
std::vector<std::string> SplitTopLevel(const std::string& text) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : text) {
    if (c == '(') depth++;
    if (c == ')') depth--;
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

bool ValidLabelKey(const std::string& k) {
  if (k.empty() || k.size() > 317) return false;
  for (char c : k) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == '/')) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> Label(const json::Value& obj, const std::string& key) {
  const json::Value* labels = json::Find(obj, {"metadata", "labels"});
  if (labels == nullptr || !labels->IsObject()) return std::nullopt;
  auto it = labels->FindMember(key.c_str());
  if (it == labels->MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString());
}

}  // namespace

std::optional<LabelSelector> LabelSelector::Parse(const std::string& text, std::string* error) {
  LabelSelector sel;
  if (Trim(text).empty()) return sel;
  for (std::string part : SplitTopLevel(text)) {
    part = Trim(part);
    Requirement r;
    auto fail = [&](const std::string& why) {
      if (error) *error = "unable to parse requirement: " + why;
      return std::nullopt;
    };
    if (part.empty()) return fail("found '', expected: identifier");
    size_t pos;
    if (part[0] == '!') {
      r.key = Trim(part.substr(1));
      r.op = Op::kDoesNotExist;
    } else if ((pos = part.find("!=")) != std::string::npos) {
      r.key = Trim(part.substr(0, pos));
      r.op = Op::kNotEquals;
      r.values = {Trim(part.substr(pos + 2))};
    } else if ((pos = part.find("==")) != std::string::npos) {
      r.key = Trim(part.substr(0, pos));
      r.op = Op::kEquals;
      r.values = {Trim(part.substr(pos + 2))};
    } else if ((pos = part.find('=')) != std::string::npos) {
      r.key = Trim(part.substr(0, pos));
      r.op = Op::kEquals;
      r.values = {Trim(part.substr(pos + 1))};
    } else if (auto open = part.find('('); open != std::string::npos) {
      auto close = part.rfind(')');
      if (close == std::string::npos || close < open) return fail("found '', expected: )");
      std::string head = Trim(part.substr(0, open));
      auto space = head.find_last_of(" \t");
      if (space == std::string::npos) return fail("found '(', expected: in, notin");
      std::string op = Trim(head.substr(space + 1));
      r.key = Trim(head.substr(0, space));
      if (op == "in") {
        r.op = Op::kIn;
      } else if (op == "notin") {
        r.op = Op::kNotIn;
      } else {
        return fail("found '" + op + "', expected: in, notin");
      }
      std::string inner = part.substr(open + 1, close - open - 1);
      size_t start = 0;
      while (true) {
        auto comma = inner.find(',', start);
        std::string v = Trim(inner.substr(start, comma == std::string::npos ? std::string::npos
                                                                          : comma - start));
        if (!v.empty()) r.values.push_back(v);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      if (r.values.empty()) return fail("for 'in', 'notin' operators, values set can't be empty");
    } else {
      r.key = part;
      r.op = Op::kExists;
    }
    if (!ValidLabelKey(r.key)) return fail("invalid label key \"" + r.key + "\"");
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
    }
  }
  return true;
}

std::optional<FieldSelector> FieldSelector::Parse(const std::string& text, std::string* error) {
  FieldSelector sel;
  if (Trim(text).empty()) return sel;
  for (std::string part : SplitTopLevel(text)) {
    part = Trim(part);
    Requirement r;
    size_t pos;
    if ((pos = part.find("!=")) != std::string::npos) {
      r.field = Trim(part.substr(0, pos));
      r.equals = false;
      r.value = Trim(part.substr(pos + 2));
    } else if ((pos = part.find("==")) != std::string::npos) {
      r.field = Trim(part.substr(0, pos));
      r.equals = true;
      r.value = Trim(part.substr(pos + 2));
    } else if ((pos = part.find('=')) != std::string::npos) {
      r.field = Trim(part.substr(0, pos));
      r.equals = true;
      r.value = Trim(part.substr(pos + 1));
    } else {
      if (error) *error = "invalid selector: '" + text + "'; can't understand '" + part + "'";
      return std::nullopt;
    }
    // The real server only accepts the field labels the kind registers;
    // metadata.name and metadata.namespace are registered for every kind.
    if (r.field != "metadata.name" && r.field != "metadata.namespace") {
      if (error) *error = "field label not supported: " + r.field;
      return std::nullopt;
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::Matches(const json::Value& obj) const {
  for (const auto& r : reqs_) {
    std::string v = r.field == "metadata.name" ? json::GetString(obj, {"metadata", "name"})
                                               : json::GetString(obj, {"metadata", "namespace"});
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

}  // namespace srexpert::testing
