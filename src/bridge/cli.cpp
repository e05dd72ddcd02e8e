#include "bridge/cli.hpp"

#include "bridge/config_file.hpp"
#include "bridge/forward_grammar.hpp"
#include "hc/connection_string.hpp"
#include "hc/url.hpp"

#include <CLI/CLI.hpp>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <cmath>
#include <cstdlib>
#include <exception>
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

Environment:
  HCBRIDGE_CONNECTION_STRING   connection string, used when -x is not given

Precedence: config file < -x (or HCBRIDGE_CONNECTION_STRING) < individual flags; -L/-T/-R add to the file's forwards.
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

RelaySettings from_connection_string(const hc::ConnectionString& cs) {
  RelaySettings r;
  r.endpoint = cs.endpoint.scheme + "://" + cs.endpoint.authority() + cs.endpoint.target();
  r.key_name = cs.key_name;
  r.key = cs.key;
  r.sas = cs.sas;
  r.entity_path = cs.entity_path;
  return r;
}

// ---- render_config ----

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void write_string(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_seconds(Writer& w, const char* key, Seconds s) {
  w.Key(key);
  const double v = s.count();
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15) {
    w.Int64(static_cast<int64_t>(v));
  } else {
    w.Double(v);
  }
}

void write_relay(Writer& w, const RelaySettings& r, bool global) {
  w.StartObject();
  if (!r.endpoint.empty()) write_string(w, "endpoint", r.endpoint);
  if (!r.key_name.empty()) write_string(w, "key_name", r.key_name);
  if (!r.key_file.empty()) {
    write_string(w, "key_file", r.key_file);
  } else if (!r.key.empty()) {
    write_string(w, "key", "***");
  }
  if (!r.sas.empty()) write_string(w, "sas", "***");
  if (!r.ca_file.empty()) write_string(w, "ca_file", r.ca_file);
  if (global || r.no_auth) {
    w.Key("no_auth");
    w.Bool(r.no_auth);
  }
  w.EndObject();
}

template <class Forward>
void write_forward_common(Writer& w, const Forward& f) {
  w.Key("raw");
  w.Bool(f.raw);
  if (f.relay) {
    w.Key("relay");
    write_relay(w, *f.relay, false);
  }
  if (f.max_connections) {
    w.Key("max_connections");
    w.Uint64(*f.max_connections);
  }
  if (f.idle_timeout) write_seconds(w, "idle_timeout", *f.idle_timeout);
}

// Replaces the value after each `marker` (up to ; & " whitespace) by ***.
void mask_after(std::string& text, const std::string& marker) {
  std::size_t pos = 0;
  while ((pos = text.find(marker, pos)) != std::string::npos) {
    const std::size_t start = pos + marker.size();
    std::size_t end = start;
    while (end < text.size() && text[end] != ';' && text[end] != '&' && text[end] != '"' && text[end] != ' ' &&
           text[end] != '\n')
      ++end;
    text.replace(start, end - start, "***");
    pos = start + 3;
  }
}

void mask_value(std::string& text, const std::string& secret) {
  if (secret.size() < 6) return;  // too short to find safely; never written anyway
  std::size_t pos = 0;
  while ((pos = text.find(secret, pos)) != std::string::npos) {
    text.replace(pos, secret.size(), "***");
    pos += 3;
  }
}

}  // namespace

std::string version_string() { return std::string("hcbridge ") + HCBRIDGE_VERSION; }

