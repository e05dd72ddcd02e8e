#include "bridge/config_file.hpp"

#include "bridge/forward_grammar.hpp"
#include "bridge/json_tree.hpp"
#include "hc/connection_string.hpp"
#include "hc/preamble.hpp"
#include "hc/url.hpp"
#include "net/address.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <vector>

namespace bridge {

namespace {

constexpr std::size_t kMaxFileSize = 1 << 20;

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

const std::array<const char*, 7> kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string indexed(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

// ---- Reading typed values; the first error wins and is kept as "FILE:LINE: path: what" ----

class Reader {
 public:
  explicit Reader(const LineIndex& lines) : lines_(lines) {}

  const std::string& error() const { return error_; }
  std::string at(std::size_t offset) const { return lines_.at(offset); }

  bool fail_at(std::size_t offset, const std::string& path, const std::string& what) {
    if (error_.empty()) error_ = at(offset) + (path.empty() ? what : path + ": " + what);
    return false;
  }
  bool fail(const JNode& n, const std::string& path, const std::string& what) { return fail_at(n.offset, path, what); }

  // Unknown keys are errors; the message names the key (when it looks like one) and a close match.
  bool check_keys(const JNode& obj, const std::string& path, const std::vector<const char*>& allowed) {
    for (std::size_t i = 0; i < obj.keys.size(); ++i) {
      const std::string& k = obj.keys[i];
      if (std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; })) continue;
      return fail_at(obj.key_offsets[i], path, unknown_key(k, path, allowed));
    }
    return true;
  }

  bool expect(const JNode& n, JNode::Kind kind, const std::string& path) {
    if (n.kind == kind) return true;
    return fail(n, path, std::string("expected ") + kind_name(kind) + ", got " + kind_name(n.kind));
  }

  bool get_string(const JNode& n, const std::string& path, std::string& out) {
    if (!expect(n, JNode::Kind::string, path)) return false;
    if (n.text.find('\0') != std::string::npos) return fail(n, path, "must not contain a NUL character");
    out = n.text;
    return true;
  }

  bool get_bool(const JNode& n, const std::string& path, bool& out) {
    if (!expect(n, JNode::Kind::boolean, path)) return false;
    out = n.boolean;
    return true;
  }

  bool get_integer(const JNode& n, const std::string& path, double min, double max, double& out) {
    if (!expect(n, JNode::Kind::number, path)) return false;
    if (!n.integer) return fail(n, path, "expected an integer, got " + format_number(n.number));
    if (n.number < min || n.number > max)
      return fail(n, path,
                  "must be between " + format_number(min) + " and " + format_number(max) + " (got " +
                      format_number(n.number) + ")");
    out = n.number;
    return true;
  }

  bool get_duration(const JNode& n, const std::string& path, std::string_view key, Seconds& out) {
    if (!expect(n, JNode::Kind::number, path)) return false;
    const std::string problem = check_duration(key, n.number);
    if (!problem.empty()) return fail(n, path, problem);
    out = Seconds(n.number);
    return true;
  }

  bool get_max_connections(const JNode& n, const std::string& path, std::size_t& out) {
    double v = 0;
    if (!get_integer(n, path, 1, static_cast<double>(kMaxConnectionsLimit), v)) return false;
    out = static_cast<std::size_t>(v);
    return true;
  }

  bool get_port(const JNode& n, const std::string& path, uint16_t& out) {
    double v = 0;
    if (!get_integer(n, path, 1, 65535, v)) return false;
    out = static_cast<uint16_t>(v);
    return true;
  }

  bool get_port_name(const JNode& n, const std::string& path, std::string& out) {
    if (!get_string(n, path, out)) return false;
    if (!hc::valid_port_name(out))
      return fail(n, path,
                  "port name " + hc::quote_for_message(out, 80) +
                      " is invalid (expected 1-255 characters of A-Z a-z 0-9 . _ - /)");
    return true;
  }

  bool get_host(const JNode& n, const std::string& path, bool allow_star, std::string& out) {
    if (!get_string(n, path, out)) return false;
    if (out.size() > 2 && out.front() == '[' && out.back() == ']') out = out.substr(1, out.size() - 2);
    if (allow_star && out == "*") out = "0.0.0.0";
    if (!valid_host(out))
      return fail(n, path, hc::quote_for_message(out, 80) + " is not a valid host name or IP address");
    return true;
  }

