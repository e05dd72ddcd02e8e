// Renders a Config back as the config file's JSON (check-config prints it), secrets masked.
#pragma once

#include "bridge/config.hpp"

#include <string>

namespace bridge {

// The effective configuration as pretty JSON in the config-file schema (it parses back as a config file); every
// secret (key, sas, SharedAccessKey=/SharedAccessSignature=/sig= values anywhere) is replaced by "***".
// A new config key is written here too (write_settings for top-level keys, write_forward_common for forward keys),
// so check-config shows it and the round-trip test covers it.
std::string render_config(const Config& config);
// One "check-config: L:hc authenticates with ..." line per forward: SAS key name, no token, or the Entra ID credential
// resolved from the settings and the environment, with where each value came from; secrets masked.
std::string describe_authentication(const Config& config);

}  // namespace bridge
