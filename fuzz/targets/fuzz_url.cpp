// hc::parse_uri, parse_query / build_query / find_param, url_encode / url_decode, encode_hc_path and the HC URL
// builders, and hc::check_rendezvous_address. The whole input is used as a URI, a query, a string to encode and a
// rendezvous address.
// Invariants:
//  - a parsed Uri is normalised (lower-case scheme and host, non-zero port, path starting with '/', no control
//    characters) and scheme://authority+target parses back to the same Uri;
//  - url_decode(url_encode(s)) == s (both decoding modes), url_encode emits only unreserved characters and %XX;
//  - parse_query(build_query(parse_query(q))) == parse_query(q); find_param returns the first case-insensitive match;
//  - listen/connect URLs built with the input as hc name, id and token parse, and give the input back;
//  - check_rendezvous_address only accepts ws/wss on the relay's port, wss when the relay is TLS, and the relay's
//    host or a host inside its parent domain.
#include "fuzz_check.hpp"

#include "hc/rendezvous.hpp"
#include "hc/url.hpp"

#include <cctype>
#include <optional>
#include <string>
#include <vector>

namespace {

bool same_uri(const hc::Uri& a, const hc::Uri& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port && a.explicit_port == b.explicit_port &&
         a.path == b.path && a.query == b.query;
}

bool same_params(const std::vector<hc::QueryParam>& a, const std::vector<hc::QueryParam>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].key != b[i].key || a[i].value != b[i].value) return false;
  return true;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void check_uri(const std::string& in) {
  const auto r = hc::parse_uri(in);
  if (!r) {
    FUZZ_CHECK(!r.error().empty(), fuzz::show(in));
    return;
  }
  const hc::Uri& u = r.value();
  FUZZ_CHECK(u.scheme == "sb" || u.scheme == "ws" || u.scheme == "wss" || u.scheme == "http" || u.scheme == "https",
             "scheme " + fuzz::show(u.scheme));
  FUZZ_CHECK(!u.host.empty() && hc::ascii_lower(u.host) == u.host, "host " + fuzz::show(u.host));
  FUZZ_CHECK(u.port != 0, "port 0 from " + fuzz::show(in));
  if (!u.explicit_port) FUZZ_CHECK(u.port == (u.tls() ? 443 : 80), "default port");
  FUZZ_CHECK(!u.path.empty() && u.path.front() == '/', "path " + fuzz::show(u.path));
  for (const std::string* s : {&u.host, &u.path, &u.query})
    for (char c : *s) FUZZ_CHECK(static_cast<unsigned char>(c) > 0x20 && c != 0x7f, "control character in " + fuzz::show(*s));
  FUZZ_CHECK(u.path.find_first_of("?#") == std::string::npos && u.query.find('#') == std::string::npos, "path/query split");

  const std::string again = u.scheme + "://" + u.authority() + u.target();
  const auto r2 = hc::parse_uri(again);
  FUZZ_CHECK(r2.ok() && same_uri(u, r2.value()),
             "parse_uri round trip: " + fuzz::show(in) + " -> " + fuzz::show(again) + (r2.ok() ? "" : ": " + r2.error()));
}

void check_encoding(const std::string& in) {
  const std::string enc = hc::url_encode(in);
  for (std::size_t i = 0; i < enc.size(); ++i) {
    const char c = enc[i];
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '_' || c == '.' || c == '~';
    if (unreserved) continue;
    FUZZ_CHECK(c == '%' && i + 2 < enc.size() && std::isxdigit(static_cast<unsigned char>(enc[i + 1])) &&
                   std::isxdigit(static_cast<unsigned char>(enc[i + 2])) && !std::islower(static_cast<unsigned char>(enc[i + 1])) &&
                   !std::islower(static_cast<unsigned char>(enc[i + 2])),
               "url_encode output " + fuzz::show(enc));
    i += 2;
  }
  FUZZ_CHECK(hc::url_decode(enc, false) == in, "url_decode(url_encode(s), false) != s for " + fuzz::show(in));
  FUZZ_CHECK(hc::url_decode(enc, true) == in, "url_decode(url_encode(s), true) != s for " + fuzz::show(in));
  const std::string dec = hc::url_decode(in, false);
  FUZZ_CHECK(dec.size() <= in.size(), "url_decode grew the text");
  if (in.find('%') == std::string::npos) {
    FUZZ_CHECK(dec == in, "url_decode changed text without '%'");
    std::string plus = in;
    for (char& c : plus)
      if (c == '+') c = ' ';
    FUZZ_CHECK(hc::url_decode(in, true) == plus, "form decoding of '+'");
  }
  // encode_hc_path keeps the '/' and nothing else that matters; decoding gives the name back.
  const std::string path = hc::encode_hc_path(in);
  FUZZ_CHECK(hc::url_decode(path, false) == in, "encode_hc_path does not decode back: " + fuzz::show(in));
  FUZZ_CHECK(fuzz::count_of(path, "/") == fuzz::count_of(in, "/"), "encode_hc_path changed the segments");
}

