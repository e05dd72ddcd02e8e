// bridge::parse_local_forward, parse_remote_forward, parse_legacy_remote_forward, parse_local_binding,
// parse_remote_target, valid_hc_name / hc_name_problem and valid_host.
// Invariants:
//  - every error of a non-empty expression starts by quoting it ("'EXPR': ..."), binding/target errors quote the text;
//  - what parsed is well-formed (valid hc name, hosts, ports 1..65535, valid port names);
//  - a parsed forward written back in its own syntax (and a remote forward in the other remote syntax) parses to the
//    same forward; each binding / target written alone parses with parse_local_binding / parse_remote_target.
#include "fuzz_check.hpp"

#include "bridge/forward_grammar.hpp"
#include "hc/preamble.hpp"
#include "hc/url.hpp"

#include <cctype>
#include <string>

namespace {

std::string host_text(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The grammar forward_grammar.hpp documents for valid_host: a DNS name / IPv4 literal of [A-Za-z0-9._-] (at most 253
// characters), or an IPv6 literal of hex digits, ':' and '.', optionally with a "%zone".
bool documented_host(const std::string& h) {
  if (h.empty()) return false;
  if (h.find(':') == std::string::npos) {
    if (h.size() > 253) return false;
    for (char c : h)
      if (!is_alnum(c) && c != '.' && c != '_' && c != '-') return false;
    return true;
  }
  const std::size_t pct = h.find('%');
  for (std::size_t i = 0; i < std::min(pct, h.size()); ++i)
    if (!is_hex(h[i]) && h[i] != ':' && h[i] != '.') return false;
  if (pct != std::string::npos)
    for (std::size_t i = pct + 1; i < h.size(); ++i)
      if (!is_alnum(h[i]) && h[i] != '.' && h[i] != '_' && h[i] != '-') return false;
  return true;
}

const char* udp_suffix(bridge::Protocol p) { return p == bridge::Protocol::udp ? "U" : ""; }

template <class Endpoint>
bool is_socket(const Endpoint& e) { return e.protocol == bridge::Protocol::unix_socket; }

// "[port_name/]unix:PATH", the name left out when it is the default (the path), which a written name may not be.
std::string socket_text(const std::string& path, const std::string& port_name) {
  return (port_name == path ? std::string() : port_name + "/") + "unix:" + path;
}

std::string written_binding(const bridge::LocalBinding& b) {
  if (is_socket(b)) return socket_text(b.socket_path, b.port_name);
  if (b.protocol == bridge::Protocol::http) return "http:" + host_text(b.bind_host) + ":" + std::to_string(b.port);
  return host_text(b.bind_host) + ":" + std::to_string(b.port) + udp_suffix(b.protocol) + "/" + b.port_name;
}

std::string written_target(const bridge::RemoteTarget& t) {
  if (is_socket(t)) return socket_text(t.socket_path, t.port_name);
  return t.port_name + "/" + host_text(t.host) + ":" + std::to_string(t.port) + udp_suffix(t.protocol);
}

// A port as the grammar reads one: digits, maybe with azbridge's U suffix.
bool port_text(std::string s) {
  if (s.size() > 1 && (s.back() == 'U' || s.back() == 'u')) s.pop_back();
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string legacy_written_target(const bridge::RemoteTarget& t) {
  if (is_socket(t)) {
    // In -R order "unix:a/443" is the host "unix" with port name "a" and port 443, so a socket path made of a valid
    // port name, '/' and a port is written with its port name (docs/configuration.md).
    const std::size_t slash = t.socket_path.rfind('/');
    const std::string name = slash == std::string::npos ? std::string() : t.socket_path.substr(0, slash);
    if (slash != std::string::npos && hc::valid_port_name(name) && name.front() != '/' && name.front() != '.' &&
        port_text(t.socket_path.substr(slash + 1)))
      return t.port_name + "/unix:" + t.socket_path;
    return socket_text(t.socket_path, t.port_name);
  }
  return host_text(t.host) + ":" + t.port_name + "/" + std::to_string(t.port) + udp_suffix(t.protocol);
}

// A socket endpoint: a usable path and a valid port name; else a port, a documented host and a valid port name.
template <class Endpoint>
bool well_formed(const Endpoint& e, const std::string& host) {
  if (is_socket(e)) return bridge::socket_path_problem(e.socket_path).empty() && hc::valid_port_name(e.port_name);
  return e.port != 0 && bridge::valid_host(host) && documented_host(host) && hc::valid_port_name(e.port_name);
}

std::string render_local(const bridge::LocalForward& f) {
  std::string out;
  for (const auto& b : f.bindings) out += (out.empty() ? "" : ";") + written_binding(b);
  return out + ":" + f.hc;
}

template <class TargetText>
std::string render_remote(const bridge::RemoteForward& f, TargetText text) {
  std::string out = f.hc + ":";
  for (std::size_t i = 0; i < f.targets.size(); ++i) out += (i ? ";" : "") + text(f.targets[i]);
  return out;
}

bool same_binding(const bridge::LocalBinding& a, const bridge::LocalBinding& b) {
  return a.bind_host == b.bind_host && a.port == b.port && a.port_name == b.port_name && a.protocol == b.protocol &&
         a.socket_path == b.socket_path;
}
bool same_target(const bridge::RemoteTarget& a, const bridge::RemoteTarget& b) {
  return a.host == b.host && a.port == b.port && a.port_name == b.port_name && a.protocol == b.protocol &&
         a.socket_path == b.socket_path;
}

bool same_local(const bridge::LocalForward& a, const bridge::LocalForward& b) {
  if (a.hc != b.hc || a.bindings.size() != b.bindings.size()) return false;
  for (std::size_t i = 0; i < a.bindings.size(); ++i)
    if (!same_binding(a.bindings[i], b.bindings[i])) return false;
  return true;
}
bool same_remote(const bridge::RemoteForward& a, const bridge::RemoteForward& b) {
  if (a.hc != b.hc || a.targets.size() != b.targets.size()) return false;
  for (std::size_t i = 0; i < a.targets.size(); ++i)
    if (!same_target(a.targets[i], b.targets[i])) return false;
  return true;
}

void check_quotes_expr(const std::string& error, const std::string& expr, const char* what) {
  FUZZ_CHECK(!error.empty(), what);
  if (expr.empty()) return;
  const std::string q = hc::quote_for_message(expr, 120) + ": ";
  FUZZ_CHECK(error.compare(0, q.size(), q) == 0, std::string(what) + " error does not quote the expression: " + fuzz::show(error));
}

void check_hc(const std::string& name) {
  FUZZ_CHECK(bridge::valid_hc_name(name) && bridge::hc_name_problem(name).empty(), "hc name " + fuzz::show(name));
}

void check_target(const bridge::RemoteTarget& t) {
  FUZZ_CHECK(well_formed(t, t.host), "target " + fuzz::show(written_target(t)));
}

void check_remote(const bridge::RemoteForward& f, const std::string& expr) {
  check_hc(f.hc);
  FUZZ_CHECK(!f.targets.empty(), "no targets");
  for (const auto& t : f.targets) {
    check_target(t);
    const auto single = bridge::parse_remote_target(written_target(t));
    FUZZ_CHECK(single.ok() && same_target(single.value(), t), "parse_remote_target of " + fuzz::show(written_target(t)));
  }
  const std::string modern = render_remote(f, written_target);
  const auto m = bridge::parse_remote_forward(modern);
  FUZZ_CHECK(m.ok() && same_remote(m.value(), f), "-T round trip: " + fuzz::show(expr) + " -> " + fuzz::show(modern) +
                                                    (m.ok() ? "" : ": " + m.error()));
  const std::string legacy = render_remote(f, legacy_written_target);
  const auto l = bridge::parse_legacy_remote_forward(legacy);
  FUZZ_CHECK(l.ok() && same_remote(l.value(), f), "-R round trip: " + fuzz::show(expr) + " -> " + fuzz::show(legacy) +
                                                    (l.ok() ? "" : ": " + l.error()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string expr(reinterpret_cast<const char*>(data), size);

  if (bridge::valid_host(expr)) FUZZ_CHECK(documented_host(expr), "valid_host accepted " + fuzz::show(expr));

  if (const auto l = bridge::parse_local_forward(expr); l.ok()) {
    const bridge::LocalForward& f = l.value();
    check_hc(f.hc);
    FUZZ_CHECK(!f.bindings.empty(), "no bindings");
    for (const auto& b : f.bindings) {
      FUZZ_CHECK(well_formed(b, b.bind_host), "binding " + fuzz::show(written_binding(b)));
      const auto single = bridge::parse_local_binding(written_binding(b));
      FUZZ_CHECK(single.ok() && same_binding(single.value(), b), "parse_local_binding of " + fuzz::show(written_binding(b)));
    }
    const std::string again = render_local(f);
    const auto l2 = bridge::parse_local_forward(again);
    FUZZ_CHECK(l2.ok() && same_local(l2.value(), f),
               "-L round trip: " + fuzz::show(expr) + " -> " + fuzz::show(again) + (l2.ok() ? "" : ": " + l2.error()));
  } else {
    check_quotes_expr(l.error(), expr, "parse_local_forward");
  }

  if (const auto r = bridge::parse_remote_forward(expr); r.ok()) check_remote(r.value(), expr);
  else check_quotes_expr(r.error(), expr, "parse_remote_forward");

  if (const auto r = bridge::parse_legacy_remote_forward(expr); r.ok()) check_remote(r.value(), expr);
  else check_quotes_expr(r.error(), expr, "parse_legacy_remote_forward");

  if (const auto b = bridge::parse_local_binding(expr); b.ok()) {
    FUZZ_CHECK(well_formed(b.value(), b->bind_host), "binding");
    const auto b2 = bridge::parse_local_binding(written_binding(b.value()));
    FUZZ_CHECK(b2.ok() && same_binding(b2.value(), b.value()), "binding round trip " + fuzz::show(expr));
  } else {
    check_quotes_expr(b.error(), expr, "parse_local_binding");
  }
  if (const auto t = bridge::parse_remote_target(expr); t.ok()) {
    check_target(t.value());
    const auto t2 = bridge::parse_remote_target(written_target(t.value()));
    FUZZ_CHECK(t2.ok() && same_target(t2.value(), t.value()), "target round trip " + fuzz::show(expr));
  } else {
    check_quotes_expr(t.error(), expr, "parse_remote_target");
  }

  const bool valid = bridge::valid_hc_name(expr);
  FUZZ_CHECK(valid == bridge::hc_name_problem(expr).empty(), "valid_hc_name vs hc_name_problem");
  if (valid) {
    FUZZ_CHECK(expr.size() <= 260 && expr.front() != '/' && expr.back() != '/' && expr.find("//") == std::string::npos,
               "valid hc name " + fuzz::show(expr));
  }
  return 0;
}
