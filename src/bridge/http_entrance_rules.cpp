#include "bridge/http_entrance_rules.hpp"

#include "bridge/http_mapping.hpp"
#include "hc/url.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace bridge {
namespace {

constexpr std::string_view kVia = "1.1 hcbridge";

// Headers that describe one connection, not the message (RFC 9110 7.6.1), plus what the entrance sets itself.
constexpr std::array<std::string_view, 13> kNotForwarded = {
    "Connection", "Keep-Alive",     "Proxy-Connection",  "Proxy-Authorization", "Proxy-Authenticate",
    "TE",         "Trailer",        "Upgrade",           "Expect",              "Host",
    "ServiceBusAuthorization", "Content-Length", "Transfer-Encoding"};
// Hop-by-hop headers of an answer, and its framing (the entrance frames the client's copy itself).
constexpr std::array<std::string_view, 9> kNotReturned = {"Connection", "Keep-Alive", "Proxy-Connection",
                                                          "Proxy-Authenticate", "TE", "Trailer",
                                                          "Upgrade", "Transfer-Encoding", "Content-Length"};

template <std::size_t N>
bool named_in(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(), [&](std::string_view n) { return hc::iequals(n, name); });
}

// Whether a Connection header of `headers` names `name` (a header it makes hop-by-hop).
bool listed_in_connection(const net::http::Headers& headers, std::string_view name) {
  return net::http::header_has_token(headers, "Connection", name);
}

bool safe_value(std::string_view v) {
  return std::none_of(v.begin(), v.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

const char* reason_for(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
  }
}

}  // namespace

hc::Result<std::string> entrance_request_target(std::string_view hc, std::string_view client_target) {
  if (client_target.empty() || client_target.front() != '/')
    return hc::fail("only origin-form request targets (\"/path?query\") are accepted");
  for (char c : client_target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#') return hc::fail("the request target holds a space, a control character or '#'");
  }
  std::string out = "/";
  out.append(hc).append(client_target);
  return out;
}

net::http::Headers entrance_request_headers(const net::http::Headers& in, const net::http::RequestFraming& framing,
                                            std::string_view relay_authority, std::string_view token) {
  net::http::Headers out;
  out.add("Host", std::string(relay_authority));
  std::string via;
  for (const auto& h : in.list) {
    if (hc::iequals(h.name, "Via")) {
      via += (via.empty() ? "" : ", ") + h.value;
      continue;
    }
    if (named_in(kNotForwarded, h.name) || listed_in_connection(in, h.name)) continue;
    out.add(h.name, h.value);
  }
  out.add("Via", via.empty() ? std::string(kVia) : via + ", " + std::string(kVia));
  // One framing header, ours: a request with both (a smuggling attempt) is read as chunked and sent on as such.
  if (framing.framing == net::http::BodyFraming::chunked) out.add("Transfer-Encoding", "chunked");
  if (framing.framing == net::http::BodyFraming::length) out.add("Content-Length", std::to_string(framing.length));
  if (!token.empty()) out.add("ServiceBusAuthorization", std::string(token));
  return out;
}

bool expects_continue(const net::http::RequestHead& head) {
  const std::string* expect = head.headers.find("Expect");
  return expect != nullptr && hc::iequals(*expect, "100-continue") && head.version_minor >= 1;
}

ResponseFraming relay_response_framing(std::string_view method, const net::http::ResponseHead& head) {
  ResponseFraming out;
  if (!response_has_body(method, head.status)) return out;
  const auto framing = net::http::response_framing(head.headers);
  switch (framing.framing) {
    case net::http::BodyFraming::invalid: out.problem = framing.problem; break;
    case net::http::BodyFraming::chunked: out.framing = Framing::chunked; break;
    case net::http::BodyFraming::length:
      out.framing = Framing::length;
      out.length = framing.length;
      break;
    case net::http::BodyFraming::none: out.framing = Framing::until_close; break;
  }
  return out;
}

Framing client_framing(Framing relay, int client_version_minor) {
  if (client_version_minor >= 1) return relay == Framing::until_close ? Framing::chunked : relay;
  return relay == Framing::chunked ? Framing::until_close : relay;
}

std::string entrance_response_head(const net::http::ResponseHead& relay, Framing out, uint64_t length, bool close) {
  std::string reason = relay.reason;
  for (char& c : reason)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  std::string head = "HTTP/1.1 " + std::to_string(relay.status) + " " + reason + "\r\n";
  const bool bodiless_answer = out == Framing::none;
  for (const auto& h : relay.headers.list) {
    // A HEAD or 304 answer keeps the Content-Length the relay gave: it describes the body a GET would have.
    const bool kept_length = bodiless_answer && hc::iequals(h.name, "Content-Length") && relay.status != 204;
    if (!kept_length && (named_in(kNotReturned, h.name) || listed_in_connection(relay.headers, h.name))) continue;
    if (!net::http::is_token_text(h.name) || !safe_value(h.value)) continue;
    head += h.name + ": " + h.value + "\r\n";
  }
  if (out == Framing::length) head += "Content-Length: " + std::to_string(length) + "\r\n";
  if (out == Framing::chunked) head += "Transfer-Encoding: chunked\r\n";
  if (close) head += "Connection: close\r\n";
  return head + "\r\n";
}

std::string entrance_error_response(int status, std::string_view text, bool close) {
  std::string body(text);
  body += "\n";
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason_for(status) + "\r\n" +
                     "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (close) head += "Connection: close\r\n";
  return head + "\r\n" + body;
}

BodyCopier::BodyCopier(Framing in, uint64_t length, Framing out) : in_(in), out_(out), left_(length) {
  if (in_ == Framing::none || (in_ == Framing::length && left_ == 0)) status_ = net::http::ParseStatus::good;
}

net::http::ParseStatus BodyCopier::feed(const char* data, std::size_t size, std::size_t& consumed, std::string& out) {
  consumed = 0;
  if (status_ != net::http::ParseStatus::need_more) return status_;
  switch (in_) {
    case Framing::none: break;
    case Framing::length: {
      const std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(left_, size));
      out.append(data, take);
      consumed = take;
      payload_ += take;
      left_ -= take;
      if (left_ == 0) status_ = net::http::ParseStatus::good;
      break;
    }
    case Framing::chunked: {
      // The decoder finds the end and checks the coding; the raw bytes go on unless the other side gets it decoded.
      std::string& payload = out_ == Framing::chunked ? scratch_ : out;
      scratch_.clear();
      const std::size_t before = payload.size();
      status_ = chunks_.feed(data, size, consumed, payload);
      payload_ += payload.size() - before;
      if (status_ == net::http::ParseStatus::bad) error_ = chunks_.error();
      else if (out_ == Framing::chunked) out.append(data, consumed);
      break;
    }
    case Framing::until_close:
      consumed = size;
      payload_ += size;
      if (size == 0) break;
      if (out_ == Framing::chunked) out += net::http::chunk_encoded({data, size});
      else out.append(data, size);
      break;
  }
  return status_;
}

net::http::ParseStatus BodyCopier::end_of_input(std::string& out) {
  if (status_ != net::http::ParseStatus::need_more) return status_;
  if (in_ != Framing::until_close) {
    error_ = "the connection ended in the middle of the body";
    return status_ = net::http::ParseStatus::bad;
  }
  if (out_ == Framing::chunked) out += "0\r\n\r\n";
  return status_ = net::http::ParseStatus::good;
}

}  // namespace bridge
