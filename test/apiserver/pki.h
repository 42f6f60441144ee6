// Test PKI for the loopback API server: a self-signed CA and a serving
// certificate for 127.0.0.1/localhost, generated with the OpenSSL 3 C API so
// no `openssl` binary is needed at start-up.
#pragma once

#include <string>

namespace srexpert::testing {

struct PkiFiles {
  std::string ca_cert;      // PEM, the trust anchor for clients
  std::string server_cert;  // PEM, signed by the CA
  std::string server_key;   // PEM, unencrypted
};

// Writes ca.crt, server.crt and server.key into `dir` (which must exist).
// The serving certificate carries SAN IP:127.0.0.1, IP:::1 and DNS:localhost
// because Go clients (kubectl) ignore the CN. Throws std::runtime_error with
// the OpenSSL reason on failure.
PkiFiles GeneratePki(const std::string& dir);

}  // namespace srexpert::testing
