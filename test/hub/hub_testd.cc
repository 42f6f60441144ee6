// A hub process for tests that need a real, separate peer (SIGSTOP, kill
// and restart). Usage:
//   srx_hub_testd --port N --tokens FILE [--cert F --key F | --plain]
//                 [--state-file F] [--api-port N]
// Logs JSON lines to stderr; exits on SIGTERM/SIGINT.
#include <cstdlib>
#include <cstring>
#include <string>

#include "hub/hub.h"

int main(int argc, char** argv) {
  srexpert::hub::HubOptions o;
  o.bind_address = "127.0.0.1";
  o.api_enabled = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--port") o.port = static_cast<uint16_t>(std::atoi(next().c_str()));
    else if (a == "--tokens") o.tokens_file = next();
    else if (a == "--cert") o.tls_cert_file = next();
    else if (a == "--key") o.tls_key_file = next();
    else if (a == "--plain") o.allow_plain_ws = true;
    else if (a == "--state-file") o.state_file = next();
    else if (a == "--api-port") {
      o.api_enabled = true;
      o.api_port = static_cast<uint16_t>(std::atoi(next().c_str()));
    }
    else return 2;
  }
  return srexpert::hub::RunHub(o);
}
