#include "test/apiserver/pki.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace srexpert::testing {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

[[noreturn]] void Fail(const std::string& what) {
  char buf[256] = {0};
  ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
  throw std::runtime_error("test PKI: " + what + ": " + buf);
}

KeyPtr NewKey() {
  // EC P-256 keeps start-up fast (RSA-2048 generation takes ~100 ms each).
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) Fail("generating an EC key");
  return key;
}

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) Fail(std::string("building extension ") + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

CertPtr NewCert(EVP_PKEY* key, const char* cn, long serial, X509* issuer, EVP_PKEY* issuer_key,
                bool is_ca) {
  CertPtr cert(X509_new());
  if (!cert) Fail("allocating a certificate");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  // Backdate an hour so a client clock slightly behind still accepts it.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 365);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* actual_issuer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(actual_issuer));
  if (is_ca) {
    AddExtension(cert.get(), actual_issuer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert.get(), actual_issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    AddExtension(cert.get(), actual_issuer, NID_subject_key_identifier, "hash");
  } else {
    AddExtension(cert.get(), actual_issuer, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert.get(), actual_issuer, NID_key_usage, "critical,digitalSignature");
    AddExtension(cert.get(), actual_issuer, NID_ext_key_usage, "serverAuth");
    AddExtension(cert.get(), actual_issuer, NID_subject_alt_name,
                 "IP:127.0.0.1,IP:::1,DNS:localhost");
    AddExtension(cert.get(), actual_issuer, NID_authority_key_identifier, "keyid");
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) Fail("signing a certificate");
  return cert;
}

void WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("test PKI: cannot write " + path);
  bool ok = cert != nullptr ? PEM_write_X509(f, cert) == 1
                            : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr,
                                                   nullptr) == 1;
  std::fclose(f);
  if (!ok) Fail("writing " + path);
}

}  // namespace

PkiFiles GeneratePki(const std::string& dir) {
  KeyPtr ca_key = NewKey();
  CertPtr ca = NewCert(ca_key.get(), "kube-test-apiserver-ca", 1, nullptr, ca_key.get(), true);
  KeyPtr server_key = NewKey();
  CertPtr server =
      NewCert(server_key.get(), "kube-test-apiserver", 2, ca.get(), ca_key.get(), false);
  PkiFiles files{dir + "/ca.crt", dir + "/server.crt", dir + "/server.key"};
  WritePem(files.ca_cert, ca.get(), nullptr);
  WritePem(files.server_cert, server.get(), nullptr);
  WritePem(files.server_key, nullptr, server_key.get());
  return files;
}

}  // namespace srexpert::testing
