// The pure proxy pieces: proxy URLs, the NO_PROXY matcher, the policy from settings and environment, and what a
// CONNECT answer means.
#include "net/proxy_connect.hpp"
#include "net/proxy_policy.hpp"

#include "hc/crypto.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace net;

namespace {

ProxyUrl url_ok(const std::string& text) {
  auto r = parse_proxy_url(text);
  INFO(text << ": " << (r ? std::string() : r.error()));
  REQUIRE(r);
  return r.value();
}

std::string url_error(const std::string& text) {
  auto r = parse_proxy_url(text);
  REQUIRE_FALSE(r);
  return r.error();
}

NoProxy list(const std::string& text) {
  auto r = NoProxy::parse(text);
  INFO(text << ": " << (r ? std::string() : r.error()));
  REQUIRE(r);
  return r.value();
}

http::ResponseHead answer(int status, std::initializer_list<std::pair<const char*, const char*>> headers = {}) {
  http::ResponseHead head;
  head.status = status;
  head.reason = "Reason";
  for (const auto& h : headers) head.headers.add(h.first, h.second);
  return head;
}

}  // namespace

TEST_CASE("proxy URL: forms users write", "[proxy]") {
  auto u = url_ok("http://proxy.corp.example:3128");
  CHECK(u.host == "proxy.corp.example");
  CHECK(u.port == 3128);
  CHECK_FALSE(u.has_credentials());
  CHECK(u.basic_authorization().empty());

  u = url_ok("Proxy.Corp.Example:8080");  // no scheme means http://; host is case-insensitive
  CHECK(u.host == "proxy.corp.example");
  CHECK(u.port == 8080);
  CHECK(url_ok("HTTP://proxy/").port == 80);  // default port, trailing slash
  u = url_ok("http://[::1]:3128");
  CHECK(u.host == "::1");
  CHECK(u.authority() == "[::1]:3128");
  CHECK(url_ok("[fd00::1]").host == "fd00::1");
  CHECK(url_ok("  http://10.0.0.1:3128 \n").host == "10.0.0.1");
}

TEST_CASE("proxy URL: userinfo is percent-decoded UTF-8 and masked for printing", "[proxy]") {
  const auto u = url_ok("http://alice:p%40ss%3Aw%25rd@127.0.0.1:13128");
  CHECK(u.user == "alice");
  CHECK(u.password == "p@ss:w%rd");
  CHECK(u.basic_authorization() == "Basic " + hc::base64_encode("alice:p@ss:w%rd"));
  CHECK(u.masked() == "http://alice:***@127.0.0.1:13128");
  CHECK(u.masked().find("p@ss") == std::string::npos);

  const auto v = url_ok("http://j%C3%B6rg:gr%C3%BC%C3%9F@proxy:3128");  // UTF-8 (RFC 7617 charset)
  CHECK(v.user == "j\xC3\xB6rg");
  CHECK(v.password == "gr\xC3\xBC\xC3\x9F");
  CHECK(url_ok("http://user@proxy:1").password.empty());
  CHECK(url_ok("http://user@proxy:1").has_credentials());
  CHECK(url_ok("http://u:raw@at@proxy:1").password == "raw@at");  // the last '@' ends the userinfo
}

TEST_CASE("proxy URL: refused with a message naming the problem, never the password", "[proxy]") {
  CHECK_THAT(url_error("https://proxy:443"), Catch::Contains("https:// proxies"));
  CHECK_THAT(url_error("socks5://proxy:1080"), Catch::Contains("SOCKS proxies (socks5://) are not supported"));
  CHECK_THAT(url_error("socks5h://proxy:1080"), Catch::Contains("SOCKS"));
  CHECK_THAT(url_error("ftp://proxy"), Catch::Contains("unsupported scheme 'ftp'"));
  CHECK_THAT(url_error(""), Catch::Contains("empty"));
  CHECK_THAT(url_error("http://proxy:99999"), Catch::Contains("invalid port"));
  CHECK_THAT(url_error("http://proxy:3128/path"), Catch::Contains("no path"));
  CHECK_THAT(url_error("http://:3128"), Catch::Contains("empty host"));
  const std::string bad_escape = url_error("http://alice:se%ZZcret@proxy:3128");
  CHECK_THAT(bad_escape, Catch::Contains("password has an invalid %-escape"));
  CHECK(bad_escape.find("se%ZZcret") == std::string::npos);
  CHECK_THAT(url_error("http://alice:%FF%FE@proxy:3128"), Catch::Contains("not valid UTF-8"));
  CHECK_THAT(url_error("http://alice:a%0Db@proxy:3128"), Catch::Contains("control character"));
  CHECK_THAT(url_error("http://al%3Aice:x@proxy:3128"), Catch::Contains("cannot contain ':'"));
}

TEST_CASE("proxy credentials file: one line user:password", "[proxy]") {
  auto u = url_ok("http://proxy:3128");
  REQUIRE(apply_proxy_credentials(u, "alice:p@ss:w%rd\n"));
  CHECK(u.user == "alice");
  CHECK(u.password == "p@ss:w%rd");  // taken literally: a file needs no URL encoding
  CHECK_FALSE(apply_proxy_credentials(u, "no-colon\n"));
  CHECK_FALSE(apply_proxy_credentials(u, ":password"));
  CHECK_FALSE(apply_proxy_credentials(u, ""));
}

