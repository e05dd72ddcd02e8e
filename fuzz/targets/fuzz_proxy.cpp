// The proxy parsers: proxy URLs, NO_PROXY lists, and CONNECT answers (ResponseParser + judge_connect_response).
// The first input byte picks the parser; the rest is its input. Invariants:
//  - a parsed proxy URL prints masked with "***" exactly when it has credentials, and the masked form is made of
//    scheme, encoded user and authority only (so never the password); the masked form parses back to the same
//    host, port and user; the CONNECT request built from it parses as a CONNECT request with one Host header;
//  - a parsed NO_PROXY list printed with to_string() parses again to the same text, and matching never crashes;
//  - a CONNECT answer parsed whole and byte by byte agrees; judge_connect_response opens the tunnel exactly for 2xx
//    and otherwise gives a message.
#include "fuzz_check.hpp"

#include "hc/url.hpp"
#include "net/no_proxy.hpp"
#include "net/proxy_connect.hpp"
#include "net/proxy_url.hpp"

#include <string>

namespace {

void check_url(const std::string& in) {
  auto r = net::parse_proxy_url(in);
  if (!r) {
    FUZZ_CHECK(!r.error().empty(), "empty error");
    return;
  }
  const auto& u = r.value();
  const std::string masked = u.masked();
  FUZZ_CHECK((masked.find(":***@") != std::string::npos) == u.has_credentials(), "mask marker: " + fuzz::show(in));
  // Exactly scheme, user, "***" and the authority: nothing of the password can be in it.
  FUZZ_CHECK(masked == "http://" + (u.has_credentials() ? hc::url_encode(u.user) + ":***@" : std::string()) + u.authority(),
             "masked form: " + fuzz::show(masked));
  auto again = net::parse_proxy_url(masked);
  FUZZ_CHECK(again && again->host == u.host && again->port == u.port && again->user == u.user,
             "masked form does not parse back: " + fuzz::show(masked));
  const std::string request = net::build_connect_request(u.host, u.port, u.basic_authorization());
  net::http::RequestParser parser;
  std::size_t consumed = 0;
  FUZZ_CHECK(parser.feed(request.data(), request.size(), consumed) == net::http::ParseStatus::good &&
                 consumed == request.size() && parser.head().method == "CONNECT",
             "CONNECT request does not parse: " + fuzz::show(request));
  FUZZ_CHECK(fuzz::count_of(request, "\r\nHost: ") == 1, "Host header count: " + fuzz::show(request));
}

void check_no_proxy(const std::string& in) {
  auto r = net::NoProxy::parse(in);
  if (!r) return;
  const std::string text = r->to_string();
  auto again = net::NoProxy::parse(text);
  FUZZ_CHECK(again && again->to_string() == text, "to_string does not parse back: " + fuzz::show(text));
  (void)r->matches(in, 443);
  (void)r->matches("relay.example.com", 443);
  (void)r->matches("10.1.2.3", 1);
  (void)r->matches("::1", 1);
}

void check_connect_answer(const std::string& in) {
  net::http::ResponseParser whole, bytewise;
  std::size_t used_whole = 0, used_bytes = 0;
  const auto status = whole.feed(in.data(), in.size(), used_whole);
  auto status_bytes = net::http::ParseStatus::need_more;
  for (std::size_t i = 0; i < in.size() && status_bytes == net::http::ParseStatus::need_more; ++i) {
    std::size_t used = 0;
    status_bytes = bytewise.feed(in.data() + i, 1, used);
    used_bytes += used;
  }
  FUZZ_CHECK(status == status_bytes && used_whole == used_bytes, "byte by byte differs: " + fuzz::show(in));
  if (status != net::http::ParseStatus::good) return;
  const auto& head = whole.head();
  for (bool creds : {false, true}) {
    const auto verdict = net::judge_connect_response(head, "http://p:1", "relay:443", creds);
    FUZZ_CHECK(!verdict.error == (head.status >= 200 && head.status <= 299), "2xx rule: " + fuzz::show(in));
    FUZZ_CHECK(!verdict.error || !verdict.message.empty(), "no message");
    FUZZ_CHECK(!verdict.error || std::string(net::proxy_error_word(verdict.error)).rfind("proxy_", 0) == 0, "word");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: check_url(in); break;
    case 1: check_no_proxy(in); break;
    default: check_connect_answer(in); break;
  }
  return 0;
}
