// hcrelay: a local Azure Relay Hybrid Connections service for development, tests and self-hosting.
#include "net/address.hpp"
#include "ops/logging.hpp"
#include "relay/fault_control.hpp"
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

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFatal = 1;
constexpr int kExitUsage = 2;

int usage_error(const std::string& message) {
  std::cerr << "hcrelay: " << message << "\nRun 'hcrelay --help' for usage.\n";
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hcrelay - a local Azure Relay Hybrid Connections service (WebSocket and HTTP request modes)"};
  std::string bind = "127.0.0.1:9350";  // where hcbridge looks when no relay is configured
  std::string tls_cert, tls_key, log_level = "info", log_format = "text";
  std::vector<std::string> sas;
  bool no_auth = false;
  double accept_timeout = 30;
  std::size_t max_connections = relay::RelayConfig{}.max_connections;
  double handshake_timeout = 10;
  double request_timeout = 60;
  std::string http_path = "auto";
  app.add_option("--bind", bind, "Address to listen on, ADDR:PORT (port 0 picks a free port); the default is where hcbridge looks when no endpoint is configured")->capture_default_str();
  app.add_option("--tls-cert", tls_cert, "TLS certificate chain (PEM); without it the relay speaks plain ws://");
  app.add_option("--tls-key", tls_key, "TLS private key (PEM)");
  std::string sas_file;
  app.add_option("--sas", sas, "Accepted SAS rule as NAME=KEY (repeatable; also $HCRELAY_SAS)");
  app.add_option("--sas-file", sas_file, "File with one NAME=KEY per line (keeps keys off the command line)");
  app.add_flag("--no-auth", no_auth, "Accept every client without a token");
  app.add_option("--accept-timeout", accept_timeout, "Seconds a sender waits for the listener to accept")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  std::string fault_control;
  app.add_option("--fault-control", fault_control,
                 "TESTS ONLY: serve fault-injection commands on this loopback ADDR:PORT (docs/testing.md); never in production");
  app.add_option("--max-connections", max_connections,
                 "Connections held at once (handshakes, waiting senders, listeners, tunnel sides); more are closed at once")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  app.add_option("--handshake-timeout", handshake_timeout, "Seconds a new connection has to finish TLS and its HTTP request")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--request-timeout", request_timeout,
                 "Seconds an HTTP sender waits for the listener's response before 504 (the service uses 60)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--http-path", http_path,
                 "How HTTP requests reach listeners: auto (control channel when small, else a rendezvous); control or "
                 "rendezvous force one (tests)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "control", "rendezvous"}));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off")->capture_default_str();
  app.add_option("--log-format", log_format, "text or json")->capture_default_str();
  app.set_version_flag("--version", std::string("hcrelay 0.1.0"));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  if (auto logging = ops::setup_logging(log_level, log_format); !logging) return usage_error(logging.error());

  relay::RelayConfig config;
  auto hp = net::parse_host_port(bind, true);
  if (!hp) return usage_error("--bind " + hp.error());
  std::error_code ec;
  const auto address = asio::ip::make_address(hp->host, ec);
  if (ec) return usage_error("--bind '" + bind + "': the host must be an IP address");
  config.endpoint = asio::ip::tcp::endpoint(address, hp->port);
  config.tls_cert = tls_cert;
  config.tls_key = tls_key;
  config.no_auth = no_auth;
  config.accept_timeout = std::chrono::milliseconds(static_cast<int64_t>(accept_timeout * 1000));
  config.max_connections = max_connections;
  config.handshake_timeout = std::chrono::milliseconds(static_cast<int64_t>(handshake_timeout * 1000));
  config.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(request_timeout * 1000));
  config.http_path = http_path == "control"      ? relay::RelayConfig::HttpPath::control
                     : http_path == "rendezvous" ? relay::RelayConfig::HttpPath::rendezvous
                                                 : relay::RelayConfig::HttpPath::automatic;
  if (const char* env = std::getenv("HCRELAY_SAS"); env && *env) sas.emplace_back(env);
  if (!sas_file.empty()) {
    std::ifstream in(sas_file);
    if (!in) return usage_error("--sas-file '" + sas_file + "' cannot be read");
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      if (line.find('=') == std::string::npos)
        return usage_error("--sas-file '" + sas_file + "' line " + std::to_string(number) + ": expected NAME=KEY");
      sas.push_back(line);
    }
  }
  for (const auto& s : sas) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
      return usage_error("--sas expects NAME=KEY with both parts non-empty");
    config.keys[s.substr(0, eq)] = s.substr(eq + 1);
  }
  if (config.keys.empty() && !no_auth) return usage_error("give at least one --sas NAME=KEY, or --no-auth");
  if (tls_cert.empty() != tls_key.empty()) return usage_error("--tls-cert and --tls-key must be given together");

  asio::io_context io(1);
  relay::RelayServer server(io, config);
  auto started = server.start();
  if (!started) {
    spdlog::critical("hcrelay: {}", started.error());
    return kExitFatal;
  }
  std::unique_ptr<relay::FaultControl> faults;
  if (!fault_control.empty()) {
    auto fhp = net::parse_host_port(fault_control, true);
    if (!fhp) return usage_error("--fault-control " + fhp.error());
    const auto faddr = asio::ip::make_address(fhp->host, ec);
    if (ec) return usage_error("--fault-control '" + fault_control + "': the host must be an IP address");
    if (!faddr.is_loopback())
      return usage_error("--fault-control must be a loopback address (127.0.0.1 or [::1]), got '" + fault_control + "'");
    faults = std::make_unique<relay::FaultControl>(io, server, asio::ip::tcp::endpoint(faddr, fhp->port));
    auto fstarted = faults->start();
    if (!fstarted) {
      spdlog::critical("hcrelay: {}", fstarted.error());
      return kExitFatal;
    }
    spdlog::warn("hcrelay: FAULT CONTROL ENABLED on http://{}:{}/faults: this relay misbehaves on request; for tests only, "
                 "never in production",
                 net::host_for_url(fstarted->address().to_string()), fstarted->port());
  }
  const auto ep = started.value();
  const std::string host = net::host_for_url(ep.address().to_string());
  // Tests and scripts read this line to learn the port; it goes to stdout, the logs go to stderr.
  std::printf("hcrelay listening on %s://%s:%u\n", server.tls() ? "wss" : "ws", host.c_str(), ep.port());
  std::fflush(stdout);
  spdlog::info("hcrelay listening on {}://{}:{} ({})", server.tls() ? "wss" : "ws", host, ep.port(),
               no_auth ? "no authentication" : std::to_string(config.keys.size()) + " SAS rule(s)");

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer deadline(io);
  // Live as long as the loop: the timer callbacks below call `check` after the signal handler has returned.
  std::chrono::steady_clock::time_point give_up;
  std::function<void()> check;
  signals.async_wait([&](std::error_code sec, int signo) {
    if (sec) return;
    spdlog::info("hcrelay: signal {}, shutting down", signo);
    if (faults) faults->stop();
    server.stop();
    // Peers get a few seconds to answer our close frames; then we go regardless.
    give_up = std::chrono::steady_clock::now() + std::chrono::seconds(6);
    check = [&] {
      if (server.idle() || std::chrono::steady_clock::now() >= give_up) return io.stop();
      deadline.expires_after(std::chrono::milliseconds(50));
      deadline.async_wait([&](std::error_code dec) {
        if (!dec) check();
      });
    };
    check();
  });
  io.run();
  spdlog::info("hcrelay: stopped");
  return kExitOk;
}
