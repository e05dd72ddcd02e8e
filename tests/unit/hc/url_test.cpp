#include <catch2/catch.hpp>

#include "hc/url.hpp"

using namespace hc;

TEST_CASE("url_encode keeps unreserved and uppercases escapes", "[url]") {
  CHECK(url_encode("AZaz09-_.~") == "AZaz09-_.~");
  CHECK(url_encode("a b") == "a%20b");
  CHECK(url_encode("http://x/y?z=1&w") == "http%3A%2F%2Fx%2Fy%3Fz%3D1%26w");
  CHECK(url_encode("+/=") == "%2B%2F%3D");
  CHECK(url_encode(std::string("\x00\xff", 2)) == "%00%FF");
  CHECK(url_encode("") == "");
}

TEST_CASE("url_decode is lenient with bad escapes", "[url]") {
  CHECK(url_decode("a%20b", false) == "a b");
  CHECK(url_decode("a+b", false) == "a+b");
  CHECK(url_decode("a+b", true) == "a b");
  CHECK(url_decode("%2b%2B", true) == "++");  // lower and upper case hex both decode
  CHECK(url_decode("%", false) == "%");
  CHECK(url_decode("%4", false) == "%4");
  CHECK(url_decode("ab%", false) == "ab%");
  CHECK(url_decode("%zz%41", false) == "%zzA");
  CHECK(url_decode("%%41", false) == "%A");
  CHECK(url_decode("%00", false) == std::string(1, '\0'));
  const std::string all = [] {
    std::string s;
    for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
    return s;
  }();
  CHECK(url_decode(url_encode(all), false) == all);
  CHECK(url_decode(url_encode(all), true) == all);  // encode never emits '+'
}

TEST_CASE("parse_query form-decodes and skips empty pairs", "[url]") {
  const auto q = parse_query("a=1&b=x+y&c&&d=%3D%26&e=x=y&");
  REQUIRE(q.size() == 5);
  CHECK(q[0].key == "a");
  CHECK(q[0].value == "1");
  CHECK(q[1].value == "x y");
  CHECK(q[2].key == "c");
  CHECK(q[2].value == "");
  CHECK(q[3].value == "=&");
  CHECK(q[4].key == "e");
  CHECK(q[4].value == "x=y");  // split at the first '='
  CHECK(parse_query("").empty());
  CHECK(parse_query("&&&").empty());
}

TEST_CASE("build_query round-trips through parse_query", "[url]") {
  const std::vector<QueryParam> in = {{"sb-hc-action", "listen"}, {"a b", "c&d=e+f"}, {"empty", ""}};
  const std::string q = build_query(in);
  CHECK(q == "sb-hc-action=listen&a%20b=c%26d%3De%2Bf&empty=");
  const auto out = parse_query(q);
  REQUIRE(out.size() == in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    CHECK(out[i].key == in[i].key);
    CHECK(out[i].value == in[i].value);
  }
  CHECK(build_query({}) == "");
}

TEST_CASE("find_param is case-insensitive and returns the first match", "[url]") {
  const auto q = parse_query("SB-HC-ID=one&sb-hc-id=two&x=");
  CHECK(find_param(q, "sb-hc-id") == std::optional<std::string>("one"));
  CHECK(find_param(q, "X") == std::optional<std::string>(""));
  CHECK_FALSE(find_param(q, "sb-hc-token").has_value());
}

TEST_CASE("parse_uri accepts the supported schemes with default ports", "[url]") {
  struct Case {
    const char* text;
    const char* scheme;
    uint16_t port;
    bool tls;
  };
  const Case cases[] = {{"sb://NS.servicebus.windows.net/", "sb", 443, true},
                        {"WSS://ns/", "wss", 443, true},
                        {"https://ns", "https", 443, true},
                        {"ws://ns", "ws", 80, false},
                        {"http://ns/", "http", 80, false}};
  for (const auto& c : cases) {
    INFO(c.text);
    auto r = parse_uri(c.text);
    REQUIRE(r.ok());
    CHECK(r->scheme == c.scheme);
    CHECK(r->port == c.port);
    CHECK_FALSE(r->explicit_port);
    CHECK(r->tls() == c.tls);
    CHECK(r->path == "/");
    CHECK(r->query.empty());
  }
  CHECK(parse_uri("sb://NS.servicebus.windows.net/")->host == "ns.servicebus.windows.net");
}

