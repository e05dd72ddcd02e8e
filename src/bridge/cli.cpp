#include "bridge/cli.hpp"

#include "bridge/config_file.hpp"
#include "bridge/forward_grammar.hpp"
#include "bridge/http_forward_grammar.hpp"
#include "bridge/proxy_settings.hpp"
#include "hc/connection_string.hpp"
#include "hc/url.hpp"
#include "net/no_proxy.hpp"
#include "net/proxy_url.hpp"

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <optional>
#include <sstream>

#ifndef HCBRIDGE_VERSION
#define HCBRIDGE_VERSION "0.1.0"
#endif

namespace bridge {

namespace {

constexpr const char* kUsageHint = "Run 'hcbridge --help' for usage.\n";
constexpr const char* kEnvConnectionString = "HCBRIDGE_CONNECTION_STRING";

constexpr const char* kFooter = R"(Forwarding expressions (azbridge grammar; IPv6 addresses in brackets):
  -L [bind_addr:]port[/port_name]{;more}:hc
       accept TCP on bind_addr:port (default 127.0.0.1; '*' = all IPv4) and forward each connection over the
       hybrid connection hc; port_name (default: the port number) selects the target on the listener side.
       e.g. -L 8080:web   -L "127.0.0.1:1433/sql;[::1]:1433/sql:db"
  -T hc:[port_name/][host:]port{;more}
       listen on hc and connect each stream to host:port (default host localhost), chosen by port name.
       e.g. -T web:80   -T "db:sql/10.0.0.5:1433;metrics/9100"
  -R hc:[host:][port_name/]port   (azbridge's legacy order of -T)
  -L [port_name/]unix:PATH:hc   -T hc:[port_name/]unix:PATH
       a Unix stream socket instead of a TCP port (absolute or relative PATH; port_name defaults to PATH as
       written); -L creates the socket with mode 0660 and replaces a stale socket file, never any other file.
       e.g. -L unix:/run/app/app.sock:app   -T "app:api/unix:/run/app/api.sock"
  a U after a port number makes it UDP (azbridge's datagram framing; default port_name: the number and U)
       e.g. -L 5353U:dns   -T dns:53U   -T "dns:5353U/10.0.0.2:53U;web/80"
  -H hc:{http|https}/host[/base/path][:port]
       answer the HTTP requests sent to hc (HC's HTTP request mode) from that web server.
       e.g. -H web:http/localhost:8080   -H api:https/app.internal/v1:8443
  -L http:[bind_addr:]port:hc
       a local plain-HTTP entrance: each request goes to hc as an HC HTTP request, with the relay token added.
       e.g. -L http:8080:web

Environment:
  HCBRIDGE_CONNECTION_STRING   connection string, used when -x is not given
  https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY   HTTP proxy for relay dials, when --proxy is not given
  no_proxy, NO_PROXY           hosts dialled directly, when --no-proxy is not given
  AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE,
  AZURE_AUTHORITY_HOST, IDENTITY_ENDPOINT, IDENTITY_HEADER, IMDS_ENDPOINT
                               the Entra ID credential, read as the Azure SDKs read them, when an endpoint has no SAS
                               key (see docs/configuration.md, "Microsoft Entra ID instead of SAS keys")

Precedence: config file < -x (or HCBRIDGE_CONNECTION_STRING) < individual flags; -L/-T/-R/-H add to the file's forwards.
Exit codes: 0 clean exit, 1 fatal error, 2 bad usage or configuration.
See docs/configuration.md for the config file.)";

bool looks_harmless(std::string_view s) {
  if (s.empty() || s.size() > 40) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.' || c == ':' || c == ';' || c == '[' || c == ']' || c == '*'))
      return false;
  return true;
}

// An unexpected argument as it may be shown: options up to any '=', plain words; anything else could be a secret
// (a key given without its -k), so it is not echoed.
std::string describe_extra(const std::string& arg) {
  if (arg == "--") return "unexpected '--' (hcbridge takes no positional arguments)";
  if (arg.size() > 1 && arg.front() == '-') {
    // "-zVALUE" is a short option with its value attached: show only "-z". "--name=VALUE": show only "--name".
    const std::string name = arg[1] != '-' ? arg.substr(0, 2) : arg.substr(0, arg.find('='));
    const std::size_t first = name.find_first_not_of('-');
    if (first != std::string::npos && looks_harmless(name.substr(first))) return "unknown option '" + name + "'";
    return "an unknown option (not shown)";
  }
  if (looks_harmless(arg)) return "unexpected argument '" + arg + "'";
  return "an unexpected argument (not shown: it may be a secret; did you forget the option before it?)";
}

CliOutcome usage_error(const std::string& message, bool hint = true) {
  CliOutcome o;
  o.action = CliAction::exit;
  o.exit_code = kExitUsage;
  o.err = "hcbridge: " + message + "\n" + (hint ? kUsageHint : "");
  return o;
}

hc::Result<Seconds> parse_seconds(const std::string& flag, const std::string& text) {
  const std::string msg = flag + ": expected a number of seconds, got " + hc::quote_for_message(text);
  if (text.empty() || text.find_first_of(" \t\n") != std::string::npos) return hc::fail(msg);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == nullptr || *end != '\0' || !std::isfinite(v)) return hc::fail(msg);
  return Seconds(v);
}

hc::Result<std::size_t> parse_count(const std::string& flag, const std::string& text) {
  const std::string msg = flag + ": expected a whole number from 1 to " + std::to_string(kMaxConnectionsLimit) +
                          ", got " + hc::quote_for_message(text);
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
    return hc::fail(msg);
  const unsigned long v = std::stoul(text);
  if (v < 1 || v > kMaxConnectionsLimit) return hc::fail(msg);
  return static_cast<std::size_t>(v);
}

// ---- parse_command_line, step by step ----

// Every option's value as given (text: checked and converted after parsing, so messages are ours, not CLI11's).
struct CliValues {
  std::string config_path, connection_string, endpoint, key_name, key, key_file, sas, ca_file;
  std::string token_ttl, keepalive, connect_timeout, grace_period, idle_timeout, max_connections;
  std::string log_level, log_format, admin;
  std::string proxy, no_proxy, proxy_credentials_file;
  std::vector<std::string> local_exprs, remote_exprs, legacy_exprs, http_exprs;
  bool no_auth = false;
  std::string auth_mode;

  struct StringOption {
    CLI::Option* option;
    std::string* value;
  };
  std::vector<StringOption> strings;  // string options; given with an empty value is an error
};

// Adds a string option and remembers it for the empty-value check.
struct OptionAdder {
  CLI::App& app;
  std::vector<CliValues::StringOption>& strings;

  CLI::Option* operator()(const char* names, std::string& value, const char* help, const char* group) const {
    CLI::Option* o = app.add_option(names, value, help)->group(group);
    strings.push_back({o, &value});
    return o;
  }
};

constexpr const char* kRelayGroup = "Relay";
constexpr const char* kForwardGroup = "Forwarding";
constexpr const char* kTuningGroup = "Timeouts and limits";
constexpr const char* kOpsGroup = "Logging and operations";
constexpr const char* kProxyGroup = "Proxy";

// One string option as a row: its names, where its value goes, its help, its help group and the value's name there.
struct StringOptionRow {
  const char* names;
  std::string CliValues::*value;
  const char* help;
  const char* group;
  const char* type_name;
};

void add_string_options(const OptionAdder& add, CliValues& v, std::initializer_list<StringOptionRow> rows) {
  for (const auto& r : rows) add(r.names, v.*r.value, r.help, r.group)->type_name(r.type_name);
}

void add_relay_options(CLI::App& app, const OptionAdder& add, CliValues& v) {
  add_string_options(
      add, v,
      {{"-c,--config", &CliValues::config_path, "JSON config file (see docs/configuration.md)", "Configuration", "FILE"},
       {"-x,--connection-string", &CliValues::connection_string,
        "Azure Relay connection string (default: $HCBRIDGE_CONNECTION_STRING)", kRelayGroup, "CONNSTR"},
       {"-e,--endpoint", &CliValues::endpoint,
        "Relay endpoint: sb://NS.servicebus.windows.net/, wss://host[:port]/ or ws://...", kRelayGroup, "URI"},
       {"-K,--key-name", &CliValues::key_name, "SAS rule name", kRelayGroup, "NAME"},
       {"-k,--key", &CliValues::key, "SAS key (prefer --key-file: command lines are visible to other users)",
        kRelayGroup, "KEY"},
       {"--key-file", &CliValues::key_file, "File whose first line is the SAS key (chmod 600)", kRelayGroup, "FILE"},
       {"-s,--sas", &CliValues::sas, "Pre-issued SAS token (cannot be renewed)", kRelayGroup, "TOKEN"},
       {"--ca-file", &CliValues::ca_file, "PEM bundle to verify the relay's TLS certificate (default: system store)",
        kRelayGroup, "FILE"},
       {"--auth", &CliValues::auth_mode,
        "sas or entra (default: SAS with a key or token; without one, Entra ID for any endpoint but the built-in one)",
        kRelayGroup, "MODE"}});
  app.add_flag("--no-auth", v.no_auth, "Connect without a token (hybrid connections without client authorization)")
      ->group(kRelayGroup);
}

void add_proxy_options(const OptionAdder& add, CliValues& v) {
  add_string_options(
      add, v,
      {{"--proxy", &CliValues::proxy,
        "HTTP proxy for relay dials: http://[user:password@]host[:port], or none (default: $HTTPS_PROXY...)",
        kProxyGroup, "URL"},
       {"--no-proxy", &CliValues::no_proxy,
        "Hosts dialled directly: host, .domain, *.domain, CIDR, host:port, * (default: $NO_PROXY)", kProxyGroup,
        "LIST"},
       {"--proxy-credentials-file", &CliValues::proxy_credentials_file,
        "File whose first line is the proxy's user:password", kProxyGroup, "FILE"}});
}

void add_forward_option(CLI::App& app, const char* name, std::vector<std::string>& exprs, const char* help) {
  app.add_option(name, exprs, help)->type_name("EXPR")->type_size(1)->allow_extra_args(false)->group(kForwardGroup);
}

void add_forward_options(CLI::App& app, CliValues& v) {
  add_forward_option(app, "-L", v.local_exprs,
                     "Local forward (sender): [bind_addr:]port[/port_name]{;more}:hc (repeatable)");
  add_forward_option(app, "-T", v.remote_exprs,
                     "Remote forward (listener): hc:[port_name/][host:]port{;more} (repeatable)");
  add_forward_option(app, "-R", v.legacy_exprs, "Remote forward, azbridge's legacy order: hc:[host:][port_name/]port");
  add_forward_option(app, "-H", v.http_exprs,
                     "Publish a web server (HTTP requests to the hc): hc:{http|https}/host[/base/path][:port] (repeatable)");
}

void add_tuning_options(const OptionAdder& add, CliValues& v) {
  add_string_options(
      add, v,
      {{"--token-ttl", &CliValues::token_ttl,
        "Lifetime of the tokens issued from the key, seconds (10-2592000; default 3600)", kTuningGroup, "S"},
       {"--keepalive", &CliValues::keepalive,
        "Control-channel ping interval; quiet tunnels send a keep-alive frame as often, seconds (1-3600; default 30)",
        kTuningGroup, "S"},
       {"--connect-timeout", &CliValues::connect_timeout, "Relay and target connect timeout, seconds (default 20)",
        kTuningGroup, "S"},
       {"--grace-period", &CliValues::grace_period, "How long open tunnels may drain on SIGTERM, seconds (default 10)",
        kTuningGroup, "S"},
       {"--idle-timeout", &CliValues::idle_timeout, "Close tunnels idle this long, seconds (0 = never; default 0)",
        kTuningGroup, "S"},
       {"--max-connections", &CliValues::max_connections, "Concurrent tunnels per forward (default 1024)",
        kTuningGroup, "N"},
       {"--log-level", &CliValues::log_level, "trace, debug, info, warn, error, critical or off (default info)",
        kOpsGroup, "LEVEL"},
       {"--log-format", &CliValues::log_format, "text or json (default text)", kOpsGroup, "FORMAT"},
       {"--admin", &CliValues::admin, "Serve the admin endpoint on ADDR:PORT (default: off)", kOpsGroup,
        "ADDR:PORT"}});
}

// Runs CLI11; an outcome when parsing ends the program (help, version, a usage error).
std::optional<CliOutcome> parse_arguments(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    const int rc = app.exit(e, out, err);
    if (rc != 0) return usage_error(e.what());
    CliOutcome o;
    o.action = CliAction::exit;
    o.exit_code = kExitOk;
    o.out = out.str();
    return o;
  }
  return std::nullopt;
}

// Leftover arguments and empty values are usage errors.
std::optional<CliOutcome> check_values(CLI::App& app, const CliValues& values) {
  std::vector<std::string> extras = app.remaining(true);
  if (!extras.empty()) {
    const std::string& first = extras.front();
    if (first == "check-config") return usage_error("check-config is given twice");
    if (!first.empty() && first.front() != '-' && looks_harmless(first)) {
      if (first.find(':') != std::string::npos)
        return usage_error("unexpected argument '" + first +
                           "' (each forwarding expression needs its own -L, -T or -R before it)");
      return usage_error("unknown command or argument '" + first + "' (the only command is check-config)");
    }
    return usage_error(describe_extra(first));
  }
  for (const auto& s : values.strings)
    if (s.option->count() > 0 && s.value->empty())
      return usage_error(s.option->get_name() + ": the value must not be empty");
  return std::nullopt;
}

// The connection string: -x, else the environment.
std::optional<CliOutcome> apply_connection_string(const CliValues& v, const std::map<std::string, std::string>& env,
                                                  Config& config) {
  std::string cs_text = v.connection_string;
  std::string cs_source = "-x/--connection-string";
  if (cs_text.empty()) {
    const auto it = env.find(kEnvConnectionString);
    if (it != env.end() && !it->second.empty()) {
      cs_text = it->second;
      cs_source = kEnvConnectionString;
    }
  }
  if (cs_text.empty()) return std::nullopt;
  auto cs = hc::parse_connection_string(cs_text);  // its messages never contain the key or signature
  if (!cs) return usage_error(cs_source + ": " + cs.error(), cs_source != kEnvConnectionString);
  merge_relay_settings(config.relay, relay_settings_from(cs.value()));
  return std::nullopt;
}

std::optional<CliOutcome> apply_relay_flags(const CliValues& v, Config& config) {
  if (!v.key.empty() && !v.key_file.empty()) return usage_error("give either -k/--key or --key-file, not both");
  if (!v.sas.empty() && (!v.key.empty() || !v.key_file.empty() || !v.key_name.empty()))
    return usage_error("-s/--sas (a pre-issued token) cannot be combined with -K/--key-name, -k/--key or --key-file");
  if (v.no_auth && (!v.sas.empty() || !v.key.empty() || !v.key_file.empty() || !v.key_name.empty()))
    return usage_error("--no-auth cannot be combined with credentials (-K, -k, --key-file, -s)");
  if (!v.auth_mode.empty() && v.auth_mode != "sas" && v.auth_mode != "entra")
    return usage_error("--auth must be sas or entra");
  if (v.no_auth && !v.auth_mode.empty()) return usage_error("--no-auth cannot be combined with --auth");
  RelaySettings flags;
  flags.endpoint = v.endpoint;
  flags.key_name = v.key_name;
  flags.key = v.key;
  flags.key_file = v.key_file;
  flags.sas = v.sas;
  flags.ca_file = v.ca_file;
  flags.no_auth = v.no_auth;
  flags.auth_mode = v.auth_mode;
  merge_relay_settings(config.relay, flags);
  return std::nullopt;
}

std::optional<CliOutcome> apply_tuning_flags(const CliValues& v, Config& config) {
  struct DurationFlag {
    const char* flag;
    const std::string* text;
    Seconds* target;
  };
  const DurationFlag durations[] = {{"--token-ttl", &v.token_ttl, &config.token_ttl},
                                    {"--keepalive", &v.keepalive, &config.keepalive},
                                    {"--connect-timeout", &v.connect_timeout, &config.connect_timeout},
                                    {"--grace-period", &v.grace_period, &config.grace_period},
                                    {"--idle-timeout", &v.idle_timeout, &config.idle_timeout}};
  for (const auto& d : durations) {
    if (d.text->empty()) continue;
    auto s = parse_seconds(d.flag, *d.text);
    if (!s) return usage_error(s.error());
    *d.target = s.value();
  }
  if (!v.max_connections.empty()) {
    auto n = parse_count("--max-connections", v.max_connections);
    if (!n) return usage_error(n.error());
    config.max_connections = n.value();
  }
  if (!v.log_level.empty()) config.log_level = v.log_level;
  if (!v.log_format.empty()) config.log_format = v.log_format;
  if (!v.admin.empty()) config.admin_bind = v.admin;
  return std::nullopt;
}

// Proxy flags over the file's proxy section; the proxy variables of the environment are kept with the config, so that
// check-config, the start and every reload resolve the same policy.
std::optional<CliOutcome> apply_proxy_flags(const CliValues& v, const std::map<std::string, std::string>& env,
                                            Config& config) {
  if (!v.proxy.empty()) {
    if (!hc::iequals(v.proxy, "none"))
      if (auto url = net::parse_proxy_url(v.proxy); !url) return usage_error("--proxy: " + url.error());
    config.proxy.url = v.proxy;
  }
  if (!v.no_proxy.empty()) {
    if (auto list = net::NoProxy::parse(v.no_proxy); !list) return usage_error("--no-proxy: " + list.error());
    config.proxy.no_proxy = v.no_proxy;
  }
  if (!v.proxy_credentials_file.empty()) config.proxy.credentials_file = v.proxy_credentials_file;
  for (const char* name : kProxyEnvironment)
    if (const auto it = env.find(name); it != env.end()) config.proxy.env[name] = it->second;
  // The Entra credentials' variables, kept with the config like the proxy's.
  for (const char* name : kAzureEnvNames)
    if (const auto it = env.find(name); it != env.end()) config.azure_env[name] = it->second;
  return std::nullopt;
}

// Forwards from the command line, after the file's; `flag` names the option in messages and origins.
template <class Forward>
std::optional<CliOutcome> append_forwards(const std::vector<std::string>& exprs, const char* flag,
                                          hc::Result<Forward> (*parse)(std::string_view),
                                          std::vector<Forward>& out) {
  for (const auto& expr : exprs) {
    auto f = parse(expr);
    if (!f) return usage_error(std::string(flag) + " " + f.error());
    f->origin = std::string(flag) + " " + hc::quote_for_message(expr, 120);
    out.push_back(std::move(f.value()));
  }
  return std::nullopt;
}

// Config file < connection string < individual flags; -L/-T/-R/-H appended to the file's forwards.
std::optional<CliOutcome> build_config(const CliValues& v, const std::map<std::string, std::string>& env,
                                       Config& config) {
  if (!v.config_path.empty()) {
    auto loaded = load_config_file(v.config_path);
    if (!loaded) return usage_error(loaded.error(), false);
    config = std::move(loaded.value());
  }
  if (auto bad = apply_connection_string(v, env, config)) return bad;
  if (auto bad = apply_relay_flags(v, config)) return bad;
  if (auto bad = apply_tuning_flags(v, config)) return bad;
  if (auto bad = apply_proxy_flags(v, env, config)) return bad;
  if (auto bad = append_forwards(v.local_exprs, "-L", parse_local_forward, config.local_forwards)) return bad;
  if (auto bad = append_forwards(v.remote_exprs, "-T", parse_remote_forward, config.remote_forwards)) return bad;
  if (auto bad = append_forwards(v.legacy_exprs, "-R", parse_legacy_remote_forward, config.remote_forwards)) return bad;
  return append_forwards(v.http_exprs, "-H", parse_http_forward, config.remote_forwards);
}

CliOutcome validated(Config config, bool check_config) {
  CliOutcome outcome;
  auto valid = validate_config(config, outcome.warnings);
  if (!valid) {
    CliOutcome o = usage_error(valid.error(), false);
    o.warnings = std::move(outcome.warnings);
    return o;
  }
  outcome.config = std::move(config);
  outcome.exit_code = kExitOk;
  if (check_config) {
    outcome.action = CliAction::check_config;
    outcome.out = render_config(outcome.config);
    outcome.err = describe_proxy_routes(outcome.config) + describe_authentication(outcome.config);
  } else {
    outcome.action = CliAction::run;
  }
  return outcome;
}

}  // namespace

std::string version_string() { return std::string("hcbridge ") + HCBRIDGE_VERSION; }

CliOutcome parse_command_line(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  try {
    CLI::App app{"hcbridge - forward TCP and UDP ports, Unix sockets and web servers through Azure Relay Hybrid "
                 "Connections (azbridge-compatible)",
                 "hcbridge"};
    app.footer(kFooter);
    app.set_help_flag("-h,--help", "Print this help and exit");
    app.set_version_flag("--version", version_string(), "Print the version and exit");
    app.allow_extras();
    CliValues values;
    OptionAdder add{app, values.strings};
    add_relay_options(app, add, values);
    add_forward_options(app, values);
    add_tuning_options(add, values);
    add_proxy_options(add, values);
    CLI::App* check = app.add_subcommand("check-config", "Validate the configuration, print it with secrets masked");
    check->fallthrough();
    check->allow_extras();
    app.require_subcommand(0, 1);

    if (auto stop = parse_arguments(app, args)) return std::move(*stop);
    if (auto bad = check_values(app, values)) return std::move(*bad);
    Config config;
    if (auto bad = build_config(values, env, config)) return std::move(*bad);
    return validated(std::move(config), check->parsed());
  } catch (const std::exception& e) {
    CliOutcome o;
    o.action = CliAction::exit;
    o.exit_code = kExitFatal;
    o.err = std::string("hcbridge: internal error while reading the configuration: ") + e.what() + "\n";
    return o;
  }
}

}  // namespace bridge