  // A string or an array of strings (bind / target), each with its path ("x.bind" or "x.bind[1]").
  bool string_list(const JNode& n, const std::string& path,
                   std::vector<std::pair<std::string, const JNode*>>& out) {
    if (n.kind == JNode::Kind::string) {
      std::string s;
      if (!get_string(n, path, s)) return false;
      out.emplace_back(std::move(s), &n);
      return true;
    }
    if (n.kind != JNode::Kind::array) return fail(n, path, std::string("expected a string or an array of strings, got ") + kind_name(n.kind));
    if (n.items.empty()) return fail(n, path, "must not be an empty array");
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      std::string s;
      if (!get_string(n.items[i], indexed(path, i), s)) return false;
      out.emplace_back(std::move(s), &n.items[i]);
    }
    return true;
  }

  bool relay(const JNode& n, const std::string& path, RelaySettings& out);

 private:
  static std::string unknown_key(const std::string& k, const std::string& path,
                                 const std::vector<const char*>& allowed) {
    std::string what = path.empty() ? "unknown top-level key" : "unknown key";
    if (!is_identifier_like(k)) return what + " (not shown: it does not look like a key name)";
    what += " '" + k + "'";
    std::string best;
    std::size_t best_distance = 3;
    for (const char* a : allowed) {
      const std::size_t d = edit_distance(k, a);
      if (d < best_distance) {
        best_distance = d;
        best = a;
      }
    }
    if (!best.empty()) what += " (did you mean '" + best + "'?)";
    return what;
  }

  const LineIndex& lines_;
  std::string error_;
};

// ---- relay ----

bool relay_from_connection_string(Reader& r, const JNode& n, const std::string& path, RelaySettings& out) {
  const JNode* v = n.member("connection_string");
  if (v == nullptr) return true;
  std::string text;
  if (!r.get_string(*v, join(path, "connection_string"), text)) return false;
  if (text.empty()) return true;
  auto cs = hc::parse_connection_string(text);  // its messages never contain the key or signature
  if (!cs) return r.fail(*v, join(path, "connection_string"), cs.error());
  out = relay_settings_from(cs.value());
  return true;
}

bool Reader::relay(const JNode& n, const std::string& path, RelaySettings& out) {
  if (!expect(n, JNode::Kind::object, path)) return false;
  if (!check_keys(n, path,
                  {"endpoint", "connection_string", "key_name", "key", "key_file", "sas", "ca_file", "no_auth"}))
    return false;
  RelaySettings from_cs;
  if (!relay_from_connection_string(*this, n, path, from_cs)) return false;
  RelaySettings own;
  struct Field {
    const char* key;
    std::string* target;
  };
  const std::array<Field, 6> fields = {{{"endpoint", &own.endpoint},
                                        {"key_name", &own.key_name},
                                        {"key", &own.key},
                                        {"key_file", &own.key_file},
                                        {"sas", &own.sas},
                                        {"ca_file", &own.ca_file}}};
  for (const auto& f : fields)
    if (const JNode* v = n.member(f.key))
      if (!get_string(*v, join(path, f.key), *f.target)) return false;
  if (const JNode* v = n.member("no_auth"))
    if (!get_bool(*v, join(path, "no_auth"), own.no_auth)) return false;

  // Conflicts inside one object (across sources the later one wins, see merge_relay_settings).
  if (!own.key.empty() && !own.key_file.empty())
    return fail(*n.member("key_file"), join(path, "key_file"), "give either key or key_file, not both");
  if (!own.sas.empty() && (!own.key.empty() || !own.key_file.empty() || !own.key_name.empty()))
    return fail(*n.member("sas"), join(path, "sas"), "a pre-issued sas cannot be combined with key_name/key/key_file");
  const bool any_credentials = !own.key.empty() || !own.key_file.empty() || !own.key_name.empty() ||
                               !own.sas.empty() || !from_cs.key.empty() || !from_cs.sas.empty();
  if (own.no_auth && any_credentials)
    return fail(*n.member("no_auth"), join(path, "no_auth"), "no_auth cannot be combined with credentials");
  out = from_cs;
  merge_relay_settings(out, own);
  return true;
}

// ---- Forwards: one parser, driven by a table of keys per forward kind ----

// What a key's reader may fill: the forward itself, and the forward-wide default port name its endpoints use.
template <class Forward>
struct ForwardDraft {
  Forward& forward;
  std::string default_port_name;
};

