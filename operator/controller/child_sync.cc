#include "controller/child_sync.h"

#include <openssl/sha.h>

#include <cctype>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace srexpert::controller {

namespace {

bool Contains(const json::Value& live, const json::Value& desired, bool quantities) {
  if (desired.IsObject()) {
    if (!live.IsObject()) return false;
    for (const auto& m : desired.GetObject()) {
      auto it = live.FindMember(m.name);
      if (it == live.MemberEnd()) return false;
      std::string_view key(m.name.GetString(), m.name.GetStringLength());
      bool q = quantities || key == "requests" || key == "limits";
      if (!Contains(it->value, m.value, q)) return false;
    }
    return true;
  }
  if (desired.IsArray()) {
    if (!live.IsArray() || live.Size() != desired.Size()) return false;
    for (rapidjson::SizeType i = 0; i < desired.Size(); ++i) {
      if (!Contains(live[i], desired[i], quantities)) return false;
    }
    return true;
  }
  if (quantities) {
    // A quantity may be written as a number (cpu: 1) and comes back as a
    // canonical string ("1").
    auto value_of = [](const json::Value& v, long double* out) {
      if (v.IsNumber()) {
        *out = static_cast<long double>(v.GetDouble());
        return true;
      }
      return v.IsString() && ParseQuantity(v.GetString(), out);
    };
    long double a, b;
    if (value_of(desired, &a) && value_of(live, &b)) {
      return std::fabs(a - b) <= 1e-9L * std::max(std::fabs(a), 1.0L);
    }
  }
  return json::Equal(live, desired);
}

}  // namespace

bool LiveContains(const json::Value& live, const json::Value& desired) {
  return Contains(live, desired, false);
}

void StampAppliedHash(json::Document& desired) {
  std::string body = json::Dump(desired);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  std::string hex;
  for (unsigned char c : digest) hex += fmt::format("{:02x}", c);
  auto& a = desired.GetAllocator();
  auto& ann = json::EnsureObject(desired, {"metadata", "annotations"}, a);
  // 16 bytes of hash are plenty to detect a change and keep the annotation short.
  json::SetString(ann, kAppliedHashAnnotation, hex.substr(0, 32), a);
}

bool ParseQuantity(std::string_view text, long double* value) {
  if (text.empty() || text.size() > 64) return false;
  std::string s(text);
  size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  size_t digits_start = i;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == digits_start) return false;
  // Named, not a temporary: `end` points into it.
  const std::string digits = s.substr(0, i);
  char* end = nullptr;
  long double number = std::strtold(digits.c_str(), &end);
  if (end != digits.c_str() + digits.size()) return false;
  std::string suffix = s.substr(i);
  static const std::pair<const char*, long double> kSuffixes[] = {
      {"", 1.0L},       {"n", 1e-9L},  {"u", 1e-6L},          {"m", 1e-3L},
      {"k", 1e3L},      {"M", 1e6L},   {"G", 1e9L},           {"T", 1e12L},
      {"P", 1e15L},     {"E", 1e18L},  {"Ki", 1024.0L},       {"Mi", 1048576.0L},
      {"Gi", 1073741824.0L},           {"Ti", 1099511627776.0L},
      {"Pi", 1125899906842624.0L},     {"Ei", 1152921504606846976.0L},
  };
  for (const auto& [name, factor] : kSuffixes) {
    if (suffix == name) {
      *value = number * factor;
      return true;
    }
  }
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    char* exp_end = nullptr;
    long exponent = std::strtol(suffix.c_str() + 1, &exp_end, 10);
    if (exp_end && *exp_end == '\0' && exponent > -4000 && exponent < 4000) {
      *value = number * std::pow(10.0L, static_cast<long double>(exponent));
      return true;
    }
  }
  return false;
}

}  // namespace srexpert::controller
