#include "net/secure_random.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <climits>
#include <random>

namespace srexpert::net {

void SecureRandomBytes(void* out, size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  while (n > 0) {
    int chunk = n > INT_MAX ? INT_MAX : static_cast<int>(n);
    if (RAND_bytes(p, chunk) != 1) break;
    p += chunk;
    n -= static_cast<size_t>(chunk);
  }
  if (n == 0) return;
  // RAND_bytes only fails when OpenSSL cannot seed itself; the kernel's
  // generator is still unpredictable, which is all the protocol needs.
  thread_local std::random_device kernel;
  while (n > 0) {
    unsigned int v = kernel();
    for (size_t i = 0; i < sizeof v && n > 0; ++i, --n) *p++ = static_cast<unsigned char>(v >> (8 * i));
  }
}

uint32_t SecureMaskingKey() {
  for (;;) {
    uint32_t key = 0;
    SecureRandomBytes(&key, sizeof key);
    if (key != 0) return key;
  }
}

std::string NewWebSocketKey() {
  unsigned char raw[16];
  SecureRandomBytes(raw, sizeof raw);
  unsigned char text[4 * ((sizeof raw + 2) / 3) + 1];
  int n = EVP_EncodeBlock(text, raw, sizeof raw);
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(n));
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  SecureRandomBytes(raw.data(), raw.size());
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes);
  for (unsigned char c : raw) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

}  // namespace srexpert::net
