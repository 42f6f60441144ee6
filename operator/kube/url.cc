#include "kube/url.h"

namespace srexpert::kube {

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

QueryString& QueryString::Add(std::string_view key, std::string_view value) {
  if (value.empty()) return *this;
  query_ += query_.empty() ? '?' : '&';
  query_ += PercentEncode(key);
  query_ += '=';
  query_ += PercentEncode(value);
  return *this;
}

QueryString& QueryString::Add(std::string_view key, long long value) {
  return Add(key, std::to_string(value));
}

QueryString& QueryString::AddBool(std::string_view key, bool value) {
  return value ? Add(key, "true") : *this;
}

}  // namespace srexpert::kube