TEST_CASE("NO_PROXY: host, suffix, leading dot, *. prefix, * alone", "[proxy]") {
  const auto l = list("example.com, .corp.example ,*.internal.example\tlocalhost.");
  CHECK(l.matches("example.com", 443));
  CHECK(l.matches("relay.example.com", 443));
  CHECK(l.matches("EXAMPLE.COM.", 443));  // case and trailing dot
  CHECK_FALSE(l.matches("badexample.com", 443));
  CHECK(l.matches("corp.example", 443));  // leading dot: the domain itself too (curl, .NET)
  CHECK(l.matches("a.b.corp.example", 443));
  CHECK(l.matches("x.internal.example", 443));
  CHECK(l.matches("internal.example", 443));
  CHECK(l.matches("localhost", 80));
  CHECK_FALSE(l.matches("127.0.0.1", 80));  // loopback is not bypassed implicitly
  CHECK_FALSE(l.matches("ns.servicebus.windows.net", 443));
  CHECK(l.to_string() == "example.com,corp.example,internal.example,localhost");

  CHECK(list("*").matches("anything.at.all", 1));
  CHECK_FALSE(list("").matches("anything", 1));
  CHECK(list("").empty());
  CHECK_FALSE(list("*.example.com").matches("example.org", 1));
}

TEST_CASE("NO_PROXY: IPv4/IPv6 literals and CIDR blocks, host:port", "[proxy]") {
  const auto l = list("10.0.0.0/8,192.168.1.5,fd00::/8,[::1],2001:db8::1,relay.example:9443,[fe80::1]:443");
  CHECK(l.matches("10.200.3.4", 443));
  CHECK_FALSE(l.matches("11.0.0.1", 443));
  CHECK(l.matches("192.168.1.5", 1));
  CHECK_FALSE(l.matches("192.168.1.50", 1));
  CHECK(l.matches("fd12:3456::1", 443));
  CHECK(l.matches("::1", 443));
  CHECK(l.matches("[::1]", 443));
  CHECK(l.matches("2001:DB8:0:0::1", 443));  // the same address written differently
  CHECK(l.matches("relay.example", 9443));
  CHECK_FALSE(l.matches("relay.example", 443));  // host:port: only that port
  CHECK(l.matches("fe80::1", 443));
  CHECK_FALSE(l.matches("fe80::1", 80));
  CHECK(list("127.0.0.0/8").matches("127.1.2.3", 1));
  CHECK(list("0.0.0.0/0").matches("8.8.8.8", 1));
  CHECK_FALSE(list("0.1").matches("10.0.0.1", 1));  // a domain entry never matches an address by suffix
  CHECK_FALSE(list("10.0.0.0/8").matches("ten.example", 1));

  CHECK_FALSE(NoProxy::parse("10.0.0.0/33"));
  CHECK_FALSE(NoProxy::parse("fd00::/129"));
  CHECK_FALSE(NoProxy::parse("nothost/8"));
  CHECK_FALSE(NoProxy::parse("host:99999"));
  CHECK_THAT(NoProxy::parse("ok.example, a*b").error(), Catch::Contains("'a*b'"));
}

TEST_CASE("proxy policy: setting first, then https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY", "[proxy]") {
  std::map<std::string, std::string> env;
  const EnvLookup lookup = [&env](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto resolve = [&](ProxySettings s) {
    auto r = resolve_proxy_policy(s, lookup);
    INFO((r ? std::string() : r.error()));
    REQUIRE(r);
    return r.value();
  };
  CHECK_FALSE(resolve({}).proxy);
  env["ALL_PROXY"] = "all-upper:1";
  CHECK(resolve({}).source == "ALL_PROXY");
  env["all_proxy"] = "all-lower:1";
  CHECK(resolve({}).proxy->host == "all-lower");
  env["HTTPS_PROXY"] = "https-upper:1";
  CHECK(resolve({}).proxy->host == "https-upper");
  env["https_proxy"] = "";  // empty means unset, as in curl
  CHECK(resolve({}).proxy->host == "https-upper");
  env["https_proxy"] = "https-lower:1";
  CHECK(resolve({}).proxy->host == "https-lower");
  ProxySettings s;
  s.url = "setting:2";
  CHECK(resolve(s).proxy->host == "setting");
  CHECK(resolve(s).source == "proxy.url");
  s.url = "none";  // off, although the environment has one
  CHECK_FALSE(resolve(s).proxy);

  env["NO_PROXY"] = "upper.example";
  CHECK(resolve({}).route("upper.example", 443) == nullptr);
  env["no_proxy"] = "lower.example";
  CHECK(resolve({}).route("upper.example", 443) != nullptr);
  CHECK(resolve({}).route("lower.example", 443) == nullptr);
  ProxySettings b;
  b.no_proxy = "flag.example";
  CHECK(resolve(b).route("lower.example", 443) != nullptr);
  CHECK(resolve(b).describe_route("x.flag.example", 443) == "direct (matches proxy.no_proxy)");

  env["https_proxy"] = "socks5://x:1";
  auto bad = resolve_proxy_policy({}, lookup);
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error(), Catch::StartsWith("https_proxy: ") && Catch::Contains("SOCKS"));
  env["https_proxy"] = "http://bob:hunter2@p:1";
  env["no_proxy"] = "10.0.0.0/99";
  CHECK_THAT(resolve_proxy_policy({}, lookup).error(), Catch::StartsWith("no_proxy: "));
  env["no_proxy"] = "";
  const auto p = resolve({});
  CHECK(p.describe_route("relay.example", 443) == "via http://bob:***@p:1 (https_proxy)");
}

