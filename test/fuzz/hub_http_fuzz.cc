// Raw bytes from the network into srexpert-hub, the way a hostile client
// sends them: the first input byte picks the tunnel listener (HTTP request
// parsing, the WebSocket upgrade with its bearer token and subprotocol
// negotiation, then frames — the seeds carry a token the hub accepts) or
// the REST API listener (routing, query strings, bodies). The rest is
// written on one TCP connection, which is then half-closed.
//
// Properties: whatever the hub answers is an HTTP/1.x response (or nothing:
// it may close), and afterwards both listeners still serve /healthz — one
// connection's garbage never takes the hub down or wedges a listener. The
// hub runs in this process, so AddressSanitizer sees its parsers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/log.h"
#include "hub/hub.h"
#include "test/fuzz/fuzz_target.h"
#include "test/kube/temp_dir.h"

using namespace srexpert;

namespace {

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Writes `bytes`, half-closes, reads until the peer closes (or 1 s of
// silence). Returns what was read; `ok` false when connecting failed.
std::string Exchange(uint16_t port, std::string_view bytes, bool* ok) {
  *ok = false;
  int fd = Connect(port);
  if (fd < 0) return {};
  *ok = true;
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the hub may close early on a bad request
    off += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 20)) break;
  }
  close(fd);
  return out;
}

bool Healthy(uint16_t port) {
  bool ok = false;
  std::string r = Exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &ok);
  return ok && r.rfind("HTTP/1.1 200", 0) == 0;
}

struct Fixture {
  std::unique_ptr<hub::Hub> hub;
  Fixture() {
    // Every bad input is logged; at fuzzing speed that is the bottleneck.
    log::SetSink([](std::string_view) {});
    // Removed at exit, though the fixture itself lives on (below): every
    // corpus replay in CI would otherwise leave one behind.
    static const kube::testing::TempDir scratch;
    hub::HubOptions o;
    o.bind_address = "127.0.0.1";
    o.port = 0;
    o.allow_plain_ws = true;
    o.tokens_file = scratch.Write("tokens.json", R"({"clusters":[{"name":"fuzz","token":"fuzz-token"}]})");
    o.api_port = 0;
    o.handshake_timeout = std::chrono::milliseconds(500);
    o.idle_timeout = std::chrono::milliseconds(2000);
    hub = std::make_unique<hub::Hub>(o);
    std::string error;
    if (!hub->Start(&error)) {
      std::fprintf(stderr, "hub did not start: %s\n", error.c_str());
      std::abort();
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fx = new Fixture();  // lives for the process, as libFuzzer's targets do
  if (size == 0) return 0;
  bool api = (data[0] & 1) != 0;
  uint16_t port = api ? fx->hub->api_port() : fx->hub->tunnel_port();
  bool ok = false;
  std::string reply = Exchange(port, fuzz::AsText(data + 1, size - 1), &ok);
  FUZZ_CHECK(ok);
  FUZZ_CHECK(reply.empty() || reply.rfind("HTTP/1.", 0) == 0);
  FUZZ_CHECK(Healthy(fx->hub->tunnel_port()));
  FUZZ_CHECK(Healthy(fx->hub->api_port()));
  return 0;
}
