#include "net/proxy.h"

#include <catch2/catch.hpp>

#include <map>

using namespace srexpert::net;

TEST_CASE("proxy URLs parse host, port and percent-decoded credentials", "[net][proxy]") {
  std::string error;
  auto p = ParseProxyUrl("http://al%40ice:p%3Ass@proxy.corp:3128/", &error);
  REQUIRE(p);
  CHECK(p->host == "proxy.corp");
  CHECK(p->port == 3128);
  CHECK(p->username == "al@ice");
  CHECK(p->password == "p:ss");
  CHECK(p->Display() == "proxy.corp:3128");
  CHECK(p->AuthorizationHeader() == std::string("Basic YWxAaWNlOnA6c3M="));

  auto bare = ParseProxyUrl("10.0.0.5:8080", &error);
  REQUIRE(bare);
  CHECK(bare->host == "10.0.0.5");
  CHECK(bare->port == 8080);
  CHECK(bare->AuthorizationHeader().empty());

  auto v6 = ParseProxyUrl("http://[fd00::1]:3128", &error);
  REQUIRE(v6);
  CHECK(v6->host == "fd00::1");
  CHECK(v6->Display() == "[fd00::1]:3128");

  auto default_port = ParseProxyUrl("http://proxy", &error);
  REQUIRE(default_port);
  CHECK(default_port->port == 80);
}

TEST_CASE("malformed or unsupported proxy URLs are errors", "[net][proxy]") {
  std::string error;
  CHECK_FALSE(ParseProxyUrl("https://proxy:3128", &error));
  CHECK(error == "proxy URL scheme https (TLS to the proxy) is not supported; use http://");
  CHECK_FALSE(ParseProxyUrl("socks5://proxy:1080", &error));
  CHECK(error == "proxy URL scheme \"socks5\" is not supported");
  CHECK_FALSE(ParseProxyUrl("http://proxy:99999", &error));
  CHECK(error == "proxy URL has no valid host[:port]");
  CHECK_FALSE(ParseProxyUrl("http://proxy:3128/path", &error));
  CHECK_FALSE(ParseProxyUrl("http://u:%zz@proxy:3128", &error));
  CHECK_FALSE(ParseProxyUrl("http://", &error));
}


TEST_CASE("NO_PROXY matching follows the documented table", "[net][proxy]") {
  struct Row {
    const char* no_proxy;
    const char* host;
    uint16_t port;
    bool bypass;
  };
  const Row rows[] = {
      {"", "backend.example", 443, false},
      {"*", "anything.example", 443, true},
      {"backend.example", "backend.example", 443, true},
      {"backend.example", "BACKEND.Example.", 443, true},
      {"backend.example", "eu.backend.example", 443, true},
      {"backend.example", "notbackend.example", 443, false},
      {".backend.example", "backend.example", 443, false},
      {".backend.example", "eu.backend.example", 443, true},
      {"*.backend.example", "eu.backend.example", 443, true},
      {"*.backend.example", "backend.example", 443, false},
      {"backend.example:8443", "backend.example", 443, false},
      {"backend.example:8443", "backend.example", 8443, true},
      {"10.1.2.3", "10.1.2.3", 443, true},
      {"10.1.2.3", "10.1.2.4", 443, false},
      {"10.0.0.0/8", "10.200.3.4", 443, true},
      {"10.0.0.0/8", "11.0.0.1", 443, false},
      {"172.16.0.0/12", "172.31.255.255", 443, true},
      {"172.16.0.0/12", "172.32.0.1", 443, false},
      {"10.0.0.0/8", "ten.example", 443, false},
      {"::1", "::1", 443, true},
      {"::1", "[::1]", 443, true},
      {"[::1]:8443", "::1", 8443, true},
      {"[::1]:8443", "::1", 443, false},
      {"fd00::/8", "fd12:3456::1", 443, true},
      {"fd00::/8", "fe80::1", 443, false},
      {"0.0.0.0/0", "192.0.2.1", 443, true},
      {"localhost, .svc ,backend.example", "api.default.svc", 443, true},
      {"localhost .svc backend.example", "localhost", 443, true},
      {"localhost,,", "other", 443, false},
      {"10.0.0.0/99,bogus/x", "10.0.0.1", 443, false},
  };
  for (const Row& r : rows) {
    INFO("NO_PROXY=" << r.no_proxy << " host=" << r.host << ":" << r.port);
    CHECK(NoProxy(r.no_proxy).Matches(r.host, r.port) == r.bypass);
  }
}

namespace {
EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}
}  // namespace

TEST_CASE("the explicit proxy wins over the environment", "[net][proxy]") {
  ProxySettings s;
  s.proxy_url = "http://explicit:3128";
  auto c = ChooseProxy(s, "backend.example", 443, FakeEnv({{"HTTPS_PROXY", "http://env:1"}}));
  REQUIRE(c.ok());
  REQUIRE(c.proxy);
  CHECK(c.proxy->host == "explicit");
}

TEST_CASE("HTTPS_PROXY and https_proxy are read, NO_PROXY bypasses", "[net][proxy]") {
  ProxySettings s;
  auto upper = ChooseProxy(s, "backend.example", 443,
                           FakeEnv({{"HTTPS_PROXY", "http://up:1"}, {"https_proxy", "http://low:2"}}));
  REQUIRE(upper.proxy);
  CHECK(upper.proxy->host == "up");
  auto lower = ChooseProxy(s, "backend.example", 443, FakeEnv({{"https_proxy", "http://low:2"}}));
  REQUIRE(lower.proxy);
  CHECK(lower.proxy->host == "low");
  auto bypass = ChooseProxy(
      s, "backend.example", 443,
      FakeEnv({{"https_proxy", "http://low:2"}, {"no_proxy", "example"}, {"NO_PROXY", ".example"}}));
  CHECK(bypass.ok());
  CHECK_FALSE(bypass.proxy);
  s.use_environment = false;
  CHECK_FALSE(ChooseProxy(s, "backend.example", 443, FakeEnv({{"HTTPS_PROXY", "http://up:1"}})).proxy);
}

TEST_CASE("an explicit NO_PROXY applies to the explicit proxy", "[net][proxy]") {
  ProxySettings s;
  s.proxy_url = "http://explicit:3128";
  s.no_proxy = "backend.example";
  CHECK_FALSE(ChooseProxy(s, "backend.example", 443, FakeEnv({})).proxy);
  CHECK(ChooseProxy(s, "other.example", 443, FakeEnv({})).proxy);
}

TEST_CASE("a malformed proxy URL is an error, not a direct connection", "[net][proxy]") {
  ProxySettings s;
  auto c = ChooseProxy(s, "backend.example", 443, FakeEnv({{"HTTPS_PROXY", "https://p:1"}}));
  CHECK_FALSE(c.ok());
  CHECK_FALSE(c.proxy);
  CHECK(c.error.rfind("invalid proxy URL: ", 0) == 0);
}
