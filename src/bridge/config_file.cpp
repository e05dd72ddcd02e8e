#include "bridge/config_file.hpp"

#include "bridge/forward_grammar.hpp"
#include "hc/connection_string.hpp"
#include "hc/preamble.hpp"
#include "hc/url.hpp"
#include "net/address.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>

namespace bridge {

namespace {

constexpr std::size_t kMaxDepth = 32;
constexpr std::size_t kMaxFileSize = 1 << 20;

// ---- A small JSON tree that remembers where each value and key was ----

struct JNode {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  std::size_t offset = 0;  // just after the token ('{' or '[' for containers)
  bool boolean = false;
  double number = 0;
  bool integer = false;  // the number was written without fraction or exponent
  std::string text;
  std::vector<JNode> items;  // array elements, or object values (parallel to keys)
  std::vector<std::string> keys;
  std::vector<std::size_t> key_offsets;
};

const char* kind_name(JNode::Kind k) {
  switch (k) {
    case JNode::Kind::null:
      return "null";
    case JNode::Kind::boolean:
      return "a boolean";
    case JNode::Kind::number:
      return "a number";
    case JNode::Kind::string:
      return "a string";
    case JNode::Kind::array:
      return "an array";
    case JNode::Kind::object:
      return "an object";
  }
  return "a value";
}

class TreeBuilder {
 public:
  explicit TreeBuilder(const rapidjson::StringStream& stream) : stream_(stream) {}

  bool Null() { return add(JNode::Kind::null) != nullptr; }
  bool Bool(bool b) {
    JNode* n = add(JNode::Kind::boolean);
    n->boolean = b;
    return true;
  }
  bool Int(int v) { return integer(static_cast<double>(v)); }
  bool Uint(unsigned v) { return integer(static_cast<double>(v)); }
  bool Int64(int64_t v) { return integer(static_cast<double>(v)); }
  bool Uint64(uint64_t v) { return integer(static_cast<double>(v)); }
  bool Double(double v) {
    JNode* n = add(JNode::Kind::number);
    n->number = v;
    return true;
  }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return false; }  // not requested
  bool String(const char* s, rapidjson::SizeType len, bool) {
    JNode* n = add(JNode::Kind::string);
    n->text.assign(s, len);
    return true;
  }
  bool StartObject() { return open(JNode::Kind::object); }
  bool Key(const char* s, rapidjson::SizeType len, bool) {
    JNode* obj = stack_.back();
    std::string key(s, len);
    if (std::find(obj->keys.begin(), obj->keys.end(), key) != obj->keys.end()) {
      duplicate_key_ = key;
      error_offset_ = stream_.Tell();
      return false;
    }
    obj->keys.push_back(std::move(key));
    obj->key_offsets.push_back(stream_.Tell());
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    stack_.pop_back();
    return true;
  }
  bool StartArray() { return open(JNode::Kind::array); }
  bool EndArray(rapidjson::SizeType) {
    stack_.pop_back();
    return true;
  }

  JNode& root() { return root_; }
  bool too_deep() const { return too_deep_; }
  const std::string& duplicate_key() const { return duplicate_key_; }
  std::size_t error_offset() const { return error_offset_; }

 private:
  JNode* add(JNode::Kind kind) {
    JNode* n = nullptr;
    if (stack_.empty()) {
      n = &root_;
    } else {
      stack_.back()->items.emplace_back();
      n = &stack_.back()->items.back();
    }
    n->kind = kind;
    n->offset = stream_.Tell();
    return n;
  }
  bool integer(double v) {
    JNode* n = add(JNode::Kind::number);
    n->number = v;
    n->integer = true;
    return true;
  }
  bool open(JNode::Kind kind) {
    if (stack_.size() >= kMaxDepth) {
      too_deep_ = true;
      error_offset_ = stream_.Tell();
      return false;
    }
    stack_.push_back(add(kind));
    return true;
  }

