// hcbridge: forwards TCP ports through Azure Relay Hybrid Connections (and through hcrelay, its local stand-in).
#include "bridge/cli.hpp"
#include "bridge/daemon.hpp"
#include "ops/logging.hpp"

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

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  std::map<std::string, std::string> env;
  if (const char* cs = std::getenv("HCBRIDGE_CONNECTION_STRING")) env["HCBRIDGE_CONNECTION_STRING"] = cs;

  auto outcome = bridge::parse_command_line(args, env);
  if (outcome.action == bridge::CliAction::exit) {
    if (!outcome.out.empty()) std::cout << outcome.out << std::flush;
    if (!outcome.err.empty()) std::cerr << outcome.err << (outcome.err.back() == '\n' ? "" : "\n");
    return outcome.exit_code;
  }
  if (outcome.action == bridge::CliAction::check_config) {
    for (const auto& w : outcome.warnings) std::cerr << "warning: " << w << "\n";
    std::cout << outcome.out << std::flush;
    return 0;
  }

  bridge::Config& config = outcome.config;
  if (auto logging = ops::setup_logging(config.log_level, config.log_format); !logging) {
    std::cerr << "hcbridge: " << logging.error() << "\n";
    return 2;
  }
  for (const auto& w : outcome.warnings) spdlog::warn("{}", w);

  asio::io_context io(1);
  bridge::Daemon daemon(io, config);
  if (auto error = daemon.start()) {
    spdlog::critical("{}", error->message);
    return error->exit_code;
  }
  spdlog::info("hcbridge {} running: {}", HCBRIDGE_VERSION, summary(config));

  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  bool stopping = false;
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](std::error_code ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        spdlog::warn("SIGHUP: configuration reload is not supported yet; restart the service to apply changes");
      } else if (!stopping) {
        stopping = true;
        spdlog::info("signal {}: stopping (send it again to abort open tunnels at once)", signo);
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
