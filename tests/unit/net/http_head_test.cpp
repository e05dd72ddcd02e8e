#include "net/http_head.hpp"

#include "hc/crypto.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace net::http;

namespace {

// What a browser-like client sends, with the RFC 6455 sample key.
const std::string kRequest =
    "GET /$hc/endpoint?sb-hc-action=listen&sb-hc-id=abc HTTP/1.1\r\n"
    "Host: ns.servicebus.windows.net\r\n"
    "Upgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "ServiceBusAuthorization:   SharedAccessSignature sr=x&sig=y \t\r\n"
    "\r\n";

// The first WebSocket frame riding in the same segment as the head.
const std::string kFrame = "\x81\x05hello";

RequestHead parse_request_ok(const std::string& text) {
  RequestParser p;
  std::size_t consumed = 0;
  const auto status = p.feed(text.data(), text.size(), consumed);
  INFO(p.error());
  REQUIRE(status == ParseStatus::good);
  REQUIRE(consumed == text.size());
  return p.head();
}

std::string request_error(const std::string& text, std::size_t max_size = kMaxHeadSize) {
  RequestParser p(max_size);
  std::size_t consumed = 0;
  const auto status = p.feed(text.data(), text.size(), consumed);
  if (status != ParseStatus::bad) return "<not bad>";
  CHECK(consumed <= text.size());
  return p.error();
}

ResponseHead parse_response_ok(const std::string& text) {
  ResponseParser p;
  std::size_t consumed = 0;
  const auto status = p.feed(text.data(), text.size(), consumed);
  INFO(p.error());
  REQUIRE(status == ParseStatus::good);
  REQUIRE(consumed == text.size());
  return p.head();
}

std::string response_error(const std::string& text) {
  ResponseParser p;
  std::size_t consumed = 0;
  if (p.feed(text.data(), text.size(), consumed) != ParseStatus::bad) return "<not bad>";
  return p.error();
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}

std::string good_response(std::string_view key) {
  return "HTTP/1.1 101 Switching Protocols\r\n"
         "Upgrade: WebSocket\r\n"
         "Connection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         websocket_accept_key(key) + "\r\n\r\n";
}

}  // namespace

TEST_CASE("http: accept key and new keys", "[http]") {
  CHECK(websocket_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const std::string a = new_websocket_key(), b = new_websocket_key();
  CHECK(a.size() == 24);
  CHECK(a != b);
  const auto decoded = hc::base64_decode(a);
  REQUIRE(decoded);
  CHECK(decoded->size() == 16);
}

TEST_CASE("http: request parsed at every split point, frame bytes left alone", "[http]") {
  const std::string wire = kRequest + kFrame;
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    CAPTURE(cut);
    RequestParser p;
    std::size_t c1 = 0, c2 = 0;
    const auto s1 = p.feed(wire.data(), cut, c1);
    if (cut < kRequest.size()) {
      REQUIRE(s1 == ParseStatus::need_more);
      REQUIRE(c1 == cut);
      REQUIRE(p.feed(wire.data() + cut, wire.size() - cut, c2) == ParseStatus::good);
      REQUIRE(c1 + c2 == kRequest.size());
    } else {
      REQUIRE(s1 == ParseStatus::good);
      REQUIRE(c1 == kRequest.size());
    }
    const RequestHead& h = p.head();
    REQUIRE(h.method == "GET");
    REQUIRE(h.target == "/$hc/endpoint?sb-hc-action=listen&sb-hc-id=abc");
    REQUIRE(h.version_minor == 1);
    REQUIRE(h.headers.list.size() == 6);
    REQUIRE(check_upgrade_request(h).empty());
  }

  SECTION("byte at a time") {
    RequestParser p;
    std::size_t total = 0;
    ParseStatus s = ParseStatus::need_more;
    for (std::size_t i = 0; i < wire.size() && s == ParseStatus::need_more; ++i) {
      std::size_t c = 0;
      s = p.feed(wire.data() + i, 1, c);
      total += c;
    }
    CHECK(s == ParseStatus::good);
    CHECK(total == kRequest.size());
  }

  SECTION("done parsers take nothing more") {
    RequestParser p;
    std::size_t c = 0;
    REQUIRE(p.feed(wire.data(), wire.size(), c) == ParseStatus::good);
    CHECK(c == kRequest.size());
    CHECK(p.feed(kFrame.data(), kFrame.size(), c) == ParseStatus::good);
    CHECK(c == 0);
  }
}

