#include "net/ws_frame.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace net::ws;

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kNoLimit = ~uint64_t{0} >> 1;

HeaderParse parse(const Bytes& b, Role role, FrameHeader& out, uint64_t max_payload = kNoLimit) {
  return parse_frame_header(b.data(), b.size(), role, max_payload, out);
}

HeaderParse parse(const Bytes& b, Role role, uint64_t max_payload = kNoLimit) {
  FrameHeader h;
  return parse(b, role, h, max_payload);
}

Bytes encode(bool fin, Opcode op, uint64_t size, const uint8_t* mask) {
  Bytes b(kMaxFrameHeaderSize);
  b.resize(encode_frame_header(b.data(), fin, op, size, mask));
  return b;
}

// The obvious byte-by-byte definition that the word-at-a-time version must match.
void naive_mask(uint8_t* data, std::size_t size, const std::array<uint8_t, 4>& mask, uint64_t offset) {
  for (std::size_t i = 0; i < size; ++i) data[i] ^= mask[(offset + i) % 4];
}

Bytes random_bytes(std::mt19937& rng, std::size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// Independent reference for UTF-8 validity: decode each code point and check range, minimality and surrogates.
bool reference_utf8(const Bytes& b) {
  std::size_t i = 0;
  while (i < b.size()) {
    const uint8_t c = b[i];
    std::size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > b.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((b[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b[i + k] & 0x3F);
    }
    const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

TEST_CASE("ws: RFC 6455 5.7 sample frames parse", "[ws]") {
  FrameHeader h;
  const Bytes unmasked_hello = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  auto r = parse(unmasked_hello, Role::client, h);
  REQUIRE(r.status == ParseStatus::good);
  CHECK(r.header_size == 2);
  CHECK(h.fin);
  CHECK(h.opcode == Opcode::text);
  CHECK_FALSE(h.masked);
  CHECK(h.payload_size == 5);

  Bytes masked_hello = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  r = parse(masked_hello, Role::server, h);
  REQUIRE(r.status == ParseStatus::good);
  CHECK(r.header_size == 6);
  CHECK(h.masked);
  CHECK(h.mask == std::array<uint8_t, 4>{0x37, 0xfa, 0x21, 0x3d});
  apply_mask(masked_hello.data() + 6, 5, h.mask, 0);
  CHECK(std::string(masked_hello.begin() + 6, masked_hello.end()) == "Hello");

  const Bytes first_fragment = {0x01, 0x03, 0x48, 0x65, 0x6c};
  r = parse(first_fragment, Role::client, h);
  REQUIRE(r.status == ParseStatus::good);
  CHECK_FALSE(h.fin);
  CHECK(h.opcode == Opcode::text);

  const Bytes binary_256 = {0x82, 0x7E, 0x01, 0x00};
  r = parse(binary_256, Role::client, h);
  REQUIRE(r.status == ParseStatus::good);
  CHECK(r.header_size == 4);
  CHECK(h.payload_size == 256);

  const Bytes binary_64k = {0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
  r = parse(binary_64k, Role::client, h);
  REQUIRE(r.status == ParseStatus::good);
  CHECK(r.header_size == 10);
  CHECK(h.payload_size == 65536);
}

TEST_CASE("ws: all three length forms, masked and not, fed a byte at a time", "[ws]") {
  const uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
  const uint64_t sizes[] = {0, 1, 125, 126, 65535, 65536, (uint64_t{1} << 32) + 5};
  for (uint64_t size : sizes) {
    for (bool masked : {false, true}) {
      CAPTURE(size, masked);
      const Bytes b = encode(true, Opcode::binary, size, masked ? mask : nullptr);
      const std::size_t len_bytes = size <= 125 ? 2 : size <= 0xFFFF ? 4 : 10;
      CHECK(b.size() == len_bytes + (masked ? 4 : 0));
      const Role role = masked ? Role::server : Role::client;
      for (std::size_t n = 0; n < b.size(); ++n) {
        FrameHeader h;
        const auto r = parse_frame_header(b.data(), n, role, kNoLimit, h);
        CHECK(r.status == ParseStatus::need_more);
      }
      FrameHeader h;
      const auto r = parse(b, role, h);
      REQUIRE(r.status == ParseStatus::good);
      CHECK(r.header_size == b.size());
      CHECK(h.payload_size == size);
      CHECK(h.masked == masked);
      if (masked) CHECK(h.mask == std::array<uint8_t, 4>{0xde, 0xad, 0xbe, 0xef});
    }
  }
}

TEST_CASE("ws: parse ignores bytes after the header", "[ws]") {
  Bytes b = encode(true, Opcode::text, 3, nullptr);
  b.insert(b.end(), {'a', 'b', 'c', 0xFF, 0xFF});
  const auto r = parse(b, Role::client);
  CHECK(r.status == ParseStatus::good);
  CHECK(r.header_size == 2);
}

TEST_CASE("ws: bad frame headers", "[ws]") {
  const uint8_t mask[4] = {1, 2, 3, 4};
  auto expect_bad = [](const Bytes& b, Role role, const char* why, uint64_t max = kNoLimit) {
    CAPTURE(b, why);
    const auto r = parse(b, role, max);
    REQUIRE(r.status == ParseStatus::bad);
    REQUIRE(r.error != nullptr);
    CHECK(std::string(r.error) == why);
  };

  SECTION("reserved bits, detected from the first byte") {
    for (uint8_t rsv : {0x40, 0x20, 0x10}) {
      expect_bad({static_cast<uint8_t>(0x82 | rsv)}, Role::client, "reserved bits set");
      expect_bad({static_cast<uint8_t>(0x82 | rsv), 0x00}, Role::client, "reserved bits set");
    }
  }
  SECTION("reserved opcodes") {
    for (uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
      expect_bad({static_cast<uint8_t>(0x80 | op), 0x00}, Role::client, "reserved opcode");
    }
  }
  SECTION("fragmented control frames") {
    for (Opcode op : {Opcode::close, Opcode::ping, Opcode::pong}) {
      expect_bad(encode(false, op, 0, nullptr), Role::client, "fragmented control frame");
    }
  }
  SECTION("control frames over 125 bytes") {
    for (Opcode op : {Opcode::close, Opcode::ping, Opcode::pong}) {
      expect_bad(encode(true, op, 126, nullptr), Role::client, "control frame too large");
      expect_bad(encode(true, op, 70000, nullptr), Role::client, "control frame too large");
      // Detected before the extended length arrives.
      expect_bad({static_cast<uint8_t>(0x80 | static_cast<uint8_t>(op)), 126}, Role::client,
                 "control frame too large");
    }
    CHECK(parse(encode(true, Opcode::ping, 125, nullptr), Role::client).status == ParseStatus::good);
  }
  SECTION("64-bit length with the top bit set") {
    Bytes b = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0};
    expect_bad(b, Role::client, "64-bit length with the most significant bit set");
    b[2] = 0x7F;
    CHECK(parse(b, Role::client).status == ParseStatus::good);
  }
  SECTION("masking must match the role") {
    expect_bad(encode(true, Opcode::binary, 10, nullptr), Role::server, "client frame not masked");
    expect_bad(encode(true, Opcode::binary, 10, mask), Role::client, "server frame masked");
    // Two bytes are enough to tell.
    expect_bad({0x82, 0x0A}, Role::server, "client frame not masked");
    expect_bad({0x82, 0x8A}, Role::client, "server frame masked");
  }
  SECTION("payload over the caller's limit, in each length form") {
    for (uint64_t limit : {uint64_t{10}, uint64_t{1000}, uint64_t{100000}}) {
      CAPTURE(limit);
      CHECK(parse(encode(true, Opcode::binary, limit, mask), Role::server, limit).status == ParseStatus::good);
      expect_bad(encode(true, Opcode::binary, limit + 1, mask), Role::server, "frame payload too large", limit);
    }
    // Refused before the mask key has arrived.
    Bytes b = encode(true, Opcode::binary, 1 << 20, mask);
    b.resize(b.size() - 4);
    expect_bad(b, Role::server, "frame payload too large", 1000);
    // The caller learns what was announced, to answer 1009 (WebSocket::read_step relies on it).
    FrameHeader h;
    const Bytes huge = encode(true, Opcode::text, uint64_t{1} << 40, nullptr);
    CHECK(parse(huge, Role::client, h, 64u << 20).status == ParseStatus::bad);
    CHECK(h.payload_size == uint64_t{1} << 40);
    CHECK(h.opcode == Opcode::text);
  }
}

TEST_CASE("ws: encode/parse round trips", "[ws]") {
  std::mt19937 rng(1234);
  const Opcode ops[] = {Opcode::continuation, Opcode::text, Opcode::binary,
                        Opcode::close,        Opcode::ping, Opcode::pong};
  std::vector<uint64_t> sizes = {0, 1, 2, 124, 125, 126, 127, 200, 65534, 65535, 65536, 65537,
                                 uint64_t{1} << 32, (uint64_t{1} << 63) - 1};
  for (int i = 0; i < 50; ++i) sizes.push_back(rng() % 200000);
  for (Opcode op : ops) {
    for (uint64_t size : sizes) {
      if (is_control(op) && size > kMaxControlPayload) continue;
      for (bool fin : {true, false}) {
        if (is_control(op) && !fin) continue;
        for (bool masked : {false, true}) {
          const uint8_t mask[4] = {static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng()),
                                   static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())};
          const Bytes b = encode(fin, op, size, masked ? mask : nullptr);
          FrameHeader h;
          const auto r = parse(b, masked ? Role::server : Role::client, h);
          REQUIRE(r.status == ParseStatus::good);
          REQUIRE(r.header_size == b.size());
          REQUIRE(h.fin == fin);
          REQUIRE(h.opcode == op);
          REQUIRE(h.masked == masked);
          REQUIRE(h.payload_size == size);
          if (masked) REQUIRE(std::memcmp(h.mask.data(), mask, 4) == 0);
        }
      }
    }
  }
}

TEST_CASE("ws: apply_mask matches the byte-by-byte definition", "[ws][mask]") {
  const std::array<uint8_t, 4> mask = {0x12, 0x34, 0x56, 0x78};
  std::mt19937 rng(42);
  // Room for every pointer misalignment; the vector's storage itself is at least 8-aligned.
  const Bytes source = random_bytes(rng, 200 + 16);
  for (std::size_t align = 0; align < 8; ++align) {
    for (uint64_t offset = 0; offset < 8; ++offset) {
      for (std::size_t size = 0; size <= 200; ++size) {
        Bytes fast = source, slow = source;
        apply_mask(fast.data() + align, size, mask, offset);
        naive_mask(slow.data() + align, size, mask, offset);
        if (fast != slow) {
          CAPTURE(align, offset, size);
          FAIL("apply_mask differs from the reference");
        }
      }
    }
  }

  SECTION("1 MiB at an odd address, and masking twice restores the data") {
    const std::size_t n = 1 << 20;
    Bytes original = random_bytes(rng, n + 8);
    Bytes fast = original, slow = original;
    apply_mask(fast.data() + 3, n, mask, 5);
    naive_mask(slow.data() + 3, n, mask, 5);
    CHECK(fast == slow);
    CHECK(fast != original);
    apply_mask(fast.data() + 3, n, mask, 5);
    CHECK(fast == original);
  }
}

TEST_CASE("ws: chunked unmasking equals whole unmasking", "[ws][mask]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    const std::array<uint8_t, 4> mask = {static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng()),
                                         static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())};
    const std::size_t n = rng() % 5000;
    const Bytes original = random_bytes(rng, n);
    Bytes whole = original;
    apply_mask(whole.data(), n, mask, 0);

    // Chunks land in a separate buffer at arbitrary addresses, as reads into a ring buffer would.
    Bytes chunked;
    std::size_t pos = 0;
    while (pos < n) {
      const std::size_t len = std::min<std::size_t>(n - pos, rng() % 300);
      const std::size_t shift = rng() % 8;
      Bytes scratch(len + shift);
      std::memcpy(scratch.data() + shift, original.data() + pos, len);
      apply_mask(scratch.data() + shift, len, mask, pos);
      chunked.insert(chunked.end(), scratch.begin() + static_cast<std::ptrdiff_t>(shift), scratch.end());
      pos += len;
    }
    REQUIRE(chunked == whole);
  }
}

