// The JSON config file (docs/configuration.md): comments and trailing commas allowed, snake_case keys whose sections
// mirror the CLI. Errors read "FILE:LINE: json.path: what" and never contain a secret value.
#pragma once

#include "bridge/config.hpp"
#include "hc/result.hpp"

#include <string>
#include <string_view>

namespace bridge {

// Parses `text` (the file's contents; `source_name` is only used in messages) into a Config. Checks types, unknown
// keys, value ranges, names and same-object conflicts; cross-checks (duplicates, key files, credentials) are left to
// validate_config, which runs after the CLI has been merged in. Paths are kept as written.
hc::Result<Config> parse_config_json(std::string_view text, std::string_view source_name);

// Reads and parses the file at `path` (at most 1 MiB). Sets Config::source_file = path, and resolves relative key_file
// and ca_file paths against the directory of the file.
hc::Result<Config> load_config_file(const std::string& path);

}  // namespace bridge