TEST_CASE("CONNECT request: authority form, credentials only when given, no injection", "[proxy]") {
  const auto plain = build_connect_request("relay.example", 443, "");
  CHECK_THAT(plain, Catch::StartsWith("CONNECT relay.example:443 HTTP/1.1\r\nHost: relay.example:443\r\nUser-Agent: hcbridge/"));
  CHECK_THAT(plain, Catch::EndsWith("\r\n\r\n"));
  CHECK(plain.find("Proxy-Authorization") == std::string::npos);
  const auto with = build_connect_request("::1", 9443, "Basic YTpi");
  CHECK_THAT(with, Catch::StartsWith("CONNECT [::1]:9443 HTTP/1.1\r\nHost: [::1]:9443\r\n"));
  CHECK_THAT(with, Catch::Contains("\r\nProxy-Authorization: Basic YTpi\r\n"));
  const auto injected = build_connect_request("a\r\nX: y", 1, "Basic x\r\nX-Evil: 1");
  CHECK(injected.find("X-Evil") == std::string::npos);
  CHECK(injected.find("\r\nX: y") == std::string::npos);
}

TEST_CASE("CONNECT answer: any 2xx opens, 407/401/403/5xx say why", "[proxy]") {
  CHECK_FALSE(judge_connect_response(answer(200), "http://p:1", "r:443", false).error);
  CHECK_FALSE(judge_connect_response(answer(204), "http://p:1", "r:443", false).error);
  CHECK_FALSE(judge_connect_response(answer(200, {{"Content-Length", "12"}}), "http://p:1", "r:443", false).error);

  auto v = judge_connect_response(answer(407, {{"Proxy-Authenticate", "Basic realm=\"corp\""}}), "http://p:1", "r:443", false);
  CHECK(v.error == ProxyError::auth_required);
  CHECK_THAT(v.message, Catch::Contains("requires authentication (offers: Basic)"));
  CHECK(std::string(proxy_error_word(v.error)) == "proxy_auth_required");

  v = judge_connect_response(answer(401), "http://u:***@p:1", "r:443", true);  // tinyproxy: wrong credentials
  CHECK(v.error == ProxyError::auth_rejected);
  CHECK_THAT(v.message, Catch::Contains("rejected the proxy credentials"));

  v = judge_connect_response(answer(407, {{"Proxy-Authenticate", "NTLM"}, {"Proxy-Authenticate", "Negotiate"}}),
                             "http://p:1", "r:443", false);
  CHECK(v.error == ProxyError::auth_unsupported);
  CHECK_THAT(v.message, Catch::Contains("offers: NTLM, Negotiate") && Catch::Contains("cntlm"));
  v = judge_connect_response(answer(407, {{"Proxy-Authenticate", "Negotiate, Basic realm=\"x\", NTLM"}}), "http://p:1",
                             "r:443", false);
  CHECK(v.error == ProxyError::auth_required);  // Basic is among them

  v = judge_connect_response(answer(403), "http://p:1", "r:443", false);
  CHECK(v.error == ProxyError::forbidden);
  CHECK_THAT(v.message, Catch::Contains("by policy"));
  CHECK(judge_connect_response(answer(502), "http://p:1", "r:443", false).error == ProxyError::upstream_failed);
  CHECK(judge_connect_response(answer(503), "http://p:1", "r:443", false).error == ProxyError::upstream_failed);
  CHECK(judge_connect_response(answer(302), "http://p:1", "r:443", false).error == ProxyError::refused);
  CHECK(std::string(proxy_error_word(std::make_error_code(std::errc::timed_out))).empty());
}

// Found by fuzz_proxy: "fd00::%8" parsed, but printed as "[fd00::%8]", which did not parse back the same. A zone id
// names an interface of this host and can never match a relay's host: the entry is refused.
TEST_CASE("NO_PROXY: an IPv6 zone id or a name that is not a DNS name is refused", "[proxy]") {
  CHECK_FALSE(NoProxy::parse("fd00::%8"));
  CHECK_FALSE(NoProxy::parse("example.com,fe80::1%eth0"));
  CHECK_FALSE(NoProxy::parse(".example.com::"));
  CHECK_FALSE(NoProxy::parse("[.example]"));  // also found by fuzz_proxy: a stray ':' in a name
  CHECK_FALSE(NoProxy::parse("exa mple.com\x01"));
  CHECK(NoProxy::parse("fd00::1"));
}
