#include "api/validation.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>

namespace srexpert::api {

namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// 1..63 chars of [A-Za-z0-9-_.], alphanumeric at both ends.
bool IsQualifiedNamePart(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!IsDnsLabel(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsQualifiedName(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return IsQualifiedNamePart(s);
  return IsDnsSubdomain(s.substr(0, slash)) && IsQualifiedNamePart(s.substr(slash + 1));
}

bool IsLabelValue(std::string_view s) { return s.empty() || IsQualifiedNamePart(s); }

std::optional<long double> ParseQuantity(std::string_view s) {
  // <sign><digits>[.<digits>]<suffix>, suffix one of: binary SI (Ki..Ei),
  // decimal SI (n u m "" k M G T P E) or a decimal exponent (e3, E-2).
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  size_t digits_start = i;
  bool any_digit = false;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, any_digit = true;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, any_digit = true;
  }
  if (!any_digit) return std::nullopt;
  const std::string digits(s.substr(digits_start, i - digits_start));
  long double number = std::strtold(digits.c_str(), nullptr);
  std::string_view suffix = s.substr(i);
  long double scale = 1;
  if (suffix.empty()) {
  } else if (suffix.size() == 2 && suffix[1] == 'i') {
    static constexpr std::string_view kBinary = "KMGTPE";
    size_t p = kBinary.find(suffix[0]);
    if (p == std::string_view::npos) return std::nullopt;
    scale = std::pow(1024.0L, static_cast<long double>(p + 1));
  } else if (suffix.size() == 1 && std::string_view("numkMGTPE").find(suffix[0]) != s.npos) {
    static constexpr std::string_view kDecimal = "num kMGTPE";
    int exponent = (static_cast<int>(kDecimal.find(suffix[0])) - 3) * 3;
    scale = std::pow(10.0L, static_cast<long double>(exponent));
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    size_t j = 1;
    bool neg_exp = false;
    if (j < suffix.size() && (suffix[j] == '+' || suffix[j] == '-')) neg_exp = suffix[j++] == '-';
    if (j == suffix.size() || suffix.size() - j > 4) return std::nullopt;
    int exponent = 0;
    for (; j < suffix.size(); ++j) {
      if (!std::isdigit(static_cast<unsigned char>(suffix[j]))) return std::nullopt;
      exponent = exponent * 10 + (suffix[j] - '0');
    }
    scale = std::pow(10.0L, static_cast<long double>(neg_exp ? -exponent : exponent));
  } else {
    return std::nullopt;
  }
  long double value = number * scale;
  return negative ? -value : value;
}

bool IsPemCertificateBundle(std::string_view pem) {
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  size_t pos = 0;
  int count = 0;
  while (true) {
    size_t begin = pem.find("-----BEGIN", pos);
    // Only whitespace may appear outside certificate blocks.
    for (size_t k = pos; k < (begin == pem.npos ? pem.size() : begin); ++k) {
      if (!std::isspace(static_cast<unsigned char>(pem[k]))) return false;
    }
    if (begin == pem.npos) break;
    if (pem.substr(begin, kBegin.size()) != kBegin) return false;
    size_t end = pem.find(kEnd, begin);
    if (end == pem.npos) return false;
    end += kEnd.size();
    std::string_view block = pem.substr(begin, end - begin);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(block.data(), static_cast<int>(block.size())), &BIO_free);
    if (!bio) return false;
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
    if (!cert) {
      // Leave no failure on the thread's OpenSSL error queue: TLS code on
      // this thread would otherwise misreport it later.
      ERR_clear_error();
      return false;
    }
    ++count;
    pos = end;
  }
  return count > 0;
}

}  // namespace srexpert::api
