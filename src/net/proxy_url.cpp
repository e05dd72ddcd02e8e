#include "net/proxy_url.hpp"

#include "hc/crypto.hpp"
#include "hc/url.hpp"
#include "net/address.hpp"
#include "hc/utf8.hpp"

#include <cctype>

namespace net {
namespace {

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Strict percent-decoding: a bad escape is an error here (hc::url_decode keeps it verbatim), because a mistyped
// password should fail at start-up with a clear message, not as a 407 on every dial.
hc::Result<std::string> decode_userinfo_part(std::string_view text, const char* what) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])))
      return hc::fail(std::string("proxy URL: the ") + what + " has an invalid %-escape (write '%' as %25)");
  }
  std::string decoded = hc::url_decode(text, false);
  if (!hc::is_valid_utf8(decoded)) return hc::fail(std::string("proxy URL: the ") + what + " is not valid UTF-8");
  for (unsigned char c : decoded) {
    if (c < 0x20 || c == 0x7f) return hc::fail(std::string("proxy URL: the ") + what + " contains a control character");
  }
  return decoded;
}

hc::Result<bool> check_credentials(const std::string& user, const std::string& what) {
  // RFC 7617: the user-id cannot contain ':' (the password may).
  if (user.find(':') != std::string::npos) return hc::fail(what + ": the user name cannot contain ':'");
  return true;
}

hc::Result<std::string> strip_scheme(std::string_view& text) {
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) return std::string("http");
  std::string scheme = hc::ascii_lower(text.substr(0, sep));
  text.remove_prefix(sep + 3);
  if (scheme == "http") return scheme;
  if (scheme == "https")
    return hc::fail("proxy URL: https:// proxies (TLS to the proxy itself) are not supported; use the proxy's "
                    "http:// address (the tunnel through it still carries TLS to the relay)");
  if (scheme.rfind("socks", 0) == 0)
    return hc::fail("proxy URL: SOCKS proxies (" + scheme + "://) are not supported; use an HTTP CONNECT proxy");
  return hc::fail("proxy URL: unsupported scheme " + hc::quote_for_message(scheme) + " (expected http://)");
}

hc::Result<bool> parse_authority(std::string_view authority, ProxyUrl& out) {
  const bool bracketed = !authority.empty() && authority.front() == '[';
  const auto close = bracketed ? authority.find(']') : std::string_view::npos;
  const auto colon = authority.rfind(':');
  const bool has_port = bracketed ? (close != std::string_view::npos && colon != std::string_view::npos && colon > close)
                                  : colon != std::string_view::npos;
  if (has_port) {
    auto hp = parse_host_port(authority);
    if (!hp) return hc::fail("proxy URL: " + hp.error());
    out.host = hc::ascii_lower(hp->host);
    out.port = hp->port;
  } else {
    if (bracketed && close != authority.size() - 1) return hc::fail("proxy URL: missing ']' after the IPv6 address");
    out.host = hc::ascii_lower(bracketed ? authority.substr(1, authority.size() - 2) : authority);
  }
  if (out.host.empty()) return hc::fail("proxy URL: no host");
  for (unsigned char c : out.host) {
    const bool ok = std::isalnum(c) || c == '-' || c == '.' || c == '_' || (bracketed && c == ':');
    if (!ok) return hc::fail("proxy URL: invalid host " + hc::quote_for_message(out.host));
  }
  return true;
}

}  // namespace

std::string ProxyUrl::authority() const { return host_for_url(host) + ":" + std::to_string(port); }

std::string ProxyUrl::masked() const {
  std::string out = "http://";
  if (has_credentials()) out += hc::url_encode(user) + ":***@";
  return out + authority();
}

std::string ProxyUrl::basic_authorization() const {
  if (!has_credentials()) return {};
  return "Basic " + hc::base64_encode(user + ":" + password);
}

hc::Result<ProxyUrl> parse_proxy_url(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.empty()) return hc::fail("proxy URL is empty");
  auto scheme = strip_scheme(text);
  if (!scheme) return hc::fail(scheme.error());
  const auto end = text.find_first_of("/?#");
  std::string_view authority = text.substr(0, end);
  if (end != std::string_view::npos && text.substr(end) != "/")
    return hc::fail("proxy URL: a proxy URL has no path or query (expected http://[user:password@]host[:port])");
  ProxyUrl out;
  const auto at = authority.rfind('@');  // the last '@': an unencoded '@' in a password still parses
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const auto colon = userinfo.find(':');
    auto user = decode_userinfo_part(userinfo.substr(0, colon), "user name");
    if (!user) return hc::fail(user.error());
    auto checked = check_credentials(user.value(), "proxy URL");
    if (!checked) return hc::fail(checked.error());
    out.user = std::move(user.value());
    if (colon != std::string_view::npos) {
      auto password = decode_userinfo_part(userinfo.substr(colon + 1), "password");
      if (!password) return hc::fail(password.error());
      out.password = std::move(password.value());
    }
  }
  auto parsed = parse_authority(authority, out);
  if (!parsed) return hc::fail(parsed.error());
  return out;
}

hc::Result<bool> apply_proxy_credentials(ProxyUrl& proxy, std::string_view file_text) {
  const auto eol = file_text.find_first_of("\r\n");
  const std::string_view line = file_text.substr(0, eol);
  const auto colon = line.find(':');
  if (line.empty() || colon == std::string_view::npos || colon == 0)
    return hc::fail("proxy credentials file: expected one line 'user:password'");
  std::string user(line.substr(0, colon));
  std::string password(line.substr(colon + 1));
  if (!hc::is_valid_utf8(user) || !hc::is_valid_utf8(password))
    return hc::fail("proxy credentials file: not valid UTF-8");
  for (unsigned char c : user + password) {
    if (c < 0x20 || c == 0x7f) return hc::fail("proxy credentials file: contains a control character");
  }
  proxy.user = std::move(user);
  proxy.password = std::move(password);
  return true;
}

}  // namespace net
