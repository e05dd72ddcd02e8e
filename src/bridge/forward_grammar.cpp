#include "bridge/forward_grammar.hpp"

#include "hc/preamble.hpp"
#include "hc/url.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <string>

namespace bridge {

namespace {

constexpr std::size_t kQuoteMax = 120;
constexpr std::size_t kMaxHcName = 260;
constexpr std::size_t kMaxHostName = 253;
constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;  // 107 bytes on Linux, plus the NUL
constexpr std::string_view kUnixPrefix = "unix:";
constexpr std::string_view kHttpPrefix = "http:";

constexpr const char* kLocalSyntax =
    "expected [bind_addr:]port[U][/port_name]{;more}:hc, [port_name/]unix:PATH:hc or http:[bind_addr:]port:hc, e.g. "
    "8080:myhc, 127.0.0.1:8080/web:myhc, 5353U:myhc, unix:/run/app.sock:myhc or http:8080:myhc";
constexpr const char* kRemoteSyntax =
    "expected hc:[port_name/][host:]port[U]{;more} or hc:[port_name/]unix:PATH, e.g. myhc:80, "
    "myhc:web/localhost:8080, myhc:53U or myhc:app/unix:/run/app.sock";
constexpr const char* kLegacySyntax = "expected hc:[host:][port_name/]port{;more}, e.g. myhc:localhost:web/8080";

std::string q(std::string_view s) { return hc::quote_for_message(s, kQuoteMax); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }

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

// "80" or "53U": a port as the TCP and UDP forms write it.
bool is_port_text(std::string_view s) {
  if (s.size() > 1 && (s.back() == 'U' || s.back() == 'u')) s.remove_suffix(1);
  return all_digits(s);
}

// azbridge's Unix socket form: the port part is a name, not a number (azbridge.md 1.2), taken as a path relative to
// the working directory. It must start with a letter, so a mistyped port ("80a", "U") stays an error.
bool is_relative_socket_name(std::string_view s) {
  if (s.empty() || !is_alpha(s.front()) || s == "U" || s == "u") return false;  // "U": a UDP port without its number
  for (char c : s)
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

// "[port_name/]unix:PATH". Port names never contain ':', so the first "unix:" is the marker when what precedes it is
// empty or a port name and '/'. "unix:" followed by a port number (and maybe "/name") stays a host called "unix".
struct UnixForm {
  bool found = false;
  bool has_name = false;
  std::string_view name;
  std::string_view path;
};

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

enum class Side { local, remote };

struct PortAndProtocol {
  uint16_t port = 0;
  Protocol protocol = Protocol::tcp;
};

// The port part of a binding or target: "8080" (TCP) or "5353U" (UDP, azbridge's suffix; "u" too). Errors are
// "what" only (the caller adds the context).
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

// azbridge's default port name: the number, plus "U" for UDP.
std::string default_port_name(uint16_t port, Protocol protocol) {
  return std::to_string(port) + (protocol == Protocol::udp ? "U" : "");
}

// A number followed by 'U': the name azbridge's UDP senders use, which they send in datagram mode.
bool is_udp_port_name(std::string_view name) {
  return name.size() > 1 && name.back() == 'U' && all_digits(name.substr(0, name.size() - 1));
}

struct HostAndPort {
  bool has_host = false;
  std::string host;
  std::string_view port;
};

// "[host:]port" with IPv6 in brackets. `what` names the host part ("bind address" or "host").
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

// The port name of a socket binding or target: the one given, or azbridge's default, the socket text as written.
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

const char* kWriteSocketAsUnix = "a Unix socket is written unix:PATH (e.g. unix:/run/app.sock, or with a port name "
                                 "app/unix:/run/app.sock)";

// A Unix socket binding or target: its path and its port name.
template <class Endpoint>
hc::Result<Endpoint> socket_endpoint(std::string_view path, bool has_name, std::string_view name) {
  if (const std::string problem = socket_path_problem(path); !problem.empty()) return hc::fail(problem);
  Endpoint e;
  e.protocol = Protocol::unix_socket;
  e.socket_path = std::string(path);
  auto named = socket_port_name(path, has_name, name);
  if (!named) return hc::fail(named.error());
  e.port_name = std::move(named.value());
  return e;
}

hc::Result<LocalBinding> socket_binding(std::string_view path, bool has_name, std::string_view name) {
  return socket_endpoint<LocalBinding>(path, has_name, name);
}

// "http:[bind_addr:]port" (after the prefix): a local HTTP entrance. It has no port name: its requests are HC HTTP
// requests, which carry none.
hc::Result<LocalBinding> http_binding(std::string_view text) {
  if (text.empty()) return hc::fail("missing port after 'http:' (expected http:[bind_addr:]port)");
  if (text.find('/') != std::string_view::npos)
    return hc::fail("an HTTP binding takes no port name or path (expected http:[bind_addr:]port; the request's path "
                    "goes to the hybrid connection as it is)");
  auto hp = split_host_port(text, "bind address", true);
  if (!hp) return hc::fail(hp.error());
  auto port = parse_port_text(hp->port, Side::local);
  if (!port) return hc::fail(port.error());
  if (port->protocol != Protocol::tcp) return hc::fail("an HTTP binding is TCP (no 'U' suffix)");
  LocalBinding b;
  b.protocol = Protocol::http;
  b.port = port->port;
  if (hp->has_host) b.bind_host = hp->host;
  b.port_name = default_port_name(b.port, Protocol::tcp);
  return b;
}

// "[bind_addr:]port[/port_name]", "[port_name/]unix:PATH", "http:[bind_addr:]port" or azbridge's
// "socket[/port_name]"; errors are "what" only.
hc::Result<LocalBinding> local_binding(std::string_view text) {
  if (text.empty()) return hc::fail("empty binding (expected [bind_addr:]port[/port_name])");
  // "http:" was a bind address named "http" before; an HTTP entrance is worth more than that host name.
  if (starts_with(text, kHttpPrefix)) return http_binding(text.substr(kHttpPrefix.size()));
  if (const UnixForm u = find_unix_form(text); u.found) return socket_binding(u.path, u.has_name, u.name);
  if (looks_like_socket_path(text)) return hc::fail(kWriteSocketAsUnix);
  const std::size_t slash = text.find('/');
  const std::string_view addr_port = text.substr(0, slash);
  if (is_relative_socket_name(addr_port))
    return socket_binding(addr_port, slash != std::string_view::npos,
                          slash == std::string_view::npos ? std::string_view() : text.substr(slash + 1));
  LocalBinding b;
  auto hp = split_host_port(addr_port, "bind address", true);
  if (!hp) return hc::fail(hp.error());
  auto port = parse_port_text(hp->port, Side::local);
  if (!port) return hc::fail(port.error());
  b.port = port->port;
  b.protocol = port->protocol;
  if (hp->has_host) b.bind_host = hp->host;
  if (slash == std::string_view::npos) {
    b.port_name = default_port_name(b.port, b.protocol);
  } else {
    const std::string_view name = text.substr(slash + 1);
    if (name.empty()) return hc::fail("empty port name after '/'");
    auto checked = checked_port_name(name);
    if (!checked) return hc::fail(checked.error());
    b.port_name = std::move(checked.value());
  }
  return b;
}

// "[host:]port" after the port name has been split off; fills host and port.
hc::Result<bool> target_host_port(std::string_view text, RemoteTarget& t) {
  if (text.empty()) return hc::fail("missing port number (expected 1-65535)");
  auto hp = split_host_port(text, "host", false);
  if (!hp) return hc::fail(hp.error());
  auto port = parse_port_text(hp->port, Side::remote);
  if (!port) return hc::fail(port.error());
  t.port = port->port;
  t.protocol = port->protocol;
  if (hp->has_host) t.host = hp->host;
  return true;
}

// The port name a target was given, or by default its port number as text (as azbridge does).
hc::Result<bool> name_target(RemoteTarget& t, bool has_name, std::string_view name) {
  if (!has_name) {
    t.port_name = default_port_name(t.port, t.protocol);
    return true;
  }
  auto checked = checked_port_name(name);
  if (!checked) return hc::fail(checked.error());
  if (t.protocol == Protocol::tcp && is_udp_port_name(name))
    return hc::fail("port name " + q(name) + " is a UDP port name (azbridge senders use datagram mode for it) but the "
                    "target is TCP; write the port as " + std::to_string(t.port) + "U for a UDP target");
  t.port_name = std::move(checked.value());
  return true;
}

hc::Result<RemoteTarget> socket_target(std::string_view path, bool has_name, std::string_view name) {
  if (has_name && is_udp_port_name(name))
    return hc::fail("port name " + q(name) + " is a UDP port name (azbridge senders use datagram mode for it) but the "
                    "target is a Unix stream socket");
  return socket_endpoint<RemoteTarget>(path, has_name, name);
}

// "[port_name/][host:]port"; errors are "what" only.
hc::Result<RemoteTarget> remote_target(std::string_view text) {
  if (text.empty()) return hc::fail("empty target (expected [port_name/][host:]port)");
  if (const UnixForm u = find_unix_form(text); u.found) return socket_target(u.path, u.has_name, u.name);
  if (looks_like_socket_path(text)) return hc::fail(kWriteSocketAsUnix);
  RemoteTarget t;
  const std::size_t slash = text.rfind('/');
  std::string_view rest = text;
  std::string_view name;
  if (slash != std::string_view::npos) {
    name = text.substr(0, slash);
    rest = text.substr(slash + 1);
    if (name.empty()) return hc::fail("empty port name before '/'");
    if (rest.empty()) return hc::fail("missing [host:]port after the port name");
  }
  if (is_relative_socket_name(rest)) return socket_target(rest, slash != std::string_view::npos, name);
  auto ok = target_host_port(rest, t);
  if (!ok) return hc::fail(ok.error());
  auto named = name_target(t, slash != std::string_view::npos, name);
  if (!named) return hc::fail(named.error());
  return t;
}

// Legacy "[host:][port_name/]port"; errors are "what" only.
hc::Result<RemoteTarget> legacy_target(std::string_view text) {
  if (text.empty()) return hc::fail("empty target (expected [host:][port_name/]port)");
  // "unix:name/80" is this order's host "unix" with a port name; a socket path here ends in a name, not a port.
  // It is that only when what lies between "unix:" and the port could be a port name; "unix:/x/443" is a socket.
  const UnixForm u = find_unix_form(text);
  const std::size_t last_slash = u.path.rfind('/');
  if (u.found && (u.has_name || last_slash == std::string_view::npos || !is_port_text(u.path.substr(last_slash + 1)) ||
                  !checked_port_name(u.path.substr(0, last_slash)).ok()))
    return socket_target(u.path, u.has_name, u.name);
  if (looks_like_socket_path(text)) return hc::fail(kWriteSocketAsUnix);
  RemoteTarget t;
  std::string_view rest = text;
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return hc::fail("missing ']' after the IPv6 host");
    const std::string_view host = text.substr(1, close - 1);
    if (host.empty()) return hc::fail("empty IPv6 host in brackets");
    if (host.find(':') == std::string_view::npos)
      return hc::fail("brackets are only for IPv6 addresses (write the host without brackets)");
    if (!valid_host(host)) return hc::fail(q(host) + " is not a valid IPv6 address");
    const std::string_view after = text.substr(close + 1);
    if (after.empty() || after.front() != ':') return hc::fail("expected ':[port_name/]port' after the IPv6 host");
    t.host = std::string(host);
    rest = after.substr(1);
  } else {
    const std::size_t colon = text.find(':');
    if (colon != std::string_view::npos) {
      const std::string_view host = text.substr(0, colon);
      rest = text.substr(colon + 1);
      if (host.empty()) return hc::fail("empty host before ':'");
      if (rest.find(':') != std::string_view::npos)
        return hc::fail("too many ':' (an IPv6 host must be written in brackets, e.g. [::1]:80)");
      if (!valid_host(host)) return hc::fail("host " + q(host) + " is not a valid host name or IP address");
      t.host = std::string(host);
    }
  }
  if (rest.empty()) return hc::fail("missing port number (expected 1-65535)");
  const std::size_t slash = rest.rfind('/');
  std::string_view name;
  std::string_view port_text = rest;
  if (slash != std::string_view::npos) {
    name = rest.substr(0, slash);
    port_text = rest.substr(slash + 1);
    if (name.empty()) return hc::fail("empty port name before '/'");
  }
  if (is_relative_socket_name(port_text)) {
    if (rest.size() != text.size()) return hc::fail("a Unix socket target has no host (got " + q(text) + ")");
    return socket_target(port_text, slash != std::string_view::npos, name);
  }
  auto port = parse_port_text(port_text, Side::remote);
  if (!port) return hc::fail(port.error());
  t.port = port->port;
  t.protocol = port->protocol;
  auto named = name_target(t, slash != std::string_view::npos, name);
  if (!named) return hc::fail(named.error());
  return t;
}

std::string hc_error(std::string_view expr, std::string_view name) {
  return q(expr) + ": hybrid connection name " + q(name) + " is invalid: " + hc_name_problem(name);
}

template <class Item, class ParseItem>
hc::Result<std::vector<Item>> split_items(std::string_view expr, std::string_view list, const char* item_word,
                                          const char* syntax, ParseItem parse_item, std::string_view hint) {
  std::vector<Item> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t semi = list.find(';', start);
    const std::string_view part =
        list.substr(start, semi == std::string_view::npos ? std::string_view::npos : semi - start);
    if (part.empty())
      return hc::fail(q(expr) + ": empty " + item_word +
                      (list.find(';') != std::string_view::npos ? " around ';'" : "") + " (" + syntax + ")");
    auto item = parse_item(part);
    if (!item) return hc::fail(q(expr) + ": " + item_word + " " + q(part) + ": " + item.error() + std::string(hint));
    items.push_back(std::move(item.value()));
    if (semi == std::string_view::npos) break;
    start = semi + 1;
  }
  return items;
}

template <class Parse>
hc::Result<RemoteForward> parse_remote_common(std::string_view expr, const char* syntax, Parse parse_item) {
  if (expr.empty()) return hc::fail(std::string("empty forwarding expression (") + syntax + ")");
  const std::size_t colon = expr.find(':');
  if (colon == std::string_view::npos)
    return hc::fail(q(expr) + ": missing ':' after the hybrid connection name (" + syntax + ")");
  const std::string_view name = expr.substr(0, colon);
  if (name.empty()) return hc::fail(q(expr) + ": missing hybrid connection name before the first ':' (" + syntax + ")");
  if (!valid_hc_name(name)) return hc::fail(hc_error(expr, name));
  const std::string_view list = expr.substr(colon + 1);
  if (list.empty()) return hc::fail(q(expr) + ": missing target after the ':' (" + syntax + ")");
  auto targets = split_items<RemoteTarget>(expr, list, "target", syntax, parse_item, {});
  if (!targets) return hc::fail(targets.error());
  RemoteForward f;
  f.hc = std::string(name);
  f.targets = std::move(targets.value());
  return f;
}

}  // namespace

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

