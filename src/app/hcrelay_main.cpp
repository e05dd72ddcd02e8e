// hcrelay: a local Azure Relay Hybrid Connections service for development, tests and self-hosting.
#include "net/address.hpp"
#include "ops/fd_limit.hpp"
#include "ops/logging.hpp"
#include "relay/entra_auth.hpp"
#include "relay/fault_control.hpp"
#include "relay/fault_injector.hpp"
#include "relay/relay_server.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <cstdio>
#include <iostream>
#include <optional>

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFatal = 1;
constexpr int kExitUsage = 2;

int usage_error(const std::string& message) {
  std::cerr << "hcrelay: " << message << "\nRun 'hcrelay --help' for usage.\n";
  return kExitUsage;
}

// What the command line says, as given (checked and turned into a RelayConfig by build_config).
struct Options {
  std::string bind = "127.0.0.1:9350";  // where hcbridge looks when no relay is configured
  std::string tls_cert, tls_key, log_level = "info", log_format = "text";
  std::vector<std::string> sas;
  std::string sas_file;
  bool no_auth = false;
  std::string entra_jwks, entra_roles;
  double accept_timeout = 30;
  std::string fault_control;
  std::size_t max_connections = relay::RelayConfig{}.max_connections;
  double handshake_timeout = 10;
  double listener_ping = 30;
  std::size_t max_queued_accepts = relay::RelayConfig{}.max_queued_accepts;
  double request_timeout = 60;
  double http_idle_timeout = 60;
  double idle_timeout = 0;
  std::string http_path = "auto";
};

void add_options(CLI::App& app, Options& o) {
  app.add_option("--bind", o.bind, "Address to listen on, ADDR:PORT (port 0 picks a free port); the default is where hcbridge looks when no endpoint is configured")->capture_default_str();
  app.add_option("--tls-cert", o.tls_cert, "TLS certificate chain (PEM); without it the relay speaks plain ws://");
  app.add_option("--tls-key", o.tls_key, "TLS private key (PEM)");
  app.add_option("--sas", o.sas, "Accepted SAS rule as NAME=KEY (repeatable; also $HCRELAY_SAS)");
  app.add_option("--sas-file", o.sas_file, "File with one NAME=KEY per line (keeps keys off the command line)");
  app.add_flag("--no-auth", o.no_auth, "Accept every client without a token");
  app.add_option("--entra-jwks", o.entra_jwks,
                 "Entra ID: JSON Web Key Set of the token issuer (RS256 keys); tokens that are not SAS are verified as JWTs");
  app.add_option("--entra-roles", o.entra_roles,
                 "Entra ID: tenant and role assignments (Listener/Sender/Owner per object id, on the namespace or one HC)");
  app.add_option("--accept-timeout", o.accept_timeout, "Seconds a sender waits for the listener to accept")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--fault-control", o.fault_control,
                 "TESTS ONLY: serve fault-injection commands on this loopback ADDR:PORT (docs/testing.md); never in production");
  app.add_option("--max-connections", o.max_connections,
                 "Connections held at once (handshakes, waiting senders, listeners, tunnel sides); more are closed at once")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  app.add_option("--handshake-timeout", o.handshake_timeout, "Seconds a new connection has to finish TLS and its HTTP request")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--listener-ping", o.listener_ping,
                 "Seconds between pings to each listener; one that has not answered by the next ping is closed "
                 "with 1008 (0: no pings)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--max-queued-accepts", o.max_queued_accepts,
                 "Unanswered accepts one listener may hold; a listener at the cap is skipped, and a sender whose "
                 "listeners are all at it gets 404")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
  app.add_option("--request-timeout", o.request_timeout,
                 "Seconds an HTTP sender waits for the listener's response before 504 (the service uses 60)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--idle-timeout", o.idle_timeout,
                 "Seconds of silence after which a control channel or tunnel side is dropped without a close frame, "
                 "as the path to Azure Relay drops idle flows after ~240 s (0: never)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--http-idle-timeout", o.http_idle_timeout,
                 "Seconds an HTTP sender's kept-alive connection may wait for its next request before it is closed "
                 "(0: every answer carries Connection: close)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--http-path", o.http_path,
                 "How HTTP requests reach listeners: auto (control channel when small, else a rendezvous); control or "
                 "rendezvous force one (tests)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "control", "rendezvous"}));
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, critical, off")->capture_default_str();
  app.add_option("--log-format", o.log_format, "text or json")->capture_default_str();
  app.set_version_flag("--version", std::string("hcrelay 0.1.0"));
}

