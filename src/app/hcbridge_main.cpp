// hcbridge: forwards TCP ports through Azure Relay Hybrid Connections (and through hcrelay, its local stand-in).
#include "bridge/cli.hpp"
#include "bridge/config_file.hpp"
#include "bridge/daemon.hpp"
#include "bridge/proxy_settings.hpp"
#include "ops/admin_server.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "healthcheck") return healthcheck({args.begin() + 1, args.end()});

  std::map<std::string, std::string> env;
  if (const char* cs = std::getenv("HCBRIDGE_CONNECTION_STRING")) env["HCBRIDGE_CONNECTION_STRING"] = cs;
  for (const char* name : bridge::kProxyEnvironment)
    if (const char* value = std::getenv(name)) env[name] = value;

  auto outcome = bridge::parse_command_line(args, env);
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

  const bridge::Config& config = outcome.config;
  if (auto logging = ops::setup_logging(config.log_level, config.log_format); !logging) {
    std::cerr << "hcbridge: " << logging.error() << "\n";
    return 2;
  }
  for (const auto& w : outcome.warnings) spdlog::warn("{}", w);

  asio::io_context io(1);
  // Registered before anything can tell systemd we are ready: a SIGHUP or SIGTERM from then on is queued, not fatal.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  bridge::Daemon daemon(io, config);
  if (auto error = daemon.start()) {
    spdlog::critical("{}", error->message);
    return error->exit_code;
  }

  // Admin endpoint: /healthz answers from the event loop, so an answer proves the loop turns.
  std::unique_ptr<ops::AdminServer> admin;
  if (!config.admin_bind.empty()) {
    ops::AdminServer::Routes routes;
    routes.healthz = [] { return ops::AdminResponse{200, "application/json", "{\"status\":\"ok\"}\n"}; };
    routes.readyz = [&daemon] {
      return ops::AdminResponse{daemon.ready() ? 200 : 503, "application/json", daemon.readiness_json()};
    };
    routes.metrics = [&daemon] {
      return ops::AdminResponse{200, "text/plain; version=0.0.4; charset=utf-8", daemon.render_metrics()};
    };
    admin = std::make_unique<ops::AdminServer>(io, routes);
    auto bound = admin->start(config.admin_bind);
    if (!bound) {
      spdlog::critical("{}", bound.error());
      return 1;
    }
    spdlog::info("admin endpoint on http://{}:{} (/healthz, /readyz, /metrics)", bound->address().to_string(), bound->port());
  }

  spdlog::info("hcbridge {} running: {}", HCBRIDGE_VERSION, summary(config));

  // systemd: READY once forwards are set up (listeners bound, control channels attempted), a STATUS line while running,
  // WATCHDOG pings from this event loop so a wedged loop gets the service restarted.
  ops::SystemdNotifier systemd;
  systemd.notify("READY=1\nSTATUS=" + daemon.status_line());
  asio::steady_timer status_timer(io);
  std::string last_status;
  std::function<void()> tick = [&] {
    const std::string status = daemon.status_line();
    std::string message;
    if (status != last_status) message = "STATUS=" + status;
    if (systemd.watchdog_interval()) message += (message.empty() ? "" : "\n") + std::string("WATCHDOG=1");
    if (!message.empty()) systemd.notify(message);
    last_status = status;
    auto period = std::chrono::milliseconds(1000);
    if (auto wd = systemd.watchdog_interval())
      period = std::min(period, std::chrono::duration_cast<std::chrono::milliseconds>(*wd));
    status_timer.expires_after(period);
    status_timer.async_wait([&](std::error_code ec) {
      if (!ec) tick();
    });
  };
  if (systemd.enabled()) tick();

  bool stopping = false;
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](std::error_code ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        if (stopping) return wait_signal();
        systemd.notify("RELOADING=1");
        auto next = bridge::parse_command_line(args, env);
        if (next.action != bridge::CliAction::run) {
          std::string why = next.err.empty() ? "the command line no longer describes a daemon" : next.err;
          while (!why.empty() && why.back() == '\n') why.pop_back();
          if (why.rfind("hcbridge: ", 0) == 0) why.erase(0, 10);
          daemon.reload_rejected();
          spdlog::error("reload rejected, keeping the running configuration: {}", why);
        } else {
          for (const auto& w : next.warnings) spdlog::warn("{}", w);
          auto result = daemon.reload(next.config);
          if (result) spdlog::info("reload: {}", result.value());
          else spdlog::error("reload failed, keeping the running configuration: {}", result.error());
        }
        systemd.notify("READY=1\nSTATUS=" + daemon.status_line());
      } else if (!stopping) {
        stopping = true;
        systemd.notify("STOPPING=1");
        spdlog::info("signal {}: stopping (send it again to abort open tunnels at once)", signo);
        if (admin) admin->stop();
        daemon.shutdown([&] {
          spdlog::info("hcbridge stopped");
          io.stop();
        });
      } else {
        daemon.abort_now();
      }
      wait_signal();
    });
  };
  wait_signal();
  io.run();
  return 0;
}
