#include "net/proxy.h"

#include "common/base64.h"

#include <arpa/inet.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace srexpert::net {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool ParsePort(std::string_view s, uint16_t* port) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

// Parses an IPv4 or IPv6 literal (no brackets) into network-order bytes.
bool ParseIp(std::string_view text, std::vector<uint8_t>* out) {
  std::string s(text);
  uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    out->assign(buf, buf + 4);
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    out->assign(buf, buf + 16);
    return true;
  }
  return false;
}

bool PrefixMatches(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int prefix) {
  if (a.size() != b.size()) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (!std::equal(a.begin(), a.begin() + full, b.begin())) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Splits "host", "host:port", "[v6]", "[v6]:port" and bare IPv6 "::1".
bool SplitHostPort(std::string_view s, std::string* host, uint16_t* port) {
  *port = 0;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    *host = std::string(s.substr(1, close - 1));
    std::string_view rest = s.substr(close + 1);
    if (rest.empty()) return true;
    return rest.front() == ':' && ParsePort(rest.substr(1), port);
  }
  size_t colon = s.rfind(':');
  if (colon != std::string_view::npos && s.find(':') == colon) {
    *host = std::string(s.substr(0, colon));
    return ParsePort(s.substr(colon + 1), port);
  }
  *host = std::string(s);  // no port, or an unbracketed IPv6 literal
  return true;
}

}  // namespace


std::string ProxyUrl::Display() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::string ProxyUrl::AuthorizationHeader() const {
  if (username.empty() && password.empty()) return {};
  return "Basic " + base64::Encode(username + ":" + password);
}

std::optional<ProxyUrl> ParseProxyUrl(std::string_view url, std::string* error) {
  auto fail = [&](std::string msg) -> std::optional<ProxyUrl> {
    if (error) *error = std::move(msg);
    return std::nullopt;
  };
  std::string_view rest = url;
  size_t scheme_end = rest.find("://");
  if (scheme_end != std::string_view::npos) {
    std::string scheme = Lower(rest.substr(0, scheme_end));
    if (scheme == "https") {
      return fail("proxy URL scheme https (TLS to the proxy) is not supported; use http://");
    }
    if (scheme != "http") return fail(fmt::format("proxy URL scheme \"{}\" is not supported", scheme));
    rest = rest.substr(scheme_end + 3);
  }
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") return fail("proxy URL must not have a path");
    rest = rest.substr(0, slash);
  }
  ProxyUrl out;
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    std::string_view user = userinfo.substr(0, colon);
    std::string_view pass =
        colon == std::string_view::npos ? std::string_view{} : userinfo.substr(colon + 1);
    if (!PercentDecode(user, &out.username) || !PercentDecode(pass, &out.password)) {
      return fail("proxy URL has a malformed percent-encoding in its credentials");
    }
  }
  uint16_t port = 0;
  if (!SplitHostPort(rest, &out.host, &port) || out.host.empty()) {
    return fail("proxy URL has no valid host[:port]");
  }
  if (port != 0) out.port = port;
  return out;
}

NoProxy::NoProxy(std::string_view list) {
  size_t i = 0;
  while (i < list.size()) {
    size_t end = list.find_first_of(", \t", i);
    if (end == std::string_view::npos) end = list.size();
    std::string item = Lower(list.substr(i, end - i));
    i = end + 1;
    if (item.empty()) continue;
    if (item == "*") {
      all_ = true;
      continue;
    }
    Entry e{};
    size_t slash = item.find('/');
    if (slash != std::string::npos) {
      std::string ip = item.substr(0, slash);
      std::string bits = item.substr(slash + 1);
      uint16_t prefix = 0;
      if (!ParseIp(ip, &e.addr)) continue;
      int max_bits = static_cast<int>(e.addr.size() * 8);
      if (bits == "0") prefix = 0;
      else if (!ParsePort(bits, &prefix) || prefix > max_bits) continue;
      e.kind = Entry::Kind::kCidr;
      e.prefix = prefix;
      e.text = ip;
      entries_.push_back(std::move(e));
      continue;
    }
    std::string host;
    if (!SplitHostPort(item, &host, &e.port) || host.empty()) continue;
    if (ParseIp(host, &e.addr)) {
      e.kind = Entry::Kind::kIp;
      e.text = host;
    } else if (host.rfind("*.", 0) == 0) {
      e.kind = Entry::Kind::kSubdomainsOnly;
      e.text = host.substr(1);  // ".example.com"
    } else if (host.front() == '.') {
      e.kind = Entry::Kind::kSubdomainsOnly;
      e.text = host;
    } else {
      e.kind = Entry::Kind::kDomain;
      e.text = host;
    }
    entries_.push_back(std::move(e));
  }
}

bool NoProxy::Matches(std::string_view host_in, uint16_t port) const {
  if (all_) return true;
  std::string host = Lower(host_in);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  while (!host.empty() && host.back() == '.') host.pop_back();  // FQDN form
  std::vector<uint8_t> addr;
  bool is_ip = ParseIp(host, &addr);
  for (const Entry& e : entries_) {
    if (e.port != 0 && e.port != port) continue;
    switch (e.kind) {
      case Entry::Kind::kIp:
        if (is_ip && addr == e.addr) return true;
        break;
      case Entry::Kind::kCidr:
        if (is_ip && PrefixMatches(addr, e.addr, e.prefix)) return true;
        break;
      case Entry::Kind::kDomain:
        if (is_ip) break;
        if (host == e.text) return true;
        if (host.size() > e.text.size() && host.ends_with(e.text) &&
            host[host.size() - e.text.size() - 1] == '.') {
          return true;
        }
        break;
      case Entry::Kind::kSubdomainsOnly:
        if (!is_ip && host.size() > e.text.size() && host.ends_with(e.text)) return true;
        break;
    }
  }
  return false;
}

EnvLookup ProcessEnvironment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

ProxyChoice ChooseProxy(const ProxySettings& settings, std::string_view host, uint16_t port,
                        const EnvLookup& env) {
  ProxyChoice choice;
  auto first_of = [&](const char* a, const char* b) -> std::string {
    if (auto v = env(a); v && !v->empty()) return *v;
    if (auto v = env(b); v && !v->empty()) return *v;
    return {};
  };
  std::string url = settings.proxy_url;
  std::string no_proxy = settings.no_proxy;
  if (url.empty() && settings.use_environment) {
    url = first_of("HTTPS_PROXY", "https_proxy");
    std::string env_no_proxy = first_of("NO_PROXY", "no_proxy");
    if (!env_no_proxy.empty()) no_proxy = no_proxy.empty() ? env_no_proxy : no_proxy + "," + env_no_proxy;
  }
  if (url.empty()) return choice;
  if (NoProxy(no_proxy).Matches(host, port)) return choice;
  std::string error;
  choice.proxy = ParseProxyUrl(url, &error);
  if (!choice.proxy) choice.error = "invalid proxy URL: " + error;
  return choice;
}

}  // namespace srexpert::net
