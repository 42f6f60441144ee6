// Unpredictable bytes for the WebSocket client: Sec-WebSocket-Key nonces and
// frame masking keys (RFC 6455 sections 4.1 and 10.3), and ids that must not
// be guessed. Backed by OpenSSL's
// DRBG (RAND_bytes); if that ever fails, by the kernel (std::random_device,
// getrandom on Linux). Never a seeded userspace PRNG: a masking key an
// application can predict defeats the point of masking. Thread-safe, never
// throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace srexpert::net {

void SecureRandomBytes(void* out, size_t n);

// A non-zero masking key (Beast treats 0 as "no key"; RFC 6455 allows any).
uint32_t SecureMaskingKey();

// A Sec-WebSocket-Key: 16 random bytes, base64 (24 characters).
std::string NewWebSocketKey();

// `bytes` random bytes as lower-case hex: unguessable ids (hub sessions,
// asynchronous API requests).
std::string RandomHex(size_t bytes);

}  // namespace srexpert::net
