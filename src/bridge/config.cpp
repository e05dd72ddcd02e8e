#include "bridge/config.hpp"

#include "bridge/credentials/entra_credential.hpp"
#include "bridge/forward_grammar.hpp"
#include "bridge/proxy_settings.hpp"
#include "hc/connection_string.hpp"
#include "hc/preamble.hpp"
#include "hc/sas.hpp"
#include "hc/url.hpp"
#include "net/address.hpp"
#include "net/socket_file.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

namespace bridge {

const char* protocol_name(Protocol p) {
  switch (p) {
    case Protocol::udp: return "udp";
    case Protocol::unix_socket: return "unix";
    case Protocol::http: return "http";
    case Protocol::tcp: break;
  }
  return "tcp";
}

std::string binding_text(const LocalBinding& b) {
  if (b.protocol == Protocol::unix_socket) return "unix:" + b.socket_path;
  if (b.protocol == Protocol::http) return "http://" + net::host_for_url(b.bind_host) + ":" + std::to_string(b.port);
  return net::host_for_url(b.bind_host) + ":" + std::to_string(b.port) + (b.protocol == Protocol::udp ? "/udp" : "");
}

std::string target_text(const RemoteTarget& t) {
  if (t.protocol == Protocol::unix_socket) return "unix:" + t.socket_path;
  return net::host_for_url(t.host) + ":" + std::to_string(t.port) + (t.protocol == Protocol::udp ? "/udp" : "");
}

namespace {

constexpr std::size_t kMaxKeyLength = 256;  // what .NET's token provider accepts

struct DurationRule {
  const char* key;
  const char* flag;  // CLI equivalent, "" when there is none
  double min;
  bool min_inclusive;
  double max;
};

constexpr std::array<DurationRule, 12> kDurationRules = {{
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
}};

std::string with_flag(const char* key, const char* flag) {
  return flag[0] == '\0' ? std::string(key) : std::string(key) + " (" + flag + ")";
}

bool has_credentials(const RelaySettings& r) {
  return !r.key_name.empty() || !r.key.empty() || !r.key_file.empty() || !r.sas.empty();
}

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n\f\v";
  const std::size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  const std::size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string shown_path(const std::string& path) { return hc::quote_for_message(path, 200); }

class Validator {
 public:
  Validator(std::vector<std::string>& warnings, const AzureEnv& env) : warnings_(warnings), env_(env) {}

  void warn(const std::string& w) {
    if (std::find(warnings_.begin(), warnings_.end(), w) == warnings_.end()) warnings_.push_back(w);
  }

  // One layer of settings (the global relay, or a forward's override) on its own: endpoint syntax, files, and
  // conflicts inside the layer. `where` prefixes messages ("relay" or "F:3: local_forward[0]: relay").
  hc::Result<bool> check_layer(RelaySettings& r, const std::string& where, bool global) {
    if (r.endpoint.empty() && global) r.endpoint = kDefaultEndpoint;
    if (!r.endpoint.empty()) {
      const std::string field = where + ".endpoint" + (global ? " (-e/--endpoint)" : "");
      auto uri = hc::parse_uri(r.endpoint);
      if (!uri) return hc::fail(field + ": " + uri.error());
      if (uri->scheme != "sb" && uri->scheme != "wss" && uri->scheme != "ws")
        return hc::fail(field + ": scheme '" + uri->scheme + "' is not supported (expected sb://, wss:// or ws://)");
      // Never echo the rest: a connection string pasted here would put its key in the path.
      if (uri->path != "/" || !uri->query.empty())
        return hc::fail(field + ": must be only scheme://host[:port]/ without a path or query" +
                        " (for a connection string use -x or connection_string)");
      r.endpoint = uri->scheme + "://" + uri->authority() + "/";
    }
    if (!r.key_file.empty()) {
      auto key = read_key_file(r.key_file, where + ".key_file" + (global ? " (--key-file)" : ""));
      if (!key) return hc::fail(key.error());
      r.key = std::move(key.value());
    }
    if (!r.ca_file.empty()) {
      std::ifstream in(r.ca_file);
      if (!in)
        return hc::fail(where + ".ca_file" + (global ? " (--ca-file)" : "") + ": cannot read CA file " +
                        shown_path(r.ca_file) + ": " + std::strerror(errno));
    }
    if (!r.entra.client_secret_file.empty()) {
      auto secret = read_key_file(r.entra.client_secret_file, where + ".entra.client_secret_file", "client secret file",
                                  "the client secret");
      if (!secret) return hc::fail(secret.error());
      r.entra.client_secret = std::move(secret.value());
    }
    if (!r.auth_mode.empty() && r.auth_mode != "sas" && r.auth_mode != "entra")
      return hc::fail(where + ".auth.mode: must be sas or entra (got " + hc::quote_for_message(r.auth_mode, 40) + ")");
    if (r.key.size() > kMaxKeyLength)
      return hc::fail(where + ": the key is longer than " + std::to_string(kMaxKeyLength) + " characters");
    if (r.key_name.size() > kMaxKeyLength)
      return hc::fail(where + ".key_name: longer than " + std::to_string(kMaxKeyLength) + " characters");
    if (r.no_auth && has_credentials(r))
      return hc::fail(where + ": no_auth cannot be combined with credentials (key_name/key/key_file/sas)");
    // A layer may carry half of a key pair (e.g. a global key_name, a key_file per forward): completeness is
    // checked on what each forward really uses.
    return check_conflicts(r, where);
  }

