// TLS contexts for both ends of the tunnel and for the HTTP server. Client
// verification: system CAs plus an optional extra CA bundle, SNI, and host
// name checking by OpenSSL (RFC 6125), with failures described in one line
// ("certificate verify failed: self-signed certificate in certificate chain
// (host backend.example)").
#pragma once

#include <memory>
#include <string>
#include <string_view>

struct ssl_st;  // OpenSSL's SSL

namespace boost::asio::ssl {
class context;
}

namespace srexpert::net {

struct TlsClientConfig {
  bool use_system_cas = true;
  // Optional PEM bundle of extra trusted CAs (the AgentConfig's caBundle).
  std::string ca_file;
};

// A client context requiring TLS 1.2+, with peer verification on. nullptr and
// `error` when the CA bundle cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> MakeTlsClientContext(const TlsClientConfig& config,
                                                                 std::string* error);

// A server context from PEM certificate chain and private key files. nullptr
// and `error` when they cannot be loaded or do not match.
std::shared_ptr<boost::asio::ssl::context> MakeTlsServerContext(const std::string& cert_file,
                                                                 const std::string& key_file,
                                                                 std::string* error);

// Prepares one client connection for `host`: SNI (DNS names only), peer
// verification and host name (or IP literal) checking. Call before the
// handshake. False and `error` when OpenSSL refuses the name.
bool PrepareTlsClient(ssl_st* ssl, std::string_view host, std::string* error);

// Describes a failed handshake: the certificate verification result when
// verification failed, otherwise `handshake_error` (the error_code message).
std::string DescribeTlsFailure(ssl_st* ssl, std::string_view host,
                               std::string_view handshake_error);

}  // namespace srexpert::net
