// net::ws frame header parser, header encoder, masking, close payloads and UTF-8 validation.
// Invariants:
//  - parse_frame_header in both roles and with two payload limits: every prefix of the input gives need_more until the
//    bytes that decide arrive, then the same verdict as the whole input (the parser is fed "in any split");
//  - what parsed is consistent (sizes, mask bit per role, control frame rules, limit) and re-encodes, with
//    encode_frame_header, to a header that parses to the same fields and is never longer;
//  - a complete close frame's payload: parse_close_payload accepts it exactly when build_close_payload rebuilds it;
//  - apply_mask matches a byte-by-byte reference at any alignment and offset, in one go or in two pieces;
//  - Utf8Validator fed whole, byte by byte and in two pieces agrees with is_valid_utf8 and with an independent
//    RFC 3629 decoder, failing at the same byte.
#include "fuzz_check.hpp"

#include "net/ws_frame.hpp"

#include <array>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace ws = net::ws;

namespace {

bool same_header(const ws::FrameHeader& a, const ws::FrameHeader& b) {
  return a.fin == b.fin && a.opcode == b.opcode && a.masked == b.masked && a.payload_size == b.payload_size &&
         (!a.masked || a.mask == b.mask);
}

void check_header(const uint8_t* data, std::size_t size, ws::Role role, uint64_t max_payload) {
  ws::FrameHeader h;
  const ws::HeaderParse r = ws::parse_frame_header(data, size, role, max_payload, h);
  // Prefixes: need_more until the decision, then the same decision.
  bool decided = false;
  for (std::size_t k = 0; k <= size && k <= ws::kMaxFrameHeaderSize; ++k) {
    ws::FrameHeader hk;
    const ws::HeaderParse rk = ws::parse_frame_header(data, k, role, max_payload, hk);
    if (rk.status == ws::ParseStatus::need_more) {
      FUZZ_CHECK(!decided, "need_more after a decision at prefix " + std::to_string(k));
      FUZZ_CHECK(rk.error == nullptr, "need_more with an error");
      continue;
    }
    decided = true;
    FUZZ_CHECK(rk.status == r.status, "prefix " + std::to_string(k) + " decided differently from the whole input");
    if (r.status == ws::ParseStatus::good) {
      FUZZ_CHECK(rk.header_size == r.header_size && same_header(hk, h), "prefix " + std::to_string(k));
    } else {
      FUZZ_CHECK(rk.error != nullptr && r.error != nullptr && std::strcmp(rk.error, r.error) == 0,
                 "bad for a different reason at prefix " + std::to_string(k));
    }
  }
  if (size >= ws::kMaxFrameHeaderSize) FUZZ_CHECK(r.status != ws::ParseStatus::need_more, "need_more with 14 bytes");
  if (r.status != ws::ParseStatus::good) return;

  const std::size_t ext = (data[1] & 0x7F) == 126 ? 2 : (data[1] & 0x7F) == 127 ? 8 : 0;
  FUZZ_CHECK(r.header_size == 2 + ext + (h.masked ? 4 : 0) && r.header_size <= size, "header size");
  FUZZ_CHECK(h.masked == (role == ws::Role::server), "mask bit against the role");
  FUZZ_CHECK(h.payload_size <= max_payload && (h.payload_size >> 63) == 0, "payload size over the limit");
  FUZZ_CHECK(h.fin == ((data[0] & 0x80) != 0) && static_cast<uint8_t>(h.opcode) == (data[0] & 0x0F), "first byte");
  if (ws::is_control(h.opcode)) FUZZ_CHECK(h.fin && h.payload_size <= ws::kMaxControlPayload, "control frame rules");
  if (h.masked) FUZZ_CHECK(std::memcmp(h.mask.data(), data + 2 + ext, 4) == 0, "mask bytes");

  uint8_t out[ws::kMaxFrameHeaderSize + 2];
  const std::size_t n = ws::encode_frame_header(out, h.fin, h.opcode, h.payload_size, h.masked ? h.mask.data() : nullptr);
  FUZZ_CHECK(n <= r.header_size && n >= 2, "re-encoded header longer than the parsed one");
  ws::FrameHeader h2;
  const ws::HeaderParse r2 = ws::parse_frame_header(out, n, role, max_payload, h2);
  FUZZ_CHECK(r2.status == ws::ParseStatus::good && r2.header_size == n && same_header(h, h2), "encode/parse round trip");

  // A whole close frame: unmask its payload and check parse_close_payload against build_close_payload.
  if (h.opcode == ws::Opcode::close && size - r.header_size >= h.payload_size) {
    std::vector<uint8_t> payload(data + r.header_size, data + r.header_size + h.payload_size);
    if (h.masked) ws::apply_mask(payload.data(), payload.size(), h.mask, 0);
    const ws::ClosePayload cp = ws::parse_close_payload(payload.data(), payload.size());
    if (cp.valid) {
      const std::string rebuilt = ws::build_close_payload(cp.code, cp.reason);
      FUZZ_CHECK(rebuilt == std::string(payload.begin(), payload.end()), "valid close payload does not rebuild");
    }
  }
}

// RFC 3629 decoding, written independently of ws_frame.cpp: index of the first byte that cannot be part of a valid
// sequence (what a fail-fast validator must stop at), size if none; `complete` false when the input ends mid-sequence.
std::size_t reference_utf8(const uint8_t* d, std::size_t n, bool& complete) {
  std::size_t i = 0;
  complete = true;
  while (i < n) {
    const uint8_t b = d[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    uint32_t cp;
    if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return i;
    }
    if (b == 0xC0 || b == 0xC1 || b > 0xF4) return i;
    for (std::size_t k = 1; k < len; ++k) {
      if (i + k >= n) {
        complete = false;
        return n;
      }
      const uint8_t c = d[i + k];
      if ((c & 0xC0) != 0x80) return i + k;
      cp = (cp << 6) | (c & 0x3F);
      // Decide as early as the second byte allows, the way a fail-fast validator must.
      if (k == 1) {
        if (len == 3 && b == 0xE0 && c < 0xA0) return i + k;   // overlong
        if (len == 3 && b == 0xED && c > 0x9F) return i + k;   // surrogate
        if (len == 4 && b == 0xF0 && c < 0x90) return i + k;   // overlong
        if (len == 4 && b == 0xF4 && c > 0x8F) return i + k;   // > U+10FFFF
      }
    }
    const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    FUZZ_CHECK(cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF), "reference decoder inconsistency");
    i += len;
  }
  return n;
}

