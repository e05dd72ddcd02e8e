#include <catch2/catch.hpp>

#include <random>

#include "hc/control_message.hpp"

using namespace hc;

namespace {

// Reference section 9 samples, verbatim (no trailing whitespace, so every proper prefix is invalid JSON).
const std::string kAcceptSample =
    R"({"accept":{"address":"wss:\/\/g17-prod-by3-010-sb.servicebus.windows.net\/$hc\/myhc\/api?x=1&sb-hc-action=accept&sb-hc-id=ca496b91-f5a3-4761-8eda-9a66dd9a2558_G17_G30",
 "id":"ca496b91-f5a3-4761-8eda-9a66dd9a2558_G17_G30",
 "connectHeaders":{"Sec-WebSocket-Key":"dGhlIHNhbXBsZSBub25jZQ==","Sec-WebSocket-Version":"13","Sec-WebSocket-Protocol":"tunnel.v1, tunnel.v0",
   "Connection":"Upgrade","Upgrade":"websocket","Host":"contoso.servicebus.windows.net:443","User-Agent":"test-agent\/1.0","X-Custom":"v"},
 "remoteEndpoint":{"address":"203.0.113.7","port":62917}}})";

const std::string kRequestSample =
    R"({"request":{"address":"wss://g12-prod-by3-010-sb.servicebus.windows.net/$hc/myhc?sb-hc-action=request&sb-hc-id=c126fddd-5ca6-430f-9b10-e2188d1ed0d4_G12",
 "id":"c126fddd-5ca6-430f-9b10-e2188d1ed0d4_G12","requestTarget":"/myhc/api/items?x=1","method":"POST",
 "remoteEndpoint":{"address":"203.0.113.7","port":62915},
 "requestHeaders":{"Content-Type":"application/json; charset=utf-8","Host":"contoso.servicebus.windows.net","User-Agent":"test-agent/1.0","Via":"1.1 contoso.servicebus.windows.net"},
 "body":true}})";

const std::string kRendezvousOnlySample =
    R"({"request":{"address":"wss://g12-prod-by3-010-sb.servicebus.windows.net/$hc/myhc?sb-hc-action=request&sb-hc-id=c126fddd-5ca6-430f-9b10-e2188d1ed0d4_G12","id":"c126fddd-5ca6-430f-9b10-e2188d1ed0d4_G12"}})";

const std::string kResponseSample =
    R"({"response":{"requestId":"c126fddd-5ca6-430f-9b10-e2188d1ed0d4_G12","statusCode":200,"statusDescription":"OK","responseHeaders":{"Content-Type":"text/plain"},"body":true}})";

const std::string kV1Token =
    "SharedAccessSignature sr=http%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc%2F&sig="
    "ubwedyCR%2Bc0sRaVj3hXzIlrfBwZEUeFZihDvvPHriyA%3D&se=1700000000&skn=RootManageSharedAccessKey";
const std::string kRenewSample = R"({"renewToken":{"token":")" + kV1Token + R"("}})";

template <class T>
const T& expect(const Result<ControlMessage>& r) {
  INFO((r.ok() ? std::string("ok") : r.error()));
  REQUIRE(r.ok());
  REQUIRE(std::holds_alternative<T>(r.value()));
  return std::get<T>(r.value());
}

}  // namespace

