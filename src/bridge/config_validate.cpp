// validate_config (config.hpp): the whole configuration checked once, after all sources are merged, and completed.
// Process-wide settings and their ranges, the proxy, and each forward's bindings or targets here; the relay settings
// each layer gives and each forward uses in relay_settings_check.cpp.
#include "bridge/config.hpp"

#include "bridge/forward_grammar.hpp"
#include "bridge/proxy_settings.hpp"
#include "bridge/relay_settings_check.hpp"
#include "hc/preamble.hpp"
#include "hc/url.hpp"
#include "net/address.hpp"
#include "net/socket_file.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <set>

namespace bridge {

namespace {

struct DurationRule {
  const char* key;
  const char* flag;  // CLI equivalent, "" when there is none
  double min;
  bool min_inclusive;
  double max;
};

constexpr std::array<DurationRule, 13> kDurationRules = {{
    {"token_ttl", "--token-ttl", 10, true, 86400.0 * 30},
    {"keepalive", "--keepalive", 1, true, 3600},
    {"connect_timeout", "--connect-timeout", 0, false, 600},
    {"preamble_timeout", "", 0, false, 600},
    {"backoff_initial", "", 0, false, 3600},
    {"backoff_max", "", 0, false, 86400},
    {"grace_period", "--grace-period", 0, false, 3600},
    {"idle_timeout", "--idle-timeout", 0, true, 86400.0 * 30},
    {"udp_idle_timeout", "", 0, true, 86400.0 * 30},
    {"http_connect_timeout", "", 0, false, 600},
    {"http_response_timeout", "", 0, false, 86400},
    {"http_write_timeout", "", 0, false, 86400},
    {"http_answer_timeout", "", 0, false, 86400},
}};

std::string with_flag(const char* key, const char* flag) {
  return flag[0] == '\0' ? std::string(key) : std::string(key) + " (" + flag + ")";
}

std::string forward_label(const std::string& origin, const char* list, std::size_t index) {
  return origin.empty() ? std::string(list) + "[" + std::to_string(index) + "]" : origin;
}

hc::Result<bool> check_forward_limits(const std::optional<std::size_t>& max_connections,
                                      const std::optional<Seconds>& idle_timeout, const std::string& label) {
  if (max_connections) {
    const std::string p = check_max_connections(static_cast<double>(*max_connections));
    if (!p.empty()) return hc::fail(label + ": max_connections " + p);
  }
  if (idle_timeout) {
    const std::string p = check_duration("idle_timeout", idle_timeout->count());
    if (!p.empty()) return hc::fail(label + ": idle_timeout " + p);
  }
  return true;
}

std::string port_name_error(const std::string& label, const std::string& name) {
  return label + ": port name " + hc::quote_for_message(name, 80) +
         " is invalid (expected 1-255 characters of A-Z a-z 0-9 . _ - /)";
}

}  // namespace

std::string check_duration(std::string_view key, double seconds) {
  for (const auto& rule : kDurationRules) {
    if (key != rule.key) continue;
    const bool low_ok = rule.min_inclusive ? seconds >= rule.min : seconds > rule.min;
    if (low_ok && seconds <= rule.max) return {};
    if (rule.min_inclusive)
      return "must be between " + format_number(rule.min) + " and " + format_number(rule.max) + " seconds (got " +
             format_number(seconds) + ")";
    return "must be more than " + format_number(rule.min) + " and at most " + format_number(rule.max) +
           " seconds (got " + format_number(seconds) + ")";
  }
  return "is not a known duration setting";
}

std::string check_max_connections(double value) {
  if (value >= 1 && value <= static_cast<double>(kMaxConnectionsLimit) &&
      value == static_cast<double>(static_cast<long long>(value)))
    return {};
  return "must be a whole number between 1 and " + std::to_string(kMaxConnectionsLimit) + " (got " +
         format_number(value) + ")";
}

namespace {

// What local and remote forwards share: limits, their own relay settings, and the settings they end up using.
template <class Forward>
hc::Result<bool> check_forward_common(RelaySettingsCheck& v, const Config& config, Forward& f,
                                      const std::string& label) {
  auto limits = check_forward_limits(f.max_connections, f.idle_timeout, label);
  if (!limits) return limits;
  if (f.relay) {
    auto layer = v.check_layer(*f.relay, label + ": relay", false);
    if (!layer) return layer;
  }
  return v.check_effective(effective_relay(config, f.relay), label, f.hc);
}

// The proxy: its URL and bypass list (flags, file or environment) resolve, and its credentials file is read.
hc::Result<bool> check_proxy(RelaySettingsCheck& v, Config& config) {
  if (!config.proxy.credentials_file.empty()) {
    auto line = v.read_key_file(config.proxy.credentials_file, "proxy.credentials_file (--proxy-credentials-file)",
                                "proxy credentials file", "user:password");
    if (!line) return hc::fail(line.error());
    config.proxy.credentials = std::move(line.value());
  }
  auto policy = make_proxy_policy(config.proxy);
  if (!policy) return hc::fail(policy.error());
  if (!config.proxy.credentials.empty() && !policy.value()->proxy)
    v.warn("proxy credentials file " + config.proxy.credentials_file + " is not used: no proxy is configured");
  return true;
}

// Process-wide settings: durations, limits, logging, admin.
hc::Result<bool> check_settings(RelaySettingsCheck& v, const Config& config) {
  const std::array<std::pair<const DurationRule*, const Seconds*>, 8> durations = {{
      {&kDurationRules[0], &config.token_ttl},
      {&kDurationRules[1], &config.keepalive},
      {&kDurationRules[2], &config.connect_timeout},
      {&kDurationRules[3], &config.preamble_timeout},
      {&kDurationRules[4], &config.backoff_initial},
      {&kDurationRules[5], &config.backoff_max},
      {&kDurationRules[6], &config.grace_period},
      {&kDurationRules[7], &config.idle_timeout},
  }};
  for (const auto& [rule, value] : durations) {
    const std::string p = check_duration(rule->key, value->count());
    if (!p.empty()) return hc::fail(with_flag(rule->key, rule->flag) + ": " + p);
  }
  if (config.backoff_initial > config.backoff_max)
    return hc::fail("backoff_initial (" + format_number(config.backoff_initial.count()) +
                    " s) must not exceed backoff_max (" + format_number(config.backoff_max.count()) + " s)");
  {
    const std::string p = check_max_connections(static_cast<double>(config.max_connections));
    if (!p.empty()) return hc::fail("max_connections (--max-connections): " + p);
  }
  static const std::array<const char*, 7> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (std::find_if(levels.begin(), levels.end(), [&](const char* l) { return config.log_level == l; }) == levels.end())
    return hc::fail("log.level (--log-level): unknown level " + hc::quote_for_message(config.log_level) +
                    " (expected trace, debug, info, warn, error, critical or off)");
  if (config.log_format != "text" && config.log_format != "json")
    return hc::fail("log.format (--log-format): unknown format " + hc::quote_for_message(config.log_format) +
                    " (expected text or json)");
  if (!config.admin_bind.empty()) {
    auto hp = net::parse_host_port(config.admin_bind);
    if (!hp) return hc::fail("admin.bind (--admin): " + hp.error() + " (expected ADDR:PORT, e.g. 127.0.0.1:9090)");
    if (!is_loopback_host(hp->host))
      v.warn("the admin endpoint " + config.admin_bind + " is reachable from other hosts; bind it to 127.0.0.1");
  }

  return true;
}

// A Unix socket binding: a usable path (a file that is not a socket is never replaced), an owner and group that exist.
hc::Result<bool> check_socket_binding(const LocalBinding& b, const std::string& label) {
  if (const std::string p = socket_path_problem(b.socket_path); !p.empty()) return hc::fail(label + ": " + p);
  if (const std::string p = net::socket_file_problem(b.socket_path); !p.empty()) return hc::fail(label + ": " + p);
  if (b.socket_file.mode > 0777)
    return hc::fail(label + ": socket mode " + std::to_string(b.socket_file.mode) + " is not a permission mode");
  if (!b.socket_file.owner.empty())
    if (auto uid = net::lookup_user(b.socket_file.owner); !uid) return hc::fail(label + ": socket owner: " + uid.error());
  if (!b.socket_file.group.empty())
    if (auto gid = net::lookup_group(b.socket_file.group); !gid) return hc::fail(label + ": socket group: " + gid.error());
  return true;
}

hc::Result<bool> check_local_forwards(RelaySettingsCheck& v, Config& config) {
  std::map<std::string, std::string> bound;  // what a binding listens on ("tcp 127.0.0.1:80", "unix /a.sock") -> label
  for (std::size_t i = 0; i < config.local_forwards.size(); ++i) {
    LocalForward& f = config.local_forwards[i];
    const std::string label = forward_label(f.origin, "local_forward", i);
    if (!valid_hc_name(f.hc))
      return hc::fail(label + ": hybrid connection name " + hc::quote_for_message(f.hc, 80) +
                      " is invalid: " + hc_name_problem(f.hc));
    if (f.bindings.empty()) return hc::fail(label + ": no bindings (give at least one [bind_addr:]port)");
    for (auto& b : f.bindings) {
      if (b.protocol == Protocol::unix_socket) {
        auto socket = check_socket_binding(b, label);
        if (!socket) return socket;
        if (b.port_name.empty()) b.port_name = b.socket_path;
        if (!f.raw && !hc::valid_port_name(b.port_name)) return hc::fail(port_name_error(label, b.port_name));
        const auto [it, inserted] = bound.emplace("unix " + b.socket_path, label);
        if (!inserted)
          return hc::fail(label + ": " + binding_text(b) + " is bound twice (also by " + it->second + ")");
        continue;
      }
      if (b.bind_host == "*") b.bind_host = "0.0.0.0";
      if (!valid_host(b.bind_host))
        return hc::fail(label + ": bind address " + hc::quote_for_message(b.bind_host, 80) +
                        " is not a valid host name or IP address");
      if (b.port == 0) return hc::fail(label + ": port 0 is not allowed (expected 1-65535)");
      if (b.port_name.empty()) b.port_name = std::to_string(b.port) + (b.protocol == Protocol::udp ? "U" : "");
      if (f.raw && b.protocol == Protocol::udp)
        return hc::fail(label + ": UDP needs azbridge's datagram framing, so a raw forward carries TCP only");
      if (f.raw && b.protocol == Protocol::http)
        return hc::fail(label + ": an HTTP binding sends HTTP requests, not streams, so 'raw' does not apply to it");
      if (!f.raw && !hc::valid_port_name(b.port_name)) return hc::fail(port_name_error(label, b.port_name));
      // An HTTP binding is a TCP listener: it shares the TCP port space.
      const Protocol space = b.protocol == Protocol::http ? Protocol::tcp : b.protocol;
      const std::string key =
          std::string(protocol_name(space)) + " " + hc::ascii_lower(b.bind_host) + ":" + std::to_string(b.port);
      const auto [it, inserted] = bound.emplace(key, label);
      if (!inserted)
        return hc::fail(label + ": " + net::host_for_url(b.bind_host) + ":" + std::to_string(b.port) +
                        (b.protocol == Protocol::udp ? "U" : "") + " is bound twice (also by " + it->second + ")");
    }
    auto common = check_forward_common(v, config, f, label);
    if (!common) return common;
  }

  return true;
}

// A TCP or UDP target: a valid host and port; its default port name is the port number ("53U" for UDP).
hc::Result<bool> check_network_target(RemoteTarget& t, bool raw, const std::string& label) {
  if (t.host.empty()) t.host = "localhost";
  if (!valid_host(t.host))
    return hc::fail(label + ": target host " + hc::quote_for_message(t.host, 80) +
                    " is not a valid host name or IP address");
  if (t.port == 0) return hc::fail(label + ": port 0 is not allowed (expected 1-65535)");
  if (t.port_name.empty()) t.port_name = std::to_string(t.port) + (t.protocol == Protocol::udp ? "U" : "");
  if (raw && t.protocol == Protocol::udp)
    return hc::fail(label + ": UDP needs azbridge's datagram framing, so a raw forward carries TCP only");
  return true;
}

hc::Result<bool> check_http_target(RelaySettingsCheck& v, HttpTarget& t, const std::string& label) {
  if (!valid_host(t.host))
    return hc::fail(label + ": web server host " + hc::quote_for_message(t.host, 80) + " is not a valid host name or IP address");
  if (t.port == 0) t.port = t.tls ? 443 : 80;
  if (t.max_requests == 0 || t.max_requests > kMaxConnectionsLimit)
    return hc::fail(label + ": http.max_requests " + check_max_connections(static_cast<double>(t.max_requests)));
  if (t.insecure && !t.tls) return hc::fail(label + ": http.insecure applies to https:// web servers only");
  if (t.insecure)
    v.warn(label + ": TLS verification of the web server " + hc::quote_for_message(t.host, 80) +
                           " is OFF (http.insecure): anyone on the path can read and change its traffic");
  return true;
}

hc::Result<bool> check_remote_forwards(RelaySettingsCheck& v, Config& config) {
  std::map<std::string, std::string> remote_by_hc;  // lower-cased hc -> label of the forward that listens on it
  for (std::size_t i = 0; i < config.remote_forwards.size(); ++i) {
    RemoteForward& f = config.remote_forwards[i];
    const std::string label = forward_label(f.origin, "remote_forward", i);
    // Two listeners of ours on one hybrid connection would each get a random share of the connections, and each
    // would route them by its own targets only: traffic would reach the wrong service.
    const auto [seen, fresh] = remote_by_hc.emplace(hc::ascii_lower(f.hc), label);
    if (!fresh)
      return hc::fail(label + ": hybrid connection " + hc::quote_for_message(f.hc, 80) + " is already forwarded by " +
                      seen->second + "; give both targets in one forward, e.g. -T \"" + f.hc +
                      ":a/host1:80;b/host2:80\"");
    if (!valid_hc_name(f.hc))
      return hc::fail(label + ": hybrid connection name " + hc::quote_for_message(f.hc, 80) +
                      " is invalid: " + hc_name_problem(f.hc));
    if (f.targets.empty() && !f.http)
      return hc::fail(label + ": no targets (give at least one [port_name/][host:]port, or a web server with -H / http)");
    if (f.http) {
      auto http = check_http_target(v, *f.http, label);
      if (!http) return http;
    }
    if (f.raw && f.targets.size() > 1)
      return hc::fail(label + ": a raw forward has no port names, so it takes exactly one target (got " +
                      std::to_string(f.targets.size()) + ")");
    std::set<std::string> names;
    for (auto& t : f.targets) {
      if (t.protocol == Protocol::unix_socket) {
        if (const std::string p = socket_path_problem(t.socket_path); !p.empty()) return hc::fail(label + ": " + p);
        if (t.port_name.empty()) t.port_name = t.socket_path;
      } else if (auto checked = check_network_target(t, f.raw, label); !checked) {
        return checked;
      }
      if (f.raw) continue;
      if (!hc::valid_port_name(t.port_name)) return hc::fail(port_name_error(label, t.port_name));
      if (!names.insert(t.port_name).second)
        return hc::fail(label + ": port name " + hc::quote_for_message(t.port_name, 80) +
                        " is used by two targets of hybrid connection " + hc::quote_for_message(f.hc, 80) +
                        " (each target needs its own port name)");
    }
    auto common = check_forward_common(v, config, f, label);
    if (!common) return common;
  }
  return true;
}

}  // namespace

hc::Result<bool> validate_config(Config& config, std::vector<std::string>& warnings) {
  RelaySettingsCheck v(warnings, config.azure_env);
  if (config.local_forwards.empty() && config.remote_forwards.empty())
    return hc::fail("nothing to do: give -L or -T, or local_forward/remote_forward in the config file");
  auto settings = check_settings(v, config);
  if (!settings) return settings;
  auto proxy = check_proxy(v, config);
  if (!proxy) return proxy;
  auto global = v.check_layer(config.relay, "relay", true);
  if (!global) return global;
  auto local = check_local_forwards(v, config);
  if (!local) return local;
  return check_remote_forwards(v, config);
}

}  // namespace bridge