void check_utf8(const uint8_t* data, std::size_t size) {
  bool ref_complete = true;
  const std::size_t ref_fail = reference_utf8(data, size, ref_complete);
  const bool ref_valid = ref_fail == size && ref_complete;

  ws::Utf8Validator whole;
  const bool whole_ok = whole.feed(data, size);
  FUZZ_CHECK(whole_ok == (ref_fail == size), "Utf8Validator whole-buffer verdict differs from the reference");
  FUZZ_CHECK((whole_ok && whole.complete()) == ref_valid, "Utf8Validator complete() differs from the reference");
  FUZZ_CHECK(ws::is_valid_utf8(data, size) == ref_valid, "is_valid_utf8 differs from the reference");

  ws::Utf8Validator bytes;
  std::size_t first_fail = size;
  for (std::size_t i = 0; i < size; ++i) {
    if (!bytes.feed(data + i, 1)) {
      first_fail = i;
      break;
    }
  }
  FUZZ_CHECK(first_fail == ref_fail || (ref_fail == size && first_fail == size), "fails at byte " +
             std::to_string(first_fail) + ", reference at " + std::to_string(ref_fail));
  if (first_fail == size) FUZZ_CHECK(bytes.complete() == ref_valid, "byte-by-byte complete()");
  else FUZZ_CHECK(!bytes.complete() && !bytes.feed(data, 0), "a failed validator must stay failed");

  if (size > 0) {
    const std::size_t cut = data[0] % (size + 1);
    ws::Utf8Validator two;
    const bool a = two.feed(data, cut);
    const bool b = a && two.feed(data + cut, size - cut);
    FUZZ_CHECK(b == whole_ok && (b && two.complete()) == ref_valid, "split at " + std::to_string(cut));
  }
  ws::Utf8Validator reused = whole;
  reused.reset();
  FUZZ_CHECK(reused.feed(data, size) == whole_ok, "reset()");
}