// One row of a forward kind's table: the key and how its value is read. Rows run in table order, after the
// object's keys were checked against the table; a missing key is simply not read (required keys check themselves in
// `require`).
template <class Forward>
struct ForwardKey {
  const char* key;
  bool (*read)(Reader& r, const JNode& value, const std::string& path, ForwardDraft<Forward>& draft);
};

template <class Forward>
bool read_hc(Reader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
  std::string& name = d.forward.hc;
  if (!r.get_string(v, path, name)) return false;
  if (!valid_hc_name(name))
    return r.fail(v, path,
                  "hybrid connection name " + hc::quote_for_message(name, 80) + " is invalid: " + hc_name_problem(name));
  return true;
}

template <class Forward>
bool read_raw(Reader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
  return r.get_bool(v, path, d.forward.raw);
}

template <class Forward>
bool read_relay(Reader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
  RelaySettings settings;
  if (!r.relay(v, path, settings)) return false;
  d.forward.relay = std::move(settings);
  return true;
}

template <class Forward>
bool read_max_connections(Reader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
  std::size_t m = 0;
  if (!r.get_max_connections(v, path, m)) return false;
  d.forward.max_connections = m;
  return true;
}

template <class Forward>
bool read_idle_timeout(Reader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
  Seconds s{0};
  if (!r.get_duration(v, path, "idle_timeout", s)) return false;
  d.forward.idle_timeout = s;
  return true;
}

template <class Forward>
bool read_default_port_name(Reader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
  return r.get_port_name(v, path, d.default_port_name);
}

// The keys every forward kind has, in the order they are read.
template <class Forward>
std::vector<ForwardKey<Forward>> common_forward_keys() {
  return {{"hc", read_hc<Forward>},
          {"raw", read_raw<Forward>},
          {"relay", read_relay<Forward>},
          {"max_connections", read_max_connections<Forward>},
          {"idle_timeout", read_idle_timeout<Forward>},
          {"port_name", read_default_port_name<Forward>}};
}

// A forward's endpoints (local bindings or remote targets): either `text_key`, a string or array of strings in the
// CLI grammar, or `list_key`, an array of objects {host_key, port, port_name}; exactly one of them.
template <class Forward, class Endpoint>
struct EndpointKeys {
  const char* text_key;
  const char* list_key;
  const char* example;  // shown when both are missing
  hc::Result<Endpoint> (*parse_text)(std::string_view);
  std::vector<const char*> item_keys;  // in the order "did you mean" considers them
  const char* host_key;
  bool allow_star;  // "*" means all IPv4 addresses (bind addresses)
  std::string Endpoint::*host;
  std::vector<Endpoint> Forward::*list;
};

template <class Forward, class Endpoint>
bool read_endpoint_texts(Reader& r, const JNode& v, const std::string& path, const EndpointKeys<Forward, Endpoint>& e,
                         ForwardDraft<Forward>& d) {
  std::vector<std::pair<std::string, const JNode*>> texts;
  if (!r.string_list(v, path, texts)) return false;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string p = v.kind == JNode::Kind::array ? indexed(path, i) : path;
    auto endpoint = e.parse_text(texts[i].first);
    if (!endpoint) return r.fail(*texts[i].second, p, endpoint.error());
    if (!d.default_port_name.empty() && texts[i].first.find('/') == std::string::npos)
      endpoint->port_name = d.default_port_name;
    (d.forward.*e.list).push_back(std::move(endpoint.value()));
  }
  return true;
}

// "tcp" or "udp" (Unix sockets are not supported yet).
bool read_protocol(Reader& r, const JNode& v, const std::string& path, Protocol& out) {
  std::string text;
  if (!r.get_string(v, path, text)) return false;
  if (text == "tcp") out = Protocol::tcp;
  else if (text == "udp") out = Protocol::udp;
  else return r.fail(v, path, hc::quote_for_message(text, 40) + " is not a protocol (expected \"tcp\" or \"udp\")");
  return true;
}