  const rapidjson::StringStream& stream_;
  JNode root_;
  std::vector<JNode*> stack_;  // open containers; each lives in its parent's items, which only grow at the top
  bool too_deep_ = false;
  std::string duplicate_key_;
  std::size_t error_offset_ = 0;
};

// ---- Helpers ----

bool is_identifier_like(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.' || c == '$'))
      return false;
  return true;
}

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

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

const std::array<const char*, 7> kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

// ---- The loader: walks the tree, fills a Config; the first error wins ----

class Loader {
 public:
  Loader(std::string_view text, std::string_view source) : text_(text), source_(source) {
    for (std::size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') newlines_.push_back(i);
  }

  std::size_t line_of(std::size_t offset) const {
    return 1 +
           static_cast<std::size_t>(std::lower_bound(newlines_.begin(), newlines_.end(), offset) - newlines_.begin());
  }

  std::string at(std::size_t offset) const {
    return std::string(source_) + ":" + std::to_string(line_of(offset)) + ": ";
  }

  bool fail_at(std::size_t offset, const std::string& path, const std::string& what) {
    if (error_.empty()) error_ = at(offset) + (path.empty() ? what : path + ": " + what);
    return false;
  }
  bool fail(const JNode& n, const std::string& path, const std::string& what) { return fail_at(n.offset, path, what); }

  const std::string& error() const { return error_; }

  // Unknown keys are errors; the message names the key (when it looks like one) and a close match.
  bool check_keys(const JNode& obj, const std::string& path, std::initializer_list<const char*> allowed) {
    for (std::size_t i = 0; i < obj.keys.size(); ++i) {
      const std::string& k = obj.keys[i];
      bool known = false;
      for (const char* a : allowed) known = known || k == a;
      if (known) continue;
      std::string what = path.empty() ? "unknown top-level key" : "unknown key";
      if (is_identifier_like(k)) {
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
      } else {
        what += " (not shown: it does not look like a key name)";
      }
      return fail_at(obj.key_offsets[i], path, what);
    }
    return true;
  }

  static const JNode* member(const JNode& obj, std::string_view key) {
    for (std::size_t i = 0; i < obj.keys.size(); ++i)
      if (obj.keys[i] == key) return &obj.items[i];
    return nullptr;
  }

  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
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

  // ---- relay ----

  bool relay(const JNode& n, const std::string& path, RelaySettings& out) {
    if (!expect(n, JNode::Kind::object, path)) return false;
    if (!check_keys(n, path,
                    {"endpoint", "connection_string", "key_name", "key", "key_file", "sas", "ca_file", "no_auth"}))
      return false;
    RelaySettings from_cs;
    if (const JNode* v = member(n, "connection_string")) {
      std::string text;
      if (!get_string(*v, join(path, "connection_string"), text)) return false;
      if (!text.empty()) {
        auto cs = hc::parse_connection_string(text);  // its messages never contain the key or signature
        if (!cs) return fail(*v, join(path, "connection_string"), cs.error());
        from_cs.endpoint = cs->endpoint.scheme + "://" + cs->endpoint.authority() + cs->endpoint.target();
        from_cs.key_name = cs->key_name;
        from_cs.key = cs->key;
        from_cs.sas = cs->sas;
        from_cs.entity_path = cs->entity_path;
      }
    }
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
      if (const JNode* v = member(n, f.key))
        if (!get_string(*v, join(path, f.key), *f.target)) return false;
    if (const JNode* v = member(n, "no_auth"))
      if (!get_bool(*v, join(path, "no_auth"), own.no_auth)) return false;

    // Conflicts inside one object (across sources the later one wins, see merge_relay_settings).
    if (!own.key.empty() && !own.key_file.empty())
      return fail(*member(n, "key_file"), join(path, "key_file"), "give either key or key_file, not both");
    if (!own.sas.empty() && (!own.key.empty() || !own.key_file.empty() || !own.key_name.empty()))
      return fail(*member(n, "sas"), join(path, "sas"),
                  "a pre-issued sas cannot be combined with key_name/key/key_file");
    const bool any_credentials = !own.key.empty() || !own.key_file.empty() || !own.key_name.empty() ||
                                 !own.sas.empty() || !from_cs.key.empty() || !from_cs.sas.empty();
    if (own.no_auth && any_credentials)
      return fail(*member(n, "no_auth"), join(path, "no_auth"), "no_auth cannot be combined with credentials");
    out = from_cs;
    merge_relay_settings(out, own);
    return true;
  }

  // ---- forwards ----

  bool forward_common(const JNode& n, const std::string& path, std::string& hc_name, bool& raw,
                      std::optional<RelaySettings>& relay_override, std::optional<std::size_t>& max_connections,
                      std::optional<Seconds>& idle_timeout) {
    const JNode* h = member(n, "hc");
    if (h == nullptr) return fail(n, path, "missing required key 'hc' (the hybrid connection name)");
    if (!get_string(*h, join(path, "hc"), hc_name)) return false;
    if (!valid_hc_name(hc_name))
      return fail(
          *h, join(path, "hc"),
          "hybrid connection name " + hc::quote_for_message(hc_name, 80) + " is invalid: " + hc_name_problem(hc_name));
    if (const JNode* v = member(n, "raw"))
      if (!get_bool(*v, join(path, "raw"), raw)) return false;
    if (const JNode* v = member(n, "relay")) {
      RelaySettings r;
      if (!relay(*v, join(path, "relay"), r)) return false;
      relay_override = std::move(r);
    }
    if (const JNode* v = member(n, "max_connections")) {
      std::size_t m = 0;
      if (!get_max_connections(*v, join(path, "max_connections"), m)) return false;
      max_connections = m;
    }
    if (const JNode* v = member(n, "idle_timeout")) {
      Seconds s{0};
      if (!get_duration(*v, join(path, "idle_timeout"), "idle_timeout", s)) return false;
      idle_timeout = s;
    }
    return true;
  }

  bool port_name_value(const JNode& n, const std::string& path, std::string& out) {
    if (!get_string(n, path, out)) return false;
    if (!hc::valid_port_name(out))
      return fail(n, path,
                  "port name " + hc::quote_for_message(out, 80) +
                      " is invalid (expected 1-255 characters of A-Z a-z 0-9 . _ - /)");
    return true;
  }

  // A string or an array of strings (bind / target).
  bool string_list(const JNode& n, const std::string& path, std::vector<std::pair<std::string, const JNode*>>& out) {
    if (n.kind == JNode::Kind::string) {
      std::string s;
      if (!get_string(n, path, s)) return false;
      out.emplace_back(std::move(s), &n);
      return true;
    }
    if (n.kind != JNode::Kind::array)
      return fail(n, path, std::string("expected a string or an array of strings, got ") + kind_name(n.kind));
    if (n.items.empty()) return fail(n, path, "must not be an empty array");
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      std::string s;
      if (!get_string(n.items[i], path + "[" + std::to_string(i) + "]", s)) return false;
      out.emplace_back(std::move(s), &n.items[i]);
    }
    return true;
  }

