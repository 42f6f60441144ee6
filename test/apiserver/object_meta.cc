#include "test/apiserver/object_meta.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <random>
#include <regex>

namespace srexpert::testing {
namespace {

std::mt19937_64& Rng() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

const char kDns1123SubdomainMsg[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const char kDns1123LabelMsg[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

}  // namespace

std::string NewUid() {
  std::uniform_int_distribution<uint64_t> dist;
  uint64_t a = dist(Rng()), b = dist(Rng());
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff,
                     a & 0xffff, b >> 48, b & 0xffffffffffffULL);
}

std::string RandomSuffix() {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::uniform_int_distribution<size_t> dist(0, sizeof(kAlphabet) - 2);
  std::string s;
  for (int i = 0; i < 5; ++i) s.push_back(kAlphabet[dist(Rng())]);
  return s;
}

std::optional<StatusCause> ValidateName(const ResourceType& type, const std::string& name) {
  static const std::regex kSubdomain("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  if (type.group == "rbac.authorization.k8s.io") {
    // RBAC objects use path-segment names ("system:controller:x" is valid).
    if (name == "." || name == "..") {
      return InvalidValue("metadata.name", name, fmt::format("may not be '{}'", name));
    }
    for (const char* bad : {"/", "%"}) {
      if (name.find(bad) != std::string::npos) {
        return InvalidValue("metadata.name", name, fmt::format("may not contain '{}'", bad));
      }
    }
    return std::nullopt;
  }
  if (type.group.empty() && type.resource == "namespaces") {
    if (name.size() > 63) {
      return InvalidValue("metadata.name", name, "must be no more than 63 characters");
    }
    if (!std::regex_match(name, kLabel)) {
      return InvalidValue("metadata.name", name, kDns1123LabelMsg);
    }
    return std::nullopt;
  }
  if (name.size() > 253) {
    return InvalidValue("metadata.name", name, "must be no more than 253 characters");
  }
  if (!std::regex_match(name, kSubdomain)) {
    return InvalidValue("metadata.name", name, kDns1123SubdomainMsg);
  }
  return std::nullopt;
}

std::vector<std::string> Finalizers(const json::Value& obj) {
  std::vector<std::string> out;
  if (const auto* f = json::Find(obj, {"metadata", "finalizers"}); f && f->IsArray()) {
    for (const auto& v : f->GetArray()) {
      if (v.IsString()) out.emplace_back(v.GetString());
    }
  }
  return out;
}

void SetFinalizers(json::Document& obj, const std::vector<std::string>& finalizers) {
  auto& a = obj.GetAllocator();
  auto& meta = json::EnsureObject(obj, {"metadata"}, a);
  if (finalizers.empty()) {
    json::Remove(meta, "finalizers");
    return;
  }
  json::Value arr(rapidjson::kArrayType);
  for (const auto& f : finalizers) arr.PushBack(json::String(f, a), a);
  json::Set(meta, "finalizers", std::move(arr), a);
}

bool HasFinalizer(const json::Value& obj, const std::string& f) {
  auto all = Finalizers(obj);
  return std::find(all.begin(), all.end(), f) != all.end();
}

bool BeingDeleted(const json::Value& obj) {
  return !json::GetString(obj, {"metadata", "deletionTimestamp"}).empty();
}

std::string Name(const json::Value& obj) { return json::GetString(obj, {"metadata", "name"}); }
std::string Namespace(const json::Value& obj) {
  return json::GetString(obj, {"metadata", "namespace"});
}
std::string Uid(const json::Value& obj) { return json::GetString(obj, {"metadata", "uid"}); }

}  // namespace srexpert::testing
