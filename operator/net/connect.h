// Opening the TCP leg of an outbound connection, directly or through an HTTP
// CONNECT proxy. Asio/Beast types: include only from .cc files.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "net/proxy.h"

namespace srexpert::net {

struct DialResult {
  std::string error;  // empty on success; says which hop failed and why
  bool ok() const { return error.empty(); }
};

// Connects `stream` to host:port, through `proxy` when given (the CONNECT
// tunnel is established when this returns successfully; TLS then runs end to
// end over it). Every step is bounded by `timeout`. Never throws.
//
// Proxy refusals become errors such as
//   "proxy 10.0.0.5:3128 refused CONNECT backend.example:443: 407 Proxy
//    Authentication Required".
//
// `Stream` is beast::tcp_stream or net::ClientTcpStream (net/ws_client.h, the
// tunnel's transport); both are instantiated in connect.cc.
template <typename Stream>
boost::asio::awaitable<DialResult> DialTcp(Stream& stream, std::string host, uint16_t port,
                                           std::optional<ProxyUrl> proxy,
                                           std::chrono::milliseconds timeout);

}  // namespace srexpert::net