TEST_CASE("ws: close payloads", "[ws][close]") {
  SECTION("build and parse back") {
    const std::string p = build_close_payload(1000, "bye");
    CHECK(p == std::string("\x03\xE8" "bye", 5));
    const auto c = parse_close_payload(reinterpret_cast<const uint8_t*>(p.data()), p.size());
    CHECK(c.valid);
    CHECK(c.code == 1000);
    CHECK(c.reason == "bye");

    const std::string code_only = build_close_payload(4001, "");
    CHECK(code_only == "\x0F\xA1");
  }
  SECTION("no status") {
    CHECK(build_close_payload(1005, "ignored").empty());
    const auto c = parse_close_payload(nullptr, 0);
    CHECK(c.valid);
    CHECK(c.code == 1005);
    CHECK(c.reason.empty());
  }
  SECTION("one byte is invalid") {
    // The second byte would make a valid code: only the size may decide.
    const uint8_t b[2] = {0x03, 0xE8};
    CHECK_FALSE(parse_close_payload(b, 1).valid);
  }
  SECTION("codes") {
    for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999}) {
      CAPTURE(code);
      const std::string p = build_close_payload(code, "x");
      const auto c = parse_close_payload(reinterpret_cast<const uint8_t*>(p.data()), p.size());
      CHECK(c.valid);
      CHECK(c.code == code);
      CHECK(is_valid_close_code(code));
    }
    for (uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
      CAPTURE(code);
      const uint8_t b[2] = {static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code)};
      const auto c = parse_close_payload(b, 2);
      CHECK_FALSE(c.valid);
      CHECK(c.code == code);
      CHECK_FALSE(is_valid_close_code(code));
    }
  }
  SECTION("reason must be UTF-8") {
    const uint8_t bad_reason[] = {0x03, 0xE8, 'o', 'k', 0xC0, 0xAF};
    CHECK_FALSE(parse_close_payload(bad_reason, sizeof bad_reason).valid);
    const uint8_t good_reason[] = {0x03, 0xE8, 0xE2, 0x82, 0xAC};
    const auto c = parse_close_payload(good_reason, sizeof good_reason);
    CHECK(c.valid);
    CHECK(c.reason == "\xE2\x82\xAC");
    // We never send a reason the peer would have to reject.
    CHECK(build_close_payload(1000, "\xFF\xFE") == "\x03\xE8");
  }
  SECTION("long reasons are cut at a UTF-8 boundary") {
    CHECK(build_close_payload(1000, std::string(300, 'a')).size() == 125);
    const std::string emoji = "\xF0\x9F\x98\x80";
    for (std::size_t prefix = 110; prefix <= 125; ++prefix) {
      std::string reason(prefix, 'a');
      for (int i = 0; i < 10; ++i) reason += emoji;
      CAPTURE(prefix);
      const std::string p = build_close_payload(1001, reason);
      CHECK(p.size() <= 125);
      CHECK(p.size() >= 125 - 3);
      CHECK(reason.compare(0, p.size() - 2, p, 2) == 0);
      const auto c = parse_close_payload(reinterpret_cast<const uint8_t*>(p.data()), p.size());
      CHECK(c.valid);
      CHECK(c.code == 1001);
    }
  }
}

