// azbridge's forwarding expressions (-L, -T, -R; reference azbridge.md 1.2), with IPv6 literals in brackets.
// Pure functions: no I/O, no exceptions; every mistake is an error message that quotes the expression, says which part
// is wrong and what was expected.
#pragma once

#include "bridge/config.hpp"
#include "hc/result.hpp"

#include <string_view>

namespace bridge {

// -L "[bind_addr:]port[U][/port_name]{;more bindings}:hc". The LAST ':' separates the hc name. bind_addr defaults to
// 127.0.0.1; "*" means 0.0.0.0; IPv6 in brackets ("[::1]:8080", "[::]:8080"). port 1..65535, a 'U' suffix makes it
// UDP (azbridge); port_name defaults to the port number as text, plus "U" for UDP ("5353U").
// A Unix socket binding is "[port_name/]unix:PATH" (absolute or relative PATH, no ';'), or azbridge's relative form
// "name[/port_name]" (a name that starts with a letter, in the working directory); its default port name is the
// socket text as written (azbridge's choice).
// An HTTP entrance binding is "http:[bind_addr:]port" (Protocol::http, no port name; "http:8080:web").
hc::Result<LocalForward> parse_local_forward(std::string_view expr);

// -T "hc:[port_name/][host:]port[U]{;more targets}". The FIRST ':' separates the hc name. host defaults to
// "localhost"; 'U' makes the target UDP. A TCP target may not carry a UDP port name ("53U"): azbridge senders use
// datagram mode for those names. A Unix socket target is "[port_name/]unix:PATH" or azbridge's "[port_name/]name".
hc::Result<RemoteForward> parse_remote_forward(std::string_view expr);

// -R "hc:[host:][port_name/]port{;more targets}" (azbridge's legacy order).
hc::Result<RemoteForward> parse_legacy_remote_forward(std::string_view expr);

// One -L binding "[bind_addr:]port[/port_name]" (or any form above; the config file's "bind" strings). Errors: "'TEXT': what".
hc::Result<LocalBinding> parse_local_binding(std::string_view text);
// One -T target "[port_name/][host:]port" (the config file's "target" strings). Errors: "'TEXT': what".
hc::Result<RemoteTarget> parse_remote_target(std::string_view text);

// azbridge's [0-9A-Za-z/_\-.]+, 1..260 characters, no leading or trailing '/', no "//".
bool valid_hc_name(std::string_view name);
// Why `name` is not a valid hc name ("" when it is), for error messages.
std::string hc_name_problem(std::string_view name);

// Why `path` cannot be a Unix socket path ("" when it can): empty, a NUL byte, abstract ("@..."), longer than sun_path.
std::string socket_path_problem(std::string_view path);

// Whether a binding or target text gives its own port name ("8080/web", "web/localhost:80", "web/unix:/run/a.sock").
bool names_its_port(std::string_view text);

// A host name or IP address usable as a bind address or target: a DNS name / IPv4 literal of [A-Za-z0-9._-] (at most
// 253 characters), or an IPv6 literal (without brackets) of hex digits, ':' and '.', optionally with a "%zone".
bool valid_host(std::string_view host);

}  // namespace bridge
