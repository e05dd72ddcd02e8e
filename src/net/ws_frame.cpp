#include "net/ws_frame.hpp"

#include <algorithm>
#include <cstring>

namespace net::ws {

namespace {

HeaderParse bad(const char* why) { return HeaderParse{ParseStatus::bad, 0, why}; }

bool is_known_opcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

}  // namespace

HeaderParse parse_frame_header(const uint8_t* data, std::size_t size, Role our_role, uint64_t max_payload,
                               FrameHeader& out) {
  if (size < 1) return {};
  const uint8_t b0 = data[0];
  // No extension is ever negotiated, so any RSV bit means the peer is broken (RFC 6455 5.2).
  if ((b0 & 0x70) != 0) return bad("reserved bits set");
  const uint8_t op = b0 & 0x0F;
  if (!is_known_opcode(op)) return bad("reserved opcode");
  const bool fin = (b0 & 0x80) != 0;
  const auto opcode = static_cast<Opcode>(op);
  if (is_control(opcode) && !fin) return bad("fragmented control frame");

  if (size < 2) return {};
  const uint8_t b1 = data[1];
  const bool masked = (b1 & 0x80) != 0;
  // Masking exists to protect intermediaries from client-chosen bytes; RFC 6455 5.1 makes both directions strict.
  if (our_role == Role::server && !masked) return bad("client frame not masked");
  if (our_role == Role::client && masked) return bad("server frame masked");
  const uint8_t len7 = b1 & 0x7F;
  if (is_control(opcode) && len7 > kMaxControlPayload) return bad("control frame too large");

  const std::size_t ext_len = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  const std::size_t header_size = 2 + ext_len + (masked ? 4 : 0);
  if (size < 2 + ext_len) return {};
  uint64_t payload_size = len7;
  if (ext_len != 0) {
    payload_size = 0;
    for (std::size_t i = 0; i < ext_len; ++i) payload_size = (payload_size << 8) | data[2 + i];
    if (ext_len == 8 && (payload_size >> 63) != 0) return bad("64-bit length with the most significant bit set");
  }
  // Checked before the mask arrives so an oversized frame is refused as early as possible.
  if (payload_size > max_payload) {
    // The one refusal the caller answers differently (1009, not 1002): it needs to see what was announced.
    out.fin = fin;
    out.opcode = opcode;
    out.masked = masked;
    out.payload_size = payload_size;
    return bad("frame payload too large");
  }
  if (size < header_size) return {};

  out.fin = fin;
  out.opcode = opcode;
  out.masked = masked;
  out.mask = {};
  if (masked) std::memcpy(out.mask.data(), data + 2 + ext_len, 4);
  out.payload_size = payload_size;
  return HeaderParse{ParseStatus::good, header_size, nullptr};
}

std::size_t encode_frame_header(uint8_t* out, bool fin, Opcode opcode, uint64_t payload_size, const uint8_t* mask) {
  std::size_t n = 0;
  out[n++] = static_cast<uint8_t>((fin ? 0x80 : 0x00) | (static_cast<uint8_t>(opcode) & 0x0F));
  const uint8_t mask_bit = mask != nullptr ? 0x80 : 0x00;
  if (payload_size <= kMaxControlPayload) {
    out[n++] = static_cast<uint8_t>(mask_bit | payload_size);
  } else if (payload_size <= 0xFFFF) {
    out[n++] = static_cast<uint8_t>(mask_bit | 126);
    out[n++] = static_cast<uint8_t>(payload_size >> 8);
    out[n++] = static_cast<uint8_t>(payload_size);
  } else {
    out[n++] = static_cast<uint8_t>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) out[n++] = static_cast<uint8_t>(payload_size >> shift);
  }
  if (mask != nullptr) {
    std::memcpy(out + n, mask, 4);
    n += 4;
  }
  return n;
}

void apply_mask(uint8_t* data, std::size_t size, const std::array<uint8_t, 4>& mask, uint64_t offset) {
  const std::size_t phase = static_cast<std::size_t>(offset & 3);
  std::size_t i = 0;

  // Bytes up to the first 8-byte boundary go one by one so the word loop only does aligned accesses.
  const auto misalign = static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(data) & 7);
  const std::size_t head = std::min(size, misalign == 0 ? std::size_t{0} : 8 - misalign);
  for (; i < head; ++i) data[i] ^= mask[(phase + i) & 3];

  if (size - i >= 8) {
    // Built in memory order, so the word is right whatever the machine's endianness.
    uint8_t pattern[8];
    for (std::size_t k = 0; k < 8; ++k) pattern[k] = mask[(phase + i + k) & 3];
    uint64_t key;
    std::memcpy(&key, pattern, 8);
    // memcpy keeps this free of aliasing UB; compilers turn it into plain (and often vectorised) loads and stores.
    for (; size - i >= 32; i += 32) {
      uint64_t w[4];
      std::memcpy(w, data + i, 32);
      w[0] ^= key;
      w[1] ^= key;
      w[2] ^= key;
      w[3] ^= key;
      std::memcpy(data + i, w, 32);
    }
    for (; size - i >= 8; i += 8) {
      uint64_t w;
      std::memcpy(&w, data + i, 8);
      w ^= key;
      std::memcpy(data + i, &w, 8);
    }
  }

  for (; i < size; ++i) data[i] ^= mask[(phase + i) & 3];
}

bool is_valid_close_code(uint16_t code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

std::string build_close_payload(uint16_t code, std::string_view reason) {
  if (code == 1005) return {};
  std::string out;
  out.reserve(kMaxControlPayload);
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  std::size_t n = std::min(reason.size(), kMaxControlPayload - 2);
  // Back off to the lead byte of a sequence the cut would split.
  while (n > 0 && n < reason.size() && (static_cast<uint8_t>(reason[n]) & 0xC0) == 0x80) --n;
  const std::string_view kept = reason.substr(0, n);
  if (is_valid_utf8(kept)) out.append(kept);
  return out;
}

ClosePayload parse_close_payload(const uint8_t* data, std::size_t size) {
  ClosePayload result;
  if (size == 0) return result;
  if (size == 1 || size > kMaxControlPayload) {
    result.valid = false;
    return result;
  }
  result.code = static_cast<uint16_t>((data[0] << 8) | data[1]);
  if (!is_valid_close_code(result.code) || !is_valid_utf8(data + 2, size - 2)) {
    result.valid = false;
    return result;
  }
  result.reason.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  return result;
}

}  // namespace net::ws
