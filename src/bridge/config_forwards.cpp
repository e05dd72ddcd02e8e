#include "bridge/config_forwards.hpp"

#include "bridge/forward_grammar.hpp"
#include "bridge/http_forward_grammar.hpp"
#include "hc/url.hpp"

#include <string>
#include <type_traits>
#include <vector>

namespace bridge {

namespace {

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
  bool (*read)(ConfigReader& r, const JNode& value, const std::string& path, ForwardDraft<Forward>& draft);
};

template <class Forward>
bool read_hc(ConfigReader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
  std::string& name = d.forward.hc;
  if (!r.get_string(v, path, name)) return false;
  if (!valid_hc_name(name))
    return r.fail(v, path,
                  "hybrid connection name " + hc::quote_for_message(name, 80) + " is invalid: " + hc_name_problem(name));
  return true;
}

template <class Forward>
bool read_raw(ConfigReader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
  return r.get_bool(v, path, d.forward.raw);
}

template <class Forward>
bool read_relay(ConfigReader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
  RelaySettings settings;
  if (!r.relay(v, path, settings)) return false;
  d.forward.relay = std::move(settings);
  return true;
}

template <class Forward>
bool read_max_connections(ConfigReader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
  std::size_t m = 0;
  if (!r.get_max_connections(v, path, m)) return false;
  d.forward.max_connections = m;
  return true;
}

template <class Forward>
bool read_idle_timeout(ConfigReader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
  Seconds s{0};
  if (!r.get_duration(v, path, "idle_timeout", s)) return false;
  d.forward.idle_timeout = s;
  return true;
}

template <class Forward>
bool read_default_port_name(ConfigReader& r, const JNode& v, const std::string& path, ForwardDraft<Forward>& d) {
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

// "http": "http://host[:port][/base]" or {"url": .., "insecure", "preserve_host", "connect_timeout",
// "response_timeout", "write_timeout", "max_requests", "ca_file"}: the web server this listener publishes (HC HTTP request mode).
bool read_http(ConfigReader& r, const JNode& v, const std::string& path, ForwardDraft<RemoteForward>& d) {
  const JNode* url = &v;
  std::string url_path = path;
  if (v.kind == JNode::Kind::object) {
    if (!r.check_keys(v, path, {"url", "insecure", "ca_file", "preserve_host", "connect_timeout", "response_timeout", "write_timeout",
                                  "max_requests"}))
      return false;
    url = v.member("url");
    url_path = member_path(path, "url");
    if (url == nullptr) return r.fail(v, path, "missing required key 'url' (e.g. \"http://localhost:8080\")");
  }
  std::string text;
  if (!r.get_string(*url, url_path, text)) return false;
  auto target = parse_http_target_url(text);
  if (!target) return r.fail(*url, url_path, target.error());
  HttpTarget& t = target.value();
  if (v.kind == JNode::Kind::object) {
    double max_requests = static_cast<double>(t.max_requests);
    if (const JNode* m = v.member("insecure"); m && !r.get_bool(*m, member_path(path, "insecure"), t.insecure)) return false;
    if (const JNode* m = v.member("ca_file"); m && !r.get_string(*m, member_path(path, "ca_file"), t.ca_file)) return false;
    if (const JNode* m = v.member("preserve_host"); m && !r.get_bool(*m, member_path(path, "preserve_host"), t.preserve_host))
      return false;
    if (const JNode* m = v.member("connect_timeout");
        m && !r.get_duration(*m, member_path(path, "connect_timeout"), "http_connect_timeout", t.connect_timeout))
      return false;
    if (const JNode* m = v.member("response_timeout");
        m && !r.get_duration(*m, member_path(path, "response_timeout"), "http_response_timeout", t.response_timeout))
      return false;
    if (const JNode* m = v.member("write_timeout");
        m && !r.get_duration(*m, member_path(path, "write_timeout"), "http_write_timeout", t.write_timeout))
      return false;
    if (const JNode* m = v.member("max_requests");
        m && !r.get_integer(*m, member_path(path, "max_requests"), 1, kMaxConnectionsLimit, max_requests))
      return false;
    t.max_requests = static_cast<std::size_t>(max_requests);
  }
  d.forward.http = std::move(t);
  return true;
}

// "http": {"answer_timeout"}: the settings of a local forward's HTTP entrance (its Protocol::http bindings).
bool read_entrance_http(ConfigReader& r, const JNode& v, const std::string& path, ForwardDraft<LocalForward>& d) {
  if (!r.expect(v, JNode::Kind::object, path)) return false;
  if (!r.check_keys(v, path, {"answer_timeout"})) return false;
  HttpEntranceSettings& e = d.forward.http;
  if (const JNode* m = v.member("answer_timeout");
      m && !r.get_duration(*m, member_path(path, "answer_timeout"), "http_answer_timeout", e.answer_timeout))
    return false;
  return true;
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
  const char* optional_with = nullptr;  // a key whose presence makes the endpoints optional
};

template <class Forward, class Endpoint>
bool read_endpoint_texts(ConfigReader& r, const JNode& v, const std::string& path, const EndpointKeys<Forward, Endpoint>& e,
                         ForwardDraft<Forward>& d) {
  std::vector<std::pair<std::string, const JNode*>> texts;
  if (!r.string_list(v, path, texts)) return false;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string p = v.kind == JNode::Kind::array ? item_path(path, i) : path;
    auto endpoint = e.parse_text(texts[i].first);
    if (!endpoint) return r.fail(*texts[i].second, p, endpoint.error());
    if (!d.default_port_name.empty() && !names_its_port(texts[i].first))
      endpoint->port_name = d.default_port_name;
    (d.forward.*e.list).push_back(std::move(endpoint.value()));
  }
  return true;
}

// "tcp", "udp" or "unix", and for a local binding "http" (a local HTTP entrance).
bool read_protocol(ConfigReader& r, const JNode& v, const std::string& path, bool allow_http, Protocol& out) {
  std::string text;
  if (!r.get_string(v, path, text)) return false;
  if (text == "tcp") out = Protocol::tcp;
  else if (text == "udp") out = Protocol::udp;
  else if (text == "unix") out = Protocol::unix_socket;
  else if (text == "http" && allow_http) out = Protocol::http;
  else if (text == "http")
    return r.fail(v, path, "\"http\" is for local bindings; a remote forward publishes a web server with the 'http' key");
  else
    return r.fail(v, path, hc::quote_for_message(text, 40) + " is not a protocol (expected " +
                               (allow_http ? "\"tcp\", \"udp\", \"unix\" or \"http\")" : "\"tcp\", \"udp\" or \"unix\")"));
  return true;
}

// "mode": a string of octal digits, e.g. "0660" (JSON has no octal numbers), at most 0777.
bool read_socket_mode(ConfigReader& r, const JNode& v, const std::string& path, unsigned& out) {
  std::string text;
  if (!r.get_string(v, path, text)) return false;
  unsigned mode = 0;
  bool octal = !text.empty() && text.size() <= 4;
  for (char c : text) {
    if (c < '0' || c > '7') octal = false;
    else mode = mode * 8 + static_cast<unsigned>(c - '0');
  }
  if (!octal || mode > 0777)
    return r.fail(v, path, hc::quote_for_message(text, 40) +
                               " is not a file mode (expected octal permissions as a string, e.g. \"0660\")");
  out = mode;
  return true;
}

// A Unix socket endpoint has a path and no port or host; a TCP or UDP one the other way round.
bool check_socket_keys(ConfigReader& r, const JNode& item, const std::string& p, bool is_socket,
                       const std::vector<const char*>& socket_only, const std::vector<const char*>& network_only) {
  for (const char* key : is_socket ? network_only : socket_only)
    if (item.member(key) != nullptr)
      return r.fail_at(item.key_offset(key), member_path(p, key),
                       std::string("'") + key + "' does not apply to " +
                           (is_socket ? "a Unix socket (\"protocol\": \"unix\")" : "a TCP or UDP port"));
  if (is_socket && item.member("path") == nullptr) return r.fail(item, p, "missing required key 'path' (the socket path)");
  return true;
}

bool read_socket_path(ConfigReader& r, const JNode& item, const std::string& p, std::string& out) {
  const JNode* v = item.member("path");
  if (!r.get_string(*v, member_path(p, "path"), out)) return false;
  if (const std::string problem = socket_path_problem(out); !problem.empty())
    return r.fail(*v, member_path(p, "path"), problem);
  return true;
}

// The socket-only keys of each endpoint kind: a listening socket's file has a mode and an owner; a target has a path.
bool read_socket_item(ConfigReader& r, const JNode& item, const std::string& p, LocalBinding& b) {
  if (!check_socket_keys(r, item, p, b.protocol == Protocol::unix_socket, {"path", "mode", "owner", "group"},
                         {"address", "port"}))
    return false;
  if (b.protocol != Protocol::unix_socket) return true;
  if (!read_socket_path(r, item, p, b.socket_path)) return false;
  if (const JNode* v = item.member("mode"))
    if (!read_socket_mode(r, *v, member_path(p, "mode"), b.socket_file.mode)) return false;
  if (const JNode* v = item.member("owner"))
    if (!r.get_string(*v, member_path(p, "owner"), b.socket_file.owner)) return false;
  if (const JNode* v = item.member("group"))
    if (!r.get_string(*v, member_path(p, "group"), b.socket_file.group)) return false;
  return true;
}

bool read_socket_item(ConfigReader& r, const JNode& item, const std::string& p, RemoteTarget& t) {
  if (!check_socket_keys(r, item, p, t.protocol == Protocol::unix_socket, {"path"}, {"host", "port"})) return false;
  return t.protocol != Protocol::unix_socket || read_socket_path(r, item, p, t.socket_path);
}

// The default port name: the port number ("5353U" for UDP), or azbridge's socket text for a Unix socket.
template <class Endpoint>
std::string default_endpoint_name(const Endpoint& e) {
  if (e.protocol == Protocol::unix_socket) return e.socket_path;
  return std::to_string(e.port) + (e.protocol == Protocol::udp ? "U" : "");
}

bool read_port(ConfigReader& r, const JNode& port, const std::string& p, uint16_t& out) {
  if (port.kind == JNode::Kind::number && port.number < 0)
    return r.fail(port, member_path(p, "port"),
                  "negative port numbers (azbridge's way of writing UDP) are not accepted; write \"port\": " +
                      std::to_string(static_cast<long long>(-port.number)) + ", \"protocol\": \"udp\"");
  return r.get_port(port, member_path(p, "port"), out);
}

template <class Forward, class Endpoint>
bool read_endpoint_item(ConfigReader& r, const JNode& item, const std::string& p, const EndpointKeys<Forward, Endpoint>& e,
                        ForwardDraft<Forward>& d) {
  if (!r.expect(item, JNode::Kind::object, p)) return false;
  if (!r.check_keys(item, p, e.item_keys)) return false;
  Endpoint endpoint;
  if (const JNode* v = item.member(e.host_key))
    if (!r.get_host(*v, member_path(p, e.host_key), e.allow_star, endpoint.*e.host)) return false;
  if (const JNode* v = item.member("protocol"))
    if (!read_protocol(r, *v, member_path(p, "protocol"), std::is_same_v<Endpoint, LocalBinding>, endpoint.protocol))
      return false;
  if (!read_socket_item(r, item, p, endpoint)) return false;
  const JNode* port = item.member("port");
  if (endpoint.protocol == Protocol::unix_socket) {
    // no port: the path is the endpoint
  } else if (port == nullptr) {
    return r.fail(item, p, "missing required key 'port'");
  } else if (!read_port(r, *port, p, endpoint.port)) {
    return false;
  }
  if (const JNode* v = item.member("port_name")) {
    if (!r.get_port_name(*v, member_path(p, "port_name"), endpoint.port_name)) return false;
  } else if (!d.default_port_name.empty()) {
    endpoint.port_name = d.default_port_name;
  } else {
    endpoint.port_name = default_endpoint_name(endpoint);
  }
  (d.forward.*e.list).push_back(std::move(endpoint));
  return true;
}

template <class Forward, class Endpoint>
bool read_endpoints(ConfigReader& r, const JNode& n, const std::string& path, const EndpointKeys<Forward, Endpoint>& e,
                    ForwardDraft<Forward>& d) {
  const JNode* text = n.member(e.text_key);
  const JNode* list = n.member(e.list_key);
  if (text != nullptr && list != nullptr)
    return r.fail_at(n.key_offset(e.list_key), member_path(path, e.list_key),
                     std::string("give either ") + e.text_key + " or " + e.list_key + ", not both");
  if (text == nullptr && list == nullptr && e.optional_with != nullptr && n.member(e.optional_with) != nullptr) return true;
  if (text == nullptr && list == nullptr)
    return r.fail(n, path, std::string("missing '") + e.text_key + "' (e.g. " + e.example + ") or '" + e.list_key + "'");
  if (text != nullptr) return read_endpoint_texts(r, *text, member_path(path, e.text_key), e, d);
  const std::string list_path = member_path(path, e.list_key);
  if (!r.expect(*list, JNode::Kind::array, list_path)) return false;
  if (list->items.empty()) return r.fail(*list, list_path, "must not be an empty array");
  for (std::size_t i = 0; i < list->items.size(); ++i)
    if (!read_endpoint_item(r, list->items[i], item_path(list_path, i), e, d)) return false;
  return true;
}

// A forward kind: its own keys (after the common ones), its endpoints, and the checks that need both read.
template <class Forward, class Endpoint>
struct ForwardKind {
  std::vector<ForwardKey<Forward>> keys;
  EndpointKeys<Forward, Endpoint> endpoints;
  bool (*finish)(ConfigReader& r, const JNode& n, const std::string& path, const Forward& f);  // null: none
};

// A local forward's "http" object configures its HTTP bindings; on a forward without one it would do nothing, and a
// setting that silently does nothing is a mistake the user should hear about.
bool check_entrance_http(ConfigReader& r, const JNode& n, const std::string& path, const LocalForward& f) {
  if (n.member("http") == nullptr) return true;
  for (const auto& b : f.bindings)
    if (b.protocol == Protocol::http) return true;
  return r.fail_at(n.key_offset("http"), member_path(path, "http"),
                   "applies to HTTP bindings only (\"bind\": \"http:8080\" or \"protocol\": \"http\"), and this "
                   "forward has none");
}

const ForwardKind<LocalForward, LocalBinding>& local_forward_kind() {
  static const ForwardKind<LocalForward, LocalBinding> kind{
      [] {
        auto keys = common_forward_keys<LocalForward>();
        keys.push_back({"http", read_entrance_http});
        return keys;
      }(),
      {"bind", "bindings", "\"127.0.0.1:8080\"", parse_local_binding, {"address", "port", "port_name", "protocol", "path", "mode", "owner", "group"},
       "address",
       true, &LocalBinding::bind_host, &LocalForward::bindings},
      check_entrance_http};
  return kind;
}

const ForwardKind<RemoteForward, RemoteTarget>& remote_forward_kind() {
  static const ForwardKind<RemoteForward, RemoteTarget> kind{
      [] {
        auto keys = common_forward_keys<RemoteForward>();
        keys.push_back({"http", read_http});
        return keys;
      }(),
      {"target", "targets", "\"localhost:80\"", parse_remote_target, {"port_name", "host", "port", "protocol", "path"}, "host",
       false,
       &RemoteTarget::host, &RemoteForward::targets, "http"},
      nullptr};
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
bool read_forward(ConfigReader& r, const JNode& n, const std::string& path, const ForwardKind<Forward, Endpoint>& kind,
                  Forward& f) {
  if (!r.expect(n, JNode::Kind::object, path)) return false;
  if (!r.check_keys(n, path, allowed_keys(kind))) return false;
  f.origin = r.at(n.offset) + path;
  if (n.member("hc") == nullptr) return r.fail(n, path, "missing required key 'hc' (the hybrid connection name)");
  ForwardDraft<Forward> draft{f, {}};
  for (const auto& k : kind.keys)
    if (const JNode* v = n.member(k.key))
      if (!k.read(r, *v, member_path(path, k.key), draft)) return false;
  if (!read_endpoints(r, n, path, kind.endpoints, draft)) return false;
  return kind.finish == nullptr || kind.finish(r, n, path, f);
}

template <class Forward, class Endpoint>
bool read_forward_array(ConfigReader& r, const JNode& top, const char* key, const ForwardKind<Forward, Endpoint>& kind,
                        std::vector<Forward>& out) {
  const JNode* v = top.member(key);
  if (v == nullptr) return true;
  if (!r.expect(*v, JNode::Kind::array, key)) return false;
  for (std::size_t i = 0; i < v->items.size(); ++i) {
    Forward f;
    if (!read_forward(r, v->items[i], item_path(key, i), kind, f)) return false;
    out.push_back(std::move(f));
  }
  return true;
}

}  // namespace

bool read_local_forwards(ConfigReader& r, const JNode& top, Config& c) {
  return read_forward_array(r, top, "local_forward", local_forward_kind(), c.local_forwards);
}

bool read_remote_forwards(ConfigReader& r, const JNode& top, Config& c) {
  return read_forward_array(r, top, "remote_forward", remote_forward_kind(), c.remote_forwards);
}

}  // namespace bridge
