// The shared terms of the forwarding expressions (forward_grammar_terms.hpp) and the checks forward_grammar.hpp
// offers on their own: hybrid connection names, hosts, Unix socket paths. The expressions themselves are read in
// local_binding_grammar.cpp (-L) and remote_target_grammar.cpp (-T, -R).
#include "bridge/forward_grammar.hpp"
#include "bridge/forward_grammar_terms.hpp"

#include "hc/preamble.hpp"
#include "hc/url.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <cctype>
#include <string>

namespace bridge {

namespace {

constexpr std::size_t kQuoteMax = 120;
constexpr std::size_t kMaxHcName = 260;
constexpr std::size_t kMaxHostName = 253;
constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;  // 107 bytes on Linux, plus the NUL

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }

}  // namespace

namespace grammar {

const char* const kWriteSocketAsUnix = "a Unix socket is written unix:PATH (e.g. unix:/run/app.sock, or with a port "
                                       "name app/unix:/run/app.sock)";

std::string q(std::string_view s) { return hc::quote_for_message(s, kQuoteMax); }

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool looks_like_socket_path(std::string_view s) {
  return starts_with(s, "/") || starts_with(s, "./") || starts_with(s, "../") || starts_with(s, "~") ||
         starts_with(s, "@");
}

bool is_port_text(std::string_view s) {
  if (s.size() > 1 && (s.back() == 'U' || s.back() == 'u')) s.remove_suffix(1);
  return all_digits(s);
}

bool is_relative_socket_name(std::string_view s) {
  if (s.empty() || !is_alpha(s.front()) || s == "U" || s == "u") return false;  // "U": a UDP port without its number
  for (char c : s)
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

UnixForm find_unix_form(std::string_view text) {
  const std::size_t at = text.find(kUnixPrefix);
  if (at == std::string_view::npos) return {};
  const std::string_view before = text.substr(0, at);
  if ((!before.empty() && before.back() != '/') || before.find(':') != std::string_view::npos) return {};
  const std::string_view path = text.substr(at + kUnixPrefix.size());
  if (is_port_text(path.substr(0, path.find('/')))) return {};  // "unix:8080[/name]": a host called unix
  UnixForm u;
  u.found = true;
  u.path = path;
  u.has_name = !before.empty();
  if (u.has_name) u.name = before.substr(0, before.size() - 1);
  return u;
}

hc::Result<PortAndProtocol> parse_port_text(std::string_view text, Side side) {
  if (text.empty()) return hc::fail("missing port number (expected 1-65535)");
  PortAndProtocol out;
  if (text.size() > 1 && (text.back() == 'U' || text.back() == 'u') && all_digits(text.substr(0, text.size() - 1))) {
    out.protocol = Protocol::udp;
    text.remove_suffix(1);
  }
  if (!all_digits(text))
    return hc::fail(q(text) + " is not a port number (expected 1-65535, or a Unix socket " +
                    (side == Side::local ? "binding" : "target") + " written unix:PATH)");
  unsigned long value = 0;
  for (char c : text) {
    value = value * 10 + static_cast<unsigned long>(c - '0');
    if (value > 65535) break;
  }
  if (value == 0 || value > 65535)
    return hc::fail(std::string(out.protocol == Protocol::udp ? "UDP port " : "port ") + q(text) +
                    " is out of range (expected 1-65535)");
  out.port = static_cast<uint16_t>(value);
  return out;
}

std::string default_port_name(uint16_t port, Protocol protocol) {
  return std::to_string(port) + (protocol == Protocol::udp ? "U" : "");
}

bool is_udp_port_name(std::string_view name) {
  return name.size() > 1 && name.back() == 'U' && all_digits(name.substr(0, name.size() - 1));
}

hc::Result<HostAndPort> split_host_port(std::string_view text, const char* what, bool allow_star) {
  HostAndPort out;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return hc::fail(std::string("missing ']' after the IPv6 ") + what);
    const std::string_view host = text.substr(1, close - 1);
    if (host.empty()) return hc::fail(std::string("empty IPv6 ") + what + " in brackets");
    if (host.find(':') == std::string_view::npos)
      return hc::fail("brackets are only for IPv6 addresses (got " + q(std::string("[") + std::string(host) + "]") +
                      "; write it without brackets)");
    if (!valid_host(host)) return hc::fail(q(host) + " is not a valid IPv6 address");
    const std::string_view after = text.substr(close + 1);
    if (after.empty()) return hc::fail(std::string("missing ':port' after the IPv6 ") + what);
    if (after.front() != ':')
      return hc::fail(std::string("expected ':port' after the IPv6 ") + what + ", got " + q(after));
    out.has_host = true;
    out.host = std::string(host);
    out.port = after.substr(1);
    return out;
  }
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    out.port = text;
    return out;
  }
  if (text.find(':', colon + 1) != std::string_view::npos)
    return hc::fail(std::string("too many ':' (an IPv6 ") + what + " must be written in brackets, e.g. [::1]:8080)");
  const std::string_view host = text.substr(0, colon);
  if (host.empty()) return hc::fail(std::string("empty ") + what + " before ':'");
  out.has_host = true;
  if (allow_star && host == "*") {
    out.host = "0.0.0.0";
  } else {
    if (!valid_host(host))
      return hc::fail(std::string(what) + " " + q(host) + " is not a valid host name or IP address");
    out.host = std::string(host);
  }
  out.port = text.substr(colon + 1);
  return out;
}

