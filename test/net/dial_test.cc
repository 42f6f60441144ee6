// TLS verification and proxy dialing against real peers: the srx_net HTTP
// server with a test PKI, and Debian's tinyproxy.
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <catch2/catch.hpp>

#include "net/connect.h"
#include "net/http_server.h"
#include "net/tls.h"
#include "test/net/test_support.h"

using namespace srexpert;
using namespace srexpert::net;
using srexpert::testing::TempDir;
using srexpert::testing::TestPki;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

struct ProbeResult {
  std::string error;  // empty: TLS handshake and GET / succeeded
  int status = 0;
};

// Dials host:port (optionally through `proxy`), does TLS with `config`
// verifying `host`, and sends GET /hello.
ProbeResult Probe(const std::string& host, uint16_t port, const TlsClientConfig& config,
                  std::optional<ProxyUrl> proxy = std::nullopt, const std::string& dial_host = "") {
  asio::io_context io;
  std::string error;
  auto ctx = MakeTlsClientContext(config, &error);
  if (!ctx) return {error, 0};
  auto fut = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<ProbeResult> {
        beast::ssl_stream<beast::tcp_stream> stream(co_await asio::this_coro::executor, *ctx);
        // GCC's coroutines mishandle temporaries inside co_await
        // expressions: pass only named values.
        std::string target = dial_host.empty() ? host : dial_host;
        std::chrono::milliseconds timeout = std::chrono::seconds(10);
        DialResult dial = co_await DialTcp(beast::get_lowest_layer(stream), target, port, proxy,
                                           timeout);
        if (!dial.ok()) co_return ProbeResult{dial.error, 0};
        std::string err;
        if (!PrepareTlsClient(stream.native_handle(), host, &err)) co_return ProbeResult{err, 0};
        boost::system::error_code ec;
        co_await stream.async_handshake(asio::ssl::stream_base::client,
                                        asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
          co_return ProbeResult{DescribeTlsFailure(stream.native_handle(), host, ec.message()), 0};
        }
        http::request<http::empty_body> req{http::verb::get, "/hello", 11};
        req.set(http::field::host, host);
        co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
        beast::flat_buffer buf;
        http::response<http::string_body> res;
        if (!ec) {
          co_await http::async_read(stream, buf, res, asio::redirect_error(asio::use_awaitable, ec));
        }
        if (ec) co_return ProbeResult{ec.message(), 0};
        co_return ProbeResult{"", static_cast<int>(res.result_int())};
      },
      asio::use_future);
  io.run();
  return fut.get();
}

std::unique_ptr<HttpServer> TlsServer(const std::string& cert, const std::string& key) {
  HttpServerOptions o;
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  auto s = std::make_unique<HttpServer>(o);
  s->Handle("GET", "/hello", [](const HttpRequest&) { return HttpResponse::Text(200, "hi"); });
  std::string error;
  REQUIRE(s->Start(&error));
  return s;
}

TlsClientConfig Trusting(const std::string& ca) {
  TlsClientConfig c;
  c.use_system_cas = false;
  c.ca_file = ca;
  return c;
}

}  // namespace

TEST_CASE("TLS succeeds with the right CA, by host name and by IP", "[net][tls]") {
  TempDir dir;
  TestPki pki(dir.path());
  auto server = TlsServer(pki.server_cert, pki.server_key);
  auto by_name = Probe("localhost", server->port(), Trusting(pki.ca_cert));
  CHECK(by_name.error == "");
  CHECK(by_name.status == 200);
  auto by_ip = Probe("127.0.0.1", server->port(), Trusting(pki.ca_cert));
  CHECK(by_ip.error == "");
  // System CAs plus the extra bundle also works.
  TlsClientConfig both;
  both.ca_file = pki.ca_cert;
  CHECK(Probe("localhost", server->port(), both).error == "");
}

TEST_CASE("TLS with an unknown CA fails with a clear message", "[net][tls]") {
  TempDir dir;
  TestPki pki(dir.path());
  auto server = TlsServer(pki.other_server_cert, pki.other_server_key);
  auto r = Probe("localhost", server->port(), Trusting(pki.ca_cert));
  CHECK(r.error == "certificate verify failed: unable to get local issuer certificate (host localhost)");
  // Only the system CAs: the test CA is not among them.
  TlsClientConfig system_only;
  auto r2 = Probe("localhost", server->port(), system_only);
  CHECK(r2.error.rfind("certificate verify failed: ", 0) == 0);
}

TEST_CASE("TLS to a self-signed server fails with a clear message", "[net][tls]") {
  TempDir dir;
  TestPki pki(dir.path());
  auto server = TlsServer(pki.self_signed_cert, pki.self_signed_key);
  auto r = Probe("localhost", server->port(), Trusting(pki.ca_cert));
  CHECK(r.error == "certificate verify failed: self-signed certificate (host localhost)");
}

