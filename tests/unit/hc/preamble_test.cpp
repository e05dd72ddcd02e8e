#include <catch2/catch.hpp>

#include "hc/preamble.hpp"

using namespace hc;

namespace {

std::vector<uint8_t> bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

struct FeedResult {
  ParseStatus status = ParseStatus::need_more;
  std::size_t consumed_total = 0;
};

// Feeds `data` in chunks of `chunk` bytes, stopping at the first non-need_more status.
FeedResult feed_in_chunks(PreambleParser& p, const std::vector<uint8_t>& data, std::size_t chunk) {
  FeedResult r;
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t n = std::min(chunk, data.size() - pos);
    std::size_t consumed = 99;
    r.status = p.feed(data.data() + pos, n, consumed);
    REQUIRE(consumed <= n);
    r.consumed_total += consumed;
    if (r.status != ParseStatus::need_more) break;
    REQUIRE(consumed == n);  // everything is preamble until it is complete
    pos += n;
  }
  return r;
}

}  // namespace

TEST_CASE("encode_preamble layout", "[preamble]") {
  CHECK(encode_preamble(PreambleMode::stream, "22") == std::string("\x01\x00\x00\x02" "22", 6));
  CHECK(encode_preamble(PreambleMode::datagram, "5353U") == std::string("\x01\x00\x01\x05" "5353U", 9));
  const std::string long_name(255, 'a');
  const std::string p = encode_preamble(PreambleMode::stream, long_name);
  CHECK(p.size() == 259);
  CHECK(static_cast<uint8_t>(p[3]) == 255);
  // Precondition violated: still self-consistent, never a wrapped length.
  const std::string too_long = encode_preamble(PreambleMode::stream, std::string(300, 'b'));
  CHECK(too_long.size() == 259);
  CHECK(static_cast<uint8_t>(too_long[3]) == 255);
}

TEST_CASE("parser accepts every split and leaves the payload", "[preamble]") {
  const std::string name = "my-port_1.0/x";
  for (PreambleMode mode : {PreambleMode::stream, PreambleMode::datagram}) {
    const std::string pre = encode_preamble(mode, name);
    const std::vector<uint8_t> data = bytes(pre + "PAYLOAD");
    for (std::size_t chunk = 1; chunk <= data.size(); ++chunk) {
      INFO("chunk " << chunk);
      PreambleParser p;
      const FeedResult r = feed_in_chunks(p, data, chunk);
      REQUIRE(r.status == ParseStatus::good);
      CHECK(r.consumed_total == pre.size());
      CHECK(p.version_major() == 1);
      CHECK(p.version_minor() == 0);
      CHECK(p.mode() == mode);
      CHECK(p.port_name() == name);
      CHECK(p.error().empty());
      CHECK(p.bad_reply().empty());
    }
  }
}

TEST_CASE("parser splits at every position of one buffer", "[preamble]") {
  const std::string pre = encode_preamble(PreambleMode::stream, "8080");
  const std::vector<uint8_t> data = bytes(pre + "xyz");
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {
    PreambleParser p;
    std::size_t c1 = 0;
    const ParseStatus s1 = p.feed(data.data(), cut, c1);
    std::size_t c2 = 0;
    const ParseStatus s2 = p.feed(data.data() + c1, data.size() - c1, c2);
    INFO("cut " << cut);
    if (cut >= pre.size()) {
      CHECK(s1 == ParseStatus::good);
      CHECK(c1 == pre.size());
      CHECK(c2 == 0);  // already complete: nothing more consumed
    } else {
      CHECK(s1 == ParseStatus::need_more);
      CHECK(c1 == cut);
      CHECK(c2 == pre.size() - cut);
    }
    CHECK(s2 == ParseStatus::good);
    CHECK(p.port_name() == "8080");
  }
}

TEST_CASE("empty feeds and repeated feeds after completion", "[preamble]") {
  PreambleParser p;
  std::size_t consumed = 7;
  CHECK(p.feed(nullptr, 0, consumed) == ParseStatus::need_more);
  CHECK(consumed == 0);
  const auto data = bytes(encode_preamble(PreambleMode::stream, "a"));
  CHECK(p.feed(data.data(), data.size(), consumed) == ParseStatus::good);
  CHECK(consumed == 5);
  CHECK(p.feed(data.data(), data.size(), consumed) == ParseStatus::good);
  CHECK(consumed == 0);
}

