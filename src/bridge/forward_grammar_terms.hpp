// The terms the forwarding expressions share (forward_grammar.hpp): ports, hosts, port names, Unix socket forms and
// the ';'-separated list, used by the grammar of local bindings (local_binding_grammar.cpp) and that of remote
// targets (remote_target_grammar.cpp). Internal to those; errors are "what" only (the caller adds the context).
#pragma once

#include "bridge/forward_grammar.hpp"
#include "hc/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bridge::grammar {

constexpr std::string_view kUnixPrefix = "unix:";
extern const char* const kWriteSocketAsUnix;

// `s` quoted for an error message (cut to a readable length).
std::string q(std::string_view s);

bool all_digits(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
// "/x", "./x", "../x", "~x" or "@x": text that can only mean a socket path.
bool looks_like_socket_path(std::string_view s);
// "80" or "53U": a port as the TCP and UDP forms write it.
bool is_port_text(std::string_view s);
// azbridge's Unix socket form: the port part is a name, not a number (azbridge.md 1.2), taken as a path relative to
// the working directory. It must start with a letter, so a mistyped port ("80a", "U") stays an error.
bool is_relative_socket_name(std::string_view s);

// "[port_name/]unix:PATH". Port names never contain ':', so the first "unix:" is the marker when what precedes it is
// empty or a port name and '/'. "unix:" followed by a port number (and maybe "/name") stays a host called "unix".
struct UnixForm {
  bool found = false;
  bool has_name = false;
  std::string_view name;
  std::string_view path;
};
UnixForm find_unix_form(std::string_view text);

enum class Side { local, remote };

struct PortAndProtocol {
  uint16_t port = 0;
  Protocol protocol = Protocol::tcp;
};
// The port part of a binding or target: "8080" (TCP) or "5353U" (UDP, azbridge's suffix; "u" too).
hc::Result<PortAndProtocol> parse_port_text(std::string_view text, Side side);

// azbridge's default port name: the number, plus "U" for UDP.
std::string default_port_name(uint16_t port, Protocol protocol);
// A number followed by 'U': the name azbridge's UDP senders use, which they send in datagram mode.
bool is_udp_port_name(std::string_view name);

struct HostAndPort {
  bool has_host = false;
  std::string host;
  std::string_view port;
};
// "[host:]port" with IPv6 in brackets. `what` names the host part ("bind address" or "host").
hc::Result<HostAndPort> split_host_port(std::string_view text, const char* what, bool allow_star);

// A port name given in a binding or target: valid, and writable in every form (-L, -T, -R).
hc::Result<std::string> checked_port_name(std::string_view name);
// The port name of a socket binding or target: the one given, or azbridge's default, the socket text as written.
hc::Result<std::string> socket_port_name(std::string_view path, bool has_name, std::string_view name);

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

// "'EXPR': hybrid connection name 'NAME' is invalid: why".
std::string hc_error(std::string_view expr, std::string_view name);

// The ';'-separated bindings or targets of `expr` (`list` is its part holding them), each read by `parse_item`;
// errors quote the expression and the item, then add `hint`.
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

}  // namespace bridge::grammar