void check_mask(const uint8_t* data, std::size_t size) {
  if (size < 5) return;
  const std::array<uint8_t, 4> mask = {data[0], data[1], data[2], data[3]};
  const uint64_t offset = data[4];
  const std::size_t n = size - 5;
  if (n == 0) return;
  const uint8_t* payload = data + 5;
  std::vector<uint8_t> expected(payload, payload + n);
  for (std::size_t i = 0; i < n; ++i) expected[i] ^= mask[(offset + i) & 3];

  alignas(16) uint8_t buf[4096 + 16];
  if (n > 4096) return;
  for (std::size_t align = 0; align < 8; ++align) {
    uint8_t* p = buf + align;
    std::memcpy(p, payload, n);
    ws::apply_mask(p, n, mask, offset);
    FUZZ_CHECK(std::memcmp(p, expected.data(), n) == 0, "apply_mask at alignment " + std::to_string(align));
    ws::apply_mask(p, n, mask, offset);
    FUZZ_CHECK(std::memcmp(p, payload, n) == 0, "apply_mask twice is not the identity");
    const std::size_t cut = (offset * 7 + align) % (n + 1);
    std::memcpy(p, payload, n);
    ws::apply_mask(p, cut, mask, offset);
    ws::apply_mask(p + cut, n - cut, mask, offset + cut);
    FUZZ_CHECK(std::memcmp(p, expected.data(), n) == 0, "apply_mask in two pieces, cut at " + std::to_string(cut));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const ws::Role role : {ws::Role::client, ws::Role::server}) {
    check_header(data, size, role, 1 << 16);
    check_header(data, size, role, std::numeric_limits<uint64_t>::max());
  }

  // The input as a close payload on its own.
  const ws::ClosePayload cp = ws::parse_close_payload(data, size);
  if (size == 0) FUZZ_CHECK(cp.valid && cp.code == 1005 && cp.reason.empty(), "empty close payload");
  if (cp.valid && size > 0) {
    FUZZ_CHECK(size >= 2 && size <= ws::kMaxControlPayload && ws::is_valid_close_code(cp.code), "valid close payload");
    FUZZ_CHECK(ws::build_close_payload(cp.code, cp.reason) == std::string(reinterpret_cast<const char*>(data), size),
               "valid close payload does not rebuild");
  }
  if (!cp.valid) FUZZ_CHECK(cp.reason.empty(), "reason filled for an invalid payload");
  // build_close_payload with arbitrary reason bytes always yields a payload parse_close_payload accepts.
  if (size >= 2) {
    const uint16_t code = static_cast<uint16_t>((data[0] << 8) | data[1]);
    const std::string reason(reinterpret_cast<const char*>(data) + 2, size - 2);
    const std::string built = ws::build_close_payload(code, reason);
    FUZZ_CHECK(built.size() <= ws::kMaxControlPayload, "close payload over 125 bytes");
    if (code == 1005) {
      FUZZ_CHECK(built.empty(), "1005 must give an empty payload");
    } else if (ws::is_valid_close_code(code)) {
      const ws::ClosePayload back = ws::parse_close_payload(reinterpret_cast<const uint8_t*>(built.data()), built.size());
      FUZZ_CHECK(back.valid && back.code == code, "built close payload does not parse back");
      FUZZ_CHECK(reason.compare(0, back.reason.size(), back.reason) == 0, "close reason is not a prefix of the input");
      if (ws::is_valid_utf8(reason) && reason.size() <= ws::kMaxControlPayload - 2)
        FUZZ_CHECK(back.reason == reason, "a short valid reason was changed");
    }
  }

  check_utf8(data, size);
  check_mask(data, size);
  return 0;
}
