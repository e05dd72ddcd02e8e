// Bounded random input into the parsers (a fixed seed, so failures reproduce): no crash, and the invariants the
// connection code relies on hold. The real fuzzers go deeper; this keeps the basics checked on every build.
#include "net/http_head.hpp"
#include "net/ws_frame.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

namespace {

constexpr int kRounds = 20000;

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// Random heads built from HTTP-shaped pieces reach far deeper than uniform bytes, which die on the first byte.
std::string random_head(std::mt19937& rng) {
  static const char* const pieces[] = {
      "GET",  "POST", " ", "/",        "/a?b=c", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 101 Switching",
      "404",  "\r\n", "\r\n\r\n",      ":",      ": ",       "Host",     "Upgrade: websocket",
      "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "\t", "\r", "\n", "x", "\xC3\xA9"};
  std::string s;
  const int n = static_cast<int>(rng() % 24);
  for (int i = 0; i < n; ++i) {
    if (rng() % 10 == 0) {
      s.push_back(static_cast<char>(rng()));
    } else {
      s += pieces[rng() % (sizeof pieces / sizeof pieces[0])];
    }
  }
  if (rng() % 2 == 0) s += "\r\n\r\n";
  return s;
}

std::string mutate(std::string s, std::mt19937& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits && !s.empty(); ++i) {
    const std::size_t pos = rng() % s.size();
    switch (rng() % 3) {
      case 0: s[pos] = static_cast<char>(rng()); break;
      case 1: s.erase(pos, 1 + rng() % 4); break;
      default: s.insert(pos, 1, static_cast<char>(rng())); break;
    }
  }
  return s;
}

template <class Parser, class Check>
void feed_in_chunks(const std::string& input, std::mt19937& rng, std::size_t max_size, Check&& check_head) {
  using net::http::ParseStatus;
  Parser chunked(max_size);
  std::size_t pos = 0, total = 0;
  ParseStatus status = ParseStatus::need_more;
  while (pos < input.size() && status == ParseStatus::need_more) {
    const std::size_t len = std::min<std::size_t>(input.size() - pos, 1 + rng() % 64);
    std::size_t consumed = 12345;
    status = chunked.feed(input.data() + pos, len, consumed);
    REQUIRE(consumed <= len);
    if (status == ParseStatus::need_more) REQUIRE(consumed == len);
    total += consumed;
    pos += len;
  }
  REQUIRE(total <= input.size());
  REQUIRE(total <= max_size);
  REQUIRE((status == ParseStatus::bad) == !chunked.error().empty());

  // Where the input was split must not matter.
  Parser whole(max_size);
  std::size_t consumed = 0;
  const ParseStatus whole_status = whole.feed(input.data(), input.size(), consumed);
  REQUIRE(whole_status == status);
  REQUIRE(whole.error() == chunked.error());
  if (status == ParseStatus::good) {
    REQUIRE(consumed == total);
    REQUIRE(input.compare(total - 4, 4, "\r\n\r\n") == 0);
    check_head(chunked.head());
    // A finished parser takes nothing more.
    REQUIRE(chunked.feed("x", 1, consumed) == ParseStatus::good);
    REQUIRE(consumed == 0);
  }
}

void check_headers(const net::http::Headers& headers) {
  REQUIRE(headers.list.size() <= net::http::kMaxHeaders);
  for (const auto& h : headers.list) {
    REQUIRE(!h.name.empty());
    REQUIRE(h.name.find_first_of(" \t\r\n:") == std::string::npos);
    REQUIRE(h.value.find_first_of(std::string("\r\n\0", 3)) == std::string::npos);
    if (!h.value.empty()) REQUIRE((!is_ows(h.value.front()) && !is_ows(h.value.back())));
  }
}

}  // namespace