TEST_CASE("accept sample parses", "[control]") {
  const auto r = parse_control_message(kAcceptSample);
  const auto& m = expect<AcceptMessage>(r);
  CHECK(m.address ==
        "wss://g17-prod-by3-010-sb.servicebus.windows.net/$hc/myhc/api?x=1&sb-hc-action=accept&sb-hc-id=ca496b91-"
        "f5a3-4761-8eda-9a66dd9a2558_G17_G30");
  CHECK(m.id == "ca496b91-f5a3-4761-8eda-9a66dd9a2558_G17_G30");
  const HeaderList expected = {{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                               {"Sec-WebSocket-Version", "13"},
                               {"Sec-WebSocket-Protocol", "tunnel.v1, tunnel.v0"},
                               {"Connection", "Upgrade"},
                               {"Upgrade", "websocket"},
                               {"Host", "contoso.servicebus.windows.net:443"},
                               {"User-Agent", "test-agent/1.0"},
                               {"X-Custom", "v"}};
  CHECK(m.connect_headers == expected);
  CHECK(m.remote_address == "203.0.113.7");
  CHECK(m.remote_port == 62917);
}

TEST_CASE("request sample parses", "[control]") {
  const auto r = parse_control_message(kRequestSample);
  const auto& m = expect<RequestMessage>(r);
  CHECK(m.address ==
        "wss://g12-prod-by3-010-sb.servicebus.windows.net/$hc/myhc?sb-hc-action=request&sb-hc-id=c126fddd-5ca6-430f-"
        "9b10-e2188d1ed0d4_G12");
  CHECK(m.id == "c126fddd-5ca6-430f-9b10-e2188d1ed0d4_G12");
  CHECK(m.request_target == "/myhc/api/items?x=1");
  CHECK(m.method == "POST");
  REQUIRE(m.request_headers.size() == 4);
  CHECK(m.request_headers[0] == std::make_pair(std::string("Content-Type"),
                                               std::string("application/json; charset=utf-8")));
  CHECK(m.request_headers[3] == std::make_pair(std::string("Via"), std::string("1.1 contoso.servicebus.windows.net")));
  CHECK(m.body);
  CHECK_FALSE(m.rendezvous_only);
}

TEST_CASE("rendezvous-only request parses", "[control]") {
  const auto r = parse_control_message(kRendezvousOnlySample);
  const auto& m = expect<RequestMessage>(r);
  CHECK(m.rendezvous_only);
  CHECK_FALSE(m.body);
  CHECK(m.id == "c126fddd-5ca6-430f-9b10-e2188d1ed0d4_G12");
  CHECK(m.method.empty());
  CHECK(m.request_headers.empty());
  // The full request re-sent on the rendezvous socket may omit the address.
  const auto full = parse_control_message(R"({"request":{"id":"i","method":"GET","requestTarget":"/x"}})");
  const auto& f = expect<RequestMessage>(full);
  CHECK_FALSE(f.rendezvous_only);
  CHECK(f.address.empty());
  CHECK(f.method == "GET");
}

TEST_CASE("response sample parses, statusCode as number or string", "[control]") {
  const auto r = parse_control_message(kResponseSample);
  const auto& m = expect<ResponseMessage>(r);
  CHECK(m.request_id == "c126fddd-5ca6-430f-9b10-e2188d1ed0d4_G12");
  CHECK(m.status_code == 200);
  CHECK(m.status_description == "OK");
  CHECK(m.response_headers == HeaderList{{"Content-Type", "text/plain"}});
  CHECK(m.body);

  const auto s = parse_control_message(R"({"response":{"statusCode":"404","requestId":"x"}})");
  const auto& ms = expect<ResponseMessage>(s);
  CHECK(ms.status_code == 404);
  CHECK_FALSE(ms.body);
  CHECK(ms.status_description.empty());
}

TEST_CASE("renewToken sample parses", "[control]") {
  const auto r = parse_control_message(kRenewSample);
  CHECK(expect<RenewTokenMessage>(r).token == kV1Token);
}

TEST_CASE("unknown message names are not errors", "[control]") {
  const auto r = parse_control_message(R"({"injectFault":{"delay":"00:01:00"}})");
  CHECK(expect<UnknownMessage>(r).name == "injectFault");
}

TEST_CASE("escapes and member order", "[control]") {
  const auto r = parse_control_message(
      "{ \"accept\" : { \"connectHeaders\":{\"A\":\"\\u0041\\t\\\"\\\\\"}, \"id\":\"\\u00e9\\ud83d\\ude00\", "
      "\"address\":\"a\\/b\" } }\n");
  const auto& m = expect<AcceptMessage>(r);
  CHECK(m.address == "a/b");
  CHECK(m.id == "\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(m.connect_headers == HeaderList{{"A", "A\t\"\\"}});
  CHECK(m.remote_address.empty());
  CHECK(m.remote_port == 0);
  // null counts as absent for optional members.
  const auto n = parse_control_message(R"({"accept":{"address":"a","id":"b","connectHeaders":null,"remoteEndpoint":null}})");
  CHECK(expect<AcceptMessage>(n).connect_headers.empty());
}

