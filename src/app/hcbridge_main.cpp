// hcbridge: forwards TCP ports through Azure Relay Hybrid Connections (and through hcrelay, its local stand-in).
#include "bridge/cli.hpp"
#include "bridge/config_file.hpp"
#include "bridge/daemon.hpp"
#include "bridge/proxy_settings.hpp"
#include "ops/admin_server.hpp"
#include "ops/fd_limit.hpp"
#include "ops/logging.hpp"
#include "ops/sd_notify.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#ifndef HCBRIDGE_VERSION
#define HCBRIDGE_VERSION "0.1.0"
#endif

namespace {

std::string summary(const bridge::Config& c) {
  return std::to_string(c.local_forwards.size()) + " local and " + std::to_string(c.remote_forwards.size()) +
         " remote forward(s)";
}

// `hcbridge healthcheck`: asks a running daemon's /healthz. For container HEALTHCHECKs: no curl needed.
int healthcheck(const std::vector<std::string>& args) {
  CLI::App app{"hcbridge healthcheck - ask a running hcbridge whether it is healthy (exit 0) or not (exit 1)"};
  std::string admin, config_file;
  double timeout = 3;
  app.add_option("--admin", admin, "The daemon's admin endpoint ADDR:PORT (default: admin.bind of -c, or $HCBRIDGE_ADMIN)");
  app.add_option("-c,--config", config_file, "Config file to read admin.bind from");
  app.add_option("--timeout", timeout, "Seconds to wait for the answer")->check(CLI::Range(0.1, 60.0));
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (admin.empty() && !config_file.empty()) {
    auto c = bridge::load_config_file(config_file);
    if (!c) {
      std::cerr << "hcbridge healthcheck: " << c.error() << "\n";
      return 2;
    }
    admin = c->admin_bind;
  }
  if (admin.empty())
    if (const char* env = std::getenv("HCBRIDGE_ADMIN")) admin = env;
  if (admin.empty()) {
    std::cerr << "hcbridge healthcheck: no admin endpoint: give --admin ADDR:PORT, -c FILE with admin.bind, or set HCBRIDGE_ADMIN\n";
    return 2;
  }
  std::string body;
  auto status = ops::query_health(admin, std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)), &body);
  if (!status) {
    std::cerr << "unhealthy: " << status.error() << "\n";
    return 1;
  }
  std::cout << body;
  return status.value() == 200 ? 0 : 1;
}

using Environment = std::map<std::string, std::string>;

// The variables the daemon reads from its environment (the connection string, the proxy and the Entra ID
// credential settings), read once.
Environment read_environment() {
  Environment env;
  if (const char* cs = std::getenv("HCBRIDGE_CONNECTION_STRING")) env["HCBRIDGE_CONNECTION_STRING"] = cs;
  for (const char* name : bridge::kProxyEnvironment)
    if (const char* value = std::getenv(name)) env[name] = value;
  for (const char* name : bridge::kAzureEnvNames)
    if (const char* value = std::getenv(name)) env[name] = value;
  return env;
}

// Help, version, a usage error or check-config: prints what the command line produced; the exit code, or nullopt
// when the daemon is to run.
std::optional<int> finish_without_running(const bridge::CliOutcome& outcome) {
  if (outcome.action == bridge::CliAction::exit) {
    if (!outcome.out.empty()) std::cout << outcome.out << std::flush;
    if (!outcome.err.empty()) std::cerr << outcome.err << (outcome.err.back() == '\n' ? "" : "\n");
    return outcome.exit_code;
  }
  if (outcome.action == bridge::CliAction::check_config) {
    for (const auto& w : outcome.warnings) std::cerr << "warning: " << w << "\n";
    std::cerr << outcome.err;  // notes: the proxy in effect and the way each relay is dialled
    std::cout << outcome.out << std::flush;
    return 0;
  }
  return std::nullopt;
}

// Admin endpoint: /healthz answers from the event loop, so an answer proves the loop turns. Null when not configured;
// an error when it cannot bind.
hc::Result<std::unique_ptr<ops::AdminServer>> start_admin(asio::io_context& io, const std::string& bind,
                                                          bridge::Daemon& daemon) {
  if (bind.empty()) return std::unique_ptr<ops::AdminServer>();
  ops::AdminServer::Routes routes;
  routes.healthz = [] { return ops::AdminResponse{200, "application/json", "{\"status\":\"ok\"}\n"}; };
  routes.readyz = [&daemon] {
    return ops::AdminResponse{daemon.ready() ? 200 : 503, "application/json", daemon.readiness_json()};
  };
  routes.metrics = [&daemon] {
    return ops::AdminResponse{200, "text/plain; version=0.0.4; charset=utf-8", daemon.render_metrics()};
  };
  auto admin = std::make_unique<ops::AdminServer>(io, routes);
  auto bound = admin->start(bind);
  if (!bound) return hc::fail(bound.error());
  spdlog::info("admin endpoint on http://{}:{} (/healthz, /readyz, /metrics)", bound->address().to_string(), bound->port());
  return admin;
}

// A warning when the open-file limit cannot hold what `config` allows (see ops/fd_limit.hpp).
void check_fd_limit(const ops::FdLimit& limit, const bridge::Config& config) {
  const std::size_t forwards = config.local_forwards.size() + config.remote_forwards.size();
  const std::string what = std::to_string(forwards) + " forward(s) with their max_connections (2 descriptors per tunnel)";
  if (auto warning = ops::fd_limit_warning(limit, bridge::descriptors_allowed(config), what); !warning.empty())
    spdlog::warn("{}", warning);
}

