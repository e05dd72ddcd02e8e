#include "net/http_body.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace net::http;

namespace {

ParseStatus decode(const std::string& in, std::string& out, std::size_t& consumed, std::size_t piece = 0) {
  ChunkedDecoder d;
  consumed = 0;
  ParseStatus s = ParseStatus::need_more;
  if (piece == 0) piece = in.size() + 1;
  for (std::size_t pos = 0; pos < in.size() && s == ParseStatus::need_more; pos += piece) {
    std::size_t used = 0;
    const std::size_t n = std::min(piece, in.size() - pos);
    s = d.feed(in.data() + pos, n, used, out);
    consumed += used;
  }
  return s;
}

}  // namespace

TEST_CASE("chunked bodies decode whole and byte by byte, and stop after the trailers", "[http_body]") {
  const std::string in = "5\r\nhello\r\nA;name=v\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\nNEXT";
  for (std::size_t piece : {std::size_t(0), std::size_t(1), std::size_t(3)}) {
    std::string out;
    std::size_t consumed = 0;
    REQUIRE(decode(in, out, consumed, piece) == ParseStatus::good);
    CHECK(out == "hello0123456789");
    CHECK(consumed == in.size() - 4);
  }
}

TEST_CASE("malformed chunked bodies are bad, incomplete ones need more", "[http_body]") {
  for (const char* bad : {"x\r\n", "5\r\nhelloXX", "\r\n", "5\nhello", "0\r\nA\x01\r\n\r\n", "1234567890abcdef0\r\n"}) {
    std::string out;
    std::size_t consumed = 0;
    CHECK(decode(bad, out, consumed) == ParseStatus::bad);
  }
  std::string out;
  std::size_t consumed = 0;
  CHECK(decode("5\r\nhel", out, consumed) == ParseStatus::need_more);
  CHECK(out == "hel");
}

TEST_CASE("request framing: chunked wins, bad or conflicting lengths are invalid", "[http_body]") {
  Headers h;
  CHECK(request_framing(h).framing == BodyFraming::none);
  h.add("Content-Length", "42");
  CHECK(request_framing(h).framing == BodyFraming::length);
  CHECK(request_framing(h).length == 42);
  h.add("Content-Length", "43");
  CHECK(request_framing(h).framing == BodyFraming::invalid);
  Headers c;
  c.add("Transfer-Encoding", "chunked");
  CHECK(request_framing(c).framing == BodyFraming::chunked);
  Headers g;
  g.add("Transfer-Encoding", "gzip");
  CHECK(request_framing(g).framing == BodyFraming::invalid);
  Headers n;
  n.add("Content-Length", "-1");
  CHECK(request_framing(n).framing == BodyFraming::invalid);
}

TEST_CASE("response framing: Content-Length 0 is an empty body, no framing header runs to the close", "[http_body]") {
  Headers none;
  CHECK(response_framing(none).framing == BodyFraming::none);
  Headers zero;
  zero.add("Content-Length", "0");
  CHECK(response_framing(zero).framing == BodyFraming::length);
  CHECK(response_framing(zero).length == 0);
  CHECK(request_framing(zero).framing == BodyFraming::none);  // a request of length 0 simply has no body
  Headers both;
  both.add("Transfer-Encoding", "chunked");
  both.add("Content-Length", "0");
  CHECK(response_framing(both).framing == BodyFraming::chunked);
  Headers bad;
  bad.add("Content-Length", "1x");
  CHECK(response_framing(bad).framing == BodyFraming::invalid);
}