TEST_CASE("parse_uri splits port, path, query and drops the fragment", "[url]") {
  auto r = parse_uri("wss://Host.Example:8443/$hc/My%20HC/x?a=1&b=%41#frag");
  REQUIRE(r.ok());
  CHECK(r->host == "host.example");
  CHECK(r->port == 8443);
  CHECK(r->explicit_port);
  CHECK(r->path == "/$hc/My%20HC/x");  // raw and case kept
  CHECK(r->query == "a=1&b=%41");
  CHECK(r->authority() == "host.example:8443");
  CHECK(r->target() == "/$hc/My%20HC/x?a=1&b=%41");

  auto q = parse_uri("ws://h?x");
  REQUIRE(q.ok());
  CHECK(q->path == "/");
  CHECK(q->query == "x");
  CHECK(q->target() == "/?x");

  auto f = parse_uri("ws://h#only-fragment");
  REQUIRE(f.ok());
  CHECK(f->path == "/");
  CHECK(f->target() == "/");

  auto explicit_default = parse_uri("sb://h:443/");
  REQUIRE(explicit_default.ok());
  CHECK(explicit_default->authority() == "h:443");
  CHECK(parse_uri("sb://h/")->authority() == "h");
  CHECK(parse_uri("sb://h:65535/")->port == 65535);
  CHECK(parse_uri("sb://h:1/")->port == 1);
}

TEST_CASE("parse_uri handles bracketed IPv6", "[url]") {
  auto r = parse_uri("ws://[::1]:9000/x");
  REQUIRE(r.ok());
  CHECK(r->host == "::1");
  CHECK(r->port == 9000);
  CHECK(r->host_for_url() == "[::1]");
  CHECK(r->authority() == "[::1]:9000");
  auto d = parse_uri("https://[FE80::AB]");
  REQUIRE(d.ok());
  CHECK(d->host == "fe80::ab");
  CHECK(d->authority() == "[fe80::ab]");
  CHECK_FALSE(parse_uri("ws://[::1/x").ok());
  CHECK_FALSE(parse_uri("ws://[::1]x/").ok());
  CHECK_FALSE(parse_uri("ws://[]/").ok());
  CHECK_FALSE(parse_uri("ws://[zz]/").ok());
  CHECK_FALSE(parse_uri("ws://::1/").ok());  // unbracketed
}

TEST_CASE("parse_uri rejects bad input with clear messages", "[url]") {
  auto ftp = parse_uri("ftp://host/");
  REQUIRE_FALSE(ftp.ok());
  CHECK_THAT(ftp.error(), Catch::Contains("ftp"));

  auto user = parse_uri("sb://user:pw@host/");
  REQUIRE_FALSE(user.ok());
  CHECK_THAT(user.error(), Catch::Contains("user information"));
  CHECK_THAT(user.error(), !Catch::Contains("pw"));

  for (const char* bad_port : {"sb://h:0/", "sb://h:65536/", "sb://h:99999999999999999999/", "sb://h:12a/",
                               "sb://h:-1/", "sb://h:/"}) {
    INFO(bad_port);
    auto r = parse_uri(bad_port);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains("port"));
  }
  for (const char* bad : {"", "sb", "sb:", "sb:/host", "sb:host", "://host", "sb://", "sb:///path", "sb://:443/",
                          "sb://ho st/", "sb://host/pa th", "sb://host\n/", "sb://ho<st/", "sb://h\x7f/"}) {
    INFO(bad);
    auto r = parse_uri(bad);
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.error().empty());
  }
  CHECK_THAT(parse_uri("sb:///x").error(), Catch::Contains("empty host"));
}

TEST_CASE("encode_hc_path encodes each segment and keeps '/'", "[url]") {
  CHECK(encode_hc_path("myhc") == "myhc");
  CHECK(encode_hc_path("a b/c?d/e") == "a%20b/c%3Fd/e");
  CHECK(encode_hc_path("microsoft.hybridcompute/machines/x/1/v2") == "microsoft.hybridcompute/machines/x/1/v2");
  CHECK(encode_hc_path("") == "");
}

