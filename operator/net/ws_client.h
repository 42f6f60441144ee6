// The WebSocket client stream types of the tunnel, with unpredictable
// handshake keys and masking keys.
//
// Why this exists: Boost.Beast 1.74 draws the Sec-WebSocket-Key and every
// client frame's masking key from websocket::detail::make_prng(). Its
// "secure" generator (the default, and the only one the handshake key ever
// uses) is a ChaCha20 whose block counter is `ctr_ / 16`, so every 64-byte
// block comes out 16 times: 13 distinct keys in 25 handshakes were seen on
// the wire, and masking keys repeat the same way. The other generator is a
// PCG: fast, but predictable from its output, which RFC 6455 section 10.3
// forbids for masks. Beast 1.74 has no hook for a generator of one's own
// (stream::secure_prng() only picks between those two, seed_prng() only
// seeds them), and Debian bookworm's cpprestsdk pins Boost 1.74.
//
// So the client streams below run over a transport type of our own
// (beast::basic_stream with ClientRatePolicy is a type no other code uses),
// and for exactly these stream types the two members of Beast's
// implementation that draw randomness are explicitly specialized:
// `build_request` (the handshake key) and `create_mask` (each frame's mask),
// both from net/secure_random.h (OpenSSL's DRBG). Every translation unit that
// can name these types includes this header, so every instantiation sees the
// specializations; Beast streams elsewhere in the process (the hub's server
// side, test clients) are untouched.
//
// Beast types: include only from .cc files.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/rate_policy.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "net/secure_random.h"

// The specializations mirror Beast 1.74's build_request and are only correct
// against it; another Boost must be re-read (and its generator re-checked)
// before this is allowed to compile.
static_assert(BOOST_VERSION / 100 == 1074,
              "net/ws_client.h mirrors Boost.Beast 1.74 internals; re-check it for this Boost");

namespace srexpert::net {

// Unlimited, like beast::unlimited_rate_policy. Its only purpose is to make
// the client transport a type of our own (see above).
class ClientRatePolicy {
  friend class boost::beast::rate_policy_access;
  static constexpr std::size_t kAll = std::numeric_limits<std::size_t>::max();
  std::size_t available_read_bytes() const noexcept { return kAll; }
  std::size_t available_write_bytes() const noexcept { return kAll; }
  void transfer_read_bytes(std::size_t) const noexcept {}
  void transfer_write_bytes(std::size_t) const noexcept {}
  void on_timer() const noexcept {}
};

using ClientTcpStream =
    boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::any_io_executor, ClientRatePolicy>;
using ClientTlsStream = boost::beast::ssl_stream<ClientTcpStream>;
// ws:// and wss:// client streams with secure keys and masks.
using ClientWebSocket = boost::beast::websocket::stream<ClientTcpStream>;
using ClientTlsWebSocket = boost::beast::websocket::stream<ClientTlsStream>;

namespace ws_client_detail {

// Beast 1.74's stream::impl_type::build_request, with the key from
// NewWebSocketKey(). `key` is what Beast later checks Sec-WebSocket-Accept
// against, so it must be the key that is sent.
template <typename Impl, typename Decorator>
boost::beast::websocket::request_type BuildRequest(
    Impl& impl, boost::beast::websocket::detail::sec_ws_key_type& key,
    boost::beast::string_view host, boost::beast::string_view target, const Decorator& decorator) {
  namespace http = boost::beast::http;
  boost::beast::websocket::request_type req;
  req.target(target);
  req.version(11);
  req.method(http::verb::get);
  req.set(http::field::host, host);
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "upgrade");
  const std::string fresh = NewWebSocketKey();
  key.assign(fresh.data(), fresh.size());
  req.set(http::field::sec_websocket_key, key);
  req.set(http::field::sec_websocket_version, "13");
  impl.build_request_pmd(req);
  impl.decorator_opt(req);
  decorator(req);
  return req;
}

}  // namespace ws_client_detail
}  // namespace srexpert::net

namespace boost::beast::websocket {

// Every handshake overload of Beast 1.74 passes &default_decorate_req, a
// `void(request_type&)` function, as the decorator; the options decorator
// (set_option) is applied inside.
using SrxDefaultDecorator = void (*)(request_type&);

template <>
inline std::uint32_t stream<srexpert::net::ClientTcpStream, true>::impl_type::create_mask() {
  return srexpert::net::SecureMaskingKey();
}

template <>
template <>
inline request_type
stream<srexpert::net::ClientTcpStream, true>::impl_type::build_request<SrxDefaultDecorator>(
    detail::sec_ws_key_type& key, string_view host, string_view target,
    const SrxDefaultDecorator& decorator) {
  return srexpert::net::ws_client_detail::BuildRequest(*this, key, host, target, decorator);
}

template <>
inline std::uint32_t stream<srexpert::net::ClientTlsStream, true>::impl_type::create_mask() {
  return srexpert::net::SecureMaskingKey();
}

template <>
template <>
inline request_type
stream<srexpert::net::ClientTlsStream, true>::impl_type::build_request<SrxDefaultDecorator>(
    detail::sec_ws_key_type& key, string_view host, string_view target,
    const SrxDefaultDecorator& decorator) {
  return srexpert::net::ws_client_detail::BuildRequest(*this, key, host, target, decorator);
}

}  // namespace boost::beast::websocket
