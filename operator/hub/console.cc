#include "hub/console.h"

#include <string>

#include "net/http_server.h"

namespace srexpert::hub {

// connect-src 'self': the API is on the same listener. img-src data: lets
// the stylesheet use small inline icons without loosening script rules.
const std::string_view kConsoleContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

namespace {

net::HttpResponse WithConsoleHeaders(net::HttpResponse r) {
  r.headers.emplace_back("Content-Security-Policy", std::string(kConsoleContentSecurityPolicy));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

const ConsoleAsset* FindAsset(std::string_view path) {
  for (const ConsoleAsset& asset : ConsoleAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

net::HttpResponse Serve(std::string_view path) {
  const ConsoleAsset* asset = FindAsset(path);
  if (!asset) return WithConsoleHeaders(net::HttpResponse::Text(404, "not found\n"));
  net::HttpResponse r;
  r.status = 200;
  r.content_type = std::string(asset->content_type);
  r.body = std::string(asset->body);
  return WithConsoleHeaders(std::move(r));
}

}  // namespace

void InstallConsole(net::HttpServer& server) {
  server.Handle("GET", "/", [](const net::HttpRequest&) { return Serve("/console/index.html"); });
  server.Handle("GET", "/console/*",
                [](const net::HttpRequest& req) { return Serve(req.path); });
}

}  // namespace srexpert::hub