template <class Forward, class Endpoint>
bool read_endpoint_item(Reader& r, const JNode& item, const std::string& p, const EndpointKeys<Forward, Endpoint>& e,
                        ForwardDraft<Forward>& d) {
  if (!r.expect(item, JNode::Kind::object, p)) return false;
  if (!r.check_keys(item, p, e.item_keys)) return false;
  Endpoint endpoint;
  if (const JNode* v = item.member(e.host_key))
    if (!r.get_host(*v, join(p, e.host_key), e.allow_star, endpoint.*e.host)) return false;
  if (const JNode* v = item.member("protocol"))
    if (!read_protocol(r, *v, join(p, "protocol"), endpoint.protocol)) return false;
  const JNode* port = item.member("port");
  if (port == nullptr) return r.fail(item, p, "missing required key 'port'");
  if (port->kind == JNode::Kind::number && port->number < 0)
    return r.fail(*port, join(p, "port"),
                  "negative port numbers (azbridge's way of writing UDP) are not accepted; write \"port\": " +
                      std::to_string(static_cast<long long>(-port->number)) + ", \"protocol\": \"udp\"");
  if (!r.get_port(*port, join(p, "port"), endpoint.port)) return false;
  if (const JNode* v = item.member("port_name")) {
    if (!r.get_port_name(*v, join(p, "port_name"), endpoint.port_name)) return false;
  } else if (!d.default_port_name.empty()) {
    endpoint.port_name = d.default_port_name;
  } else {
    endpoint.port_name = std::to_string(endpoint.port) + (endpoint.protocol == Protocol::udp ? "U" : "");
  }
  (d.forward.*e.list).push_back(std::move(endpoint));
  return true;
}

template <class Forward, class Endpoint>
bool read_endpoints(Reader& r, const JNode& n, const std::string& path, const EndpointKeys<Forward, Endpoint>& e,
                    ForwardDraft<Forward>& d) {
  const JNode* text = n.member(e.text_key);
  const JNode* list = n.member(e.list_key);
  if (text != nullptr && list != nullptr)
    return r.fail_at(n.key_offset(e.list_key), join(path, e.list_key),
                     std::string("give either ") + e.text_key + " or " + e.list_key + ", not both");
  if (text == nullptr && list == nullptr)
    return r.fail(n, path, std::string("missing '") + e.text_key + "' (e.g. " + e.example + ") or '" + e.list_key + "'");
  if (text != nullptr) return read_endpoint_texts(r, *text, join(path, e.text_key), e, d);
  const std::string list_path = join(path, e.list_key);
  if (!r.expect(*list, JNode::Kind::array, list_path)) return false;
  if (list->items.empty()) return r.fail(*list, list_path, "must not be an empty array");
  for (std::size_t i = 0; i < list->items.size(); ++i)
    if (!read_endpoint_item(r, list->items[i], indexed(list_path, i), e, d)) return false;
  return true;
}

// A forward kind: its own keys (after the common ones) and its endpoints.
template <class Forward, class Endpoint>
struct ForwardKind {
  std::vector<ForwardKey<Forward>> keys;
  EndpointKeys<Forward, Endpoint> endpoints;
};

const ForwardKind<LocalForward, LocalBinding>& local_forward_kind() {
  static const ForwardKind<LocalForward, LocalBinding> kind{
      common_forward_keys<LocalForward>(),
      {"bind", "bindings", "\"127.0.0.1:8080\"", parse_local_binding, {"address", "port", "port_name", "protocol"}, "address",
       true, &LocalBinding::bind_host, &LocalForward::bindings}};
  return kind;
}

const ForwardKind<RemoteForward, RemoteTarget>& remote_forward_kind() {
  static const ForwardKind<RemoteForward, RemoteTarget> kind{
      common_forward_keys<RemoteForward>(),
      {"target", "targets", "\"localhost:80\"", parse_remote_target, {"port_name", "host", "port", "protocol"}, "host", false,
       &RemoteTarget::host, &RemoteForward::targets}};
  return kind;
}

// The keys an object of this kind may have, in the order "did you mean" considers them.
template <class Forward, class Endpoint>
std::vector<const char*> allowed_keys(const ForwardKind<Forward, Endpoint>& kind) {
  std::vector<const char*> allowed;
  for (const auto& k : kind.keys) allowed.push_back(k.key);
  allowed.push_back(kind.endpoints.text_key);
  allowed.push_back(kind.endpoints.list_key);
  return allowed;
}

