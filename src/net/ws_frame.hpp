// The pure part of RFC 6455: frame headers, masking, close payloads and UTF-8 checks.
// No I/O and no allocation on the frame path, so the connection code stays thin and all of this can be
// unit-tested and fuzzed on raw bytes.
#pragma once

#include "hc/utf8.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace net::ws {

enum class Opcode : uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };
inline bool is_control(Opcode op) { return (static_cast<uint8_t>(op) & 0x8) != 0; }

// Our role: a server expects masked frames from its peer, a client expects unmasked ones.
enum class Role { client, server };

struct FrameHeader {
  bool fin = true;
  Opcode opcode = Opcode::binary;
  bool masked = false;
  std::array<uint8_t, 4> mask{};
  uint64_t payload_size = 0;
};

constexpr std::size_t kMaxFrameHeaderSize = 14;
// RFC 6455 5.5: every control frame payload, close included, fits in the 7-bit length form.
constexpr std::size_t kMaxControlPayload = 125;

enum class ParseStatus { need_more, good, bad };

struct HeaderParse {
  ParseStatus status = ParseStatus::need_more;
  std::size_t header_size = 0;  // set when good
  const char* error = nullptr;  // static string, set when bad
};

// Parses the header at the start of [data, data+size). Call again with more bytes on need_more; a violation is
// reported as soon as the bytes that show it are present, so a hostile peer is dropped without waiting.
// `out` is written only when good, and for "frame payload too large" (fin, opcode, masked and payload_size, so the
// caller can fail the connection with 1009 rather than 1002). Non-minimal length encodings are accepted (RFC 6455 asks senders, not receivers).
HeaderParse parse_frame_header(const uint8_t* data, std::size_t size, Role our_role, uint64_t max_payload,
                               FrameHeader& out);

// Writes a header into out (>= kMaxFrameHeaderSize bytes) using the shortest length form; masked when
// mask != nullptr. payload_size must be < 2^63. Returns the header size.
std::size_t encode_frame_header(uint8_t* out, bool fin, Opcode opcode, uint64_t payload_size, const uint8_t* mask);

// XORs data in place with the mask. `offset` is the position of data[0] within the frame payload, so a payload
// can be (un)masked in chunks as it arrives.
void apply_mask(uint8_t* data, std::size_t size, const std::array<uint8_t, 4>& mask, uint64_t offset);

// Close codes a peer may put on the wire (RFC 6455 7.4.1 and the IANA registry): 1000-1003, 1007-1014, 3000-4999.
bool is_valid_close_code(uint16_t code);

// Builds a close frame payload. code 1005 ("no status") yields an empty payload, since 1005 itself must never be
// sent; any other code should satisfy is_valid_close_code. The reason is cut to fit 125 bytes without splitting a
// UTF-8 sequence, and dropped entirely if it is not valid UTF-8 (the peer would have to fail the connection).
std::string build_close_payload(uint16_t code, std::string_view reason);

struct ClosePayload {
  bool valid = true;
  uint16_t code = 1005;  // 1005 = no status present (empty payload)
  std::string reason;    // only filled when valid
};
// Invalid (the peer must be failed with 1002 / 1007): size 1, a code not allowed on the wire, a reason that is
// not UTF-8, or a payload over 125 bytes. `code` still carries what was read when size >= 2.
ClosePayload parse_close_payload(const uint8_t* data, std::size_t size);

// The project's one UTF-8 validator lives in src/hc (control messages need it too).
using hc::is_valid_utf8;
using hc::Utf8Validator;

}  // namespace net::ws