  static hc::Result<bool> check_conflicts(const RelaySettings& r, const std::string& where) {
    if (!r.sas.empty() && (!r.key.empty() || !r.key_name.empty()))
      return hc::fail(where + ": a pre-issued sas (-s) cannot be combined with key_name/key (-K/-k/--key-file)");
    if (!r.sas.empty()) {
      // Caught here instead of as an endless series of 401s from the relay.
      auto token = hc::parse_sas_token(r.sas);
      if (!token) return hc::fail(where + ": the pre-issued sas (-s) is not a SAS token: " + token.error());
    }
    return true;
  }

  static hc::Result<bool> check_credentials(const RelaySettings& r, const std::string& where) {
    auto conflicts = check_conflicts(r, where);
    if (!conflicts) return conflicts;
    if (!r.key_name.empty() && r.key.empty())
      return hc::fail(where + ": key_name " + hc::quote_for_message(r.key_name, 80) +
                      " is set but no key (give -k/--key or --key-file, or key/key_file in the config file)");
    if (r.key_name.empty() && !r.key.empty())
      return hc::fail(where + ": a key is set but no key_name (give -K/--key-name, or key_name in the config file)");
    return true;
  }

  // What the forward will really use: the merged settings; warnings about the connection.
  hc::Result<bool> check_effective(const RelaySettings& r, const std::string& where, const std::string& hc_name) {
    if (uses_entra(r)) {
      if (has_credentials(r))
        return hc::fail(where + ": auth.mode entra cannot be combined with SAS credentials (key_name/key/key_file/sas)");
      auto credential = resolve_entra_credential(r.entra, env_);
      if (!credential) return hc::fail(where + ": " + credential.error());
      return check_implicit_entra(r, credential.value(), where);
    }
    if (r.auth_mode == "sas" && !has_credentials(r))
      return hc::fail(where + ": auth.mode sas needs a key (key_name with key or key_file) or a pre-issued sas");
    auto ok = check_credentials(r, where);
    if (!ok) return ok;
    if (!r.entity_path.empty() && !hc::iequals(r.entity_path, hc_name))
      return hc::fail(where + ": the connection string's EntityPath " + hc::quote_for_message(r.entity_path, 80) +
                      " does not match the hybrid connection " + hc::quote_for_message(hc_name, 80));
    auto uri = hc::parse_uri(r.endpoint);
    if (!uri) return hc::fail(where + ": endpoint: " + uri.error());  // not reached: checked per layer
    const bool loopback = is_loopback_host(uri->host);
    if (uri->scheme == "ws") {
      if (!loopback) warn("plain ws:// to " + uri->host_for_url() + ": traffic and tokens are not encrypted");
      if (!r.ca_file.empty())
        warn("ca_file " + shown_path(r.ca_file) + " is not used: ws://" + uri->authority() + " is not TLS");
    }
    return true;
  }

