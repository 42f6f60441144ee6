// URL pieces for API paths: percent-encoding and query strings.
#pragma once

#include <string>
#include <string_view>

namespace srexpert::kube {

// RFC 3986: everything but unreserved characters (A-Z a-z 0-9 - . _ ~) is
// %XX-encoded, so label selectors like "app in (a,b),!x" survive intact.
std::string PercentEncode(std::string_view s);

// Builds "?k=v&k2=v2" (empty string when nothing was added); empty values
// are skipped.
class QueryString {
 public:
  QueryString& Add(std::string_view key, std::string_view value);
  QueryString& Add(std::string_view key, long long value);
  QueryString& AddBool(std::string_view key, bool value);  // adds only when true
  std::string str() const { return query_; }

 private:
  std::string query_;
};

}  // namespace srexpert::kube