TEST_CASE("structural and field errors name the problem", "[control]") {
  struct Case {
    std::string json;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"", "not valid JSON"},
      {"[]", "not a JSON object"},
      {"\"accept\"", "not a JSON object"},
      {"{}", "exactly one member, found 0"},
      {R"({"accept":{"address":"a","id":"b"},"request":{}})", "exactly one member, found 2"},
      {R"({"accept":"x"})", "must be an object"},
      {R"({"accept":{"address":"a","id":"b"}} x)", "not valid JSON"},
      {R"({"accept":{"address":"a","id":"b"}}{})", "not valid JSON"},
      {std::string(R"({"accept":{"address":"a","id":"b"}})") + std::string(1, '\0') + "junk", "NUL"},
      {R"({"accept":{"id":"b"}})", "'address'"},
      {R"({"accept":{"address":"a"}})", "'id'"},
      {R"({"accept":{"address":1,"id":"b"}})", "'address' must be a string"},
      {R"({"accept":{"address":"a","id":"b","connectHeaders":[]}})", "'connectHeaders' must be an object"},
      {R"({"accept":{"address":"a","id":"b","connectHeaders":{"X-Num":5}}})", "'X-Num'"},
      {R"({"accept":{"address":"a","id":"b","remoteEndpoint":{"address":"h","port":"1"}}})", "remoteEndpoint.port"},
      {R"({"accept":{"address":"a","id":"b","remoteEndpoint":{"address":"h","port":70000}}})", "remoteEndpoint.port"},
      {R"({"accept":{"address":"a","id":"b","remoteEndpoint":{"address":5}}})", "remoteEndpoint.address"},
      {R"({"accept":{"address":"a","id":"b","remoteEndpoint":7}})", "'remoteEndpoint' must be an object"},
      {R"({"request":{"id":"b"}})", "'address'"},
      {R"({"request":{"address":"a"}})", "'id'"},
      {R"({"request":{"address":"a","id":"b","method":"GET","body":"yes"}})", "'body'"},
      {R"({"request":{"address":"a","id":"b","method":5}})", "'method'"},
      {R"({"request":{"address":"a","id":"b","method":"GET","requestHeaders":{"H":null}}})", "'H'"},
      {R"({"renewToken":{}})", "'token'"},
      {R"({"renewToken":{"token":5}})", "'token' must be a string"},
      {R"({"response":{"statusCode":200}})", "'requestId'"},
      {R"({"response":{"requestId":"r"}})", "'statusCode'"},
      {R"({"response":{"requestId":"r","statusCode":99}})", "out of range"},
      {R"({"response":{"requestId":"r","statusCode":1000}})", "out of range"},
      {R"({"response":{"requestId":"r","statusCode":-200}})", "out of range"},
      {R"({"response":{"requestId":"r","statusCode":"099"}})", "out of range"},
      {R"({"response":{"requestId":"r","statusCode":"2OO"}})", "statusCode"},
      {R"({"response":{"requestId":"r","statusCode":""}})", "statusCode"},
      {R"({"response":{"requestId":"r","statusCode":" 200"}})", "statusCode"},
      {R"({"response":{"requestId":"r","statusCode":"99999999999999999999"}})", "statusCode"},
      {R"({"response":{"requestId":"r","statusCode":200.5}})", "statusCode"},
      {R"({"response":{"requestId":"r","statusCode":1e300}})", "statusCode"},
      {R"({"response":{"requestId":"r","statusCode":true}})", "statusCode"},
      {"{\"accept\":{\"address\":\"\xff\",\"id\":\"b\"}}", "not valid JSON"},  // invalid UTF-8
  };
  for (const auto& c : cases) {
    INFO(c.json);
    const auto r = parse_control_message(c.json);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains(c.expect));
  }
}

TEST_CASE("size limit", "[control]") {
  std::string big = R"({"unknownThing":{"pad":")" + std::string(kMaxControlMessageSize, 'x') + "\"}}";
  const auto r = parse_control_message(big);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == "control message too large (" + std::to_string(big.size()) + " bytes, limit 65536)");

  // Exactly at the limit is fine.
  std::string at_limit = kResponseSample;
  at_limit.append(kMaxControlMessageSize - at_limit.size(), ' ');
  REQUIRE(at_limit.size() == kMaxControlMessageSize);
  CHECK(parse_control_message(at_limit).ok());
  const auto over = parse_control_message(at_limit + " ");
  REQUIRE_FALSE(over.ok());
  CHECK(over.error() == "control message too large (65537 bytes, limit 65536)");
}

