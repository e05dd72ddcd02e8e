// The local HTTP entrance (-L http:[addr:]port:hc): its grammar, its config-file form and validation, and the pure
// rules by which a client's request becomes an HC HTTP request and the relay's answer goes back (framing included).
#include <catch2/catch.hpp>

#include "bridge/config_file.hpp"
#include "bridge/config_render.hpp"
#include "bridge/forward_grammar.hpp"
#include "bridge/http_entrance_rules.hpp"
#include "support/temp_file.hpp"

#include <string>

using namespace bridge;
using testing::contains;

namespace {

std::string local_error(const std::string& expr) {
  auto r = parse_local_forward(expr);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

net::http::Headers headers(std::initializer_list<std::pair<const char*, const char*>> list) {
  net::http::Headers h;
  for (const auto& [n, v] : list) h.add(n, v);
  return h;
}

std::string copy_all(BodyCopier& c, const std::string& in, std::size_t step, std::size_t& used_total) {
  std::string out;
  used_total = 0;
  for (std::size_t at = 0; at < in.size() && !c.done();) {
    std::size_t used = 0;
    const std::size_t n = std::min(step, in.size() - at);
    c.feed(in.data() + at, n, used, out);
    used_total += used;
    if (used < n) break;
    at += n;
  }
  return out;
}

}  // namespace

TEST_CASE("entrance grammar: an http: binding is an HTTP entrance, told apart from TCP", "[http_entrance]") {
  auto f = parse_local_forward("http:8080:web");
  REQUIRE(f.ok());
  REQUIRE(f->bindings.size() == 1);
  CHECK(f->bindings[0].protocol == Protocol::http);
  CHECK(f->bindings[0].bind_host == "127.0.0.1");
  CHECK(f->bindings[0].port == 8080);
  CHECK(f->hc == "web");
  auto g = parse_local_forward("http:*:8080;http:[::1]:8081;9000:api/v1");
  REQUIRE(g.ok());
  CHECK(g->bindings[0].bind_host == "0.0.0.0");
  CHECK(g->bindings[1].bind_host == "::1");
  CHECK(g->bindings[1].protocol == Protocol::http);
  CHECK(g->bindings[2].protocol == Protocol::tcp);
  CHECK(g->hc == "api/v1");
  // azbridge's "8000/http:hc" stays TCP with the port name "http".
  auto azb = parse_local_forward("8000/http:hc");
  REQUIRE(azb.ok());
  CHECK(azb->bindings[0].protocol == Protocol::tcp);
  CHECK(azb->bindings[0].port_name == "http");
  CHECK(binding_text(f->bindings[0]) == "http://127.0.0.1:8080");
}

TEST_CASE("entrance grammar: mistakes in an http: binding are named", "[http_entrance]") {
  CHECK(contains(local_error("http::hc"), "missing port after 'http:'"));
  CHECK(contains(local_error("http:8080/web:hc"), "an HTTP binding takes no port name"));
  CHECK(contains(local_error("http:5353U:hc"), "an HTTP binding is TCP"));
  CHECK(contains(local_error("http:0:hc"), "out of range"));
  CHECK(contains(local_error("http:a:b:8080:hc"), "too many ':'"));
}

TEST_CASE("config file: \"protocol\": \"http\" for local bindings only, validated and rendered", "[http_entrance]") {
  auto r = parse_config_json(R"json({ "local_forward": [
      { "hc": "web", "bindings": [ { "address": "127.0.0.1", "port": 8080, "protocol": "http" } ] },
      { "hc": "api", "bind": "http:8081" } ] })json", "f.json");
  REQUIRE(r.ok());
  CHECK(r->local_forwards[0].bindings[0].protocol == Protocol::http);
  CHECK(r->local_forwards[1].bindings[0].protocol == Protocol::http);
  std::vector<std::string> warnings;
  Config c = r.value();
  REQUIRE(validate_config(c, warnings).ok());
  const std::string text = render_config(c);
  CHECK(contains(text, "\"protocol\": \"http\""));
  auto again = parse_config_json(text, "rendered.json");
  REQUIRE(again.ok());
  CHECK(again->local_forwards[0].bindings[0].protocol == Protocol::http);

  auto target = parse_config_json(R"json({ "remote_forward": [ { "hc": "w", "targets": [ { "port": 80, "protocol": "http" } ] } ] })json", "f.json");
  REQUIRE_FALSE(target.ok());
  CHECK(contains(target.error(), "\"http\" is for local bindings"));

  auto raw = parse_config_json(R"json({ "local_forward": [ { "hc": "w", "raw": true, "bind": "http:8080" } ] })json", "f.json");
  REQUIRE(raw.ok());
  Config rc = raw.value();
  auto checked = validate_config(rc, warnings);
  REQUIRE_FALSE(checked.ok());
  CHECK(contains(checked.error(), "'raw' does not apply"));

  // An HTTP binding is a TCP listener: the same address and port cannot be bound by both.
  auto twice = parse_config_json(R"json({ "local_forward": [ { "hc": "a", "bind": "http:8080" }, { "hc": "b", "bind": "8080" } ] })json", "f.json");
  REQUIRE(twice.ok());
  Config tc = twice.value();
  auto both = validate_config(tc, warnings);
  REQUIRE_FALSE(both.ok());
  CHECK(contains(both.error(), "bound twice"));
}