  bool port_value(const JNode& n, const std::string& path, uint16_t& out) {
    double v = 0;
    if (!get_integer(n, path, 1, 65535, v)) return false;
    out = static_cast<uint16_t>(v);
    return true;
  }

  bool host_value(const JNode& n, const std::string& path, bool allow_star, std::string& out) {
    if (!get_string(n, path, out)) return false;
    if (out.size() > 2 && out.front() == '[' && out.back() == ']') out = out.substr(1, out.size() - 2);
    if (allow_star && out == "*") out = "0.0.0.0";
    if (!valid_host(out))
      return fail(n, path, hc::quote_for_message(out, 80) + " is not a valid host name or IP address");
    return true;
  }

  bool local_forward(const JNode& n, const std::string& path, LocalForward& f) {
    if (!expect(n, JNode::Kind::object, path)) return false;
    if (!check_keys(n, path,
                    {"hc", "bind", "bindings", "port_name", "raw", "relay", "max_connections", "idle_timeout"}))
      return false;
    f.origin = at(n.offset) + path;
    if (!forward_common(n, path, f.hc, f.raw, f.relay, f.max_connections, f.idle_timeout)) return false;
    std::string default_name;
    if (const JNode* v = member(n, "port_name"))
      if (!port_name_value(*v, join(path, "port_name"), default_name)) return false;
    const JNode* bind = member(n, "bind");
    const JNode* bindings = member(n, "bindings");
    if (bind != nullptr && bindings != nullptr)
      return fail_at(
          n.key_offsets[static_cast<std::size_t>(std::find(n.keys.begin(), n.keys.end(), "bindings") - n.keys.begin())],
          join(path, "bindings"), "give either bind or bindings, not both");
    if (bind == nullptr && bindings == nullptr)
      return fail(n, path, "missing 'bind' (e.g. \"127.0.0.1:8080\") or 'bindings'");
    if (bind != nullptr) {
      std::vector<std::pair<std::string, const JNode*>> texts;
      if (!string_list(*bind, join(path, "bind"), texts)) return false;
      for (std::size_t i = 0; i < texts.size(); ++i) {
        const std::string p =
            join(path, "bind") + (bind->kind == JNode::Kind::array ? "[" + std::to_string(i) + "]" : "");
        auto b = parse_local_binding(texts[i].first);
        if (!b) return fail(*texts[i].second, p, b.error());
        if (!default_name.empty() && texts[i].first.find('/') == std::string::npos) b->port_name = default_name;
        f.bindings.push_back(std::move(b.value()));
      }
    } else {
      if (!expect(*bindings, JNode::Kind::array, join(path, "bindings"))) return false;
      if (bindings->items.empty()) return fail(*bindings, join(path, "bindings"), "must not be an empty array");
      for (std::size_t i = 0; i < bindings->items.size(); ++i) {
        const JNode& item = bindings->items[i];
        const std::string p = join(path, "bindings") + "[" + std::to_string(i) + "]";
        if (!expect(item, JNode::Kind::object, p)) return false;
        if (!check_keys(item, p, {"address", "port", "port_name"})) return false;
        LocalBinding b;
        if (const JNode* v = member(item, "address"))
          if (!host_value(*v, join(p, "address"), true, b.bind_host)) return false;
        const JNode* port = member(item, "port");
        if (port == nullptr) return fail(item, p, "missing required key 'port'");
        if (!port_value(*port, join(p, "port"), b.port)) return false;
        if (const JNode* v = member(item, "port_name")) {
          if (!port_name_value(*v, join(p, "port_name"), b.port_name)) return false;
        } else {
          b.port_name = default_name.empty() ? std::to_string(b.port) : default_name;
        }
        f.bindings.push_back(std::move(b));
      }
    }
    return true;
  }

