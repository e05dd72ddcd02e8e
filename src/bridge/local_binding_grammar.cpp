// The grammar of local bindings (-L, and the config file's "bind" strings): "[bind_addr:]port[U][/port_name]",
// "[port_name/]unix:PATH", azbridge's "socket[/port_name]" and "http:[bind_addr:]port", a ';'-separated list of them
// before ":hc" (forward_grammar.hpp).
#include "bridge/forward_grammar.hpp"
#include "bridge/forward_grammar_terms.hpp"

#include <string>

namespace bridge {

using namespace grammar;

namespace {

constexpr std::string_view kHttpPrefix = "http:";

constexpr const char* kLocalSyntax =
    "expected [bind_addr:]port[U][/port_name]{;more}:hc, [port_name/]unix:PATH:hc or http:[bind_addr:]port:hc, e.g. "
    "8080:myhc, 127.0.0.1:8080/web:myhc, 5353U:myhc, unix:/run/app.sock:myhc or http:8080:myhc";

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

}  // namespace

hc::Result<LocalBinding> parse_local_binding(std::string_view text) {
  auto b = local_binding(text);
  if (!b) return hc::fail(q(text) + ": " + b.error());
  return b;
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

}  // namespace bridge
