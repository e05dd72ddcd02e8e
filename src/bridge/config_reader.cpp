#include "bridge/config_reader.hpp"

#include "bridge/forward_grammar.hpp"
#include "hc/connection_string.hpp"
#include "hc/preamble.hpp"
#include "hc/url.hpp"

#include <algorithm>
#include <array>

namespace bridge {

namespace {

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

std::string unknown_key(const std::string& k, const std::string& path,
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

bool relay_from_connection_string(ConfigReader& r, const JNode& n, const std::string& path, RelaySettings& out) {
  const JNode* v = n.member("connection_string");
  if (v == nullptr) return true;
  std::string text;
  if (!r.get_string(*v, member_path(path, "connection_string"), text)) return false;
  if (text.empty()) return true;
  auto cs = hc::parse_connection_string(text);  // its messages never contain the key or signature
  if (!cs) return r.fail(*v, member_path(path, "connection_string"), cs.error());
  out = relay_settings_from(cs.value());
  return true;
}

}  // namespace

std::string member_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string item_path(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

bool ConfigReader::fail_at(std::size_t offset, const std::string& path, const std::string& what) {
  if (error_.empty()) error_ = at(offset) + (path.empty() ? what : path + ": " + what);
  return false;
}

bool ConfigReader::check_keys(const JNode& obj, const std::string& path, const std::vector<const char*>& allowed) {
  for (std::size_t i = 0; i < obj.keys.size(); ++i) {
    const std::string& k = obj.keys[i];
    if (std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; })) continue;
    return fail_at(obj.key_offsets[i], path, unknown_key(k, path, allowed));
  }
  return true;
}

bool ConfigReader::expect(const JNode& n, JNode::Kind kind, const std::string& path) {
  if (n.kind == kind) return true;
  return fail(n, path, std::string("expected ") + kind_name(kind) + ", got " + kind_name(n.kind));
}

bool ConfigReader::get_string(const JNode& n, const std::string& path, std::string& out) {
  if (!expect(n, JNode::Kind::string, path)) return false;
  if (n.text.find('\0') != std::string::npos) return fail(n, path, "must not contain a NUL character");
  out = n.text;
  return true;
}

bool ConfigReader::get_bool(const JNode& n, const std::string& path, bool& out) {
  if (!expect(n, JNode::Kind::boolean, path)) return false;
  out = n.boolean;
  return true;
}

bool ConfigReader::get_integer(const JNode& n, const std::string& path, double min, double max, double& out) {
  if (!expect(n, JNode::Kind::number, path)) return false;
  if (!n.integer) return fail(n, path, "expected an integer, got " + format_number(n.number));
  if (n.number < min || n.number > max)
    return fail(n, path,
                "must be between " + format_number(min) + " and " + format_number(max) + " (got " +
                    format_number(n.number) + ")");
  out = n.number;
  return true;
}

bool ConfigReader::get_duration(const JNode& n, const std::string& path, std::string_view key, Seconds& out) {
  if (!expect(n, JNode::Kind::number, path)) return false;
  const std::string problem = check_duration(key, n.number);
  if (!problem.empty()) return fail(n, path, problem);
  out = Seconds(n.number);
  return true;
}

bool ConfigReader::get_max_connections(const JNode& n, const std::string& path, std::size_t& out) {
  double v = 0;
  if (!get_integer(n, path, 1, static_cast<double>(kMaxConnectionsLimit), v)) return false;
  out = static_cast<std::size_t>(v);
  return true;
}

bool ConfigReader::get_port(const JNode& n, const std::string& path, uint16_t& out) {
  double v = 0;
  if (!get_integer(n, path, 1, 65535, v)) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

bool ConfigReader::get_port_name(const JNode& n, const std::string& path, std::string& out) {
  if (!get_string(n, path, out)) return false;
  if (!hc::valid_port_name(out))
    return fail(n, path,
                "port name " + hc::quote_for_message(out, 80) +
                    " is invalid (expected 1-255 characters of A-Z a-z 0-9 . _ - /)");
  return true;
}

bool ConfigReader::get_host(const JNode& n, const std::string& path, bool allow_star, std::string& out) {
  if (!get_string(n, path, out)) return false;
  if (out.size() > 2 && out.front() == '[' && out.back() == ']') out = out.substr(1, out.size() - 2);
  if (allow_star && out == "*") out = "0.0.0.0";
  if (!valid_host(out))
    return fail(n, path, hc::quote_for_message(out, 80) + " is not a valid host name or IP address");
  return true;
}

bool ConfigReader::string_list(const JNode& n, const std::string& path,
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
    if (!get_string(n.items[i], item_path(path, i), s)) return false;
    out.emplace_back(std::move(s), &n.items[i]);
  }
  return true;
}

// "auth": {"mode": "sas" | "entra"} and "entra": {"credential", "tenant_id", ...} inside a relay object.
bool ConfigReader::auth(const JNode& n, const std::string& path, RelaySettings& own) {
  if (const JNode* a = n.member("auth")) {
    const std::string at = member_path(path, "auth");
    if (!expect(*a, JNode::Kind::object, at) || !check_keys(*a, at, {"mode"})) return false;
    if (const JNode* m = a->member("mode")) {
      if (!get_string(*m, member_path(at, "mode"), own.auth_mode)) return false;
      if (own.auth_mode != "sas" && own.auth_mode != "entra")
        return fail(*m, member_path(at, "mode"), "must be sas or entra");
    }
  }
  const JNode* e = n.member("entra");
  if (!e) return true;
  const std::string at = member_path(path, "entra");
  if (!expect(*e, JNode::Kind::object, at)) return false;
  EntraSettings& t = own.entra;
  const std::array<std::pair<const char*, std::string*>, 9> fields = {{{"credential", &t.credential},
                                                                       {"tenant_id", &t.tenant_id},
                                                                       {"client_id", &t.client_id},
                                                                       {"authority_host", &t.authority_host},
                                                                       {"client_secret_file", &t.client_secret_file},
                                                                       {"certificate_file", &t.certificate_file},
                                                                       {"assertion_algorithm", &t.assertion_algorithm},
                                                                       {"federated_token_file", &t.federated_token_file},
                                                                       {"arc_key_directory", &t.arc_key_directory}}};
  std::vector<const char*> keys;
  for (const auto& f : fields) keys.push_back(f.first);
  if (!check_keys(*e, at, keys)) return false;
  for (const auto& f : fields)
    if (const JNode* v = e->member(f.first))
      if (!get_string(*v, member_path(at, f.first), *f.second)) return false;
  return true;
}

bool ConfigReader::relay(const JNode& n, const std::string& path, RelaySettings& out) {
  if (!expect(n, JNode::Kind::object, path)) return false;
  if (!check_keys(n, path,
                  {"endpoint", "connection_string", "key_name", "key", "key_file", "sas", "ca_file", "no_auth", "auth",
                   "entra"}))
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
      if (!get_string(*v, member_path(path, f.key), *f.target)) return false;
  if (const JNode* v = n.member("no_auth"))
    if (!get_bool(*v, member_path(path, "no_auth"), own.no_auth)) return false;
  if (!auth(n, path, own)) return false;

  // Conflicts inside one object (across sources the later one wins, see merge_relay_settings).
  if (!own.key.empty() && !own.key_file.empty())
    return fail(*n.member("key_file"), member_path(path, "key_file"), "give either key or key_file, not both");
  if (!own.sas.empty() && (!own.key.empty() || !own.key_file.empty() || !own.key_name.empty()))
    return fail(*n.member("sas"), member_path(path, "sas"), "a pre-issued sas cannot be combined with key_name/key/key_file");
  const bool any_credentials = !own.key.empty() || !own.key_file.empty() || !own.key_name.empty() ||
                               !own.sas.empty() || !from_cs.key.empty() || !from_cs.sas.empty();
  if (own.no_auth && any_credentials)
    return fail(*n.member("no_auth"), member_path(path, "no_auth"), "no_auth cannot be combined with credentials");
  out = from_cs;
  merge_relay_settings(out, own);
  return true;
}

}  // namespace bridge