  bool remote_forward(const JNode& n, const std::string& path, RemoteForward& f) {
    if (!expect(n, JNode::Kind::object, path)) return false;
    if (!check_keys(n, path,
                    {"hc", "target", "targets", "port_name", "raw", "relay", "max_connections", "idle_timeout"}))
      return false;
    f.origin = at(n.offset) + path;
    if (!forward_common(n, path, f.hc, f.raw, f.relay, f.max_connections, f.idle_timeout)) return false;
    std::string default_name;
    if (const JNode* v = member(n, "port_name"))
      if (!port_name_value(*v, join(path, "port_name"), default_name)) return false;
    const JNode* target = member(n, "target");
    const JNode* targets = member(n, "targets");
    if (target != nullptr && targets != nullptr)
      return fail_at(
          n.key_offsets[static_cast<std::size_t>(std::find(n.keys.begin(), n.keys.end(), "targets") - n.keys.begin())],
          join(path, "targets"), "give either target or targets, not both");
    if (target == nullptr && targets == nullptr)
      return fail(n, path, "missing 'target' (e.g. \"localhost:80\") or 'targets'");
    if (target != nullptr) {
      std::vector<std::pair<std::string, const JNode*>> texts;
      if (!string_list(*target, join(path, "target"), texts)) return false;
      for (std::size_t i = 0; i < texts.size(); ++i) {
        const std::string p =
            join(path, "target") + (target->kind == JNode::Kind::array ? "[" + std::to_string(i) + "]" : "");
        auto t = parse_remote_target(texts[i].first);
        if (!t) return fail(*texts[i].second, p, t.error());
        if (!default_name.empty() && texts[i].first.find('/') == std::string::npos) t->port_name = default_name;
        f.targets.push_back(std::move(t.value()));
      }
    } else {
      if (!expect(*targets, JNode::Kind::array, join(path, "targets"))) return false;
      if (targets->items.empty()) return fail(*targets, join(path, "targets"), "must not be an empty array");
      for (std::size_t i = 0; i < targets->items.size(); ++i) {
        const JNode& item = targets->items[i];
        const std::string p = join(path, "targets") + "[" + std::to_string(i) + "]";
        if (!expect(item, JNode::Kind::object, p)) return false;
        if (!check_keys(item, p, {"port_name", "host", "port"})) return false;
        RemoteTarget t;
        if (const JNode* v = member(item, "host"))
          if (!host_value(*v, join(p, "host"), false, t.host)) return false;
        const JNode* port = member(item, "port");
        if (port == nullptr) return fail(item, p, "missing required key 'port'");
        if (!port_value(*port, join(p, "port"), t.port)) return false;
        if (const JNode* v = member(item, "port_name")) {
          if (!port_name_value(*v, join(p, "port_name"), t.port_name)) return false;
        } else {
          t.port_name = default_name.empty() ? std::to_string(t.port) : default_name;
        }
        f.targets.push_back(std::move(t));
      }
    }
    return true;
  }