TEST_CASE("nesting bombs are errors or harmless, never a stack overflow", "[control]") {
  const std::size_t depth = 30000;
  const std::string open_only = R"({"x":{"a":)" + std::string(depth, '[');
  CHECK_FALSE(parse_control_message(open_only).ok());
  // Deep but valid nesting under an unknown name is accepted and ignored.
  const std::string balanced = R"({"x":{"a":)" + std::string(depth, '[') + std::string(depth, ']') + "}}";
  REQUIRE(balanced.size() < kMaxControlMessageSize);
  CHECK(expect<UnknownMessage>(parse_control_message(balanced)).name == "x");
  const std::string objects = [] {
    std::string s = R"({"accept":{"address":"a","id":"b","connectHeaders":)";
    for (int i = 0; i < 10000; ++i) s += R"({"k":)";
    return s;
  }();
  CHECK_FALSE(parse_control_message(objects).ok());
}

TEST_CASE("renewToken errors never contain the token", "[control]") {
  const std::string secret = "ubwedyCR%2Bc0sRaVj3hXzIlrfBwZEUeFZihDvvPHriyA";
  const std::vector<std::string> bad = {
      R"({"renewToken":{"token":")" + kV1Token + R"("},"x":{}})",
      R"({"renewToken":{"tok":")" + kV1Token + R"("}})",
      R"({"renewToken":{"token":[")" + kV1Token + R"("]}})",
      R"({"renewToken":{"token":")" + kV1Token + R"("}}trailing)",
      R"({"renewToken":")" + kV1Token + R"("})",
      R"({")" + kV1Token + R"(":5})",
  };
  for (const auto& json : bad) {
    const auto r = parse_control_message(json);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), !Catch::Contains(secret));
  }
  for (std::size_t n = 0; n < kRenewSample.size(); ++n) {
    const auto r = parse_control_message(std::string_view(kRenewSample).substr(0, n));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), !Catch::Contains(secret));
  }
}