std::chrono::milliseconds millis(double seconds) { return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)); }

// Appends the NAME=KEY lines of --sas-file to `sas`; the usage error when the file is unreadable or malformed.
std::optional<std::string> read_sas_file(const std::string& file, std::vector<std::string>& sas) {
  std::ifstream in(file);
  if (!in) return "--sas-file '" + file + "' cannot be read";
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line.find('=') == std::string::npos)
      return "--sas-file '" + file + "' line " + std::to_string(number) + ": expected NAME=KEY";
    sas.push_back(line);
  }
  return std::nullopt;
}

// The SAS rules from --sas, $HCRELAY_SAS and --sas-file; the usage error when one is malformed or there is none.
std::optional<std::string> read_keys(Options& o, relay::RelayConfig& config) {
  if (const char* env = std::getenv("HCRELAY_SAS"); env && *env) o.sas.emplace_back(env);
  if (!o.sas_file.empty())
    if (auto error = read_sas_file(o.sas_file, o.sas)) return error;
  for (const auto& s : o.sas) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size()) return "--sas expects NAME=KEY with both parts non-empty";
    config.keys[s.substr(0, eq)] = s.substr(eq + 1);
  }
  if (o.entra_jwks.empty() != o.entra_roles.empty()) return "--entra-jwks and --entra-roles must be given together";
  if (!o.entra_jwks.empty()) {
    auto entra = relay::load_entra_auth(o.entra_jwks, o.entra_roles);
    if (!entra) return entra.error();
    config.entra = entra.value();
  }
  if (config.keys.empty() && !config.entra && !o.no_auth)
    return "give at least one --sas NAME=KEY, --entra-jwks with --entra-roles, or --no-auth";
  return std::nullopt;
}

// The relay's configuration from the options; the usage error when they do not make one.
std::optional<std::string> build_config(Options& o, relay::RelayConfig& config) {
  auto hp = net::parse_host_port(o.bind, true);
  if (!hp) return "--bind " + hp.error();
  std::error_code ec;
  const auto address = asio::ip::make_address(hp->host, ec);
  if (ec) return "--bind '" + o.bind + "': the host must be an IP address";
  config.endpoint = asio::ip::tcp::endpoint(address, hp->port);
  config.tls_cert = o.tls_cert;
  config.tls_key = o.tls_key;
  config.no_auth = o.no_auth;
  config.accept_timeout = millis(o.accept_timeout);
  config.max_connections = o.max_connections;
  config.handshake_timeout = millis(o.handshake_timeout);
  config.listener_ping = millis(o.listener_ping);
  config.max_queued_accepts = o.max_queued_accepts;
  config.request_timeout = millis(o.request_timeout);
  config.http_idle_timeout = millis(o.http_idle_timeout);
  config.idle_timeout = millis(o.idle_timeout);
  config.http_path = o.http_path == "control"      ? relay::RelayConfig::HttpPath::control
                     : o.http_path == "rendezvous" ? relay::RelayConfig::HttpPath::rendezvous
                                                   : relay::RelayConfig::HttpPath::automatic;
  if (auto error = read_keys(o, config)) return error;
  if (o.tls_cert.empty() != o.tls_key.empty()) return "--tls-cert and --tls-key must be given together";
  return std::nullopt;
}

// --fault-control: the test-only switchboard, on a loopback address only.
struct FaultSwitches {
  std::shared_ptr<relay::FaultInjector> injector;
  std::unique_ptr<relay::FaultControl> control;
};