void check_query(const std::string& in) {
  const auto params = hc::parse_query(in);
  const std::string built = hc::build_query(params);
  const auto again = hc::parse_query(built);
  FUZZ_CHECK(same_params(params, again), "parse_query(build_query(..)) changed: " + fuzz::show(in) + " -> " + fuzz::show(built));
  for (const auto& p : params) {
    const auto found = hc::find_param(params, p.key);
    FUZZ_CHECK(found.has_value(), "find_param misses " + fuzz::show(p.key));
    for (const auto& q : params) {
      if (hc::iequals(q.key, p.key)) {
        FUZZ_CHECK(*found == q.value, "find_param is not the first match for " + fuzz::show(p.key));
        break;
      }
    }
  }
}

void check_builders(const std::string& in) {
  const std::string id = in.substr(0, 64);
  for (const bool tls : {false, true}) {
    const std::string url = hc::listen_url(tls, "Contoso.servicebus.windows.net", 9350, in, id, in);
    const auto u = hc::parse_uri(url);
    FUZZ_CHECK(u.ok(), "listen_url does not parse: " + fuzz::show(url));
    FUZZ_CHECK(u->scheme == (tls ? "wss" : "ws") && u->port == 9350 && u->host == "contoso.servicebus.windows.net",
               "listen_url authority: " + fuzz::show(url));
    FUZZ_CHECK(u->path == "/$hc/" + hc::encode_hc_path(in), "listen_url path: " + fuzz::show(url));
    const auto params = hc::parse_query(u->query);
    FUZZ_CHECK(hc::find_param(params, "sb-hc-action") == std::optional<std::string>("listen"), "action");
    FUZZ_CHECK(hc::find_param(params, "sb-hc-id") == std::optional<std::string>(id), "id round trip");
    if (!in.empty()) FUZZ_CHECK(hc::find_param(params, "sb-hc-token") == std::optional<std::string>(in), "token round trip");
    else FUZZ_CHECK(!hc::find_param(params, "sb-hc-token").has_value(), "empty token written");
  }
  const std::string c = hc::connect_url(true, "::1", 443, in, id);
  const auto cu = hc::parse_uri(c);
  FUZZ_CHECK(cu.ok() && cu->host == "::1" && cu->port == 443, "connect_url with an IPv6 host: " + fuzz::show(c));

  // reject_url appends two parameters to an accept address (also when its query ends in '?', a character of a value).
  const auto base = hc::parse_uri(in);
  if (base.ok() && in.find('#') == std::string::npos) {
    const std::string rej = hc::reject_url(in, 404, in);
    const auto ru = hc::parse_uri(rej);
    FUZZ_CHECK(ru.ok(), "reject_url does not parse: " + fuzz::show(rej));
    const auto params = hc::parse_query(ru->query);
    FUZZ_CHECK(params.size() >= 2, "reject_url parameters");
    FUZZ_CHECK(params[params.size() - 2].key == "sb-hc-statusCode" && params[params.size() - 2].value == "404" &&
                   params.back().key == "sb-hc-statusDescription" && params.back().value == in,
               "reject_url parameters: " + fuzz::show(rej));
  }
}

void check_rendezvous(const std::string& in) {
  static const char* kRelays[] = {"sb://contoso.servicebus.windows.net/", "ws://127.0.0.1:9350/", "wss://[::1]:8443/",
                                  "wss://relay.example.com/", "ws://localhost:9350/"};
  for (const char* text : kRelays) {
    const hc::Uri relay = hc::parse_uri(text).value();
    const auto r = hc::check_rendezvous_address(relay, in);
    if (!r) {
      FUZZ_CHECK(!r.error().empty(), "");
      continue;
    }
    const hc::Uri& a = r.value();
    const auto direct = hc::parse_uri(in);
    FUZZ_CHECK(direct.ok() && same_uri(direct.value(), a), "check_rendezvous_address returned another Uri");
    FUZZ_CHECK(a.scheme == "ws" || a.scheme == "wss", "rendezvous scheme " + a.scheme);
    if (relay.tls()) FUZZ_CHECK(a.scheme == "wss", "TLS relay downgraded to ws: " + fuzz::show(in));
    FUZZ_CHECK(a.port == relay.port, "rendezvous port " + std::to_string(a.port) + " for relay " + text);
    bool host_ok = a.host == relay.host;
    const std::size_t dot = relay.host.find('.');
    const bool named = relay.host.find(':') == std::string::npos &&
                       relay.host.find_first_not_of("0123456789.") != std::string::npos;
    if (!host_ok && named && dot != std::string::npos && fuzz::count_of(relay.host, ".") >= 2) {
      const std::string parent = relay.host.substr(dot);
      host_ok = ends_with(a.host, parent) && a.host.size() > parent.size();
    }
    FUZZ_CHECK(host_ok, "rendezvous host " + fuzz::show(a.host) + " accepted for relay " + text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  check_uri(in);
  check_encoding(in);
  check_query(in);
  check_builders(in);
  check_rendezvous(in);
  const std::string q = hc::quote_for_message(in, 40);
  FUZZ_CHECK(q.size() <= 2 + 40 * 4 + 3, "quote_for_message length");
  for (char c : q) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f, "quote_for_message output");
  return 0;
}