TEST_CASE("ws: UTF-8 validation", "[ws][utf8]") {
  SECTION("valid text") {
    for (const char* s : {"", "hello", "\xC3\xA9t\xC3\xA9", "\xE2\x82\xAC", "\xED\x9F\xBF", "\xEE\x80\x80",
                          "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "\xF0\x9F\x98\x80 ok"}) {
      CAPTURE(s);
      CHECK(is_valid_utf8(s));
    }
  }
  SECTION("invalid text") {
    for (const char* s : {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xF0\x80\x80\x80",
                          "\xF0\x8F\xBF\xBF", "\xED\xA0\x80", "\xED\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80",
                          "\xFF", "\x80", "a\xBF", "\xC3", "\xE2\x82", "\xF0\x9F\x98", "\xC3(", "\xE2\x28\xA1"}) {
      CAPTURE(s);
      CHECK_FALSE(is_valid_utf8(s));
    }
  }
  SECTION("a 4-byte emoji split at every point") {
    const Bytes emoji = {'x', 0xF0, 0x9F, 0x98, 0x80, 'y'};
    for (std::size_t cut = 0; cut <= emoji.size(); ++cut) {
      CAPTURE(cut);
      Utf8Validator v;
      CHECK(v.feed(emoji.data(), cut));
      CHECK(v.complete() == (cut <= 1 || cut >= 5));
      CHECK(v.feed(emoji.data() + cut, emoji.size() - cut));
      CHECK(v.complete());
    }
    Utf8Validator v;
    for (uint8_t b : emoji) CHECK(v.feed(&b, 1));
    CHECK(v.complete());
  }
  SECTION("invalid sequences split across feeds are still caught") {
    const Bytes surrogate = {0xED, 0xA0, 0x80};
    Utf8Validator v;
    CHECK(v.feed(surrogate.data(), 1));
    CHECK_FALSE(v.feed(surrogate.data() + 1, 2));
    CHECK_FALSE(v.complete());
    // Stays failed, even on good input, until reset.
    const uint8_t a = 'a';
    CHECK_FALSE(v.feed(&a, 1));
    v.reset();
    CHECK(v.feed(&a, 1));
    CHECK(v.complete());

    const Bytes too_big = {0xF4, 0x90, 0x80, 0x80};
    Utf8Validator w;
    CHECK(w.feed(too_big.data(), 1));
    CHECK_FALSE(w.feed(too_big.data() + 1, 3));
  }
  SECTION("matches a reference decoder on random input, whole and in chunks") {
    std::mt19937 rng(99);
    const uint8_t interesting[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                   0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
    for (int round = 0; round < 3000; ++round) {
      Bytes b(rng() % 24);
      for (auto& x : b) {
        x = rng() % 3 == 0 ? static_cast<uint8_t>('a') : interesting[rng() % sizeof interesting];
      }
      const bool expected = reference_utf8(b);
      REQUIRE(is_valid_utf8(b.data(), b.size()) == expected);
      Utf8Validator v;
      bool ok = true;
      std::size_t pos = 0;
      while (pos < b.size()) {
        const std::size_t len = std::min<std::size_t>(b.size() - pos, rng() % 4);
        ok = v.feed(b.data() + pos, len) && ok;
        pos += len;
      }
      REQUIRE((ok && v.complete()) == expected);
    }
  }
  SECTION("long ASCII runs with a bad byte anywhere") {
    for (std::size_t pos = 0; pos < 40; ++pos) {
      Bytes b(40, 'a');
      b[pos] = 0x80;
      CAPTURE(pos);
      CHECK_FALSE(is_valid_utf8(b.data(), b.size()));
    }
  }
}
