// HTTP CONNECT proxy selection: proxy URLs, NO_PROXY matching and the choice
// between an explicit proxy and the HTTPS_PROXY/NO_PROXY environment. Pure
// functions; the dialing itself is in net/connect.h.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace srexpert::net {

struct ProxyUrl {
  std::string host;  // without brackets for IPv6
  uint16_t port = 80;
  std::string username;  // percent-decoded
  std::string password;  // percent-decoded; never log it
  // "host:port" for logs and errors (no credentials).
  std::string Display() const;
  // "Basic <base64(user:password)>" or empty without credentials.
  std::string AuthorizationHeader() const;
};

// Parses "http://[user[:password]@]host[:port][/]" (a missing scheme means
// http). Proxies spoken to over TLS ("https://") are not supported and
// rejected with a clear error.
std::optional<ProxyUrl> ParseProxyUrl(std::string_view url, std::string* error);

// A NO_PROXY list, with the matching rules of Go's net/http/httpproxy:
//   "*"                 every host
//   "example.com"       example.com and every subdomain
//   ".example.com"      subdomains of example.com only ("*.example.com" too)
//   "10.1.2.3", "::1"   that IP literal
//   "10.0.0.0/8"        every IP literal in the range (IPv4 and IPv6)
//   "<entry>:443"       the entry, only for that port ("[::1]:443" for IPv6)
// Entries are comma- or space-separated, case-insensitive. Host names are not
// resolved: an IP entry matches only IP-literal hosts.
class NoProxy {
 public:
  NoProxy() = default;
  explicit NoProxy(std::string_view list);
  bool Matches(std::string_view host, uint16_t port) const;
  bool empty() const { return entries_.empty() && !all_; }

 private:
  struct Entry {
    enum class Kind { kDomain, kSubdomainsOnly, kIp, kCidr } kind;
    std::string text;  // lower-cased domain, or the IP text
    std::vector<uint8_t> addr;  // kIp/kCidr: network-order bytes (4 or 16)
    int prefix = 0;             // kCidr
    uint16_t port = 0;          // 0 = any port
  };
  bool all_ = false;
  std::vector<Entry> entries_;
};

struct ProxySettings {
  // Explicit proxy URL (from the AgentConfig); wins over the environment.
  std::string proxy_url;
  // Explicit NO_PROXY list; used with the explicit proxy, and in addition to
  // the environment's list when the proxy comes from the environment.
  std::string no_proxy;
  // Whether HTTPS_PROXY/https_proxy and NO_PROXY/no_proxy are consulted.
  bool use_environment = true;
};

// Reads an environment variable; replaceable in tests.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
EnvLookup ProcessEnvironment();

// The proxy to use for host:port, or nullopt for a direct connection. A
// malformed proxy URL is an error (never a silent direct connection).
struct ProxyChoice {
  std::optional<ProxyUrl> proxy;
  std::string error;
  bool ok() const { return error.empty(); }
};
ProxyChoice ChooseProxy(const ProxySettings& settings, std::string_view host, uint16_t port,
                        const EnvLookup& env = ProcessEnvironment());

}  // namespace srexpert::net