hc::Result<std::string> checked_port_name(std::string_view name) {
  if (!hc::valid_port_name(name))
    return hc::fail("port name " + q(name) + " is invalid (expected 1-255 characters of A-Z a-z 0-9 . _ - /)");
  // The same name must be writable in every form (-L, -T, -R); -T reads a leading '/' or '.' as a socket path.
  if (looks_like_socket_path(name) || name.front() == '.')
    return hc::fail("port name " + q(name) + " must not start with '/' or '.'");
  return std::string(name);
}

hc::Result<std::string> socket_port_name(std::string_view path, bool has_name, std::string_view name) {
  if (has_name) {
    if (name.empty()) return hc::fail("empty port name before '/'");
    return checked_port_name(name);
  }
  if (!hc::valid_port_name(path))
    return hc::fail("the socket path " + q(path) + " cannot be its own port name (a port name is 1-255 characters of "
                    "A-Z a-z 0-9 . _ - /); give one, e.g. app/unix:" + std::string(path));
  return std::string(path);
}

std::string hc_error(std::string_view expr, std::string_view name) {
  return q(expr) + ": hybrid connection name " + q(name) + " is invalid: " + hc_name_problem(name);
}

}  // namespace grammar

using grammar::find_unix_form;
using grammar::UnixForm;
using grammar::q;

bool valid_host(std::string_view host) {
  if (host.empty()) return false;
  if (host.find(':') != std::string_view::npos) {
    const std::size_t pct = host.find('%');
    const std::string addr(host.substr(0, pct));
    if (pct != std::string_view::npos) {
      const std::string_view zone = host.substr(pct + 1);
      if (zone.empty() || zone.size() > 64) return false;
      for (char c : zone)
        if (!is_alnum(c) && c != '.' && c != '_' && c != '-') return false;
    }
    for (char c : addr)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    in6_addr a6{};
    return inet_pton(AF_INET6, addr.c_str(), &a6) == 1;
  }
  if (host.size() > kMaxHostName) return false;
  if (host.front() == '-' || host.front() == '.') return false;
  bool digits_and_dots = true;
  for (char c : host) {
    if (!is_alnum(c) && c != '.' && c != '-' && c != '_') return false;
    if (!is_digit(c) && c != '.') digits_and_dots = false;
  }
  if (digits_and_dots) {
    // Looks like an IPv4 literal: it must be one.
    in_addr a4{};
    return inet_pton(AF_INET, std::string(host).c_str(), &a4) == 1;
  }
  return true;
}

std::string hc_name_problem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > kMaxHcName) return "it is longer than 260 characters";
  for (char c : name)
    if (!is_alnum(c) && c != '/' && c != '_' && c != '-' && c != '.')
      return "it contains " + q(std::string_view(&c, 1)) + " (allowed: A-Z a-z 0-9 . _ - /)";
  if (name.front() == '/') return "it starts with '/'";
  if (name.back() == '/') return "it ends with '/'";
  if (name.find("//") != std::string_view::npos) return "it contains '//'";
  return {};
}

bool valid_hc_name(std::string_view name) { return hc_name_problem(name).empty(); }

std::string socket_path_problem(std::string_view path) {
  if (path.empty()) return "empty Unix socket path";
  if (path.find('\0') != std::string_view::npos) return "the Unix socket path contains a NUL byte";
  if (path.front() == '@') return "abstract Unix sockets (" + q(path) + ") are not supported; give a file path";
  if (path.size() > kMaxSocketPath)
    return "the Unix socket path " + q(path) + " is " + std::to_string(path.size()) +
           " bytes long; a socket path holds at most " + std::to_string(kMaxSocketPath) + " (sun_path)";
  return {};
}

bool names_its_port(std::string_view text) {
  if (const UnixForm u = find_unix_form(text); u.found) return u.has_name;
  return text.find('/') != std::string_view::npos;
}

}  // namespace bridge
