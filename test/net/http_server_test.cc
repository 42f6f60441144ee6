#include "net/http_server.h"

#include <catch2/catch.hpp>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <thread>

#include "test/net/test_support.h"

using namespace srexpert::net;
using srexpert::testing::HttpCall;

TEST_CASE("routes answer by exact path, prefix and method", "[net][http]") {
  HttpServer server({});
  server.Handle("GET", "/healthz", [](const HttpRequest&) { return HttpResponse::Text(200, "ok\n"); });
  server.Handle("POST", "/echo", [](const HttpRequest& r) {
    return HttpResponse::Json(201, "{\"got\":\"" + JsonEscape(r.body) + "\",\"q\":\"" + r.query + "\"}");
  });
  server.Handle("GET", "/api/v1/clusters/*", [](const HttpRequest& r) {
    return HttpResponse::Text(200, r.path.substr(std::string("/api/v1/clusters/").size()));
  });
  std::string error;
  REQUIRE(server.Start(&error));
  REQUIRE(server.port() != 0);

  auto health = HttpCall(server.port(), "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
  auto echo = HttpCall(server.port(), "POST", "/echo?x=1", "a\"b");
  CHECK(echo.status == 201);
  CHECK(echo.content_type == "application/json");
  CHECK(echo.body == R"({"got":"a\"b","q":"x=1"})");
  CHECK(HttpCall(server.port(), "GET", "/api/v1/clusters/prod/requests").body == "prod/requests");
  CHECK(HttpCall(server.port(), "GET", "/nope").status == 404);
  CHECK(HttpCall(server.port(), "DELETE", "/healthz").status == 405);
  server.Stop();
  server.Stop();  // idempotent
  CHECK_FALSE(HttpCall(server.port(), "GET", "/healthz").error.empty());
}

TEST_CASE("async handlers may respond later from another thread", "[net][http]") {
  HttpServer server({});
  std::vector<std::thread> workers;
  server.HandleAsync("GET", "/slow", [&](const HttpRequest&, Respond respond) {
    workers.emplace_back([respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      respond(HttpResponse::Text(202, "later"));
      respond(HttpResponse::Text(500, "second call ignored"));
    });
  });
  std::string error;
  REQUIRE(server.Start(&error));
  auto r = HttpCall(server.port(), "GET", "/slow");
  CHECK(r.status == 202);
  CHECK(r.body == "later");
  for (auto& t : workers) t.join();
}

TEST_CASE("a respond callback outliving the server is harmless", "[net][http]") {
  Respond kept;
  {
    HttpServer server({});
    std::atomic<bool> called{false};
    server.HandleAsync("GET", "/never", [&](const HttpRequest&, Respond respond) {
      kept = respond;
      called = true;
    });
    std::string error;
    REQUIRE(server.Start(&error));
    std::thread client([&] { HttpCall(server.port(), "GET", "/never"); });
    REQUIRE(srexpert::testing::WaitUntil([&] { return called.load(); }));
    server.Stop();
    client.join();
  }
  kept(HttpResponse::Text(200, "too late"));
  SUCCEED("no crash");
}

TEST_CASE("oversized request bodies get 413", "[net][http]") {
  HttpServerOptions o;
  o.max_body_bytes = 16;
  HttpServer server(o);
  server.Handle("POST", "/x", [](const HttpRequest&) { return HttpResponse::Text(200, "ok"); });
  std::string error;
  REQUIRE(server.Start(&error));
  CHECK(HttpCall(server.port(), "POST", "/x", std::string(10, 'a')).status == 200);
  CHECK(HttpCall(server.port(), "POST", "/x", std::string(100, 'a')).status == 413);
}

TEST_CASE("a handler that throws yields 500 and the server keeps serving", "[net][http]") {
  HttpServer server({});
  server.Handle("GET", "/boom", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("boom");
  });
  server.Handle("GET", "/ok", [](const HttpRequest&) { return HttpResponse::Text(200, "ok"); });
  std::string error;
  REQUIRE(server.Start(&error));
  CHECK(HttpCall(server.port(), "GET", "/boom").status == 500);
  CHECK(HttpCall(server.port(), "GET", "/ok").status == 200);
}

TEST_CASE("HTTPS serving with the test PKI", "[net][http]") {
  srexpert::testing::TempDir dir;
  srexpert::testing::TestPki pki(dir.path());
  HttpServerOptions o;
  o.tls_cert_file = pki.server_cert;
  o.tls_key_file = pki.server_key;
  HttpServer server(o);
  server.Handle("GET", "/healthz", [](const HttpRequest&) { return HttpResponse::Text(200, "ok"); });
  std::string error;
  REQUIRE(server.Start(&error));
  auto r = HttpCall(server.port(), "GET", "/healthz", "", pki.ca_cert);
  CHECK(r.error == "");
  CHECK(r.status == 200);
}

TEST_CASE("start fails clearly on a busy port and on bad TLS files", "[net][http]") {
  HttpServer first({});
  std::string error;
  REQUIRE(first.Start(&error));
  HttpServerOptions o;
  o.port = first.port();
  HttpServer second(o);
  CHECK_FALSE(second.Start(&error));
  CHECK(error.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())) == 0);
  HttpServerOptions t;
  t.tls_cert_file = "/nonexistent.crt";
  t.tls_key_file = "/nonexistent.key";
  HttpServer third(t);
  CHECK_FALSE(third.Start(&error));
  CHECK(error.rfind("cannot load certificate /nonexistent.crt", 0) == 0);
}

TEST_CASE("/metrics serves the registry in the text format", "[net][http]") {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter().Name("srx_test_total").Help("test").Register(*registry);
  auto& counter = family.Add({});
  int refreshed = 0;
  HttpServer server({});
  server.Handle("GET", "/metrics", MetricsHandler(registry, [&] {
                  ++refreshed;
                  counter.Increment();
                }));
  std::string error;
  REQUIRE(server.Start(&error));
  auto r = HttpCall(server.port(), "GET", "/metrics");
  CHECK(r.status == 200);
  CHECK(r.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(r.body.find("srx_test_total 1") != std::string::npos);
  CHECK(refreshed == 1);
}
