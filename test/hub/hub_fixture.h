// A hub on ephemeral ports and a raw WebSocket agent written with Beast
// directly, so every protocol rule can be broken on purpose. Shared by the
// hub tests in this directory.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub/hub.h"
#include "net/message_deflate.h"
#include "protocol/messages.h"
#include "test/net/test_support.h"

namespace srexpert::hub::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using srexpert::testing::TempDir;
using srexpert::testing::TestPki;

// A hub on ephemeral ports with tokens prod → "tok-prod", dev → "tok-dev",
// disabled → "tok-off".
struct HubFixture {
  TempDir dir;
  TestPki pki{dir.path()};
  HubOptions options;
  std::unique_ptr<Hub> hub;

  explicit HubFixture(std::function<void(HubOptions&)> tweak = {}) {
    srexpert::testing::WriteFile(dir.File("tokens.json"), R"({"clusters":[
      {"name":"prod","token":"tok-prod"},{"name":"dev","token":"tok-dev"},
      {"name":"off","token":"tok-off","disabled":true}]})");
    HubOptions o;
    o.bind_address = "127.0.0.1";
    o.port = 0;
    o.api_port = 0;
    o.tls_cert_file = pki.server_cert;
    o.tls_key_file = pki.server_key;
    o.tokens_file = dir.File("tokens.json");
    if (tweak) tweak(o);
    options = o;
    Restart();
  }

  // Stops the hub (if running) and starts a new one with the same options
  // (new ephemeral ports, same state file).
  void Restart() {
    hub.reset();
    hub = std::make_unique<Hub>(options);
    std::string error;
    bool started = hub->Start(&error);
    INFO(error);
    REQUIRE(started);
  }
};

inline protocol::Hello MakeHello(std::vector<int> versions = {1}) {
  protocol::Hello h;
  h.agent_version = "0.1.0-test";
  h.protocol_versions = std::move(versions);
  h.cluster = {"uid-123", "prod-eu", "v1.30.2"};
  h.node = "node-a";
  h.pod = "agent-0";
  return h;
}

// A blocking WebSocket agent; reads time out after 10 s.
class RawAgent {
 public:
  explicit RawAgent(const std::string& ca) : ctx_(asio::ssl::context::tls_client), ws_(io_, ctx_) {
    ctx_.load_verify_file(ca);
    ctx_.set_verify_mode(asio::ssl::verify_peer);
  }

  // What Connect offers in Sec-WebSocket-Protocol when `subprotocol` is
  // true. With srexpert.v1.deflate agreed, Send compresses and Read
  // inflates as the protocol says.
  void Offer(std::string subprotocols) { offer_ = std::move(subprotocols); }

  // Returns the HTTP status of the upgrade (101 on success).
  int Connect(uint16_t port, const std::string& token, bool subprotocol = true,
              const std::string& path = std::string(protocol::kTunnelPath)) {
    tcp::resolver resolver(io_);
    auto& sock = beast::get_lowest_layer(ws_);
    asio::connect(sock, resolver.resolve("127.0.0.1", std::to_string(port)));
    timeval tv{10, 0};
    setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL_set_tlsext_host_name(ws_.next_layer().native_handle(), "localhost");
    ws_.next_layer().handshake(asio::ssl::stream_base::client);
    ws_.set_option(websocket::stream_base::decorator([token, subprotocol, offer = offer_](websocket::request_type& r) {
      if (!token.empty()) r.set(http::field::authorization, "Bearer " + token);
      if (subprotocol) r.set(http::field::sec_websocket_protocol, offer);
    }));
    websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    ws_.set_option(pmd);
    ws_.read_message_max(64 * 1024 * 1024);
    // The async handshake fills `res` even when the upgrade is declined; the
    // synchronous one in Boost 1.74 does not.
    websocket::response_type res;
    ws_.async_handshake(res, "localhost", path, [](boost::system::error_code) {});
    io_.restart();
    io_.run();
    subprotocol_ = std::string(res[http::field::sec_websocket_protocol]);
    pmd_agreed_ = res[http::field::sec_websocket_extensions].find("permessage-deflate") !=
                  beast::string_view::npos;
    return static_cast<int>(res.result_int());
  }