std::string render_config(const Config& c) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.SetIndent(' ', 2);
  w.StartObject();
  w.Key("relay");
  write_relay(w, c.relay, true);

  w.Key("local_forward");
  w.StartArray();
  for (const auto& f : c.local_forwards) {
    w.StartObject();
    write_string(w, "hc", f.hc);
    w.Key("bindings");
    w.StartArray();
    for (const auto& b : f.bindings) {
      w.StartObject();
      write_string(w, "address", b.bind_host);
      w.Key("port");
      w.Uint(b.port);
      write_string(w, "port_name", b.port_name);
      w.EndObject();
    }
    w.EndArray();
    write_forward_common(w, f);
    w.EndObject();
  }
  w.EndArray();

  w.Key("remote_forward");
  w.StartArray();
  for (const auto& f : c.remote_forwards) {
    w.StartObject();
    write_string(w, "hc", f.hc);
    w.Key("targets");
    w.StartArray();
    for (const auto& t : f.targets) {
      w.StartObject();
      write_string(w, "port_name", t.port_name);
      write_string(w, "host", t.host);
      w.Key("port");
      w.Uint(t.port);
      w.EndObject();
    }
    w.EndArray();
    write_forward_common(w, f);
    w.EndObject();
  }
  w.EndArray();

  write_seconds(w, "token_ttl", c.token_ttl);
  write_seconds(w, "keepalive", c.keepalive);
  write_seconds(w, "connect_timeout", c.connect_timeout);
  write_seconds(w, "preamble_timeout", c.preamble_timeout);
  write_seconds(w, "backoff_initial", c.backoff_initial);
  write_seconds(w, "backoff_max", c.backoff_max);
  write_seconds(w, "grace_period", c.grace_period);
  write_seconds(w, "idle_timeout", c.idle_timeout);
  w.Key("max_connections");
  w.Uint64(c.max_connections);
  w.Key("log");
  w.StartObject();
  write_string(w, "level", c.log_level);
  write_string(w, "format", c.log_format);
  w.EndObject();
  w.Key("admin");
  w.StartObject();
  write_string(w, "bind", c.admin_bind);
  w.EndObject();
  w.EndObject();

  std::string text = std::string(buffer.GetString(), buffer.GetSize()) + "\n";
  // Defence in depth: no secret value may survive, whatever field it ended up in.
  for (const char* marker : {"SharedAccessKey=", "SharedAccessSignature=", "SharedAccessSignature ", "sig="})
    mask_after(text, marker);
  std::vector<const RelaySettings*> relays{&c.relay};
  for (const auto& f : c.local_forwards)
    if (f.relay) relays.push_back(&*f.relay);
  for (const auto& f : c.remote_forwards)
    if (f.relay) relays.push_back(&*f.relay);
  for (const RelaySettings* r : relays) {
    mask_value(text, r->key);
    mask_value(text, r->sas);
  }
  return text;
}

