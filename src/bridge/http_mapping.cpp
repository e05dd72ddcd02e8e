#include "bridge/http_mapping.hpp"

#include "hc/url.hpp"

#include <algorithm>
#include <array>

namespace bridge {
namespace {

constexpr std::string_view kVia = "1.1 hcbridge";

// Headers that describe one connection, not the message (RFC 9110 7.6.1), plus what this proxy sets itself.
constexpr std::array<std::string_view, 11> kHopByHop = {"Connection", "Keep-Alive",      "Proxy-Connection",
                                                         "Proxy-Authorization", "Proxy-Authenticate", "TE",
                                                         "Trailer",    "Transfer-Encoding", "Upgrade",
                                                         "Expect",     "Content-Length"};
// What the sender may not decide for the web server: who it is and how it came.
constexpr std::array<std::string_view, 6> kReplacedOnRequests = {"Host",          "Forwarded",         "X-Forwarded-For",
                                                                 "X-Forwarded-Proto", "X-Forwarded-Host", "ServiceBusAuthorization"};

template <std::size_t N>
bool named_in(const std::array<std::string_view, N>& names, std::string_view name) {
  for (auto n : names)
    if (hc::iequals(n, name)) return true;
  return false;
}

// The names a Connection header lists (they are hop-by-hop too).
bool listed_in_connection(const std::vector<std::string_view>& listed, std::string_view name) {
  for (auto n : listed)
    if (hc::iequals(n, name)) return true;
  return false;
}

std::vector<std::string_view> connection_tokens(std::string_view value) {
  std::vector<std::string_view> out;
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view token = value.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (!token.empty()) out.push_back(token);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

// '/', '\' and '.' as a server that unescapes before it routes would see them; other escapes stay as they are.
std::string decode_path_punctuation(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const std::string code = hc::ascii_lower(s.substr(i + 1, 2));
      const char c = code == "2f" ? '/' : code == "5c" ? '\\' : code == "2e" ? '.' : 0;
      if (c != 0) {
        out.push_back(c);
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  for (char& c : out)
    if (c == '\\') c = '/';  // browsers and some servers read '\' as '/'
  return out;
}

// Why `remainder` (what follows the HC name, "" or starting with '/') could leave the base path; "" when it cannot.
std::string escape_problem(std::string_view remainder) {
  const std::string decoded = decode_path_punctuation(remainder);
  if (decoded.compare(0, 2, "//") == 0) return "the path after the hybrid connection name starts with '//' (another host)";
  std::size_t pos = 0;
  while (pos <= decoded.size()) {
    const std::size_t next = decoded.find('/', pos);
    const std::string_view segment = std::string_view(decoded).substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (segment == "." || segment == "..") return "the path holds a '.' or '..' segment";
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return {};
}

}  // namespace

hc::Result<std::string> map_request_target(std::string_view hc, std::string_view base_path, std::string_view request_target) {
  for (char c : request_target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#') return hc::fail("the request target holds a space, a control character or '#'");
  }
  const std::size_t question = request_target.find('?');
  const std::string_view path = request_target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? std::string_view() : request_target.substr(question);
  const std::size_t name_end = 1 + hc.size();
  if (path.size() < name_end || path[0] != '/' || !hc::iequals(path.substr(1, hc.size()), hc) ||
      (path.size() > name_end && path[name_end] != '/'))
    return hc::fail("the request target does not start with the hybrid connection's name");
  const std::string_view remainder = path.substr(name_end);
  if (auto problem = escape_problem(remainder); !problem.empty()) return hc::fail(problem);
  std::string out(base_path);
  out.append(remainder);
  if (out.empty()) out = "/";
  out.append(query);
  return out;
}

net::http::Headers map_request_headers(const hc::HeaderList& in, const ForwardedFor& fwd) {
  std::vector<std::string_view> listed;
  std::string via, sender_host;
  for (const auto& [name, value] : in)
    if (hc::iequals(name, "Connection")) listed = connection_tokens(value);
  net::http::Headers out;
  for (const auto& [name, value] : in) {
    if (hc::iequals(name, "Via")) {
      via = value;
      continue;
    }
    if (hc::iequals(name, "Host")) sender_host = value;
    if (named_in(kHopByHop, name) || named_in(kReplacedOnRequests, name) || listed_in_connection(listed, name)) continue;
    out.add(name, value);
  }
  out.list.insert(out.list.begin(), {"Host", fwd.preserve_host && !sender_host.empty() ? sender_host : fwd.target_authority});
  out.add("Via", via.empty() ? std::string(kVia) : via + ", " + std::string(kVia));
  if (!fwd.remote_address.empty()) out.add("X-Forwarded-For", fwd.remote_address);
  out.add("X-Forwarded-Proto", fwd.proto);
  if (!sender_host.empty()) out.add("X-Forwarded-Host", sender_host);
  return out;
}

hc::HeaderList map_response_headers(const net::http::Headers& in) {
  std::vector<std::string_view> listed;
  for (const auto& h : in.list)
    if (hc::iequals(h.name, "Connection")) {
      auto more = connection_tokens(h.value);
      listed.insert(listed.end(), more.begin(), more.end());
    }
  hc::HeaderList out;
  bool via_seen = false;
  for (const auto& h : in.list) {
    if (named_in(kHopByHop, h.name) || listed_in_connection(listed, h.name)) continue;
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& p) { return hc::iequals(p.first, h.name); });
    if (same != out.end()) {
      same->second += ", " + h.value;
      continue;
    }
    out.emplace_back(h.name, h.value);
  }
  for (auto& [name, value] : out)
    if (hc::iequals(name, "Via")) {
      value += ", " + std::string(kVia);
      via_seen = true;
    }
  if (!via_seen) out.emplace_back("Via", std::string(kVia));
  return out;
}

bool response_has_body(std::string_view method, int status) {
  if (method == "HEAD") return false;
  return !(status < 200 || status == 204 || status == 304);
}

}  // namespace bridge
