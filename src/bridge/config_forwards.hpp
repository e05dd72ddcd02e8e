// The config file's forwards (local_forward / remote_forward arrays): one parser for both kinds, driven by a table of
// keys per kind; the forward's endpoints come either as CLI-grammar strings or as objects.
#pragma once

#include "bridge/config.hpp"
#include "bridge/config_reader.hpp"
#include "bridge/json_tree.hpp"

namespace bridge {

// Read `top`'s "local_forward" / "remote_forward" array (when present) into `c`.
bool read_local_forwards(ConfigReader& r, const JNode& top, Config& c);
bool read_remote_forwards(ConfigReader& r, const JNode& top, Config& c);

}  // namespace bridge
