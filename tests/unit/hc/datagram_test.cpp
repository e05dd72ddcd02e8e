// azbridge's datagram framing and replies, checked against the bytes of the reference (azbridge.md 2.3 and 2.5), not
// against our own encoder.
#include <catch2/catch.hpp>

#include "hc/datagram.hpp"

#include <string>
#include <vector>

using namespace hc;

namespace {

std::vector<uint8_t> bytes(std::initializer_list<int> list) {
  std::vector<uint8_t> out;
  for (int b : list) out.push_back(static_cast<uint8_t>(b));
  return out;
}

// Feeds `stream` in pieces of the given sizes (the last piece repeats), collecting every datagram.
std::vector<std::string> deframe(const std::vector<uint8_t>& stream, std::vector<std::size_t> pieces,
                                 std::size_t* buffered_max = nullptr) {
  DatagramDeframer d;
  std::vector<std::string> out;
  std::size_t pos = 0, piece = 0;
  while (pos < stream.size()) {
    const std::size_t n = std::min(pieces[std::min(piece++, pieces.size() - 1)], stream.size() - pos);
    std::size_t off = 0;
    while (true) {
      std::size_t used = 99999;
      const ParseStatus s = d.feed(stream.data() + pos + off, n - off, used);
      REQUIRE(used <= n - off);
      off += used;
      if (buffered_max != nullptr) *buffered_max = std::max(*buffered_max, d.buffered());
      if (s == ParseStatus::need_more) {
        REQUIRE(off == n);
        break;
      }
      REQUIRE(s == ParseStatus::good);
      out.emplace_back(reinterpret_cast<const char*>(d.data()), d.size());
      if (off == n) break;
    }
    pos += n;
  }
  return out;
}

}  // namespace

TEST_CASE("datagram header is the length in two big-endian bytes", "[datagram]") {
  // azbridge: buffer[0] = len / 256, buffer[1] = len % 256.
  CHECK(encode_datagram("A") == std::string("\x00\x01" "A", 3));
  CHECK(encode_datagram(std::string(512, 'x')).substr(0, 2) == std::string("\x02\x00", 2));
  CHECK(encode_datagram(std::string(1472, 'x')).substr(0, 2) == std::string("\x05\xc0", 2));
  CHECK(encode_datagram(std::string(65507, 'x')).substr(0, 2) == std::string("\xff\xe3", 2));
  CHECK(encode_datagram(std::string(65535, 'x')).substr(0, 2) == std::string("\xff\xff", 2));
  CHECK(encode_datagram("") == std::string("\x00\x00", 2));
  CHECK(encode_datagram(std::string(300, 'y')).size() == 302);
}

TEST_CASE("de-framer reads datagrams written by hand in any split", "[datagram]") {
  // 3 datagrams: "hi", "" (empty), 258 bytes of 'z' (length 0x0102).
  std::vector<uint8_t> stream = bytes({0x00, 0x02, 'h', 'i', 0x00, 0x00, 0x01, 0x02});
  stream.insert(stream.end(), 258, 'z');
  const std::vector<std::string> expected = {"hi", "", std::string(258, 'z')};
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    INFO("pieces of " << piece);
    CHECK(deframe(stream, {piece}) == expected);
  }
  // The Rust port's way: length and payload as two messages.
  CHECK(deframe(stream, {2, 2, 2, 0 + 2, 258}) == expected);
}

TEST_CASE("de-framer hands out a whole datagram in place, a split one from its buffer", "[datagram]") {
  const std::vector<uint8_t> one = bytes({0x00, 0x03, 'a', 'b', 'c'});
  DatagramDeframer d;
  std::size_t used = 0;
  REQUIRE(d.feed(one.data(), one.size(), used) == ParseStatus::good);
  CHECK(used == 5);
  CHECK(d.data() == one.data() + 2);  // no copy
  CHECK(d.buffered() == 0);
  REQUIRE(d.feed(one.data(), 3, used) == ParseStatus::need_more);
  CHECK(d.buffered() == 3);
  REQUIRE(d.feed(one.data() + 3, 2, used) == ParseStatus::good);
  CHECK(std::string(reinterpret_cast<const char*>(d.data()), d.size()) == "abc");
}

TEST_CASE("de-framer keeps at most one datagram however the stream is cut", "[datagram]") {
  std::vector<uint8_t> stream;
  for (int i = 0; i < 4; ++i) {
    stream.push_back(0xff);
    stream.push_back(0xff);
    stream.insert(stream.end(), 65535, static_cast<uint8_t>('0' + i));
  }
  std::size_t buffered_max = 0;
  const auto got = deframe(stream, {1000}, &buffered_max);
  REQUIRE(got.size() == 4);
  CHECK(got[3] == std::string(65535, '3'));
  CHECK(buffered_max <= 2 + 65535);
}

TEST_CASE("listener answers as azbridge for mode and port protocol", "[datagram][preamble]") {
  const auto s = [](std::initializer_list<int> l) {
    std::string out;
    for (int b : l) out += static_cast<char>(b);
    return out;
  };
  CHECK(preamble_answer(PreambleMode::datagram, true) == s({0x01, 0x00, 0x01}));
  CHECK(preamble_answer(PreambleMode::stream, false) == s({0x01, 0x00, 0x00}));
  CHECK(preamble_answer(PreambleMode::stream, true) == s({0x00, 0x00, 0x01}));    // UDP port, stream asked
  CHECK(preamble_answer(PreambleMode::datagram, false) == s({0x00, 0x00, 0xff}));  // stream port, UDP asked
}

TEST_CASE("the datagram sender accepts only 01 00 01", "[datagram][preamble]") {
  const auto r = [](int a, int b, int c) {
    const uint8_t reply[3] = {static_cast<uint8_t>(a), static_cast<uint8_t>(b), static_cast<uint8_t>(c)};
    return classify_preamble_reply(reply, PreambleMode::datagram);
  };
  CHECK(r(1, 0, 1) == PreambleReply::accepted);
  CHECK(r(1, 0, 0) == PreambleReply::invalid);  // a stream accept is not an answer to a datagram preamble
  CHECK(r(0, 0, 0xff) == PreambleReply::need_stream);
  CHECK(r(0, 0, 1) == PreambleReply::need_datagram);
  CHECK(r(0, 0, 0) == PreambleReply::bad_version);
  CHECK(r(1, 1, 1) == PreambleReply::invalid);
  // And the datagram preamble itself, as the C# UDP sender writes it: 01 00 01 05 "5353U".
  CHECK(encode_preamble(PreambleMode::datagram, "5353U") == std::string("\x01\x00\x01\x05" "5353U", 9));
}
