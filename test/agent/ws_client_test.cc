// The tunnel's WebSocket client streams (net/ws_client.h): every handshake
// key and every frame's masking key must be fresh and unpredictable (RFC
// 6455 sections 4.1, 5.3, 10.3). Boost.Beast 1.74's own generator repeats
// each 64-byte block 16 times, so on its stock streams 1000 handshakes give
// a few hundred distinct keys and masks repeat in runs; these tests count.
#include "net/ws_client.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test/net/test_support.h"

using namespace srexpert;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr int kDraws = 1000;

// The keys the decorator sees in `draws` handshakes of a fresh `Ws` each.
// Beast builds the upgrade request (key included) when the handshake starts;
// the unconnected stream then fails the write, which does not matter here.
template <typename Ws, typename... Args>
std::vector<std::string> HandshakeKeys(int draws, Args&... args) {
  std::vector<std::string> keys;
  for (int i = 0; i < draws; ++i) {
    asio::io_context io;
    Ws ws(io.get_executor(), args...);
    ws.set_option(websocket::stream_base::decorator([&keys](websocket::request_type& req) {
      keys.emplace_back(req[http::field::sec_websocket_key]);
    }));
    websocket::response_type res;
    ws.async_handshake(res, "localhost", "/api/v1/tunnel", [](boost::system::error_code) {});
    io.run();
  }
  return keys;
}

std::string AcceptKey(const std::string& key) {
  std::string input = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, digest, sizeof digest);
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

// A server that answers the upgrade by hand and then reads the client's
// frames raw, so the masking keys can be seen: each one-byte text message is
// 0x81, 0x81 (masked, length 1), the 4-byte key, the masked byte.
template <typename Stream>
std::vector<uint32_t> ReadMasks(Stream& stream, int frames) {
  beast::flat_buffer buf;
  http::request<http::empty_body> req;
  http::read(stream, buf, req);
  REQUIRE(buf.size() == 0);  // the client sends no frame before the 101
  std::string res = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: " +
                    AcceptKey(std::string(req[http::field::sec_websocket_key])) + "\r\n\r\n";
  asio::write(stream, asio::buffer(res));
  std::vector<unsigned char> raw(static_cast<size_t>(frames) * 7);
  asio::read(stream, asio::buffer(raw));
  std::vector<uint32_t> masks;
  for (int i = 0; i < frames; ++i) {
    const unsigned char* f = &raw[static_cast<size_t>(i) * 7];
    REQUIRE(f[0] == 0x81);
    REQUIRE(f[1] == 0x81);
    uint32_t mask;
    std::memcpy(&mask, f + 2, 4);
    masks.push_back(mask);
  }
  return masks;
}

// Two draws of 32 bits may collide by chance (about 1 in 8,600 for 1000
// draws); more than one collision means the generator repeats itself.
void CheckFreshMasks(const std::vector<uint32_t>& masks) {
  REQUIRE(masks.size() == kDraws);
  std::set<uint32_t> distinct(masks.begin(), masks.end());
  CHECK(distinct.size() >= masks.size() - 1);
  CHECK(distinct.count(0) == 0);
}

}  // namespace

TEST_CASE("the tunnel's client streams draw a fresh Sec-WebSocket-Key for every handshake",
          "[net][prng]") {
  SECTION("ws://") {
    auto keys = HandshakeKeys<net::ClientWebSocket>(kDraws);
    REQUIRE(keys.size() == kDraws);
    CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == keys.size());
    for (const auto& k : keys) CHECK(k.size() == 24);
  }
  SECTION("wss://") {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    auto keys = HandshakeKeys<net::ClientTlsWebSocket>(kDraws, ctx);
    REQUIRE(keys.size() == kDraws);
    CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == keys.size());
  }
}

TEST_CASE("the tunnel's client streams mask every frame with a fresh key", "[net][prng]") {
  SECTION("ws://") {
    asio::io_context server_io;
    tcp::acceptor acceptor(server_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::vector<uint32_t> masks;
    std::thread server([&] {
      tcp::socket socket(server_io);
      acceptor.accept(socket);
      masks = ReadMasks(socket, kDraws);
    });
    asio::io_context io;
    net::ClientWebSocket ws(io.get_executor());
    beast::get_lowest_layer(ws).connect(acceptor.local_endpoint());
    ws.handshake("localhost", "/api/v1/tunnel");
    ws.text(true);
    for (int i = 0; i < kDraws; ++i) ws.write(asio::buffer(std::string("x")));
    server.join();
    CheckFreshMasks(masks);
  }
  SECTION("wss://") {
    srexpert::testing::TempDir dir;
    srexpert::testing::TestPki pki(dir.path());
    asio::ssl::context server_ctx(asio::ssl::context::tls_server);
    server_ctx.use_certificate_chain_file(pki.server_cert);
    server_ctx.use_private_key_file(pki.server_key, asio::ssl::context::pem);
    asio::io_context server_io;
    tcp::acceptor acceptor(server_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::vector<uint32_t> masks;
    std::thread server([&] {
      asio::ssl::stream<tcp::socket> stream(server_io, server_ctx);
      acceptor.accept(stream.next_layer());
      stream.handshake(asio::ssl::stream_base::server);
      masks = ReadMasks(stream, kDraws);
    });
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.load_verify_file(pki.ca_cert);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    asio::io_context io;
    net::ClientTlsWebSocket ws(io.get_executor(), ctx);
    beast::get_lowest_layer(ws).connect(acceptor.local_endpoint());
    ws.next_layer().handshake(asio::ssl::stream_base::client);
    ws.handshake("localhost", "/api/v1/tunnel");
    ws.text(true);
    for (int i = 0; i < kDraws; ++i) ws.write(asio::buffer(std::string("x")));
    server.join();
    CheckFreshMasks(masks);
  }
}