TEST_CASE("random: frame header parser", "[random][ws]") {
  using namespace net::ws;
  std::mt19937 rng(20240601);
  for (int round = 0; round < kRounds; ++round) {
    std::vector<uint8_t> b(rng() % (kMaxFrameHeaderSize + 3));
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    // Half the time, make the frame plausible so the deeper checks are reached.
    if (!b.empty() && rng() % 2 == 0) b[0] &= 0x8F;
    const Role role = rng() % 2 == 0 ? Role::client : Role::server;
    if (b.size() > 1 && rng() % 2 == 0) b[1] = static_cast<uint8_t>((b[1] & 0x7F) | (role == Role::server ? 0x80 : 0));
    const uint64_t max_payload = rng() % 2 == 0 ? ~uint64_t{0} : rng();

    FrameHeader h;
    const auto r = parse_frame_header(b.data(), b.size(), role, max_payload, h);
    if (r.status == ParseStatus::bad) {
      REQUIRE(r.error != nullptr);
      continue;
    }
    if (r.status == ParseStatus::need_more) {
      REQUIRE(b.size() < kMaxFrameHeaderSize);
      continue;
    }
    REQUIRE(r.header_size >= 2);
    REQUIRE(r.header_size <= b.size());
    REQUIRE(r.header_size <= kMaxFrameHeaderSize);
    REQUIRE(h.payload_size <= max_payload);
    REQUIRE(h.masked == (role == Role::server));
    if (is_control(h.opcode)) REQUIRE((h.fin && h.payload_size <= kMaxControlPayload));
    // Every shorter prefix of a good header is merely incomplete.
    for (std::size_t n = 0; n < r.header_size; ++n) {
      FrameHeader ignored;
      REQUIRE(parse_frame_header(b.data(), n, role, max_payload, ignored).status == ParseStatus::need_more);
    }
    // Re-encoding gives the same header, or a shorter one when the peer used a non-minimal length.
    uint8_t again[kMaxFrameHeaderSize];
    const std::size_t n = encode_frame_header(again, h.fin, h.opcode, h.payload_size, h.masked ? h.mask.data() : nullptr);
    REQUIRE(n <= r.header_size);
    FrameHeader h2;
    const auto r2 = parse_frame_header(again, n, role, max_payload, h2);
    REQUIRE(r2.status == ParseStatus::good);
    REQUIRE(h2.payload_size == h.payload_size);
    REQUIRE(h2.opcode == h.opcode);
    REQUIRE(h2.mask == h.mask);
  }
}

TEST_CASE("random: close payload and UTF-8 never crash", "[random][ws]") {
  using namespace net::ws;
  std::mt19937 rng(77);
  for (int round = 0; round < kRounds; ++round) {
    std::vector<uint8_t> b(rng() % 130);
    for (auto& x : b) x = static_cast<uint8_t>(rng() % 4 == 0 ? rng() : 'a' + rng() % 26);
    const auto c = parse_close_payload(b.data(), b.size());
    if (c.valid) {
      REQUIRE(b.size() != 1);
      REQUIRE(b.size() <= kMaxControlPayload);
      REQUIRE((b.empty() ? c.code == 1005 : is_valid_close_code(c.code)));
      REQUIRE(is_valid_utf8(c.reason));
      // What we parse, we can send back unchanged.
      const std::string rebuilt = build_close_payload(c.code, c.reason);
      REQUIRE(rebuilt == std::string(b.begin(), b.end()));
    }
  }
}

TEST_CASE("random: HTTP head parsers", "[random][http]") {
  using namespace net::http;
  std::mt19937 rng(4242);
  const std::string base_request =
      "GET /x?y=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x82\x00";
  const std::string base_response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x82\x00";
  for (int round = 0; round < kRounds; ++round) {
    std::string input;
    switch (rng() % 4) {
      case 0: input = mutate(base_request, rng); break;
      case 1: input = mutate(base_response, rng); break;
      case 2: input = random_head(rng); break;
      default:
        input.resize(rng() % 200);
        for (auto& ch : input) ch = static_cast<char>(rng());
        break;
    }
    const std::size_t max_size = rng() % 8 == 0 ? 1 + rng() % 64 : kMaxHeadSize;
    CAPTURE(round);
    feed_in_chunks<RequestParser>(input, rng, max_size, [](const RequestHead& h) {
      REQUIRE(!h.method.empty());
      REQUIRE(!h.target.empty());
      REQUIRE(h.target.find_first_of(" \t\r\n") == std::string::npos);
      REQUIRE((h.version_minor >= 0 && h.version_minor <= 9));
      check_headers(h.headers);
      (void)check_upgrade_request(h);
    });
    feed_in_chunks<ResponseParser>(input, rng, max_size, [](const ResponseHead& h) {
      REQUIRE((h.status >= 100 && h.status <= 999));
      REQUIRE(h.reason.find_first_of("\r\n") == std::string::npos);
      check_headers(h.headers);
      (void)check_upgrade_response(h, "dGhlIHNhbXBsZSBub25jZQ==");
    });
  }
}
