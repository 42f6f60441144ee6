#include "net/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl/context.hpp>

#include <fmt/format.h>

namespace srexpert::net {

namespace ssl = boost::asio::ssl;

namespace {

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

}  // namespace

std::shared_ptr<ssl::context> MakeTlsClientContext(const TlsClientConfig& config,
                                                   std::string* error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  ERR_clear_error();
  if (config.use_system_cas && SSL_CTX_set_default_verify_paths(native) != 1) {
    if (error) *error = "cannot load the system CA certificates: " + OpenSslErrors();
    return nullptr;
  }
  if (!config.ca_file.empty() &&
      SSL_CTX_load_verify_locations(native, config.ca_file.c_str(), nullptr) != 1) {
    if (error) {
      *error = fmt::format("cannot load CA bundle {}: {}", config.ca_file, OpenSslErrors());
    }
    return nullptr;
  }
  return ctx;
}

std::shared_ptr<ssl::context> MakeTlsServerContext(const std::string& cert_file,
                                                   const std::string& key_file,
                                                   std::string* error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1) {
    if (error) *error = fmt::format("cannot load certificate {}: {}", cert_file, OpenSslErrors());
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (error) *error = fmt::format("cannot load private key {}: {}", key_file, OpenSslErrors());
    return nullptr;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    if (error) {
      *error = fmt::format("private key {} does not match certificate {}", key_file, cert_file);
    }
    return nullptr;
  }
  return ctx;
}

bool PrepareTlsClient(SSL* ssl, std::string_view host_view, std::string* error) {
  std::string host(host_view);
  if (!host.empty() && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  if (IsIpLiteral(host)) {
    // RFC 6066: SNI carries DNS names only; an IP is checked against the
    // certificate's IP SANs.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      if (error) *error = fmt::format("cannot verify IP address {}", host);
      return false;
    }
    return true;
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    if (error) *error = fmt::format("cannot set SNI host name {}", host);
    return false;
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(ssl, host.c_str()) != 1) {
    if (error) *error = fmt::format("cannot verify host name {}", host);
    return false;
  }
  return true;
}

std::string DescribeTlsFailure(SSL* ssl, std::string_view host, std::string_view handshake_error) {
  long result = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (result != X509_V_OK) {
    return fmt::format("certificate verify failed: {} (host {})",
                       X509_verify_cert_error_string(result), host);
  }
  return fmt::format("TLS handshake failed: {} (host {})", handshake_error, host);
}

}  // namespace srexpert::net