CliOutcome parse_command_line(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  try {
    CLI::App app{"hcbridge - forward TCP ports through Azure Relay Hybrid Connections (azbridge-compatible)",
                 "hcbridge"};
    app.footer(kFooter);
    app.set_help_flag("-h,--help", "Print this help and exit");
    app.set_version_flag("--version", version_string(), "Print the version and exit");
    app.allow_extras();

    std::string config_path, connection_string, endpoint, key_name, key, key_file, sas, ca_file;
    std::string token_ttl, keepalive, connect_timeout, grace_period, idle_timeout, max_connections;
    std::string log_level, log_format, admin;
    std::vector<std::string> local_exprs, remote_exprs, legacy_exprs;
    bool no_auth = false;

    struct StringOption {
      CLI::Option* option;
      std::string* value;
    };
    std::vector<StringOption> strings;
    auto add = [&](const char* names, std::string& value, const char* help, const char* group) {
      CLI::Option* o = app.add_option(names, value, help)->group(group);
      strings.push_back({o, &value});
      return o;
    };
    const char* kRelay = "Relay";
    const char* kForward = "Forwarding";
    const char* kTuning = "Timeouts and limits";
    const char* kOps = "Logging and operations";
    add("-c,--config", config_path, "JSON config file (see docs/configuration.md)", "Configuration")->type_name("FILE");
    add("-x,--connection-string", connection_string,
        "Azure Relay connection string (default: $HCBRIDGE_CONNECTION_STRING)", kRelay)
        ->type_name("CONNSTR");
    add("-e,--endpoint", endpoint, "Relay endpoint: sb://NS.servicebus.windows.net/, wss://host[:port]/ or ws://...",
        kRelay)
        ->type_name("URI");
    add("-K,--key-name", key_name, "SAS rule name", kRelay)->type_name("NAME");
    add("-k,--key", key, "SAS key (prefer --key-file: command lines are visible to other users)", kRelay)
        ->type_name("KEY");
    add("--key-file", key_file, "File whose first line is the SAS key (chmod 600)", kRelay)->type_name("FILE");
    add("-s,--sas", sas, "Pre-issued SAS token (cannot be renewed)", kRelay)->type_name("TOKEN");
    add("--ca-file", ca_file, "PEM bundle to verify the relay's TLS certificate (default: system store)", kRelay)
        ->type_name("FILE");
    app.add_flag("--no-auth", no_auth, "Connect without a token (hybrid connections without client authorization)")
        ->group(kRelay);
    app.add_option("-L", local_exprs, "Local forward (sender): [bind_addr:]port[/port_name]{;more}:hc (repeatable)")
        ->type_name("EXPR")
        ->type_size(1)
        ->allow_extra_args(false)
        ->group(kForward);
    app.add_option("-T", remote_exprs, "Remote forward (listener): hc:[port_name/][host:]port{;more} (repeatable)")
        ->type_name("EXPR")
        ->type_size(1)
        ->allow_extra_args(false)
        ->group(kForward);
    app.add_option("-R", legacy_exprs, "Remote forward, azbridge's legacy order: hc:[host:][port_name/]port")
        ->type_name("EXPR")
        ->type_size(1)
        ->allow_extra_args(false)
        ->group(kForward);
    add("--token-ttl", token_ttl, "Lifetime of the tokens issued from the key, seconds (10-2592000; default 3600)",
        kTuning)
        ->type_name("S");
    add("--keepalive", keepalive, "Control-channel ping interval, seconds (1-3600; default 30)", kTuning)
        ->type_name("S");
    add("--connect-timeout", connect_timeout, "Relay and target connect timeout, seconds (default 20)", kTuning)
        ->type_name("S");
    add("--grace-period", grace_period, "How long open tunnels may drain on SIGTERM, seconds (default 10)", kTuning)
        ->type_name("S");
    add("--idle-timeout", idle_timeout, "Close tunnels idle this long, seconds (0 = never; default 0)", kTuning)
        ->type_name("S");
    add("--max-connections", max_connections, "Concurrent tunnels per forward (default 1024)", kTuning)->type_name("N");
    add("--log-level", log_level, "trace, debug, info, warn, error, critical or off (default info)", kOps)
        ->type_name("LEVEL");
    add("--log-format", log_format, "text or json (default text)", kOps)->type_name("FORMAT");
    add("--admin", admin, "Serve the admin endpoint on ADDR:PORT (default: off)", kOps)->type_name("ADDR:PORT");

    CLI::App* check = app.add_subcommand("check-config", "Validate the configuration, print it with secrets masked");
    check->fallthrough();
    check->allow_extras();
    app.require_subcommand(0, 1);

    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
      app.parse(reversed);
    } catch (const CLI::ParseError& e) {
      std::ostringstream out, err;
      const int rc = app.exit(e, out, err);
      if (rc == 0) {
        CliOutcome o;
        o.action = CliAction::exit;
        o.exit_code = kExitOk;
        o.out = out.str();
        return o;
      }
      return usage_error(e.what());
    }

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

    for (const auto& s : strings)
      if (s.option->count() > 0 && s.value->empty())
        return usage_error(s.option->get_name() + ": the value must not be empty");

    // 1. The config file.
    Config config;
    if (!config_path.empty()) {
      auto loaded = load_config_file(config_path);
      if (!loaded) return usage_error(loaded.error(), false);
      config = std::move(loaded.value());
    }

    // 2. The connection string: -x, else the environment.
    std::string cs_text = connection_string;
    std::string cs_source = "-x/--connection-string";
    if (cs_text.empty()) {
      const auto it = env.find(kEnvConnectionString);
      if (it != env.end() && !it->second.empty()) {
        cs_text = it->second;
        cs_source = kEnvConnectionString;
      }
    }
    if (!cs_text.empty()) {
      auto cs = hc::parse_connection_string(cs_text);  // its messages never contain the key or signature
      if (!cs) return usage_error(cs_source + ": " + cs.error(), cs_source != kEnvConnectionString);
      merge_relay_settings(config.relay, from_connection_string(cs.value()));
    }

    // 3. Individual flags.
    if (!key.empty() && !key_file.empty()) return usage_error("give either -k/--key or --key-file, not both");
    if (!sas.empty() && (!key.empty() || !key_file.empty() || !key_name.empty()))
      return usage_error("-s/--sas (a pre-issued token) cannot be combined with -K/--key-name, -k/--key or --key-file");
    if (no_auth && (!sas.empty() || !key.empty() || !key_file.empty() || !key_name.empty()))
      return usage_error("--no-auth cannot be combined with credentials (-K, -k, --key-file, -s)");
    RelaySettings flags;
    flags.endpoint = endpoint;
    flags.key_name = key_name;
    flags.key = key;
    flags.key_file = key_file;
    flags.sas = sas;
    flags.ca_file = ca_file;
    flags.no_auth = no_auth;
    merge_relay_settings(config.relay, flags);

    struct DurationFlag {
      const char* flag;
      const std::string* text;
      Seconds* target;
    };
    const DurationFlag durations[] = {{"--token-ttl", &token_ttl, &config.token_ttl},
                                      {"--keepalive", &keepalive, &config.keepalive},
                                      {"--connect-timeout", &connect_timeout, &config.connect_timeout},
                                      {"--grace-period", &grace_period, &config.grace_period},
                                      {"--idle-timeout", &idle_timeout, &config.idle_timeout}};
    for (const auto& d : durations) {
      if (d.text->empty()) continue;
      auto s = parse_seconds(d.flag, *d.text);
      if (!s) return usage_error(s.error());
      *d.target = s.value();
    }
    if (!max_connections.empty()) {
      auto n = parse_count("--max-connections", max_connections);
      if (!n) return usage_error(n.error());
      config.max_connections = n.value();
    }
    if (!log_level.empty()) config.log_level = log_level;
    if (!log_format.empty()) config.log_format = log_format;
    if (!admin.empty()) config.admin_bind = admin;

    // 4. Forwards from the command line, after the file's.
    for (const auto& expr : local_exprs) {
      auto f = parse_local_forward(expr);
      if (!f) return usage_error("-L " + f.error());
      f->origin = "-L " + hc::quote_for_message(expr, 120);
      config.local_forwards.push_back(std::move(f.value()));
    }
    for (const auto& expr : remote_exprs) {
      auto f = parse_remote_forward(expr);
      if (!f) return usage_error("-T " + f.error());
      f->origin = "-T " + hc::quote_for_message(expr, 120);
      config.remote_forwards.push_back(std::move(f.value()));
    }
    for (const auto& expr : legacy_exprs) {
      auto f = parse_legacy_remote_forward(expr);
      if (!f) return usage_error("-R " + f.error());
      f->origin = "-R " + hc::quote_for_message(expr, 120);
      config.remote_forwards.push_back(std::move(f.value()));
    }

    // 5. Validate.
    CliOutcome outcome;
    auto valid = validate_config(config, outcome.warnings);
    if (!valid) {
      CliOutcome o = usage_error(valid.error(), false);
      o.warnings = std::move(outcome.warnings);
      return o;
    }
    outcome.config = std::move(config);
    if (check->parsed()) {
      outcome.action = CliAction::check_config;
      outcome.exit_code = kExitOk;
      outcome.out = render_config(outcome.config);
    } else {
      outcome.action = CliAction::run;
      outcome.exit_code = kExitOk;
    }
    return outcome;
  } catch (const std::exception& e) {
    CliOutcome o;
    o.action = CliAction::exit;
    o.exit_code = kExitFatal;
    o.err = std::string("hcbridge: internal error while reading the configuration: ") + e.what() + "\n";
    return o;
  }
}

}  // namespace bridge