template <class Forward, class Endpoint>
bool read_forward(Reader& r, const JNode& n, const std::string& path, const ForwardKind<Forward, Endpoint>& kind,
                  Forward& f) {
  if (!r.expect(n, JNode::Kind::object, path)) return false;
  if (!r.check_keys(n, path, allowed_keys(kind))) return false;
  f.origin = r.at(n.offset) + path;
  if (n.member("hc") == nullptr) return r.fail(n, path, "missing required key 'hc' (the hybrid connection name)");
  ForwardDraft<Forward> draft{f, {}};
  for (const auto& k : kind.keys)
    if (const JNode* v = n.member(k.key))
      if (!k.read(r, *v, join(path, k.key), draft)) return false;
  return read_endpoints(r, n, path, kind.endpoints, draft);
}

template <class Forward, class Endpoint>
bool read_forward_array(Reader& r, const JNode& top, const char* key, const ForwardKind<Forward, Endpoint>& kind,
                        std::vector<Forward>& out) {
  const JNode* v = top.member(key);
  if (v == nullptr) return true;
  if (!r.expect(*v, JNode::Kind::array, key)) return false;
  for (std::size_t i = 0; i < v->items.size(); ++i) {
    Forward f;
    if (!read_forward(r, v->items[i], indexed(key, i), kind, f)) return false;
    out.push_back(std::move(f));
  }
  return true;
}

// ---- Top-level sections ----


bool read_durations(Reader& r, const JNode& n, Config& c) {
  struct Duration {
    const char* key;
    Seconds* target;
  };
  const std::array<Duration, 9> durations = {{{"token_ttl", &c.token_ttl},
                                              {"keepalive", &c.keepalive},
                                              {"connect_timeout", &c.connect_timeout},
                                              {"preamble_timeout", &c.preamble_timeout},
                                              {"backoff_initial", &c.backoff_initial},
                                              {"backoff_max", &c.backoff_max},
                                              {"grace_period", &c.grace_period},
                                              {"idle_timeout", &c.idle_timeout},
                                              {"udp_idle_timeout", &c.udp_idle_timeout}}};
  for (const auto& d : durations)
    if (const JNode* v = n.member(d.key))
      if (!r.get_duration(*v, d.key, d.key, *d.target)) return false;
  if (c.backoff_initial > c.backoff_max) {
    const JNode* v = n.member("backoff_initial");
    const char* key = v != nullptr ? "backoff_initial" : "backoff_max";
    if (v == nullptr) v = n.member("backoff_max");
    return r.fail(*v, key,
                  "backoff_initial (" + format_number(c.backoff_initial.count()) + " s) must not exceed backoff_max (" +
                      format_number(c.backoff_max.count()) + " s)");
  }
  return true;
}

bool read_log(Reader& r, const JNode& v, Config& c) {
  if (!r.expect(v, JNode::Kind::object, "log")) return false;
  if (!r.check_keys(v, "log", {"level", "format"})) return false;
  if (const JNode* l = v.member("level")) {
    if (!r.get_string(*l, "log.level", c.log_level)) return false;
    if (std::find_if(kLogLevels.begin(), kLogLevels.end(), [&](const char* x) { return c.log_level == x; }) ==
        kLogLevels.end())
      return r.fail(*l, "log.level",
                    "unknown level " + hc::quote_for_message(c.log_level) +
                        " (expected trace, debug, info, warn, error, critical or off)");
  }
  if (const JNode* f = v.member("format")) {
    if (!r.get_string(*f, "log.format", c.log_format)) return false;
    if (c.log_format != "text" && c.log_format != "json")
      return r.fail(*f, "log.format", "unknown format " + hc::quote_for_message(c.log_format) + " (expected text or json)");
  }
  return true;
}

bool read_admin(Reader& r, const JNode& v, Config& c) {
  if (!r.expect(v, JNode::Kind::object, "admin")) return false;
  if (!r.check_keys(v, "admin", {"bind"})) return false;
  if (const JNode* b = v.member("bind")) {
    if (!r.get_string(*b, "admin.bind", c.admin_bind)) return false;
    if (!c.admin_bind.empty()) {
      auto hp = net::parse_host_port(c.admin_bind);
      if (!hp) return r.fail(*b, "admin.bind", hp.error() + " (expected ADDR:PORT, e.g. 127.0.0.1:9090)");
    }
  }
  return true;
}

bool read_relay_section(Reader& r, const JNode& top, Config& c) {
  const JNode* v = top.member("relay");
  return v == nullptr || r.relay(*v, "relay", c.relay);
}