// systemd: a STATUS line when it changes and WATCHDOG pings, from this event loop so a wedged loop gets the service
// restarted.
class SystemdStatus {
 public:
  SystemdStatus(asio::io_context& io, const ops::SystemdNotifier& systemd, const bridge::Daemon& daemon)
      : systemd_(systemd), daemon_(daemon), timer_(io) {}

  void tick() {
    const std::string status = daemon_.status_line();
    std::string message;
    if (status != last_status_) message = "STATUS=" + status;
    if (systemd_.watchdog_interval()) message += (message.empty() ? "" : "\n") + std::string("WATCHDOG=1");
    if (!message.empty()) systemd_.notify(message);
    last_status_ = status;
    auto period = std::chrono::milliseconds(1000);
    if (auto wd = systemd_.watchdog_interval())
      period = std::min(period, std::chrono::duration_cast<std::chrono::milliseconds>(*wd));
    timer_.expires_after(period);
    timer_.async_wait([this](std::error_code ec) {
      if (!ec) tick();
    });
  }

 private:
  const ops::SystemdNotifier& systemd_;
  const bridge::Daemon& daemon_;
  asio::steady_timer timer_;
  std::string last_status_;
};

// SIGHUP reloads from the same command line; the first SIGINT/SIGTERM drains, a second one aborts open tunnels.
class SignalHandler {
 public:
  SignalHandler(asio::io_context& io, asio::signal_set& signals, bridge::Daemon& daemon,
                const ops::SystemdNotifier& systemd, ops::AdminServer* admin, std::vector<std::string> args,
                Environment env, ops::FdLimit fd_limit)
      : io_(io), signals_(signals), daemon_(daemon), systemd_(systemd), admin_(admin), args_(std::move(args)),
        env_(std::move(env)), fd_limit_(std::move(fd_limit)) {}

  void wait() {
    signals_.async_wait([this](std::error_code ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        if (!stopping_) reload();
      } else if (!stopping_) {
        stop(signo);
      } else {
        daemon_.abort_now();
      }
      wait();
    });
  }

 private:
  void reload() {
    systemd_.notify("RELOADING=1");
    auto next = bridge::parse_command_line(args_, env_);
    if (next.action != bridge::CliAction::run) {
      std::string why = next.err.empty() ? "the command line no longer describes a daemon" : next.err;
      while (!why.empty() && why.back() == '\n') why.pop_back();
      if (why.rfind("hcbridge: ", 0) == 0) why.erase(0, 10);
      daemon_.reload_rejected();
      spdlog::error("reload rejected, keeping the running configuration: {}", why);
    } else {
      for (const auto& w : next.warnings) spdlog::warn("{}", w);
      auto result = daemon_.reload(next.config);
      if (result) {
        check_fd_limit(fd_limit_, next.config);
        spdlog::info("reload: {}", result.value());
      } else {
        spdlog::error("reload failed, keeping the running configuration: {}", result.error());
      }
    }
    systemd_.notify("READY=1\nSTATUS=" + daemon_.status_line());
  }

  void stop(int signo) {
    stopping_ = true;
    systemd_.notify("STOPPING=1");
    spdlog::info("signal {}: stopping (send it again to abort open tunnels at once)", signo);
    if (admin_) admin_->stop();
    daemon_.shutdown([this] {
      spdlog::info("hcbridge stopped");
      io_.stop();
    });
  }

  asio::io_context& io_;
  asio::signal_set& signals_;
  bridge::Daemon& daemon_;
  const ops::SystemdNotifier& systemd_;
  ops::AdminServer* admin_;
  const std::vector<std::string> args_;
  const Environment env_;
  const ops::FdLimit fd_limit_;
  bool stopping_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  // A log reader that goes away (a pipe to tee or a log shipper) must not kill the daemon at its next log line:
  // the write fails with EPIPE instead. Sockets need nothing: asio sends with MSG_NOSIGNAL.
  std::signal(SIGPIPE, SIG_IGN);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "healthcheck") return healthcheck({args.begin() + 1, args.end()});

  Environment env = read_environment();
  auto outcome = bridge::parse_command_line(args, env);
  if (auto exit_code = finish_without_running(outcome)) return *exit_code;

  const bridge::Config& config = outcome.config;
  if (auto logging = ops::setup_logging(config.log_level, config.log_format); !logging) {
    std::cerr << "hcbridge: " << logging.error() << "\n";
    return 2;
  }
  for (const auto& w : outcome.warnings) spdlog::warn("{}", w);
  const ops::FdLimit fd_limit = ops::raise_fd_limit();
  spdlog::debug("open-file limit: {} (was {}, hard {})", fd_limit.now, fd_limit.before, fd_limit.hard);
  check_fd_limit(fd_limit, config);

  asio::io_context io(1);
  // Registered before anything can tell systemd we are ready: a SIGHUP or SIGTERM from then on is queued, not fatal.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  bridge::Daemon daemon(io, config);
  // The admin endpoint first: once a forward says it listens, /metrics and /readyz answer (nothing is served before
  // io.run(), and then the forwards exist), and an admin address in use fails before any port is taken.
  auto admin = start_admin(io, config.admin_bind, daemon);
  if (!admin) {
    spdlog::critical("{}", admin.error());
    return 1;
  }
  if (auto error = daemon.start()) {
    spdlog::critical("{}", error->message);
    return error->exit_code;
  }
  spdlog::info("hcbridge {} running: {}", HCBRIDGE_VERSION, summary(config));

  // READY once forwards are set up (listeners bound, control channels attempted).
  ops::SystemdNotifier systemd;
  systemd.notify("READY=1\nSTATUS=" + daemon.status_line());
  SystemdStatus status(io, systemd, daemon);
  if (systemd.enabled()) status.tick();

  SignalHandler handler(io, signals, daemon, systemd, admin.value().get(), args, std::move(env), fd_limit);
  handler.wait();
  io.run();
  return 0;
}
