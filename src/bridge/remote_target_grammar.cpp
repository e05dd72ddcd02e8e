// The grammar of remote targets: -T "hc:[port_name/][host:]port[U]{;more}" (and the config file's "target" strings),
// with Unix socket targets "[port_name/]unix:PATH" and azbridge's "[port_name/]name", and azbridge's legacy
// -R "hc:[host:][port_name/]port{;more}" (forward_grammar.hpp).
#include "bridge/forward_grammar.hpp"
#include "bridge/forward_grammar_terms.hpp"

#include <string>

namespace bridge {

using namespace grammar;

namespace {

constexpr const char* kRemoteSyntax =
    "expected hc:[port_name/][host:]port[U]{;more} or hc:[port_name/]unix:PATH, e.g. myhc:80, "
    "myhc:web/localhost:8080, myhc:53U or myhc:app/unix:/run/app.sock";
constexpr const char* kLegacySyntax = "expected hc:[host:][port_name/]port{;more}, e.g. myhc:localhost:web/8080";

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

hc::Result<RemoteTarget> parse_remote_target(std::string_view text) {
  auto t = remote_target(text);
  if (!t) return hc::fail(q(text) + ": " + t.error());
  return t;
}

hc::Result<RemoteForward> parse_remote_forward(std::string_view expr) {
  return parse_remote_common(expr, kRemoteSyntax, remote_target);
}

hc::Result<RemoteForward> parse_legacy_remote_forward(std::string_view expr) {
  return parse_remote_common(expr, kLegacySyntax, legacy_target);
}

}  // namespace bridge