TEST_CASE("bad preambles", "[preamble]") {
  struct Case {
    std::string data;
    const char* error;
    bool version_reply;  // answer {0,0,0} before closing
    std::size_t consumed;
  };
  const std::vector<Case> cases = {
      {std::string("\x02\x00\x00\x02" "22", 6), "unsupported preamble version 2.0", true, 4},
      {std::string("\x00\x00\x00\x02" "22", 6), "unsupported preamble version 0.0", true, 4},
      {std::string("\x01\x01\x00\x02" "22", 6), "unsupported preamble version 1.1", true, 4},
      {std::string("\x01\x00\x02\x02" "22", 6), "unsupported preamble mode 2", true, 4},
      {std::string("\x01\x00\xff\x02" "22", 6), "unsupported preamble mode 255", true, 4},
      {std::string("\x01\x00\x00\x00" "22", 6), "empty port name", false, 4},
      {std::string("\x01\x00\x00\x02" "a b", 7), "invalid port name", false, 6},
      {std::string("\x01\x00\x00\x03" "a\0b", 7), "invalid port name", false, 7},
      {std::string("\x01\x00\x00\x02" "\xc3\xa9", 6), "invalid port name", false, 6},
      {std::string("\x01\x00\x00\x01" ":", 5), "invalid port name", false, 5},
  };
  for (const auto& c : cases) {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, c.data.size()}) {
      INFO(c.error << " chunk " << chunk);
      PreambleParser p;
      const FeedResult r = feed_in_chunks(p, bytes(c.data), chunk);
      REQUIRE(r.status == ParseStatus::bad);
      CHECK(r.consumed_total == c.consumed);
      CHECK_THAT(p.error(), Catch::Contains(c.error));
      CHECK(p.bad_reply() == (c.version_reply ? preamble_reply_bad_version() : std::string()));
      std::size_t again = 9;
      CHECK(p.feed(reinterpret_cast<const uint8_t*>("x"), 1, again) == ParseStatus::bad);
      CHECK(again == 0);
    }
  }
  // The version is only judged once the 4-byte header is complete.
  PreambleParser p;
  std::size_t consumed = 0;
  const uint8_t three[] = {2, 0, 0};
  CHECK(p.feed(three, 3, consumed) == ParseStatus::need_more);
  const uint8_t fourth[] = {1};
  CHECK(p.feed(fourth, 1, consumed) == ParseStatus::bad);
  CHECK(p.version_major() == 2);
}

TEST_CASE("replies and their classification", "[preamble]") {
  CHECK(preamble_reply_accepted(PreambleMode::stream) == std::string("\x01\x00\x00", 3));
  CHECK(preamble_reply_accepted(PreambleMode::datagram) == std::string("\x01\x00\x01", 3));
  CHECK(preamble_reply_bad_version() == std::string("\x00\x00\x00", 3));
  CHECK(preamble_reply_need_datagram() == std::string("\x00\x00\x01", 3));
  CHECK(preamble_reply_need_stream() == std::string("\x00\x00\xff", 3));

  const auto classify = [](const std::string& r, PreambleMode m) {
    REQUIRE(r.size() == 3);
    const uint8_t b[3] = {static_cast<uint8_t>(r[0]), static_cast<uint8_t>(r[1]), static_cast<uint8_t>(r[2])};
    return classify_preamble_reply(b, m);
  };
  CHECK(classify(preamble_reply_accepted(PreambleMode::stream), PreambleMode::stream) == PreambleReply::accepted);
  CHECK(classify(preamble_reply_accepted(PreambleMode::datagram), PreambleMode::datagram) ==
        PreambleReply::accepted);
  // An accept echoing the other mode is not an accept.
  CHECK(classify(preamble_reply_accepted(PreambleMode::datagram), PreambleMode::stream) == PreambleReply::invalid);
  CHECK(classify(preamble_reply_accepted(PreambleMode::stream), PreambleMode::datagram) == PreambleReply::invalid);
  CHECK(classify(preamble_reply_bad_version(), PreambleMode::stream) == PreambleReply::bad_version);
  CHECK(classify(preamble_reply_need_datagram(), PreambleMode::stream) == PreambleReply::need_datagram);
  CHECK(classify(preamble_reply_need_stream(), PreambleMode::datagram) == PreambleReply::need_stream);
  CHECK(classify(std::string("\x01\x01\x00", 3), PreambleMode::stream) == PreambleReply::invalid);
  CHECK(classify(std::string("\x02\x00\x00", 3), PreambleMode::stream) == PreambleReply::invalid);
  CHECK(classify(std::string("\x00\x00\x02", 3), PreambleMode::stream) == PreambleReply::invalid);
  CHECK(classify(std::string("\x00\x01\x00", 3), PreambleMode::stream) == PreambleReply::invalid);
}

TEST_CASE("valid_port_name", "[preamble]") {
  CHECK(valid_port_name("22"));
  CHECK(valid_port_name("5353U"));
  CHECK(valid_port_name("a/b_c-d.e"));
  CHECK(valid_port_name(std::string(255, 'z')));
  CHECK_FALSE(valid_port_name(""));
  CHECK_FALSE(valid_port_name(std::string(256, 'z')));
  for (const char* bad : {"a b", "a:b", "a\\b", "a@b", "\xc3\xa9", "a\nb", "a~b", "a+b"}) {
    INFO(bad);
    CHECK_FALSE(valid_port_name(bad));
  }
}
