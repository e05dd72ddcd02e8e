// hcbridge's command line (CLI11), azbridge-compatible: -x -e -K -k -s, -L/-T/-R forwarding expressions, plus a JSON
// config file (-c) and the `check-config` command. Pure: reads no process state except the files it is told about.
#pragma once

#include "bridge/config.hpp"
#include "bridge/config_render.hpp"  // render_config, for check-config

#include <map>
#include <string>
#include <vector>

namespace bridge {

// Exit codes (docs/configuration.md): 0 clean exit, 1 any other fatal error, 2 bad usage or configuration.
constexpr int kExitOk = 0;
constexpr int kExitFatal = 1;
constexpr int kExitUsage = 2;

enum class CliAction { run, check_config, exit };

struct CliOutcome {
  CliAction action = CliAction::run;
  int exit_code = 0;
  std::string out;                    // text for stdout (help, version, check-config rendering)
  std::string err;                    // error text for stderr ("hcbridge: ..." lines, newline-terminated); with
                                      // check_config, notes on the proxy in effect (stderr too)
  Config config;                      // validated; meaningful for run and check_config
  std::vector<std::string> warnings;  // for the caller to log (never contain secrets)
};

// `args` is argv without argv[0]; `env` the environment (HCBRIDGE_CONNECTION_STRING and the proxy variables are read).
// Precedence: config file (-c) < -x, or HCBRIDGE_CONNECTION_STRING when -x is absent < individual flags
// (-e -K -k --key-file -s --ca-file --no-auth and the timeouts/limits/logging flags); -L/-T/-R are appended to the
// file's forwards. Then validate_config.
CliOutcome parse_command_line(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);

// "hcbridge <version>" (HCBRIDGE_VERSION if defined at build time, else 0.1.0).
std::string version_string();

}  // namespace bridge
