// URL helpers for Hybrid Connections: percent-encoding, query strings, a small URI parser
// and the builders for the listen/connect/reject URLs (protocol reference section 1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hc/result.hpp"

namespace hc {

// RFC 3986 unreserved (A-Za-z0-9-_.~) kept, all else %XX with UPPERCASE hex, space -> %20.
std::string url_encode(std::string_view s);
// Lenient: an invalid or truncated %-escape is kept verbatim. `plus_is_space` selects form decoding.
std::string url_decode(std::string_view s, bool plus_is_space);

struct QueryParam {
  std::string key;
  std::string value;
};

// "a=1&b=x+y&c" form-decoded (+ is space); no leading '?'; empty pairs skipped; "c" -> key c, value "".
std::vector<QueryParam> parse_query(std::string_view query);
// url_encode keys and values, joined with & (no leading ?).
std::string build_query(const std::vector<QueryParam>& params);
// Key compared ASCII case-insensitively; the first match wins.
std::optional<std::string> find_param(const std::vector<QueryParam>& params, std::string_view key);

struct Uri {
  std::string scheme;  // lower-cased: sb, ws, wss, http, https
  std::string host;    // lower-cased; IPv6 without brackets (e.g. "::1")
  uint16_t port = 0;   // explicit port, or the default: 443 for sb/wss/https, 80 for ws/http
  bool explicit_port = false;
  std::string path;   // raw (still encoded) path, starts with '/', "/" when absent
  std::string query;  // raw query without '?', "" when absent
  bool tls() const;                  // true for sb, wss, https
  std::string host_for_url() const;  // host, bracketed if IPv6
  std::string authority() const;     // host_for_url() plus ":port" only when explicit_port
  std::string target() const;        // path plus "?query" when query is non-empty
};

// Schemes sb, ws, wss, http, https only; user-info, bad ports, empty hosts, spaces and control
// characters are rejected; the fragment is dropped.
Result<Uri> parse_uri(std::string_view text);

// Percent-encodes each '/'-separated segment of an HC name, keeping the '/'.
std::string encode_hc_path(std::string_view hc);

// "{ws|wss}://host:port/$hc/{hc}?sb-hc-action=...&sb-hc-id=...[&sb-hc-token=...]" (port always written).
std::string listen_url(bool tls, std::string_view host, uint16_t port, std::string_view hc, std::string_view id,
                       std::string_view token = {});
std::string connect_url(bool tls, std::string_view host, uint16_t port, std::string_view hc, std::string_view id,
                        std::string_view token = {});
// The accept address plus sb-hc-statusCode and sb-hc-statusDescription (reference 1.4).
std::string reject_url(std::string_view accept_address, int status_code, std::string_view description);

// ASCII helpers shared by the other hc files.
std::string ascii_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
// Quotes non-secret user text for an error message: at most `max_len` bytes, non-printable bytes as \xNN.
std::string quote_for_message(std::string_view s, std::size_t max_len = 40);

}  // namespace hc