hc::Result<LocalBinding> parse_local_binding(std::string_view text) {
  auto b = local_binding(text);
  if (!b) return hc::fail(q(text) + ": " + b.error());
  return b;
}

hc::Result<RemoteTarget> parse_remote_target(std::string_view text) {
  auto t = remote_target(text);
  if (!t) return hc::fail(q(text) + ": " + t.error());
  return t;
}

hc::Result<LocalForward> parse_local_forward(std::string_view expr) {
  if (expr.empty()) return hc::fail(std::string("empty forwarding expression (") + kLocalSyntax + ")");
  const std::size_t colon = expr.rfind(':');
  if (colon == std::string_view::npos) return hc::fail(q(expr) + ": missing ':hc' at the end (" + kLocalSyntax + ")");
  const std::string_view name = expr.substr(colon + 1);
  const std::string_view list = expr.substr(0, colon);
  if (name.empty())
    return hc::fail(q(expr) + ": missing hybrid connection name after the last ':' (" + kLocalSyntax + ")");
  if (!valid_hc_name(name)) return hc::fail(hc_error(expr, name));
  if (list.empty()) return hc::fail(q(expr) + ": missing port before the ':hc' (" + kLocalSyntax + ")");
  // "127.0.0.1:8080" or "[::1]:8080" without ":hc" makes the port look like the hc name; say so.
  const std::string hint = all_digits(name) ? " (is the ':hc' part missing at the end?)" : "";
  auto bindings = split_items<LocalBinding>(expr, list, "binding", kLocalSyntax, local_binding, hint);
  if (!bindings) return hc::fail(bindings.error());
  LocalForward f;
  f.hc = std::string(name);
  f.bindings = std::move(bindings.value());
  return f;
}

hc::Result<RemoteForward> parse_remote_forward(std::string_view expr) {
  return parse_remote_common(expr, kRemoteSyntax, remote_target);
}

hc::Result<RemoteForward> parse_legacy_remote_forward(std::string_view expr) {
  return parse_remote_common(expr, kLegacySyntax, legacy_target);
}

}  // namespace bridge
