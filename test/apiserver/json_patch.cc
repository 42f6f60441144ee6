#include "test/apiserver/json_patch.h"

#include <vector>

namespace srexpert::testing {
namespace {

// Decodes a JSON Pointer (RFC 6901) into reference tokens.
std::optional<std::vector<std::string>> ParsePointer(const std::string& ptr) {
  std::vector<std::string> tokens;
  if (ptr.empty()) return tokens;
  if (ptr[0] != '/') return std::nullopt;
  size_t pos = 1;
  while (true) {
    size_t next = ptr.find('/', pos);
    std::string raw = ptr.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    std::string tok;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        tok.push_back(raw[i + 1] == '0' ? '~' : '/');
        ++i;
      } else {
        tok.push_back(raw[i]);
      }
    }
    tokens.push_back(std::move(tok));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return tokens;
}

std::optional<size_t> Index(const std::string& tok, size_t size, bool allow_end) {
  if (tok == "-" && allow_end) return size;
  if (tok.empty() || tok.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  size_t i = std::stoul(tok);
  if (i > size || (!allow_end && i == size)) return std::nullopt;
  return i;
}

// Resolves all but the last token; returns the parent container.
json::Value* Parent(json::Value& root, const std::vector<std::string>& tokens) {
  json::Value* cur = &root;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (cur->IsObject()) {
      auto it = cur->FindMember(tokens[i].c_str());
      if (it == cur->MemberEnd()) return nullptr;
      cur = &it->value;
    } else if (cur->IsArray()) {
      auto idx = Index(tokens[i], cur->Size(), false);
      if (!idx) return nullptr;
      cur = &(*cur)[static_cast<rapidjson::SizeType>(*idx)];
    } else {
      return nullptr;
    }
  }
  return cur;
}

const json::Value* Get(json::Value& root, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return &root;
  json::Value* parent = Parent(root, tokens);
  if (parent == nullptr) return nullptr;
  if (parent->IsObject()) {
    auto it = parent->FindMember(tokens.back().c_str());
    return it == parent->MemberEnd() ? nullptr : &it->value;
  }
  if (parent->IsArray()) {
    auto idx = Index(tokens.back(), parent->Size(), false);
    return idx ? &(*parent)[static_cast<rapidjson::SizeType>(*idx)] : nullptr;
  }
  return nullptr;
}

bool Remove(json::Value& root, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return false;
  json::Value* parent = Parent(root, tokens);
  if (parent == nullptr) return false;
  if (parent->IsObject()) return parent->EraseMember(tokens.back().c_str());
  if (parent->IsArray()) {
    auto idx = Index(tokens.back(), parent->Size(), false);
    if (!idx) return false;
    parent->Erase(parent->Begin() + *idx);
    return true;
  }
  return false;
}

bool Add(json::Document& doc, const std::vector<std::string>& tokens, json::Value value) {
  auto& a = doc.GetAllocator();
  if (tokens.empty()) {
    doc.CopyFrom(value, a);
    return true;
  }
  json::Value* parent = Parent(doc, tokens);
  if (parent == nullptr) return false;
  if (parent->IsObject()) {
    json::Set(*parent, tokens.back(), std::move(value), a);
    return true;
  }
  if (parent->IsArray()) {
    auto idx = Index(tokens.back(), parent->Size(), true);
    if (!idx) return false;
    parent->PushBack(json::Value(), a);
    for (size_t i = parent->Size() - 1; i > *idx; --i) {
      (*parent)[static_cast<rapidjson::SizeType>(i)].Swap((*parent)[static_cast<rapidjson::SizeType>(i - 1)]);
    }
    (*parent)[static_cast<rapidjson::SizeType>(*idx)] = std::move(value);
    return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> ApplyJsonPatch(json::Document& target, const json::Value& patch) {
  if (!patch.IsArray()) return "json: cannot unmarshal object into Go value of type jsonpatch.Patch";
  auto& a = target.GetAllocator();
  for (const auto& op : patch.GetArray()) {
    std::string name = json::GetString(op, {"op"});
    auto path = ParsePointer(json::GetString(op, {"path"}));
    if (!path) return "invalid JSON Pointer: " + json::GetString(op, {"path"});
    const json::Value* value = json::Find(op, {"value"});
    if (name == "add" || name == "replace") {
      if (value == nullptr) return "missing value for " + name + " operation";
      if (name == "replace" && Get(target, *path) == nullptr) {
        return "replace operation does not apply: doc is missing key: " +
               json::GetString(op, {"path"});
      }
      if (name == "replace" && !path->empty()) Remove(target, *path);
      json::Value copy(*value, a);
      if (!Add(target, *path, std::move(copy))) {
        return name + " operation does not apply: doc is missing path: " +
               json::GetString(op, {"path"});
      }
    } else if (name == "remove") {
      if (!Remove(target, *path)) {
        return "remove operation does not apply: doc is missing path: " +
               json::GetString(op, {"path"});
      }
    } else if (name == "test") {
      const json::Value* cur = Get(target, *path);
      if (value == nullptr || cur == nullptr || !json::Equal(*cur, *value)) {
        return "testing value " + json::GetString(op, {"path"}) + " failed: test failed";
      }
    } else if (name == "move" || name == "copy") {
      auto from = ParsePointer(json::GetString(op, {"from"}));
      const json::Value* src = from ? Get(target, *from) : nullptr;
      if (src == nullptr) {
        return name + " operation does not apply: doc is missing from path: " +
               json::GetString(op, {"from"});
      }
      json::Value copy(*src, a);
      if (name == "move") Remove(target, *from);
      if (!Add(target, *path, std::move(copy))) {
        return name + " operation does not apply: doc is missing destination path: " +
               json::GetString(op, {"path"});
      }
    } else {
      return "Unexpected kind: " + name;
    }
  }
  return std::nullopt;
}

}  // namespace srexpert::testing
