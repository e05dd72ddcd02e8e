// hc::parse_control_message and the build_* functions.
// Invariants:
//  - every string a successful parse returns is valid UTF-8, and an UnknownMessage never carries a known name;
//  - for accept, request, response and renewToken, build_* of the parsed message parses again to the same fields
//    (within what the builder documents: remoteEndpoint only with an address, a rendezvous-only request only keeps
//    address and id), and building twice gives the same text;
//  - the builders fed the raw input bytes as strings always produce valid UTF-8 JSON that parses back; strings that
//    were valid UTF-8 come back unchanged.
#include "fuzz_check.hpp"

#include "hc/control_message.hpp"
#include "net/ws_frame.hpp"

#include <string>
#include <variant>

namespace {

bool utf8(const std::string& s) { return net::ws::is_valid_utf8(s); }

bool headers_utf8(const hc::HeaderList& h) {
  for (const auto& [n, v] : h)
    if (!utf8(n) || !utf8(v)) return false;
  return true;
}

template <class T>
const T& reparse_as(const std::string& json, const char* what) {
  static thread_local hc::ControlMessage holder;
  auto r = hc::parse_control_message(json);
  FUZZ_CHECK(r.ok(), std::string(what) + " output does not parse: " + fuzz::show(json) + ": " + (r.ok() ? "" : r.error()));
  FUZZ_CHECK(std::holds_alternative<T>(r.value()), std::string(what) + " output parses as another message: " + fuzz::show(json));
  holder = std::move(r.value());
  return std::get<T>(holder);
}

void check_accept(const hc::AcceptMessage& m, const std::string& src) {
  FUZZ_CHECK(utf8(m.address) && utf8(m.id) && utf8(m.remote_address) && headers_utf8(m.connect_headers), fuzz::show(src));
  FUZZ_CHECK(m.remote_port >= 0 && m.remote_port <= 65535, fuzz::show(src));
  const std::string json = hc::build_accept_message(m);
  if (json.size() > hc::kMaxControlMessageSize) return;
  const auto& m2 = reparse_as<hc::AcceptMessage>(json, "build_accept_message");
  FUZZ_CHECK(m2.address == m.address && m2.id == m.id && m2.connect_headers == m.connect_headers &&
                 m2.remote_address == m.remote_address,
             "accept round trip: " + fuzz::show(src) + " -> " + fuzz::show(json));
  if (!m.remote_address.empty()) FUZZ_CHECK(m2.remote_port == m.remote_port, "accept port: " + fuzz::show(json));
  FUZZ_CHECK(hc::build_accept_message(m2) == json, "build_accept_message not stable: " + fuzz::show(json));
}

void check_request(const hc::RequestMessage& m, const std::string& src) {
  FUZZ_CHECK(utf8(m.address) && utf8(m.id) && utf8(m.request_target) && utf8(m.method) && headers_utf8(m.request_headers),
             fuzz::show(src));
  const std::string json = hc::build_request_message(m);
  if (json.size() > hc::kMaxControlMessageSize) return;
  const auto& m2 = reparse_as<hc::RequestMessage>(json, "build_request_message");
  FUZZ_CHECK(m2.rendezvous_only == m.rendezvous_only && m2.address == m.address && m2.id == m.id,
             "request round trip: " + fuzz::show(src) + " -> " + fuzz::show(json));
  if (!m.rendezvous_only)
    FUZZ_CHECK(m2.request_target == m.request_target && m2.method == m.method && m2.request_headers == m.request_headers &&
                   m2.body == m.body,
               "request round trip: " + fuzz::show(src) + " -> " + fuzz::show(json));
  FUZZ_CHECK(hc::build_request_message(m2) == json, "build_request_message not stable: " + fuzz::show(json));
}

void check_response(const hc::ResponseMessage& m, const std::string& src) {
  FUZZ_CHECK(utf8(m.request_id) && utf8(m.status_description) && headers_utf8(m.response_headers), fuzz::show(src));
  FUZZ_CHECK(m.status_code >= 100 && m.status_code <= 999, "status " + std::to_string(m.status_code));
  const std::string json = hc::build_response_message(m);
  if (json.size() > hc::kMaxControlMessageSize) return;
  const auto& m2 = reparse_as<hc::ResponseMessage>(json, "build_response_message");
  FUZZ_CHECK(m2.request_id == m.request_id && m2.status_code == m.status_code &&
                 m2.status_description == m.status_description && m2.response_headers == m.response_headers &&
                 m2.body == m.body,
             "response round trip: " + fuzz::show(src) + " -> " + fuzz::show(json));
  FUZZ_CHECK(hc::build_response_message(m2) == json, "build_response_message not stable: " + fuzz::show(json));
}

void check_renew(const hc::RenewTokenMessage& m, const std::string& src) {
  FUZZ_CHECK(utf8(m.token), fuzz::show(src));
  const std::string json = hc::build_renew_token_message(m.token);
  if (json.size() > hc::kMaxControlMessageSize) return;
  const auto& m2 = reparse_as<hc::RenewTokenMessage>(json, "build_renew_token_message");
  FUZZ_CHECK(m2.token == m.token, "renewToken round trip: " + fuzz::show(src) + " -> " + fuzz::show(json));
}

// The builders with arbitrary bytes (invalid UTF-8, NUL, quotes, control characters) in every string.
void check_builders(const std::string& s) {
  const bool valid = utf8(s);
  {
    const std::string json = hc::build_renew_token_message(s);
    FUZZ_CHECK(utf8(json), "build_renew_token_message emitted invalid UTF-8 for " + fuzz::show(s));
    if (json.size() <= hc::kMaxControlMessageSize) {
      const std::string token = reparse_as<hc::RenewTokenMessage>(json, "build_renew_token_message").token;
      if (valid) FUZZ_CHECK(token == s, "renewToken changed a valid string: " + fuzz::show(s));
      FUZZ_CHECK(hc::build_renew_token_message(token) == json, "U+FFFD replacement is not idempotent: " + fuzz::show(s));
    }
  }
  hc::AcceptMessage a;
  a.address = s;
  a.id = s;
  a.connect_headers = {{s, s}, {"Host", "h"}};
  a.remote_address = s;
  a.remote_port = 443;
  {
    const std::string json = hc::build_accept_message(a);
    FUZZ_CHECK(utf8(json), "build_accept_message emitted invalid UTF-8 for " + fuzz::show(s));
    if (json.size() <= hc::kMaxControlMessageSize) {
      const auto& m = reparse_as<hc::AcceptMessage>(json, "build_accept_message");
      FUZZ_CHECK(m.address == m.id && m.connect_headers.size() == 2 && m.connect_headers[0].first == m.address &&
                     m.connect_headers[0].second == m.address && m.remote_address == (s.empty() ? "" : m.address),
                 "accept fields differ for " + fuzz::show(s));
      if (valid) FUZZ_CHECK(m.address == s, "accept changed a valid string: " + fuzz::show(s));
    }
  }
  hc::ResponseMessage r;
  r.request_id = s;
  r.status_code = 200;
  r.status_description = s;
  r.response_headers = {{s, s}};
  r.body = true;
  {
    const std::string json = hc::build_response_message(r);
    FUZZ_CHECK(utf8(json), "build_response_message emitted invalid UTF-8 for " + fuzz::show(s));
    if (json.size() <= hc::kMaxControlMessageSize) {
      const auto& m = reparse_as<hc::ResponseMessage>(json, "build_response_message");
      if (valid)
        FUZZ_CHECK(m.request_id == s && m.status_description == s && m.response_headers == r.response_headers && m.body,
                   "response changed a valid string: " + fuzz::show(s));
    }
  }
  hc::RequestMessage q;
  q.address = s;
  q.id = s;
  q.method = "GET";
  q.request_target = s;
  q.request_headers = {{s, s}};
  q.rendezvous_only = false;
  {
    const std::string json = hc::build_request_message(q);
    FUZZ_CHECK(utf8(json), "build_request_message emitted invalid UTF-8 for " + fuzz::show(s));
    if (json.size() <= hc::kMaxControlMessageSize) {
      const auto& m = reparse_as<hc::RequestMessage>(json, "build_request_message");
      FUZZ_CHECK(!m.rendezvous_only && m.method == "GET", "request method lost for " + fuzz::show(s));
      if (valid)
        FUZZ_CHECK(m.address == s && m.id == s && m.request_target == s && m.request_headers == q.request_headers,
                   "request changed a valid string: " + fuzz::show(s));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto r = hc::parse_control_message(text);
  if (!r) {
    FUZZ_CHECK(!r.error().empty(), fuzz::show(text));
  } else {
    const hc::ControlMessage& m = r.value();
    if (const auto* a = std::get_if<hc::AcceptMessage>(&m)) check_accept(*a, text);
    if (const auto* q = std::get_if<hc::RequestMessage>(&m)) check_request(*q, text);
    if (const auto* p = std::get_if<hc::ResponseMessage>(&m)) check_response(*p, text);
    if (const auto* t = std::get_if<hc::RenewTokenMessage>(&m)) check_renew(*t, text);
    if (const auto* u = std::get_if<hc::UnknownMessage>(&m)) {
      FUZZ_CHECK(u->name != "accept" && u->name != "request" && u->name != "response" && u->name != "renewToken",
                 "known message reported as unknown: " + fuzz::show(text));
      FUZZ_CHECK(utf8(u->name), fuzz::show(text));
    }
  }
  check_builders(text.substr(0, 128));
  return 0;
}