  // ---- top level ----

  bool root(const JNode& n, Config& c) {
    if (n.kind != JNode::Kind::object)
      return fail(n, "", std::string("expected a JSON object at the top level, got ") + kind_name(n.kind));
    if (!check_keys(n, "",
                    {"relay", "local_forward", "remote_forward", "token_ttl", "keepalive", "connect_timeout",
                     "preamble_timeout", "backoff_initial", "backoff_max", "grace_period", "idle_timeout",
                     "max_connections", "log", "admin"}))
      return false;
    if (const JNode* v = member(n, "relay"))
      if (!relay(*v, "relay", c.relay)) return false;
    if (const JNode* v = member(n, "local_forward")) {
      if (!expect(*v, JNode::Kind::array, "local_forward")) return false;
      for (std::size_t i = 0; i < v->items.size(); ++i) {
        LocalForward f;
        if (!local_forward(v->items[i], "local_forward[" + std::to_string(i) + "]", f)) return false;
        c.local_forwards.push_back(std::move(f));
      }
    }
    if (const JNode* v = member(n, "remote_forward")) {
      if (!expect(*v, JNode::Kind::array, "remote_forward")) return false;
      for (std::size_t i = 0; i < v->items.size(); ++i) {
        RemoteForward f;
        if (!remote_forward(v->items[i], "remote_forward[" + std::to_string(i) + "]", f)) return false;
        c.remote_forwards.push_back(std::move(f));
      }
    }
    struct Duration {
      const char* key;
      Seconds* target;
    };
    const std::array<Duration, 8> durations = {{{"token_ttl", &c.token_ttl},
                                                {"keepalive", &c.keepalive},
                                                {"connect_timeout", &c.connect_timeout},
                                                {"preamble_timeout", &c.preamble_timeout},
                                                {"backoff_initial", &c.backoff_initial},
                                                {"backoff_max", &c.backoff_max},
                                                {"grace_period", &c.grace_period},
                                                {"idle_timeout", &c.idle_timeout}}};
    for (const auto& d : durations)
      if (const JNode* v = member(n, d.key))
        if (!get_duration(*v, d.key, d.key, *d.target)) return false;
    if (c.backoff_initial > c.backoff_max) {
      const JNode* v = member(n, "backoff_initial");
      if (v == nullptr) v = member(n, "backoff_max");
      return fail(*v, v == member(n, "backoff_initial") ? "backoff_initial" : "backoff_max",
                  "backoff_initial (" + format_number(c.backoff_initial.count()) + " s) must not exceed backoff_max (" +
                      format_number(c.backoff_max.count()) + " s)");
    }
    if (const JNode* v = member(n, "max_connections"))
      if (!get_max_connections(*v, "max_connections", c.max_connections)) return false;
    if (const JNode* v = member(n, "log")) {
      if (!expect(*v, JNode::Kind::object, "log")) return false;
      if (!check_keys(*v, "log", {"level", "format"})) return false;
      if (const JNode* l = member(*v, "level")) {
        if (!get_string(*l, "log.level", c.log_level)) return false;
        if (std::find_if(kLogLevels.begin(), kLogLevels.end(), [&](const char* x) { return c.log_level == x; }) ==
            kLogLevels.end())
          return fail(*l, "log.level",
                      "unknown level " + hc::quote_for_message(c.log_level) +
                          " (expected trace, debug, info, warn, error, critical or off)");
      }
      if (const JNode* f = member(*v, "format")) {
        if (!get_string(*f, "log.format", c.log_format)) return false;
        if (c.log_format != "text" && c.log_format != "json")
          return fail(*f, "log.format",
                      "unknown format " + hc::quote_for_message(c.log_format) + " (expected text or json)");
      }
    }
    if (const JNode* v = member(n, "admin")) {
      if (!expect(*v, JNode::Kind::object, "admin")) return false;
      if (!check_keys(*v, "admin", {"bind"})) return false;
      if (const JNode* b = member(*v, "bind")) {
        if (!get_string(*b, "admin.bind", c.admin_bind)) return false;
        if (!c.admin_bind.empty()) {
          auto hp = net::parse_host_port(c.admin_bind);
          if (!hp) return fail(*b, "admin.bind", hp.error() + " (expected ADDR:PORT, e.g. 127.0.0.1:9090)");
        }
      }
    }
    return true;
  }

