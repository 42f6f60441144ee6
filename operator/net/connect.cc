#include "net/connect.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <fmt/format.h>

#include "net/ws_client.h"

namespace srexpert::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string HostPort(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

template <typename Stream>
asio::awaitable<std::string> ConnectTo(Stream& stream, const std::string& host,
                                       uint16_t port, std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  tcp::resolver resolver(co_await asio::this_coro::executor);
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  // The resolver has no deadline of its own; getaddrinfo is bounded by the
  // system resolver's timeouts.
  auto results = co_await resolver.async_resolve(bare, std::to_string(port),
                                                 asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return fmt::format("cannot resolve {}: {}", bare, ec.message());
  stream.expires_after(timeout);
  co_await stream.async_connect(results, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (ec == beast::error::timeout) co_return fmt::format("connect to {} timed out", HostPort(bare, port));
    co_return fmt::format("cannot connect to {}: {}", HostPort(bare, port), ec.message());
  }
  stream.socket().set_option(tcp::no_delay(true), ec);
  co_return std::string{};
}

}  // namespace

template <typename Stream>
asio::awaitable<DialResult> DialTcp(Stream& stream, std::string host, uint16_t port,
                                    std::optional<ProxyUrl> proxy,
                                    std::chrono::milliseconds timeout) {
  // Named values only around co_await: GCC 12 mishandles temporaries in
  // co_await full-expressions.
  if (!proxy) {
    std::string direct_error = co_await ConnectTo(stream, host, port, timeout);
    co_return DialResult{direct_error};
  }
  const std::string& proxy_host = proxy->host;
  std::string error = co_await ConnectTo(stream, proxy_host, proxy->port, timeout);
  if (!error.empty()) co_return DialResult{fmt::format("proxy {}: {}", proxy->Display(), error)};

  std::string target = HostPort(host, port);
  http::request<http::empty_body> req{http::verb::connect, target, 11};
  req.set(http::field::host, target);
  req.set(http::field::user_agent, "srexpert-agent");
  if (std::string auth = proxy->AuthorizationHeader(); !auth.empty()) {
    req.set(http::field::proxy_authorization, auth);
  }
  boost::system::error_code ec;
  stream.expires_after(timeout);
  co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return DialResult{fmt::format("proxy {}: sending CONNECT {}: {}", proxy->Display(), target,
                                     ec.message())};
  }
  // A CONNECT response has no body even with a Content-Length (RFC 9110
  // 9.3.6), so the parser must not wait for one; error responses may carry
  // a body, which we do not read — the connection is dropped anyway.
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  parser.skip(true);
  co_await http::async_read_header(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  stream.expires_never();
  if (ec) {
    co_return DialResult{fmt::format("proxy {}: reading the CONNECT {} response: {}",
                                     proxy->Display(), target, ec.message())};
  }
  const auto& res = parser.get();
  if (res.result_int() / 100 != 2) {
    co_return DialResult{fmt::format("proxy {} refused CONNECT {}: {} {}", proxy->Display(), target,
                                     res.result_int(), std::string(res.reason()))};
  }
  if (buffer.size() != 0) {
    // The target spoke before the client (TLS never does): the bytes would
    // be lost to the TLS layer, so refuse rather than corrupt the stream.
    co_return DialResult{fmt::format("proxy {}: unexpected data after the CONNECT {} response",
                                     proxy->Display(), target)};
  }
  co_return DialResult{};
}

template asio::awaitable<DialResult> DialTcp(beast::tcp_stream&, std::string, uint16_t,
                                             std::optional<ProxyUrl>, std::chrono::milliseconds);
template asio::awaitable<DialResult> DialTcp(ClientTcpStream&, std::string, uint16_t,
                                             std::optional<ProxyUrl>, std::chrono::milliseconds);

}  // namespace srexpert::net