TEST_CASE("http: header values and lookup", "[http]") {
  const RequestHead h = parse_request_ok(kRequest);
  const std::string* auth = h.headers.find("servicebusauthorization");
  REQUIRE(auth != nullptr);
  CHECK(*auth == "SharedAccessSignature sr=x&sig=y");
  CHECK(h.headers.find("X-Absent") == nullptr);
  REQUIRE(h.headers.find("HOST") != nullptr);
  CHECK(*h.headers.find("HOST") == "ns.servicebus.windows.net");

  Headers dup;
  dup.add("X-A", "1");
  dup.add("x-a", "2");
  REQUIRE(dup.find("X-a") != nullptr);
  CHECK(*dup.find("X-a") == "1");

  const RequestHead empty_value = parse_request_ok("GET / HTTP/1.1\r\nX-Empty:\r\nX-Tab:\tv\r\n\r\n");
  CHECK(*empty_value.headers.find("x-empty") == "");
  CHECK(*empty_value.headers.find("x-tab") == "v");
}

TEST_CASE("http: bad requests", "[http]") {
  SECTION("head too large") {
    std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(kMaxHeadSize, 'a') + "\r\n\r\n";
    CHECK(request_error(big) == "request head too large");
    // Never complete: the limit must trip without a blank line too.
    RequestParser p;
    std::size_t consumed = 0;
    const std::string endless(kMaxHeadSize + 100, 'a');
    CHECK(p.feed(endless.data(), endless.size(), consumed) == ParseStatus::bad);
    CHECK(p.error() == "request head too large");
    // A head of exactly the limit is fine.
    CHECK(request_error(kRequest, kRequest.size()) == "<not bad>");
    CHECK(request_error(kRequest, kRequest.size() - 1) == "request head too large");
  }
  SECTION("header lines") {
    CHECK(request_error("GET / HTTP/1.1\r\nHost example\r\n\r\n") == "header line without ':'");
    CHECK(request_error("GET / HTTP/1.1\r\n: value\r\n\r\n") == "empty header name");
    CHECK(request_error("GET / HTTP/1.1\r\nHost : x\r\n\r\n") == "whitespace in header name");
    CHECK(request_error("GET / HTTP/1.1\r\nX Y: x\r\n\r\n") == "whitespace in header name");
    CHECK(request_error("GET / HTTP/1.1\r\nX(Y): x\r\n\r\n") == "invalid header name");
    CHECK(request_error("GET / HTTP/1.1\r\nX-A: 1\r\n  continued\r\n\r\n") == "obsolete line folding");
    CHECK(request_error("GET / HTTP/1.1\r\nX-A: 1\r\n\tcontinued\r\n\r\n") == "obsolete line folding");
  }
  SECTION("line ends and bad bytes") {
    CHECK(request_error("GET / HTTP/1.1\nHost: x\n\n") == "LF without CR");
    CHECK(request_error("GET / HTTP/1.1\r\nHost: x\n\r\n") == "LF without CR");
    CHECK(request_error("GET / HTTP/1.1\rHost: x\r\n\r\n") == "CR not followed by LF");
    CHECK(request_error(std::string("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 29)) == "NUL byte in head");
    CHECK(request_error("GET / HTTP/1.1\r\nHost: a\x01z\r\n\r\n") == "control character in head");
    // Bad bytes are refused as they arrive, before any blank line.
    RequestParser p;
    std::size_t consumed = 0;
    CHECK(p.feed("GET /\n", 6, consumed) == ParseStatus::bad);
  }
  SECTION("request line") {
    CHECK(request_error("GET /\r\n\r\n") == "malformed request line");
    CHECK(request_error("GET\r\n\r\n") == "malformed request line");
    CHECK(request_error("\r\n\r\n") == "malformed request line");
    CHECK(request_error("GET  / HTTP/1.1\r\n\r\n") == "malformed request line");
    CHECK(request_error("G(T / HTTP/1.1\r\n\r\n") == "malformed request line");
    CHECK(request_error("GET /a\xC3\xA9 HTTP/1.1\r\n\r\n") == "malformed request line");
    CHECK(request_error("GET / HTTP/1.1 \r\n\r\n") == "malformed HTTP version");
    CHECK(request_error("GET / FOO/1.1\r\n\r\n") == "malformed HTTP version");
    CHECK(request_error("GET / HTTP/11\r\n\r\n") == "malformed HTTP version");
    CHECK(request_error("GET / HTTP/2.0\r\n\r\n") == "not HTTP/1.x");
    CHECK(parse_request_ok("GET / HTTP/1.0\r\n\r\n").version_minor == 0);
  }
  SECTION("header count") {
    std::string head = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 100; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
    CHECK(parse_request_ok(head + "\r\n").headers.list.size() == 100);
    CHECK(request_error(head + "X-Last: v\r\n\r\n") == "too many headers");
  }
}

TEST_CASE("http: response parser", "[http]") {
  SECTION("101 with frame bytes after it") {
    const std::string head = good_response("dGhlIHNhbXBsZSBub25jZQ==");
    const std::string wire = head + kFrame;
    ResponseParser p;
    std::size_t consumed = 0;
    REQUIRE(p.feed(wire.data(), wire.size(), consumed) == ParseStatus::good);
    CHECK(consumed == head.size());
    CHECK(p.head().status == 101);
    CHECK(p.head().reason == "Switching Protocols");
    CHECK(*p.head().headers.find("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(check_upgrade_response(p.head(), "dGhlIHNhbXBsZSBub25jZQ==").empty());
  }
  SECTION("404 from the relay") {
    const ResponseHead h = parse_response_ok(
        "HTTP/1.1 404 There are no listeners connected for the endpoint. TrackingId:0a1b2c3d-4e5f_G1, "
        "SystemTracker:ns.servicebus.windows.net:hc1, Timestamp:2024-01-01T00:00:00\r\n"
        "Content-Length: 0\r\n"
        "Server: Microsoft-HTTPAPI/2.0\r\n\r\n");
    CHECK(h.status == 404);
    CHECK(h.reason.rfind("There are no listeners connected for the endpoint. TrackingId:0a1b2c3d", 0) == 0);
    CHECK(check_upgrade_response(h, "dGhlIHNhbXBsZSBub25jZQ==") == "expected status 101, got 404");
  }
  SECTION("status line variants") {
    CHECK(parse_response_ok("HTTP/1.1 200\r\n\r\n").reason.empty());
    CHECK(parse_response_ok("HTTP/1.1 204 \r\n\r\n").status == 204);
    CHECK(parse_response_ok("HTTP/1.0 403 Forbidden\r\n\r\n").version_minor == 0);
    CHECK(response_error("HTTP/1.1 20 OK\r\n\r\n") == "malformed status line");
    CHECK(response_error("HTTP/1.1 2000 OK\r\n\r\n") == "malformed status line");
    CHECK(response_error("HTTP/1.1 abc OK\r\n\r\n") == "malformed status line");
    CHECK(response_error("HTTP/1.1 099 OK\r\n\r\n") == "malformed status line");
    CHECK(response_error("HTTP/1.1\r\n\r\n") == "malformed status line");
    CHECK(response_error("HTTP/2 200 OK\r\n\r\n") == "not an HTTP/1.x response");
    CHECK(response_error("HTTP/3.0 200 OK\r\n\r\n") == "not an HTTP/1.x response");
    CHECK(response_error("HTTP/1.x 200 OK\r\n\r\n") == "malformed HTTP version");
    CHECK(response_error("HTTP/1.1 101 OK\r\nUpgrade\r\n\r\n") == "header line without ':'");
    // Fed as it arrives, an answer that is not HTTP/1.x is refused at its first wrong byte, not at a blank line a
    // non-HTTP peer may never send.
    for (const std::string& junk : std::vector<std::string>{"SSH-2.0-OpenSSH_9.2\r\n", std::string("\x16\x03\x01", 3), "http/1.1 101", "HTTP/2 101"}) {
      ResponseParser p;
      std::size_t used = 0;
      ParseStatus st = ParseStatus::need_more;
      std::size_t fed = 0;
      for (; fed < junk.size() && st == ParseStatus::need_more; ++fed) st = p.feed(&junk[fed], 1, used);
      INFO(junk);
      CHECK(st == ParseStatus::bad);
      CHECK(fed == junk.find_first_not_of("HTTP/1.") + 1);
      CHECK(p.error() == "not an HTTP/1.x response");
    }
    {
      ResponseParser p;
      std::size_t used = 0;
      CHECK(p.feed("HTTP/1", 6, used) == ParseStatus::need_more);
      CHECK(p.feed(".1 101 Switching", 16, used) == ParseStatus::need_more);
    }
    ResponseParser small(16);
    std::size_t consumed = 0;
    const std::string head = good_response("k");
    CHECK(small.feed(head.data(), head.size(), consumed) == ParseStatus::bad);
    CHECK(small.error() == "response head too large");
  }
}

TEST_CASE("http: check_upgrade_request", "[http]") {
  CHECK(check_upgrade_request(parse_request_ok(kRequest)).empty());

  auto check = [](const std::string& text) { return check_upgrade_request(parse_request_ok(text)); };
  CHECK(check(replace(kRequest, "Upgrade: websocket", "upgrade: WebSocket")).empty());
  CHECK(check(replace(kRequest, "keep-alive, Upgrade", "UPGRADE")).empty());

  CHECK(check(replace(kRequest, "GET ", "POST ")) == "method is not GET");
  CHECK(check(replace(kRequest, "HTTP/1.1", "HTTP/1.0")) == "HTTP version is not 1.1");
  CHECK(check(replace(kRequest, "Upgrade: websocket\r\n", "")) == "missing Upgrade: websocket header");
  CHECK(check(replace(kRequest, "Upgrade: websocket", "Upgrade: h2c")) == "missing Upgrade: websocket header");
  CHECK(check(replace(kRequest, "Connection: keep-alive, Upgrade\r\n", "")) == "missing Connection: Upgrade header");
  CHECK(check(replace(kRequest, "keep-alive, Upgrade", "keep-alive")) == "missing Connection: Upgrade header");
  CHECK(check(replace(kRequest, "keep-alive, Upgrade", "upgraded")) == "missing Connection: Upgrade header");
  CHECK(check(replace(kRequest, "Sec-WebSocket-Version: 13\r\n", "")) == "missing Sec-WebSocket-Version header");
  CHECK(check(replace(kRequest, "Version: 13", "Version: 8")) == "unsupported Sec-WebSocket-Version (need 13)");
  CHECK(check(replace(kRequest, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")) ==
        "missing Sec-WebSocket-Key header");
  CHECK(check(replace(kRequest, "dGhlIHNhbXBsZSBub25jZQ==", "not base64!")) ==
        "Sec-WebSocket-Key is not base64 of 16 bytes");
  CHECK(check(replace(kRequest, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ==")) ==
        "Sec-WebSocket-Key is not base64 of 16 bytes");
}

TEST_CASE("http: check_upgrade_response", "[http]") {
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  const std::string good = good_response(key);
  auto check = [&](const std::string& text) { return check_upgrade_response(parse_response_ok(text), key); };
  CHECK(check(good).empty());
  CHECK(check(replace(good, "101 Switching Protocols", "200 OK")) == "expected status 101, got 200");
  CHECK(check(replace(good, "HTTP/1.1", "HTTP/1.0")) == "HTTP version is not 1.1");
  CHECK(check(replace(good, "Upgrade: WebSocket\r\n", "")) == "missing Upgrade: websocket header");
  CHECK(check(replace(good, "Connection: Upgrade\r\n", "")) == "missing Connection: Upgrade header");
  CHECK(check(replace(good, "Connection: Upgrade", "Connection: close")) == "missing Connection: Upgrade header");
  CHECK(check(replace(good, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", "")) ==
        "missing Sec-WebSocket-Accept header");
  CHECK(check(replace(good, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "s3pPLMBiTxaQ9kYGzzhZRbK+xOO=")) ==
        "Sec-WebSocket-Accept does not match the key sent");
  CHECK(check_upgrade_response(parse_response_ok(good), "AAAAAAAAAAAAAAAAAAAAAA==") ==
        "Sec-WebSocket-Accept does not match the key sent");
  CHECK(check(replace(good, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")) ==
        "server selected an extension that was not offered");
}

TEST_CASE("http: upgrade request and response serialisers", "[http]") {
  SECTION("round trip through the parsers") {
    const std::string key = new_websocket_key();
    Headers extra;
    extra.add("ServiceBusAuthorization", "SharedAccessSignature sr=a&sig=b");
    const std::string req = build_upgrade_request("ns.example.net", "/$hc/path?x=1", key, extra);
    CHECK(req.rfind("GET /$hc/path?x=1 HTTP/1.1\r\n", 0) == 0);
    const RequestHead h = parse_request_ok(req);
    CHECK(check_upgrade_request(h).empty());
    CHECK(*h.headers.find("host") == "ns.example.net");
    CHECK(*h.headers.find("servicebusauthorization") == "SharedAccessSignature sr=a&sig=b");
    CHECK(*h.headers.find("sec-websocket-key") == key);

    const std::string resp = build_upgrade_response(websocket_accept_key(key), {});
    CHECK(resp.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
    CHECK(check_upgrade_response(parse_response_ok(resp), key).empty());
  }
  SECTION("header injection attempts are dropped") {
    Headers extra;
    extra.add("X-Ok", "fine");
    extra.add("X-Value", "a\r\nEvil: 1");
    extra.add("X-Lf", "a\nEvil: 2");
    extra.add("X-Cr", "a\rEvil: 3");
    extra.add("Evil: 4\r\nX-Name", "v");
    extra.add("", "empty name");
    extra.add("Upgrade", "h2c");
    extra.add("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA==");
    const std::string req = build_upgrade_request("host\r\nEvil: 5", "/p\r\nEvil: 6 x", "dGhlIHNhbXBsZSBub25jZQ==",
                                                  extra);
    INFO(req);
    CHECK(req.find("\nEvil") == std::string::npos);
    CHECK(req.find("\rEvil") == std::string::npos);
    CHECK(req.find("h2c") == std::string::npos);
    CHECK(req.find("AAAAAAAA") == std::string::npos);
    const RequestHead h = parse_request_ok(req);
    CHECK(h.target == "/p%0D%0AEvil:%206%20x");
    CHECK(h.headers.find("Host") == nullptr);
    CHECK(h.headers.find("Evil") == nullptr);
    CHECK(*h.headers.find("X-Ok") == "fine");
    CHECK(h.headers.find("X-Value") == nullptr);
    CHECK(h.headers.list.size() == 5);  // Upgrade, Connection, Key, Version, X-Ok

    Headers bad;
    bad.add("X-Bad", "1\r\n\r\nHTTP/1.1 200 OK");
    const std::string resp = build_upgrade_response("abc\r\nEvil: 1", bad);
    CHECK(resp.find("Evil") == std::string::npos);
    CHECK(resp.find("200 OK") == std::string::npos);
  }
  SECTION("empty target becomes /") {
    CHECK(parse_request_ok(build_upgrade_request("h", "", "dGhlIHNhbXBsZSBub25jZQ==", {})).target == "/");
  }
}

TEST_CASE("http: build_response", "[http]") {
  SECTION("plain 404 with a body") {
    Headers extra;
    extra.add("Content-Type", "text/plain");
    extra.add("Content-Length", "999");
    extra.add("Transfer-Encoding", "chunked");
    const std::string r = build_response(404, "Not Found", extra, "no such endpoint");
    const std::string head = r.substr(0, r.find("\r\n\r\n") + 4);
    CHECK(r.substr(head.size()) == "no such endpoint");
    ResponseParser p;
    std::size_t consumed = 0;
    REQUIRE(p.feed(r.data(), r.size(), consumed) == ParseStatus::good);
    CHECK(consumed == head.size());
    CHECK(p.head().status == 404);
    CHECK(p.head().reason == "Not Found");
    CHECK(*p.head().headers.find("content-length") == "16");
    CHECK(*p.head().headers.find("connection") == "close");
    CHECK(*p.head().headers.find("content-type") == "text/plain");
    CHECK(p.head().headers.list.size() == 3);
  }
  SECTION("reason phrase is sanitised and capped") {
    const std::string r = build_response(401, "bad\r\nSet-Cookie: x=1\x01\x7f\tend");
    CHECK(r.rfind("HTTP/1.1 401 bad  Set-Cookie: x=1   end\r\n", 0) == 0);
    const ResponseHead h = parse_response_ok(r);
    CHECK(h.headers.find("Set-Cookie") == nullptr);

    const ResponseHead longer = parse_response_ok(build_response(410, std::string(2000, 'x')));
    CHECK(longer.reason.size() == 512);
    // A cut inside a multi-byte character backs off to its start.
    const ResponseHead utf8 = parse_response_ok(build_response(403, std::string(511, 'x') + "\xC3\xA9"));
    CHECK(utf8.reason == std::string(511, 'x'));
  }
  SECTION("odd statuses") {
    CHECK(build_response(42, "x").rfind("HTTP/1.1 500 x\r\n", 0) == 0);
    CHECK(build_response(503, "").rfind("HTTP/1.1 503 \r\n", 0) == 0);
    CHECK(build_response(200, "OK").find("Content-Length: 0\r\n") != std::string::npos);
  }
}

TEST_CASE("http: split_target", "[http]") {
  CHECK(split_target("/path?query") == std::make_pair(std::string("/path"), std::string("query")));
  CHECK(split_target("/path") == std::make_pair(std::string("/path"), std::string()));
  CHECK(split_target("/p?") == std::make_pair(std::string("/p"), std::string()));
  CHECK(split_target("/p?a=1?b=2") == std::make_pair(std::string("/p"), std::string("a=1?b=2")));
  CHECK(split_target("?x") == std::make_pair(std::string(), std::string("x")));
  CHECK(split_target("/a%3Fb?c") == std::make_pair(std::string("/a%3Fb"), std::string("c")));
}