TEST_CASE("build -> parse round trips", "[control]") {
  SECTION("accept") {
    AcceptMessage a;
    a.address = "wss://g1/$hc/hc?sb-hc-action=accept&sb-hc-id=x";
    a.id = "x_G1";
    a.connect_headers = {{"Sec-WebSocket-Key", "k=="}, {"Quote\"Back\\slash", "ctl\x01\n\t end"}, {"Uni", "\xc3\xa9"}};
    a.remote_address = "2001:db8::1";
    a.remote_port = 65535;
    const std::string json = build_accept_message(a);
    const auto r = parse_control_message(json);
    const auto& b = expect<AcceptMessage>(r);
    CHECK(b.address == a.address);
    CHECK(b.id == a.id);
    CHECK(b.connect_headers == a.connect_headers);
    CHECK(b.remote_address == a.remote_address);
    CHECK(b.remote_port == a.remote_port);

    a.remote_address.clear();
    const std::string no_remote = build_accept_message(a);
    CHECK(no_remote.find("remoteEndpoint") == std::string::npos);
    CHECK(expect<AcceptMessage>(parse_control_message(no_remote)).remote_address.empty());
  }
  SECTION("accept has the documented shape") {
    AcceptMessage a{"wss://h/$hc/x", "id1", {{"H", "v"}}, "1.2.3.4", 5};
    CHECK(build_accept_message(a) ==
          R"({"accept":{"address":"wss://h/$hc/x","id":"id1","connectHeaders":{"H":"v"},"remoteEndpoint":{"address":"1.2.3.4","port":5}}})");
  }
  SECTION("request with body") {
    RequestMessage q;
    q.address = "wss://g/$hc/hc?sb-hc-action=request&sb-hc-id=r";
    q.id = "r_G12";
    q.request_target = "/hc/x?y=1";
    q.method = "PUT";
    q.request_headers = {{"Content-Type", "text/plain"}, {"X", ""}};
    q.remote_address = "2001:db8::7";
    q.remote_port = 4242;
    q.body = true;
    const std::string json = build_request_message(q);
    CHECK(json.find(R"("remoteEndpoint":{"address":"2001:db8::7","port":4242})") != std::string::npos);
    const auto r = parse_control_message(json);
    const auto& p = expect<RequestMessage>(r);
    CHECK(p.address == q.address);
    CHECK(p.id == q.id);
    CHECK(p.request_target == q.request_target);
    CHECK(p.method == q.method);
    CHECK(p.request_headers == q.request_headers);
    CHECK(p.remote_address == q.remote_address);  // the sender, which a listener turns into X-Forwarded-For
    CHECK(p.remote_port == 4242);
    CHECK(p.body);
    CHECK_FALSE(p.rendezvous_only);
  }
  SECTION("rendezvous-only request") {
    RequestMessage q;
    q.address = "wss://g/$hc/hc?sb-hc-action=request&sb-hc-id=r";
    q.id = "r";
    q.rendezvous_only = true;
    q.method = "ignored";
    const std::string json = build_request_message(q);
    CHECK(json == R"({"request":{"address":"wss://g/$hc/hc?sb-hc-action=request&sb-hc-id=r","id":"r"}})");
    const auto r = parse_control_message(json);
    const auto& p = expect<RequestMessage>(r);
    CHECK(p.rendezvous_only);
    CHECK(p.address == q.address);
  }
  SECTION("response") {
    ResponseMessage s{"req-1", 418, "I'm a teapot", {{"A", "1"}, {"A", "2"}}, false};
    const std::string json = build_response_message(s);
    CHECK(json ==
          R"({"response":{"requestId":"req-1","statusCode":418,"statusDescription":"I'm a teapot","responseHeaders":{"A":"1","A":"2"},"body":false}})");
    const auto r = parse_control_message(json);
    const auto& p = expect<ResponseMessage>(r);
    CHECK(p.request_id == s.request_id);
    CHECK(p.status_code == 418);
    CHECK(p.status_description == s.status_description);
    CHECK(p.response_headers == s.response_headers);
    CHECK_FALSE(p.body);
  }
  SECTION("renewToken") {
    const std::string json = build_renew_token_message(kV1Token);
    CHECK(json == kRenewSample);
    CHECK(expect<RenewTokenMessage>(parse_control_message(json)).token == kV1Token);
  }
  SECTION("invalid UTF-8 is replaced so the output stays parseable") {
    AcceptMessage a;
    a.address = "a\xff" "b";
    a.id = "c\xc0\xafz\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82";
    a.connect_headers = {{"K\x80", "v\xc3"}};
    const auto r = parse_control_message(build_accept_message(a));
    const auto& b = expect<AcceptMessage>(r);
    CHECK(b.address == "a\xef\xbf\xbd" "b");
    CHECK(b.id.find("\xef\xbf\xbd") != std::string::npos);
    CHECK(b.id.front() == 'c');
    CHECK(b.connect_headers.at(0).first == "K\xef\xbf\xbd");
    CHECK(b.connect_headers.at(0).second == "v\xef\xbf\xbd");
  }
}

TEST_CASE("fuzz: truncations and random bytes never crash", "[control]") {
  for (const std::string* sample :
       {&kAcceptSample, &kRequestSample, &kRendezvousOnlySample, &kResponseSample, &kRenewSample}) {
    REQUIRE(parse_control_message(*sample).ok());
    for (std::size_t n = 0; n < sample->size(); ++n) {
      const auto r = parse_control_message(std::string_view(*sample).substr(0, n));
      INFO(n);
      CHECK_FALSE(r.ok());
      CHECK_FALSE(r.error().empty());
    }
  }
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 2000; ++i) {
    std::string s(static_cast<std::size_t>(rng() % 200), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    if (i % 2 == 0 && !s.empty()) s[0] = '{';  // get past the first byte more often
    const auto r = parse_control_message(s);
    CHECK_FALSE(r.ok());
  }
  // Mutated samples may parse or not, but must produce a value or a message.
  static const char kAlphabet[] = "{}[]\":,\\ 0123456789.-+eEtrufalsn\x00\xff";
  const std::string alphabet(kAlphabet, sizeof kAlphabet - 1);
  for (int i = 0; i < 3000; ++i) {
    std::string s = (i % 2) ? kAcceptSample : kRequestSample;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) s[rng() % s.size()] = alphabet[rng() % alphabet.size()];
    const auto r = parse_control_message(s);
    if (!r.ok()) CHECK_FALSE(r.error().empty());
  }
}

TEST_CASE("control message: a lone surrogate escape is refused (fuzz finding)") {
  auto r = hc::parse_control_message(R"({"renewToken":{"token":"\udc00"}})");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains("not valid UTF-8"));
  // A proper pair still works.
  CHECK(hc::parse_control_message(R"({"renewToken":{"token":"\ud83d\ude00"}})").ok());
}