  // Entra ID chosen only because no SAS key was given, towards a loopback relay, with nothing in the environment but
  // the managed-identity fallback: almost surely a local hcrelay meant to be used without a token. Waiting on an IMDS
  // that does not exist would only loop; say what to write instead.
  static hc::Result<bool> check_implicit_entra(const RelaySettings& r, const EntraCredential& credential,
                                               const std::string& where) {
    const bool implicit = r.auth_mode.empty() && r.entra.empty();
    const auto endpoint_origin = credential.origin.find("endpoint");
    const bool fallback = credential.kind == EntraKind::managed_identity && credential.source == ManagedSource::imds &&
                          endpoint_origin != credential.origin.end() && endpoint_origin->second == "default";
    auto uri = hc::parse_uri(r.endpoint);
    if (!implicit || !fallback || !uri || !is_loopback_host(uri->host)) return true;
    return hc::fail(where + ": the endpoint " + uri->scheme + "://" + uri->authority() +
                    "/ has no SAS key, so hcbridge would use Entra ID, and no Entra credential is configured; for a "
                    "relay without authorization (hcrelay --no-auth) give --no-auth (no_auth: true in the config "
                    "file), otherwise give a key (-K/-k) or an Entra credential (AZURE_* or entra.*)");
  }

  // The first line of a secret file (a key, or the proxy's user:password: `what` and `content` name them).
  hc::Result<std::string> read_key_file(const std::string& path, const std::string& field, const std::string& what = "key file",
                                        const std::string& content = "the key") {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      return hc::fail(field + ": cannot read " + what + " " + shown_path(path) + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return hc::fail(field + ": " + what + " " + shown_path(path) + " is not a regular file");
    std::ifstream in(path, std::ios::binary);
    if (!in) return hc::fail(field + ": cannot read " + what + " " + shown_path(path) + ": " + std::strerror(errno));
    std::string line;
    std::getline(in, line);
    if (in.bad()) return hc::fail(field + ": cannot read " + what + " " + shown_path(path));
    line = trim(line);
    if (line.empty())
      return hc::fail(field + ": " + what + " " + shown_path(path) + " is empty (expected " + content + " on its first line)");
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
      warn(what + " " + path + " is readable by other users; run chmod 600 " + path);
    return line;
  }

 private:
  std::vector<std::string>& warnings_;
  const AzureEnv& env_;
};

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

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

RelaySettings relay_settings_from(const hc::ConnectionString& cs) {
  RelaySettings r;
  r.endpoint = cs.endpoint.scheme + "://" + cs.endpoint.authority() + cs.endpoint.target();
  r.key_name = cs.key_name;
  r.key = cs.key;
  r.sas = cs.sas;
  r.entity_path = cs.entity_path;
  // As the .NET SDK's RelayConnectionStringBuilder: "Authentication=Managed Identity" selects managed identity.
  if (hc::iequals(cs.authentication, "Managed Identity") || hc::iequals(cs.authentication, "ManagedIdentity")) {
    r.auth_mode = "entra";
    r.entra.credential = "managed-identity";
  }
  return r;
}

void merge_relay_settings(RelaySettings& base, const RelaySettings& layer) {
  if (!layer.endpoint.empty()) base.endpoint = layer.endpoint;
  if (!layer.ca_file.empty()) base.ca_file = layer.ca_file;
  const bool key_kind = !layer.key_name.empty() || !layer.key.empty() || !layer.key_file.empty();
  const bool sas_kind = !layer.sas.empty();
  if (layer.no_auth) {
    base.key_name.clear();
    base.key.clear();
    base.key_file.clear();
    base.sas.clear();
    base.entity_path.clear();
    base.no_auth = true;
  }
  if (key_kind || sas_kind) {
    base.no_auth = false;
    if (layer.entity_path.empty()) base.entity_path.clear();
  }
  if (sas_kind) {
    base.key_name.clear();
    base.key.clear();
    base.key_file.clear();
    base.sas = layer.sas;
  }
  if (key_kind) base.sas.clear();
  if (!layer.key_name.empty()) base.key_name = layer.key_name;
  // key and key_file replace each other; a validated layer has both (the file's content is in key).
  if (!layer.key.empty() || !layer.key_file.empty()) {
    base.key = layer.key;
    base.key_file = layer.key_file;
  }
  if (!layer.entity_path.empty()) base.entity_path = layer.entity_path;
  // Authentication: a layer that picks SAS (or no token) drops the base's Entra choice, one that picks Entra drops
  // the base's SAS credentials; Entra values are taken one by one (a forward may change only the client id).
  if (key_kind || sas_kind || layer.no_auth) base.auth_mode.clear();
  const bool entra_kind = layer.auth_mode == "entra" || !layer.entra.empty();
  if (entra_kind && !key_kind && !sas_kind) {
    base.key_name.clear();
    base.key.clear();
    base.key_file.clear();
    base.sas.clear();
    base.no_auth = false;
  }
  if (!layer.auth_mode.empty()) base.auth_mode = layer.auth_mode;
  EntraSettings& e = base.entra;
  const EntraSettings& l = layer.entra;
  for (auto [to, from] : {std::pair{&e.credential, &l.credential}, {&e.tenant_id, &l.tenant_id},
                          {&e.client_id, &l.client_id}, {&e.authority_host, &l.authority_host},
                          {&e.certificate_file, &l.certificate_file}, {&e.assertion_algorithm, &l.assertion_algorithm},
                          {&e.federated_token_file, &l.federated_token_file},
                          {&e.arc_key_directory, &l.arc_key_directory}})
    if (!from->empty()) *to = *from;
  if (!l.client_secret_file.empty() || !l.client_secret.empty()) {
    e.client_secret_file = l.client_secret_file;
    e.client_secret = l.client_secret;
  }
}

const std::array<const char*, 10> kAzureEnvNames = {
    "AZURE_TENANT_ID",      "AZURE_CLIENT_ID",    "AZURE_CLIENT_SECRET",     "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",      "IMDS_ENDPOINT"};

bool uses_entra(const RelaySettings& r) {
  if (r.no_auth || r.auth_mode == "sas") return false;
  if (r.auth_mode == "entra") return true;
  if (has_credentials(r)) return false;
  if (!r.entra.empty()) return true;
  // No SAS and no explicit choice: Entra ID (as azbridge and the SDKs do), for every endpoint the user gave, loopback
  // included; unauthenticated access takes --no-auth. Only the built-in default (no endpoint given: the local hcrelay
  // hcbridge looks for) is reached without a token.
  return !is_default_endpoint(r.endpoint);
}

bool is_default_endpoint(const std::string& endpoint) {
  return endpoint.empty() || endpoint == kDefaultEndpoint;
}

RelaySettings effective_relay(const Config& config, const std::optional<RelaySettings>& forward_override) {
  RelaySettings r = config.relay;
  if (forward_override) merge_relay_settings(r, *forward_override);
  return r;
}

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

bool is_loopback_host(std::string_view host) {
  std::string h = hc::ascii_lower(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (!h.empty() && h.back() == '.') h.pop_back();
  if (h == "localhost") return true;
  if (h.size() > 10 && h.compare(h.size() - 10, 10, ".localhost") == 0) return true;
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) return a6.s6_addr[12] == 127;
  }
  return false;
}

// What local and remote forwards share: limits, their own relay settings, and the settings they end up using.
template <class Forward>
hc::Result<bool> check_forward_common(Validator& v, const Config& config, Forward& f, const std::string& label) {
  auto limits = check_forward_limits(f.max_connections, f.idle_timeout, label);
  if (!limits) return limits;
  if (f.relay) {
    auto layer = v.check_layer(*f.relay, label + ": relay", false);
    if (!layer) return layer;
  }
  return v.check_effective(effective_relay(config, f.relay), label, f.hc);
}

namespace {

// The proxy: its URL and bypass list (flags, file or environment) resolve, and its credentials file is read.
hc::Result<bool> check_proxy(Validator& v, Config& config) {
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
hc::Result<bool> check_settings(Validator& v, const Config& config) {
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

hc::Result<bool> check_local_forwards(Validator& v, Config& config) {
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

hc::Result<bool> check_http_target(Validator& v, HttpTarget& t, const std::string& label) {
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

hc::Result<bool> check_remote_forwards(Validator& v, Config& config) {
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
  Validator v(warnings, config.azure_env);
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

std::string local_forward_name(const Config& config, const LocalForward& forward) {
  const std::string base = "L:" + forward.hc;
  const auto first_binding = [](const LocalForward& f) {
    if (f.bindings.empty()) return std::string();
    const LocalBinding& b = f.bindings.front();
    if (b.protocol == Protocol::unix_socket) return "unix:" + b.socket_path;
    return net::host_for_url(b.bind_host) + ":" + std::to_string(b.port);
  };
  const auto shares_hc = std::count_if(config.local_forwards.begin(), config.local_forwards.end(),
                                       [&](const LocalForward& f) { return f.hc == forward.hc; });
  if (shares_hc < 2) return base;
  const std::string mine = first_binding(forward);
  std::size_t twins = 0, position = 0;
  for (const auto& f : config.local_forwards) {
    if (f.hc != forward.hc || first_binding(f) != mine) continue;
    ++twins;
    if (position == 0 && f.origin == forward.origin) position = twins;
  }
  return base + "@" + mine + (twins > 1 ? "#" + std::to_string(position) : std::string());
}

}  // namespace bridge