// Starts the fault control when asked for; an exit code when that fails.
std::optional<int> start_fault_control(asio::io_context& io, relay::RelayServer& server, const std::string& where,
                                       FaultSwitches& out) {
  auto hp = net::parse_host_port(where, true);
  if (!hp) return usage_error("--fault-control " + hp.error());
  std::error_code ec;
  const auto address = asio::ip::make_address(hp->host, ec);
  if (ec) return usage_error("--fault-control '" + where + "': the host must be an IP address");
  if (!address.is_loopback())
    return usage_error("--fault-control must be a loopback address (127.0.0.1 or [::1]), got '" + where + "'");
  out.injector = std::make_shared<relay::FaultInjector>(server);
  server.set_fault_plan(out.injector);
  out.control = std::make_unique<relay::FaultControl>(io, server, *out.injector, asio::ip::tcp::endpoint(address, hp->port));
  auto started = out.control->start();
  if (!started) {
    spdlog::critical("hcrelay: {}", started.error());
    return kExitFatal;
  }
  spdlog::warn("hcrelay: FAULT CONTROL ENABLED on http://{}:{}/faults: this relay misbehaves on request; for tests only, "
               "never in production",
               net::host_for_url(started->address().to_string()), started->port());
  return std::nullopt;
}

void announce(const relay::RelayServer& server, const relay::RelayConfig& config, const asio::ip::tcp::endpoint& ep) {
  const std::string host = net::host_for_url(ep.address().to_string());
  // Tests and scripts read this line to learn the port; it goes to stdout, the logs go to stderr.
  std::printf("hcrelay listening on %s://%s:%u\n", server.tls() ? "wss" : "ws", host.c_str(), ep.port());
  std::fflush(stdout);
  spdlog::info("hcrelay listening on {}://{}:{} ({})", server.tls() ? "wss" : "ws", host, ep.port(),
               config.no_auth ? "no authentication"
                              : std::to_string(config.keys.size()) + " SAS rule(s)" +
                                    (config.entra ? ", Entra ID tokens of tenant " + config.entra->roles.tenant_id : ""));
}

// SIGINT/SIGTERM: stop the relay, give peers a few seconds to answer our close frames, then end the loop regardless.
class GracefulStop {
 public:
  GracefulStop(asio::io_context& io, relay::RelayServer& server, relay::FaultControl* faults)
      : io_(io), server_(server), faults_(faults), signals_(io, SIGINT, SIGTERM), deadline_(io) {}

  void arm() {
    signals_.async_wait([this](std::error_code ec, int signo) {
      if (ec) return;
      spdlog::info("hcrelay: signal {}, shutting down", signo);
      if (faults_) faults_->stop();
      server_.stop();
      give_up_ = std::chrono::steady_clock::now() + std::chrono::seconds(6);
      check();
    });
  }

 private:
  void check() {
    if (server_.idle() || std::chrono::steady_clock::now() >= give_up_) return io_.stop();
    deadline_.expires_after(std::chrono::milliseconds(50));
    deadline_.async_wait([this](std::error_code ec) {
      if (!ec) check();
    });
  }

  asio::io_context& io_;
  relay::RelayServer& server_;
  relay::FaultControl* faults_;
  asio::signal_set signals_;
  asio::steady_timer deadline_;
  std::chrono::steady_clock::time_point give_up_;
};

}  // namespace

int main(int argc, char** argv) {
  // As in hcbridge: a vanished log reader makes the next log line fail with EPIPE instead of killing the relay.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"hcrelay - a local Azure Relay Hybrid Connections service (WebSocket and HTTP request modes)"};
  Options options;
  add_options(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  if (auto logging = ops::setup_logging(options.log_level, options.log_format); !logging)
    return usage_error(logging.error());
  relay::RelayConfig config;
  if (auto error = build_config(options, config)) return usage_error(*error);
  // Each connection is one descriptor; max_connections counts them all.
  const ops::FdLimit fd_limit = ops::raise_fd_limit();
  const std::string what = "--max-connections " + std::to_string(config.max_connections);
  if (auto warning = ops::fd_limit_warning(fd_limit, config.max_connections + 32, what); !warning.empty())
    spdlog::warn("hcrelay: {}", warning);

  asio::io_context io(1);
  relay::RelayServer server(io, config);
  auto started = server.start();
  if (!started) {
    spdlog::critical("hcrelay: {}", started.error());
    return kExitFatal;
  }
  FaultSwitches faults;
  if (!options.fault_control.empty())
    if (auto exit_code = start_fault_control(io, server, options.fault_control, faults)) return *exit_code;
  announce(server, config, started.value());

  GracefulStop stop(io, server, faults.control.get());
  stop.arm();
  io.run();
  spdlog::info("hcrelay: stopped");
  return kExitOk;
}