TEST_CASE("TLS with a certificate for another host name fails", "[net][tls]") {
  TempDir dir;
  TestPki pki(dir.path());
  auto server = TlsServer(pki.wrong_host_cert, pki.wrong_host_key);
  auto r = Probe("localhost", server->port(), Trusting(pki.ca_cert));
  CHECK(r.error == "certificate verify failed: hostname mismatch (host localhost)");
  auto by_ip = Probe("127.0.0.1", server->port(), Trusting(pki.ca_cert));
  CHECK(by_ip.error == "certificate verify failed: IP address mismatch (host 127.0.0.1)");
}

TEST_CASE("a missing CA bundle is reported when the context is made", "[net][tls]") {
  std::string error;
  TlsClientConfig c;
  c.ca_file = "/nonexistent/ca.pem";
  CHECK_FALSE(MakeTlsClientContext(c, &error));
  CHECK(error.rfind("cannot load CA bundle /nonexistent/ca.pem: ", 0) == 0);
  CHECK_FALSE(MakeTlsServerContext("/nonexistent/c.pem", "/nonexistent/k.pem", &error));
  CHECK(error.rfind("cannot load certificate /nonexistent/c.pem", 0) == 0);
}

TEST_CASE("dialing a closed port says which address failed", "[net][dial]") {
  uint16_t port = srexpert::testing::FreePort();
  auto r = Probe("127.0.0.1", port, Trusting("/dev/null"));
  CHECK(r.error.rfind("cannot load CA bundle", 0) == 0);
  TempDir dir;
  TestPki pki(dir.path());
  auto r2 = Probe("127.0.0.1", port, Trusting(pki.ca_cert));
  CHECK(r2.error == "cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
}

TEST_CASE("TLS runs end to end through tinyproxy's CONNECT tunnel", "[net][dial][proxy]") {
  TempDir dir;
  TestPki pki(dir.path());
  srexpert::testing::Tinyproxy proxy(dir.path());
  REQUIRE(proxy.ok());
  auto server = TlsServer(pki.server_cert, pki.server_key);
  std::string error;
  auto url = ParseProxyUrl(proxy.Url(), &error);
  REQUIRE(url);
  auto r = Probe("localhost", server->port(), Trusting(pki.ca_cert), url);
  CHECK(r.error == "");
  CHECK(r.status == 200);
  CHECK(proxy.Log().find("CONNECT") != std::string::npos);
}

TEST_CASE("tinyproxy Basic auth: right credentials pass, wrong ones are refused", "[net][dial][proxy]") {
  TempDir dir;
  TestPki pki(dir.path());
  srexpert::testing::Tinyproxy proxy(dir.path(), "alice", "s3cret");
  REQUIRE(proxy.ok());
  auto server = TlsServer(pki.server_cert, pki.server_key);
  std::string error;
  auto good = ParseProxyUrl("http://alice:s3cret@127.0.0.1:" + std::to_string(proxy.port()), &error);
  REQUIRE(good);
  CHECK(Probe("localhost", server->port(), Trusting(pki.ca_cert), good).status == 200);

  auto bad = ParseProxyUrl("http://alice:wrong@127.0.0.1:" + std::to_string(proxy.port()), &error);
  auto r = Probe("localhost", server->port(), Trusting(pki.ca_cert), bad);
  // RFC 9110 says 407; tinyproxy 1.11 answers CONNECT with 401. Either way
  // the refusal must be reported with the proxy's status line.
  std::string prefix = "proxy 127.0.0.1:" + std::to_string(proxy.port()) +
                       " refused CONNECT localhost:" + std::to_string(server->port()) + ": ";
  auto is_auth_refusal = [&](const std::string& e) {
    return e == prefix + "407 Proxy Authentication Required" || e == prefix + "401 Unauthorized";
  };
  CHECK(is_auth_refusal(r.error));
  auto none = ParseProxyUrl(proxy.Url(), &error);
  CHECK(is_auth_refusal(Probe("localhost", server->port(), Trusting(pki.ca_cert), none).error));
}

TEST_CASE("a proxy that cannot reach the target reports its refusal", "[net][dial][proxy]") {
  TempDir dir;
  TestPki pki(dir.path());
  srexpert::testing::Tinyproxy proxy(dir.path());
  REQUIRE(proxy.ok());
  uint16_t closed = srexpert::testing::FreePort();
  std::string error;
  auto url = ParseProxyUrl(proxy.Url(), &error);
  auto r = Probe("localhost", closed, Trusting(pki.ca_cert), url);
  INFO(r.error);
  CHECK(r.error.rfind("proxy 127.0.0.1:" + std::to_string(proxy.port()) + " refused CONNECT localhost:" +
                          std::to_string(closed) + ": 5",
                      0) == 0);
}

TEST_CASE("an unreachable proxy is reported as the proxy's failure", "[net][dial][proxy]") {
  uint16_t closed = srexpert::testing::FreePort();
  TempDir dir;
  TestPki pki(dir.path());
  std::string error;
  auto url = ParseProxyUrl("http://127.0.0.1:" + std::to_string(closed), &error);
  auto r = Probe("localhost", 443, Trusting(pki.ca_cert), url);
  CHECK(r.error == "proxy 127.0.0.1:" + std::to_string(closed) + ": cannot connect to 127.0.0.1:" +
                       std::to_string(closed) + ": Connection refused");
}
