// -H grammar, the config file's `http` key, and the pure request/response mapping rules of a published web server.
#include <catch2/catch.hpp>

#include "bridge/config_file.hpp"
#include "bridge/config_render.hpp"
#include "bridge/http_forward_grammar.hpp"
#include "bridge/http_mapping.hpp"
#include "support/temp_file.hpp"

#include <string>

using namespace bridge;
using testing::contains;

namespace {

HttpTarget http_of(const std::string& expr) {
  auto r = parse_http_forward(expr);
  INFO((r.ok() ? std::string() : r.error()));
  REQUIRE(r.ok());
  REQUIRE(r.value().http);
  CHECK(r.value().targets.empty());
  return *r.value().http;
}

std::string http_error(const std::string& expr) {
  auto r = parse_http_forward(expr);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

std::string mapped(std::string_view base, std::string_view target) {
  auto r = map_request_target("web", base, target);
  INFO(target << " -> " << (r.ok() ? r.value() : r.error()));
  REQUIRE(r.ok());
  return r.value();
}

bool refused(std::string_view target) { return !map_request_target("web", "/app", target).ok(); }

std::string header(const net::http::Headers& h, const char* name) {
  const std::string* v = h.find(name);
  return v ? *v : std::string("<none>");
}

}  // namespace

TEST_CASE("http forward (-H): azbridge's grammar, with the port after the path or after the host") {
  auto t = http_of("web:http/localhost");
  CHECK_FALSE(t.tls);
  CHECK(t.host == "localhost");
  CHECK(t.port == 80);
  CHECK(t.base_path.empty());
  t = http_of("web:https/app.internal/api/v1:8443");
  CHECK(t.tls);
  CHECK(t.host == "app.internal");
  CHECK(t.port == 8443);
  CHECK(t.base_path == "/api/v1");
  t = http_of("web:http/127.0.0.1:8080/base/");
  CHECK(t.port == 8080);
  CHECK(t.base_path == "/base");
  t = http_of("web:http/[::1]:8080");
  CHECK(t.host == "::1");
  CHECK(t.port == 8080);
  t = http_of("a/b:https/example.com");
  CHECK(t.port == 443);
}

TEST_CASE("http forward (-H): mistakes name what is wrong") {
  CHECK(contains(http_error("web"), "missing ':'"));
  CHECK(contains(http_error("web:ftp/host"), "http/ or https/"));
  CHECK(contains(http_error("web:localhost:80"), "http/ or https/"));
  CHECK(contains(http_error("web:http/host/p:80x"), "not a port number"));
  CHECK(contains(http_error("we b:http/host"), "hybrid connection name"));
  CHECK(contains(http_error("web:http/ho st"), "ho st"));
  CHECK(contains(http_error("web:http/host:99999"), "99999"));
}

TEST_CASE("config file: http as a URL or an object, checked like every key") {
  auto r = parse_config_json(R"({"remote_forward":[{"hc":"web","http":"http://127.0.0.1:8080/app"}]})", "f.json");
  REQUIRE(r.ok());
  REQUIRE(r.value().remote_forwards.at(0).http);
  CHECK(r.value().remote_forwards[0].http->base_path == "/app");
  CHECK(r.value().remote_forwards[0].targets.empty());
  r = parse_config_json(R"({"remote_forward":[{"hc":"web","target":"22","http":{"url":"https://h","insecure":true,
      "preserve_host":true,"response_timeout":2,"connect_timeout":1,"write_timeout":7,"max_requests":5}}]})",
                        "f.json");
  REQUIRE(r.ok());
  const auto& f = r.value().remote_forwards.at(0);
  CHECK(f.targets.size() == 1);
  CHECK(f.http->insecure);
  CHECK(f.http->preserve_host);
  CHECK(f.http->response_timeout.count() == 2);
  CHECK(f.http->connect_timeout.count() == 1);
  CHECK(f.http->write_timeout.count() == 7);
  CHECK(f.http->max_requests == 5);
  // The rendering parses back to the same web server.
  auto again = parse_config_json(render_config(r.value()), "rendered.json");
  INFO(render_config(r.value()));
  REQUIRE(again.ok());
  CHECK(again.value().remote_forwards.at(0).http->response_timeout.count() == 2);
  CHECK(again.value().remote_forwards.at(0).http->write_timeout.count() == 7);
  CHECK(again.value().remote_forwards.at(0).http->insecure);
  auto bad = parse_config_json(R"({"remote_forward":[{"hc":"web","http":{"url":"http://h","insecur":true}}]})", "f.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(contains(bad.error(), "insecur"));
  bad = parse_config_json(R"({"remote_forward":[{"hc":"web","http":"http://h/?x=1"}]})", "f.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(contains(bad.error(), "query"));
  bad = parse_config_json(R"({"remote_forward":[{"hc":"web","http":{"url":"http://h","response_timeout":0}}]})", "f.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(contains(bad.error(), "response_timeout"));
  bad = parse_config_json(R"({"remote_forward":[{"hc":"web","http":{"url":"http://h","write_timeout":-1}}]})", "f.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(contains(bad.error(), "write_timeout"));
}

TEST_CASE("mapping: base path + the remainder after the HC name, byte-exact, at a segment boundary") {
  CHECK(mapped("", "/web") == "/");
  CHECK(mapped("", "/web/") == "/");
  CHECK(mapped("", "/web/a/b?x=1&y=%2F") == "/a/b?x=1&y=%2F");
  CHECK(mapped("/app", "/web") == "/app");
  CHECK(mapped("/app", "/web/") == "/app/");
  CHECK(mapped("/app", "/WEB/x%20y/%41?q") == "/app/x%20y/%41?q");  // HC names are case-insensitive; escapes kept
  CHECK(mapped("/app", "/web/a//b") == "/app/a//b");                   // only a leading '//' names a host
  CHECK(mapped("/app", "/web?only=query") == "/app?only=query");
  CHECK(mapped("/app", "/web/..foo/.bar") == "/app/..foo/.bar");      // dots inside names are fine
}

TEST_CASE("mapping: what could leave the base path or change the host is refused (400)") {
  CHECK(refused("/webx/a"));        // not the HC name at a segment boundary
  CHECK(refused("/other/a"));
  CHECK(refused("web/a"));
  CHECK(refused("/web//evil/x"));
  CHECK(refused("/web/%2F%2Fevil/x"));
  CHECK(refused("/web/%2f/evil"));
  CHECK(refused("/web//"));
  CHECK(refused("/web/\\evil"));
  CHECK(refused("/web/%5Cevil"));
  CHECK(refused("/web/../admin"));
  CHECK(refused("/web/a/%2e%2e/%2E%2E/admin"));
  CHECK(refused("/web/./x"));
  CHECK(refused("/web/a/.."));
  CHECK(refused("/web/a b"));
  CHECK(refused("/web/a\r\nX: y"));
  CHECK(refused("/web/a#frag"));
  CHECK(contains(map_request_target("web", "", "/web//evil").error(), "another host"));
}

TEST_CASE("mapping: request headers lose hop-by-hop and forged forwarding headers, gain Via and X-Forwarded-*") {
  hc::HeaderList in = {{"Host", "ns.servicebus.windows.net"}, {"Connection", "keep-alive, X-Private"},
                       {"X-Private", "1"},        {"Keep-Alive", "5"},
                       {"TE", "trailers"},        {"Transfer-Encoding", "chunked"},
                       {"Content-Length", "12"},  {"Upgrade", "h2c"},
                       {"Expect", "100-continue"}, {"Proxy-Authorization", "Basic x"},
                       {"X-Forwarded-For", "6.6.6.6"}, {"Forwarded", "for=6.6.6.6"},
                       {"ServiceBusAuthorization", "SharedAccessSignature x"},
                       {"Via", "1.1 ns.servicebus.windows.net"}, {"Accept", "text/html"},
                       {"Content-Type", "application/json"}, {"Cookie", "a=1"}};
  const auto out = map_request_headers(in, {"localhost:8080", false, "203.0.113.7", "https"});
  for (const char* gone : {"Connection", "X-Private", "Keep-Alive", "TE", "Transfer-Encoding", "Content-Length",
                           "Upgrade", "Expect", "Proxy-Authorization", "Forwarded", "ServiceBusAuthorization"})
    CHECK(header(out, gone) == "<none>");
  CHECK(header(out, "Host") == "localhost:8080");
  CHECK(header(out, "X-Forwarded-For") == "203.0.113.7");
  CHECK(header(out, "X-Forwarded-Proto") == "https");
  CHECK(header(out, "X-Forwarded-Host") == "ns.servicebus.windows.net");
  CHECK(header(out, "Via") == "1.1 ns.servicebus.windows.net, 1.1 hcbridge");
  CHECK(header(out, "Accept") == "text/html");
  CHECK(header(out, "Content-Type") == "application/json");
  CHECK(header(out, "Cookie") == "a=1");
  std::size_t hosts = 0;
  for (const auto& h : out.list) hosts += hc::iequals(h.name, "Host") ? 1 : 0;
  CHECK(hosts == 1);
  const auto kept = map_request_headers(in, {"localhost:8080", true, "", "http"});
  CHECK(header(kept, "Host") == "ns.servicebus.windows.net");
  CHECK(header(kept, "X-Forwarded-For") == "<none>");  // the relay did not say: nothing is made up
}

TEST_CASE("mapping: response headers lose hop-by-hop and framing, repeats are joined, Via is added") {
  net::http::Headers in;
  for (auto [n, v] : std::initializer_list<std::pair<const char*, const char*>>{
           {"Content-Type", "text/plain"}, {"Content-Length", "5"}, {"Transfer-Encoding", "chunked"},
           {"Connection", "close, X-Hop"}, {"X-Hop", "1"}, {"Keep-Alive", "timeout=5"}, {"Cache-Control", "no-cache"},
           {"cache-control", "private"}, {"Location", "/elsewhere"}})
    in.add(n, v);
  const auto out = map_response_headers(in);
  auto get = [&](const char* name) {
    for (const auto& [n, v] : out)
      if (hc::iequals(n, name)) return v;
    return std::string("<none>");
  };
  CHECK(get("Content-Type") == "text/plain");
  CHECK(get("Content-Length") == "<none>");
  CHECK(get("Transfer-Encoding") == "<none>");
  CHECK(get("Connection") == "<none>");
  CHECK(get("X-Hop") == "<none>");
  CHECK(get("Keep-Alive") == "<none>");
  CHECK(get("Cache-Control") == "no-cache, private");
  CHECK(get("Location") == "/elsewhere");
  CHECK(get("Via") == "1.1 hcbridge");
}

TEST_CASE("mapping: HEAD, 1xx, 204 and 304 answers have no body") {
  CHECK_FALSE(response_has_body("HEAD", 200));
  CHECK_FALSE(response_has_body("GET", 204));
  CHECK_FALSE(response_has_body("GET", 304));
  CHECK_FALSE(response_has_body("GET", 101));
  CHECK(response_has_body("GET", 200));
  CHECK(response_has_body("POST", 404));
}