  bool deflate() const { return subprotocol_ == protocol::kSubprotocolDeflate; }
  // Whether the hub agreed to Beast's permessage-deflate as well.
  bool pmd_agreed() const { return pmd_agreed_; }
  // A binary frame as it is, e.g. a corrupt compressed message.
  void SendBinary(const std::string& bytes) {
    ws_.binary(true);
    ws_.write(asio::buffer(bytes));
  }
  // Bytes of the last message read as they arrived (compressed or not).
  size_t last_frame_bytes() const { return last_frame_bytes_; }

  void Send(const std::string& text) {
    if (deflate()) {
      auto frame = compress_.Compress(text);
      REQUIRE(frame);
      return SendBinary(*frame);
    }
    ws_.text(true);
    ws_.write(asio::buffer(text));
  }
  void Send(const protocol::Message& m) { Send(*protocol::Encode(m)); }

  // The next message; nullopt when the connection closed (see close_code()).
  std::optional<protocol::Message> Read() {
    beast::flat_buffer buf;
    boost::system::error_code ec;
    ws_.read(buf, ec);
    if (ec) {
      close_code_ = ws_.reason().code;
      return std::nullopt;
    }
    std::string text = beast::buffers_to_string(buf.data());
    last_frame_bytes_ = text.size();
    if (ws_.got_binary()) {
      REQUIRE(deflate());
      std::string inflated, error;
      INFO(error);
      REQUIRE(inflate_.Decompress(text, 64 * 1024 * 1024, &inflated, &error) ==
              net::MessageDecompressor::Status::kOk);
      text = std::move(inflated);
    }
    auto d = protocol::Decode(text, 64 * 1024 * 1024);
    REQUIRE(d.ok());
    return d.message;
  }

  template <typename T>
  T ReadAs() {
    auto m = Read();
    REQUIRE(m);
    INFO("got " << protocol::TypeName(*m));
    REQUIRE(std::holds_alternative<T>(*m));
    return std::get<T>(*m);
  }

  // Reads until the connection closes; returns the close code.
  int ReadUntilClosed() {
    for (int i = 0; i < 100; ++i) {
      if (!Read()) return close_code_;
    }
    return -1;
  }

  protocol::Welcome Handshake(protocol::Hello hello = MakeHello()) {
    Send(hello);
    return ReadAs<protocol::Welcome>();
  }

  const std::string& subprotocol() const { return subprotocol_; }
  int close_code() const { return close_code_; }

 private:
  asio::io_context io_;
  asio::ssl::context ctx_;
  websocket::stream<beast::ssl_stream<tcp::socket>> ws_;
  std::string offer_{protocol::kSubprotocol};
  std::string subprotocol_;
  bool pmd_agreed_ = false;
  net::MessageCompressor compress_;
  net::MessageDecompressor inflate_;
  size_t last_frame_bytes_ = 0;
  int close_code_ = 0;
};

inline std::optional<ClusterStatus> FindCluster(Hub& hub, const std::string& name) {
  for (auto& c : hub.Clusters()) {
    if (c.name == name) return c;
  }
  return std::nullopt;
}

// A snapshot part with a valid payload; `objects` is the JSON array text.
inline protocol::StreamMessage SnapshotMessage(int64_t seq, const std::string& objects = "[]",
                                               const std::string& id = "snap", int64_t part = 0,
                                               bool final = true,
                                               const std::string& kinds = "[]") {
  std::string payload = R"({"snapshot":")" + id + R"(","part":)" + std::to_string(part) +
                        (part == 0 ? R"(,"kinds":)" + kinds : std::string()) +
                        R"(,"objects":)" + objects + "}";
  return {protocol::StreamMessage::Kind::kSnapshot, seq, payload, final};
}

inline protocol::StreamMessage DeltaMessage(int64_t seq, const std::string& payload) {
  return {protocol::StreamMessage::Kind::kDelta, seq, payload, true};
}

// A delta payload with one change.
inline std::string OneChange(const std::string& op, const std::string& name,
                             const std::string& object = "{}") {
  return R"({"changes":[{"op":")" + op + R"(","kind":"Pod","namespace":"default","name":")" +
         name + "\"" + (op == "deleted" ? std::string() : R"(,"object":)" + object) + "}]}";
}

}  // namespace srexpert::hub::testing