 private:
  std::string_view text_;
  std::string_view source_;
  std::vector<std::size_t> newlines_;
  std::string error_;
};

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
  Loader loader(text, source_name);
  const std::size_t nul = text.find('\0');
  if (nul != std::string_view::npos)
    return hc::fail(loader.at(nul) + "the file contains a NUL byte (expected a JSON text file)");
  // RapidJSON's UTF-8 validation takes every continuation byte a lead byte announces without looking for the end, so
  // a text ending inside a multi-byte sequence would be read past its terminator: pad with NULs it can safely read.
  std::string copy(text);
  copy.append(4, '\0');
  std::size_t skip = 0;
  if (copy.compare(0, 3, "\xEF\xBB\xBF") == 0) skip = 3;  // UTF-8 byte order mark
  rapidjson::StringStream stream(copy.c_str() + skip);
  TreeBuilder builder(stream);
  rapidjson::Reader reader;
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseCommentsFlag |
                              rapidjson::kParseTrailingCommasFlag | rapidjson::kParseValidateEncodingFlag;
  const rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, builder);
  if (!ok) {
    if (builder.too_deep())
      return hc::fail(loader.at(builder.error_offset() + skip) + "values are nested too deeply (more than 32 levels)");
    if (!builder.duplicate_key().empty()) {
      const std::string& k = builder.duplicate_key();
      return hc::fail(loader.at(builder.error_offset() + skip) + "duplicate key" +
                      (is_identifier_like(k) ? " '" + k + "'" : "") + " in the same object");
    }
    return hc::fail(loader.at(ok.Offset() + skip) + "JSON syntax error: " + rapidjson::GetParseError_En(ok.Code()));
  }
  Config config;
  JNode& root = builder.root();
  // Offsets in the tree are relative to the text after the BOM.
  if (skip != 0) {
    std::vector<JNode*> todo{&root};
    while (!todo.empty()) {
      JNode* n = todo.back();
      todo.pop_back();
      n->offset += skip;
      for (auto& k : n->key_offsets) k += skip;
      for (auto& child : n->items) todo.push_back(&child);
    }
  }
  if (!loader.root(root, config)) return hc::fail(loader.error());
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