TEST_CASE("listen_url matches reference vector V1", "[url]") {
  const std::string token =
      "SharedAccessSignature sr=http%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc%2F&sig="
      "ubwedyCR%2Bc0sRaVj3hXzIlrfBwZEUeFZihDvvPHriyA%3D&se=1700000000&skn=RootManageSharedAccessKey";
  CHECK(listen_url(true, "contoso.servicebus.windows.net", 443, "myhc", "6f9619ff-8b86-d011-b42d-00c04fc964ff",
                   token) ==
        "wss://contoso.servicebus.windows.net:443/$hc/myhc?sb-hc-action=listen&sb-hc-id=6f9619ff-8b86-d011-b42d-"
        "00c04fc964ff&sb-hc-token=SharedAccessSignature%20sr%3Dhttp%253A%252F%252Fcontoso.servicebus.windows.net%"
        "252Fmyhc%252F%26sig%3DubwedyCR%252Bc0sRaVj3hXzIlrfBwZEUeFZihDvvPHriyA%253D%26se%3D1700000000%26skn%"
        "3DRootManageSharedAccessKey");
  CHECK(listen_url(true, "contoso.servicebus.windows.net", 443, "myhc", "id1") ==
        "wss://contoso.servicebus.windows.net:443/$hc/myhc?sb-hc-action=listen&sb-hc-id=id1");
}

TEST_CASE("connect_url uses ws without TLS and brackets IPv6", "[url]") {
  CHECK(connect_url(false, "127.0.0.1", 8080, "a/b c", "x") ==
        "ws://127.0.0.1:8080/$hc/a/b%20c?sb-hc-action=connect&sb-hc-id=x");
  CHECK(connect_url(true, "::1", 9443, "hc", "x", "t k") ==
        "wss://[::1]:9443/$hc/hc?sb-hc-action=connect&sb-hc-id=x&sb-hc-token=t%20k");
  // The token survives one round of form decoding, as the service decodes once.
  auto u = parse_uri(connect_url(true, "h", 1, "hc", "i", "a+b&c=d e"));
  REQUIRE(u.ok());
  CHECK(find_param(parse_query(u->query), "sb-hc-token") == std::optional<std::string>("a+b&c=d e"));
}

TEST_CASE("reject_url appends the status parameters", "[url]") {
  const std::string addr =
      "wss://g17-prod-by3-010-sb.servicebus.windows.net/$hc/myhc/api?x=1&sb-hc-action=accept&sb-hc-id=ca496b91-"
      "f5a3-4761-8eda-9a66dd9a2558_G17_G30";
  const std::string url = reject_url(addr, 400, "Rejected by user code");
  CHECK(url == addr + "&sb-hc-statusCode=400&sb-hc-statusDescription=Rejected%20by%20user%20code");
  auto u = parse_uri(url);
  REQUIRE(u.ok());
  const auto q = parse_query(u->query);
  CHECK(find_param(q, "sb-hc-statusCode") == std::optional<std::string>("400"));
  CHECK(find_param(q, "sb-hc-statusDescription") == std::optional<std::string>("Rejected by user code"));
  CHECK(reject_url("wss://h/$hc/x", 502, "a&b") ==
        "wss://h/$hc/x?sb-hc-statusCode=502&sb-hc-statusDescription=a%26b");
  CHECK(reject_url("wss://h/$hc/x?", 404, "") == "wss://h/$hc/x?sb-hc-statusCode=404&sb-hc-statusDescription=");
}

TEST_CASE("quote_for_message truncates and escapes", "[url]") {
  CHECK(quote_for_message("abc") == "'abc'");
  CHECK(quote_for_message("a\nb") == "'a\\x0Ab'");
  CHECK(quote_for_message(std::string(50, 'x'), 4) == "'xxxx...'");
}

TEST_CASE("reject_url: a query that ends in '?' still gets its '&' (fuzz finding)") {
  CHECK(hc::reject_url("wss://h/$hc/x?sb-hc-id=abc?", 400, "no") ==
        "wss://h/$hc/x?sb-hc-id=abc?&sb-hc-statusCode=400&sb-hc-statusDescription=no");
  CHECK(hc::reject_url("wss://h/$hc/x?", 400, "no") == "wss://h/$hc/x?sb-hc-statusCode=400&sb-hc-statusDescription=no");
}