TEST_CASE("config file: a local forward's http.answer_timeout is read, range-checked and rendered", "[http_entrance]") {
  auto r = parse_config_json(R"json({ "local_forward": [
      { "hc": "web", "bind": "http:8080" },
      { "hc": "api", "bind": "http:8081", "http": { "answer_timeout": 5.5 } },
      { "hc": "db", "bind": "5432" } ] })json", "f.json");
  REQUIRE(r.ok());
  CHECK(r->local_forwards[0].http.answer_timeout.count() == 75);  // the default
  CHECK(r->local_forwards[1].http.answer_timeout.count() == 5.5);
  std::vector<std::string> warnings;
  Config c = r.value();
  REQUIRE(validate_config(c, warnings).ok());
  // check-config shows it for the forwards that have an HTTP entrance, and it reads back the same.
  const std::string text = render_config(c);
  CHECK(contains(text, "\"answer_timeout\": 75"));
  CHECK(contains(text, "\"answer_timeout\": 5.5"));
  auto again = parse_config_json(text, "rendered.json");
  REQUIRE(again.ok());
  CHECK(again->local_forwards[0].http.answer_timeout.count() == 75);
  CHECK(again->local_forwards[1].http.answer_timeout.count() == 5.5);
  const auto db = text.find("\"hc\": \"db\"");  // the last forward, without an HTTP entrance
  REQUIRE(db != std::string::npos);
  CHECK(text.find("answer_timeout", db) == std::string::npos);

  const auto error = [](const std::string& http) {
    auto bad = parse_config_json(R"json({ "local_forward": [ { "hc": "web", "bind": "http:8080", "http": )json" + http +
                                     " } ] }",
                                 "f.json");
    REQUIRE_FALSE(bad.ok());
    return bad.error();
  };
  CHECK(error(R"({ "answer_timeout": 0 })") ==
        "f.json:1: local_forward[0].http.answer_timeout: must be more than 0 and at most 86400 seconds (got 0)");
  CHECK(contains(error(R"({ "answer_timeout": -1 })"), "must be more than 0"));
  CHECK(contains(error(R"({ "answer_timeout": 86401 })"), "(got 86401)"));
  CHECK(contains(error(R"({ "answer_timeout": "75" })"), "local_forward[0].http.answer_timeout"));
  CHECK(contains(error(R"({ "answer_timout": 75 })"), "did you mean 'answer_timeout'?"));
  CHECK(contains(error("75"), "local_forward[0].http"));

  // On a forward without an HTTP binding the object would do nothing: refused, naming the key.
  auto stray = parse_config_json(R"json({ "local_forward": [
      { "hc": "db", "bind": "5432", "http": { "answer_timeout": 5 } } ] })json", "f.json");
  REQUIRE_FALSE(stray.ok());
  CHECK(contains(stray.error(), "local_forward[0].http: applies to HTTP bindings only"));
  auto listed = parse_config_json(R"json({ "local_forward": [ { "hc": "web", "http": { "answer_timeout": 5 },
      "bindings": [ { "port": 5432 }, { "port": 8080, "protocol": "http" } ] } ] })json", "f.json");
  CHECK(listed.ok());
}