bool read_local_forwards(Reader& r, const JNode& top, Config& c) {
  return read_forward_array(r, top, "local_forward", local_forward_kind(), c.local_forwards);
}

bool read_remote_forwards(Reader& r, const JNode& top, Config& c) {
  return read_forward_array(r, top, "remote_forward", remote_forward_kind(), c.remote_forwards);
}

bool read_max_connections_section(Reader& r, const JNode& top, Config& c) {
  const JNode* v = top.member("max_connections");
  return v == nullptr || r.get_max_connections(*v, "max_connections", c.max_connections);
}

bool read_log_section(Reader& r, const JNode& top, Config& c) {
  const JNode* v = top.member("log");
  return v == nullptr || read_log(r, *v, c);
}

bool read_admin_section(Reader& r, const JNode& top, Config& c) {
  const JNode* v = top.member("admin");
  return v == nullptr || read_admin(r, *v, c);
}

// The top level, one row per section: the keys it owns and how it reads them from the top-level object. Sections are
// read in table order (the first error wins); the keys, in this order, are what "did you mean" considers.
struct Section {
  std::vector<const char*> keys;
  bool (*read)(Reader& r, const JNode& top, Config& c);
};

const std::vector<Section>& sections() {
  static const std::vector<Section> table = {
      {{"relay"}, read_relay_section},
      {{"local_forward"}, read_local_forwards},
      {{"remote_forward"}, read_remote_forwards},
      {{"token_ttl", "keepalive", "connect_timeout", "preamble_timeout", "backoff_initial", "backoff_max",
        "grace_period", "idle_timeout", "udp_idle_timeout"},
       read_durations},
      {{"max_connections"}, read_max_connections_section},
      {{"log"}, read_log_section},
      {{"admin"}, read_admin_section},
  };
  return table;
}

bool read_config(Reader& r, const JNode& top, Config& c) {
  if (top.kind != JNode::Kind::object)
    return r.fail(top, "", std::string("expected a JSON object at the top level, got ") + kind_name(top.kind));
  std::vector<const char*> allowed;
  for (const Section& s : sections()) allowed.insert(allowed.end(), s.keys.begin(), s.keys.end());
  if (!r.check_keys(top, "", allowed)) return false;
  for (const Section& s : sections())
    if (!s.read(r, top, c)) return false;
  return true;
}

std::string dirname_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {};
  return slash == 0 ? "/" : path.substr(0, slash);
}

void resolve_relative(std::string& path, const std::string& dir) {
  if (path.empty() || path.front() == '/' || dir.empty()) return;
  path = dir == "/" ? "/" + path : dir + "/" + path;
}

void resolve_paths(RelaySettings& r, const std::string& dir) {
  resolve_relative(r.key_file, dir);
  resolve_relative(r.ca_file, dir);
}

}  // namespace

hc::Result<Config> parse_config_json(std::string_view text, std::string_view source_name) {
  const LineIndex lines(text, source_name);
  auto tree = parse_json_tree(text, lines);
  if (!tree) return hc::fail(tree.error());
  Config config;
  Reader reader(lines);
  if (!read_config(reader, tree.value(), config)) return hc::fail(reader.error());
  return config;
}

hc::Result<Config> load_config_file(const std::string& path) {
  const std::string shown = hc::quote_for_message(path, 200);
  if (path.empty()) return hc::fail("config file name is empty");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return hc::fail("cannot read config file " + shown + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return hc::fail("config file " + shown + " is a directory");
  if (!S_ISREG(st.st_mode)) return hc::fail("config file " + shown + " is not a regular file");
  if (static_cast<std::size_t>(st.st_size) > kMaxFileSize)
    return hc::fail("config file " + shown + " is larger than 1 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) return hc::fail("cannot read config file " + shown + ": " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return hc::fail("cannot read config file " + shown);
  const std::string text = buffer.str();
  if (text.size() > kMaxFileSize) return hc::fail("config file " + shown + " is larger than 1 MiB");
  auto config = parse_config_json(text, path);
  if (!config) return config;
  config->source_file = path;
  const std::string dir = dirname_of(path);
  resolve_paths(config->relay, dir);
  for (auto& f : config->local_forwards)
    if (f.relay) resolve_paths(*f.relay, dir);
  for (auto& f : config->remote_forwards)
    if (f.relay) resolve_paths(*f.relay, dir);
  return config;
}

}  // namespace bridge
