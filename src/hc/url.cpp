#include "hc/url.hpp"

#include <cstddef>

namespace hc {

namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char lower_char(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3986 reg-name characters (unreserved, sub-delims, '%'); anything else in a host is a typo or an attack.
bool is_host_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (is_unreserved(u)) return true;
  switch (c) {
    case '!': case '$': case '&': case '\'': case '(': case ')': case '*': case '+': case ',': case ';': case '=':
    case '%':
      return true;
    default:
      return false;
  }
}

std::string build_hc_url(bool tls, std::string_view host, uint16_t port, std::string_view hc, std::string_view action,
                         std::string_view id, std::string_view token) {
  std::string h(host);
  if (h.find(':') != std::string::npos && !(h.size() >= 2 && h.front() == '[' && h.back() == ']')) h = "[" + h + "]";
  std::string url = tls ? "wss://" : "ws://";
  url += h;
  url += ':';
  url += std::to_string(port);
  url += "/$hc/";
  url += encode_hc_path(hc);
  url += "?sb-hc-action=";
  url += action;
  url += "&sb-hc-id=";
  url += url_encode(id);
  if (!token.empty()) {
    url += "&sb-hc-token=";
    url += url_encode(token);
  }
  return url;
}

}  // namespace

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower_char(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower_char(a[i]) != lower_char(b[i])) return false;
  return true;
}

std::string quote_for_message(std::string_view s, std::size_t max_len) {
  std::string out = "'";
  const std::size_t n = s.size() < max_len ? s.size() : max_len;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 0xf];
    }
  }
  if (n < s.size()) out += "...";
  out += "'";
  return out;
}

std::string url_encode(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 0xf];
    }
  }
  return out;
}

std::string url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>((hi << 4) | lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

std::vector<QueryParam> parse_query(std::string_view query) {
  std::vector<QueryParam> params;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos) {
        params.push_back({url_decode(pair, true), std::string()});
      } else {
        params.push_back({url_decode(pair.substr(0, eq), true), url_decode(pair.substr(eq + 1), true)});
      }
    }
    start = end + 1;
  }
  return params;
}

std::string build_query(const std::vector<QueryParam>& params) {
  std::string out;
  for (const auto& p : params) {
    if (!out.empty()) out += '&';
    out += url_encode(p.key);
    out += '=';
    out += url_encode(p.value);
  }
  return out;
}

std::optional<std::string> find_param(const std::vector<QueryParam>& params, std::string_view key) {
  for (const auto& p : params)
    if (iequals(p.key, key)) return p.value;
  return std::nullopt;
}

bool Uri::tls() const { return scheme == "sb" || scheme == "wss" || scheme == "https"; }

std::string Uri::host_for_url() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]";
  return host;
}

std::string Uri::authority() const {
  std::string a = host_for_url();
  if (explicit_port) a += ":" + std::to_string(port);
  return a;
}

std::string Uri::target() const {
  if (query.empty()) return path;
  return path + "?" + query;
}

Result<Uri> parse_uri(std::string_view text) {
  if (text.empty()) return fail("URI is empty");
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return fail("URI contains a space or control character");
  }
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return fail("URI has no scheme (expected e.g. sb://host/)");
  Uri uri;
  uri.scheme = ascii_lower(text.substr(0, colon));
  std::uint16_t default_port = 0;
  if (uri.scheme == "sb" || uri.scheme == "wss" || uri.scheme == "https") {
    default_port = 443;
  } else if (uri.scheme == "ws" || uri.scheme == "http") {
    default_port = 80;
  } else {
    return fail("unsupported URI scheme " + quote_for_message(text.substr(0, colon)) +
                " (expected sb, ws, wss, http or https)");
  }
  std::string_view rest = text.substr(colon + 1);
  if (rest.substr(0, 2) != "//") return fail("URI with scheme '" + uri.scheme + "' must continue with '//'");
  rest.remove_prefix(2);

  std::size_t auth_end = rest.find_first_of("/?#");
  if (auth_end == std::string_view::npos) auth_end = rest.size();
  const std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = rest.substr(auth_end);

  if (authority.find('@') != std::string_view::npos) return fail("URI must not contain user information ('user@')");

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("URI has an unterminated IPv6 address ('[' without ']')");
    host = authority.substr(1, close - 1);
    if (host.find(':') == std::string_view::npos) return fail("URI has an invalid IPv6 address in brackets");
    for (char c : host)
      if (hex_value(c) < 0 && c != ':' && c != '.') return fail("URI has an invalid IPv6 address in brackets");
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("URI has unexpected text after the IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const std::size_t pc = authority.find(':');
    host = authority.substr(0, pc);
    if (pc != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(pc + 1);
      if (port_text.find(':') != std::string_view::npos)
        return fail("URI host contains ':' (an IPv6 address must be written in brackets)");
    }
    for (char c : host)
      if (!is_host_char(c)) return fail("URI host " + quote_for_message(host) + " contains an invalid character");
  }
  if (host.empty()) return fail("URI has an empty host");
  uri.host = ascii_lower(host);

  if (has_port) {
    if (port_text.empty()) return fail("URI has an empty port after ':'");
    unsigned long value = 0;
    for (char c : port_text) {
      if (!is_digit(c)) return fail("URI port " + quote_for_message(port_text, 12) + " is not a number");
      value = value * 10 + static_cast<unsigned long>(c - '0');
      if (value > 65535) return fail("URI port " + quote_for_message(port_text, 12) + " is out of range (1-65535)");
    }
    if (value == 0) return fail("URI port 0 is not allowed (1-65535)");
    uri.port = static_cast<std::uint16_t>(value);
    uri.explicit_port = true;
  } else {
    uri.port = default_port;
  }

  const std::size_t hash = tail.find('#');
  if (hash != std::string_view::npos) tail = tail.substr(0, hash);
  const std::size_t q = tail.find('?');
  std::string_view path = tail.substr(0, q);
  if (q != std::string_view::npos) uri.query = std::string(tail.substr(q + 1));
  uri.path = path.empty() ? "/" : std::string(path);
  return uri;
}

std::string encode_hc_path(std::string_view hc) {
  std::string out;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = hc.find('/', start);
    if (slash == std::string_view::npos) {
      out += url_encode(hc.substr(start));
      break;
    }
    out += url_encode(hc.substr(start, slash - start));
    out += '/';
    start = slash + 1;
  }
  return out;
}

std::string listen_url(bool tls, std::string_view host, uint16_t port, std::string_view hc, std::string_view id,
                       std::string_view token) {
  return build_hc_url(tls, host, port, hc, "listen", id, token);
}

std::string connect_url(bool tls, std::string_view host, uint16_t port, std::string_view hc, std::string_view id,
                        std::string_view token) {
  return build_hc_url(tls, host, port, hc, "connect", id, token);
}

std::string reject_url(std::string_view accept_address, int status_code, std::string_view description) {
  std::string url(accept_address);
  const std::size_t q = url.find('?');
  if (q == std::string::npos) {
    url += '?';
  } else if (q + 1 < url.size() && url.back() != '&') {
    // A non-empty query gets a separator, even when it happens to end in '?' (a '?' inside a value).
    url += '&';
  }
  url += "sb-hc-statusCode=";
  url += std::to_string(status_code);
  url += "&sb-hc-statusDescription=";
  url += url_encode(description);
  return url;
}

}  // namespace hc
