// The web console's files as the hub serves them (hub/console.h): every
// embedded file under its path and type, with the security headers; nothing
// else, whatever the path tries; and pages a strict CSP can run (no inline
// script or style, no broken references).
#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "hub/console.h"
#include "test/hub/api_client.h"
#include "test/hub/hub_fixture.h"

using namespace srexpert;
using namespace srexpert::hub;
using namespace srexpert::hub::testing;
using srexpert::testing::HttpCall;
using srexpert::testing::SimpleResponse;

namespace {

void CheckConsoleHeaders(const SimpleResponse& r) {
  REQUIRE(r.headers.count("content-security-policy"));
  CHECK(r.headers.at("content-security-policy") == kConsoleContentSecurityPolicy);
  CHECK(r.headers.count("x-content-type-options"));
  CHECK(r.headers.count("x-frame-options"));
  CHECK(r.headers.count("referrer-policy"));
}

const ConsoleAsset* Find(std::string_view path) {
  for (const ConsoleAsset& a : ConsoleAssets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("Console: / and every embedded file are served byte for byte with their type and a "
          "strict CSP, also to callers without a token",
          "[hub][console]") {
  HubFixture f([](HubOptions& o) {
    // With users: the files hold no data, so they need no token (the login
    // page must load); the API behind them still does.
    UseUsersFile(o, R"({"users":[{"name":"a","token":"tok-a-0123456789","role":"viewer"}]})");
  });
  const uint16_t port = f.hub->api_port();
  REQUIRE(Find("/console/index.html") != nullptr);

  auto root = HttpCall(port, "GET", "/");
  CHECK(root.status == 200);
  CHECK(root.content_type == "text/html; charset=utf-8");
  CHECK(root.body == Find("/console/index.html")->body);
  CheckConsoleHeaders(root);

  for (const ConsoleAsset& asset : ConsoleAssets()) {
    INFO(asset.path);
    auto r = HttpCall(port, "GET", std::string(asset.path));
    CHECK(r.status == 200);
    CHECK(r.content_type == asset.content_type);
    CHECK(r.body == asset.body);
    CheckConsoleHeaders(r);
    CHECK(HttpCall(port, "HEAD", std::string(asset.path)).status == 200);
  }
  CHECK(HttpCall(port, "GET", "/api/v1/me").status == 401);
}

TEST_CASE("Console: no path reaches anything but an embedded file", "[hub][console]") {
  HubFixture f;
  const uint16_t port = f.hub->api_port();
  for (const char* target :
       {"/console/", "/console", "/console/../hub/hub.cc", "/console/%2e%2e/CMakeLists.txt",
        "/console/..%2fconsole.cc", "/console//index.html", "/console/index.html/",
        "/console/INDEX.HTML", "/console/index.html%00", "/console/./index.html",
        "/console/index.html.bak", "/console/%2fetc%2fpasswd", "/index.html", "/etc/passwd",
        "/console/..\\console.cc"}) {
    INFO(target);
    auto r = HttpCall(port, "GET", target);
    // 404 from the console, or the server's own 400/404 for a target it
    // will not route; never a file.
    CHECK((r.status == 404 || r.status == 400));
    CHECK(r.body.find("#include") == std::string::npos);
    CHECK(r.body.find("root:") == std::string::npos);
  }
  CHECK(HttpCall(port, "POST", "/console/index.html", "x").status >= 400);
}

TEST_CASE("Console: the pages can run under the CSP — no inline script, style or handler, and "
          "every file they reference is embedded",
          "[hub][console]") {
  const std::regex inline_script(R"(<script(?![^>]*\bsrc=)[^>]*>)", std::regex::icase);
  const std::regex handler(R"(<[^>]*\son[a-z]+\s*=)", std::regex::icase);
  const std::regex style_attr(R"(<[^>]*\sstyle\s*=)", std::regex::icase);
  const std::regex reference(R"re((?:src|href)\s*=\s*"(/[^"]*)")re", std::regex::icase);
  const std::regex js_import(R"re(\bfrom\s+['"](\./[^'"]+|/[^'"]+)['"])re");
  int pages = 0;
  for (const ConsoleAsset& asset : ConsoleAssets()) {
    INFO(asset.path);
    const std::string body(asset.body);
    CHECK(body.find("javascript:") == std::string::npos);
    if (asset.content_type.starts_with("text/html")) {
      ++pages;
      CHECK_FALSE(std::regex_search(body, inline_script));
      CHECK_FALSE(std::regex_search(body, handler));
      CHECK_FALSE(std::regex_search(body, style_attr));
      for (std::sregex_iterator it(body.begin(), body.end(), reference), end; it != end; ++it) {
        std::string ref = (*it)[1];
        INFO("references " << ref);
        CHECK(Find(ref) != nullptr);
      }
    }
    if (asset.content_type.starts_with("text/javascript")) {
      // Nothing the CSP would block at run time.
      CHECK(body.find("eval(") == std::string::npos);
      CHECK(body.find("new Function") == std::string::npos);
      // Module imports resolve to embedded files.
      const std::string dir(asset.path.substr(0, asset.path.rfind('/') + 1));
      for (std::sregex_iterator it(body.begin(), body.end(), js_import), end; it != end; ++it) {
        std::string ref = (*it)[1];
        if (ref.starts_with("./")) ref = dir + ref.substr(2);
        INFO("imports " << ref);
        CHECK(Find(ref) != nullptr);
      }
    }
  }
  CHECK(pages >= 1);
}