TEST_CASE("entrance: the relay's target is /<hc> + the client's target, byte-exact", "[http_entrance]") {
  CHECK(entrance_request_target("web", "/").value() == "/web/");
  CHECK(entrance_request_target("web", "/a%2Fb/c?x=%20&y").value() == "/web/a%2Fb/c?x=%20&y");
  CHECK(entrance_request_target("api/v1", "/x").value() == "/api/v1/x");
  CHECK_FALSE(entrance_request_target("web", "*").ok());
  CHECK_FALSE(entrance_request_target("web", "http://evil/x").ok());
  CHECK_FALSE(entrance_request_target("web", "/a b").ok());
  CHECK_FALSE(entrance_request_target("web", "/a#b").ok());
}

TEST_CASE("entrance: request headers lose hop-by-hop ones and the client's token, and get ours", "[http_entrance]") {
  net::http::RequestFraming chunked;
  chunked.framing = net::http::BodyFraming::chunked;
  const auto h = entrance_request_headers(
      headers({{"Host", "127.0.0.1:8080"}, {"Connection", "keep-alive, X-Hop"}, {"X-Hop", "1"}, {"Keep-Alive", "5"},
               {"ServiceBusAuthorization", "made-up"}, {"Authorization", "Bearer app"}, {"Expect", "100-continue"},
               {"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}, {"Via", "1.0 proxy"}, {"Accept", "*/*"}}),
      chunked, "ns.servicebus.windows.net", "SharedAccessSignature sr=x");
  CHECK(*h.find("Host") == "ns.servicebus.windows.net");
  CHECK(h.find("X-Hop") == nullptr);
  CHECK(h.find("Keep-Alive") == nullptr);
  CHECK(h.find("Connection") == nullptr);
  CHECK(h.find("Expect") == nullptr);
  CHECK(h.find("Content-Length") == nullptr);  // chunked wins: one framing header only
  CHECK(*h.find("Transfer-Encoding") == "chunked");
  CHECK(*h.find("ServiceBusAuthorization") == "SharedAccessSignature sr=x");
  CHECK(*h.find("Authorization") == "Bearer app");
  CHECK(*h.find("Via") == "1.0 proxy, 1.1 hcbridge");
  CHECK(*h.find("Accept") == "*/*");
  const auto none = entrance_request_headers(headers({{"ServiceBusAuthorization", "made-up"}}), {}, "h", "");
  CHECK(none.find("ServiceBusAuthorization") == nullptr);
}

TEST_CASE("entrance: keep-alive, framing and the client's response head", "[http_entrance]") {
  net::http::RequestHead r11;
  CHECK(net::http::request_keeps_alive(r11));
  r11.headers.add("Connection", "close");
  CHECK_FALSE(net::http::request_keeps_alive(r11));
  net::http::RequestHead r10;
  r10.version_minor = 0;
  CHECK_FALSE(net::http::request_keeps_alive(r10));
  r10.headers.add("Connection", "Keep-Alive");
  CHECK(net::http::request_keeps_alive(r10));
  r10.headers.add("Connection", "close");  // close wins, whatever else the request says
  CHECK_FALSE(net::http::request_keeps_alive(r10));

  net::http::ResponseHead ok;
  ok.status = 200;
  ok.reason = "OK";
  ok.headers = headers({{"Content-Length", "10"}, {"Via", "1.1 relay"}, {"Connection", "close"}});
  CHECK(relay_response_framing("GET", ok).framing == Framing::length);
  CHECK(relay_response_framing("HEAD", ok).framing == Framing::none);
  net::http::ResponseHead open;
  open.status = 200;
  CHECK(relay_response_framing("GET", open).framing == Framing::until_close);
  open.status = 204;
  CHECK(relay_response_framing("GET", open).framing == Framing::none);
  // "Content-Length: 0" is an empty body that ends at once, not one that runs to the close (with a relay that keeps
  // its connection, the latter waited for a close that never came).
  net::http::ResponseHead empty;
  empty.status = 200;
  empty.headers = headers({{"Content-Length", "0"}});
  const auto empty_framing = relay_response_framing("GET", empty);
  CHECK(empty_framing.framing == Framing::length);
  CHECK(empty_framing.length == 0);
  net::http::ResponseHead bad;
  bad.status = 200;
  bad.headers = headers({{"Content-Length", "1"}, {"Content-Length", "2"}});
  CHECK_FALSE(relay_response_framing("GET", bad).problem.empty());

  CHECK(client_framing(Framing::until_close, 1) == Framing::chunked);
  CHECK(client_framing(Framing::chunked, 0) == Framing::until_close);
  CHECK(client_framing(Framing::length, 0) == Framing::length);

  const std::string head = entrance_response_head(ok, Framing::length, 10, false);
  CHECK(head == "HTTP/1.1 200 OK\r\nVia: 1.1 relay\r\nContent-Length: 10\r\n\r\n");
  const std::string for_head = entrance_response_head(ok, Framing::none, 0, true);
  CHECK(for_head == "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nVia: 1.1 relay\r\nConnection: close\r\n\r\n");
  const std::string error = entrance_error_response(502, "the relay could not be reached", false);
  CHECK(contains(error, "HTTP/1.1 502 Bad Gateway\r\n"));
  CHECK(contains(error, "Content-Length: 31\r\n"));
  CHECK_FALSE(contains(error, "Connection: close"));
}

TEST_CASE("entrance: BodyCopier passes bodies through and finds their end", "[http_entrance]") {
  std::size_t used = 0;
  BodyCopier length(Framing::length, 5, Framing::length);
  CHECK(copy_all(length, "helloGET / HTTP/1.1", 3, used) == "hello");
  CHECK(used == 5);
  CHECK(length.done());

  const std::string chunked = "5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  for (std::size_t step : {1, 2, 7, 100}) {
    BodyCopier pass(Framing::chunked, 0, Framing::chunked);
    CHECK(copy_all(pass, chunked, step, used) == chunked.substr(0, chunked.size() - 4));
    CHECK(pass.done());
    BodyCopier decode(Framing::chunked, 0, Framing::until_close);
    CHECK(copy_all(decode, chunked, step, used) == "hello");
    CHECK(decode.done());
  }
  BodyCopier broken(Framing::chunked, 0, Framing::chunked);
  std::string out;
  CHECK(broken.feed("zz\r\n", 4, used, out) == net::http::ParseStatus::bad);
  CHECK_FALSE(broken.error().empty());

  BodyCopier to_chunks(Framing::until_close, 0, Framing::chunked);
  out.clear();
  to_chunks.feed("abc", 3, used, out);
  CHECK(to_chunks.end_of_input(out) == net::http::ParseStatus::good);
  CHECK(out == "3\r\nabc\r\n0\r\n\r\n");
  BodyCopier cut(Framing::length, 10, Framing::length);
  out.clear();
  cut.feed("abc", 3, used, out);
  CHECK(cut.end_of_input(out) == net::http::ParseStatus::bad);
  CHECK(BodyCopier(Framing::none, 0, Framing::none).done());
}
