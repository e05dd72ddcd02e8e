// Thin wrappers over OpenSSL for the few primitives the protocol needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hc {

std::string base64_encode(std::string_view bytes);
// Standard alphabet with padding; whitespace is not accepted. nullopt when the text is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

// Raw 32-byte HMAC-SHA256 of `data` keyed by the bytes of `key`.
std::string hmac_sha256(std::string_view key, std::string_view data);
// Raw 20-byte SHA-1 (needed only for the WebSocket accept key).
std::string sha1(std::string_view data);

// Cryptographically random bytes; aborts only if the OpenSSL RNG itself fails.
void random_bytes(void* out, std::size_t n);

// Compares in time independent of where the first difference is.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace hc
