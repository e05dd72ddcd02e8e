// The part of validate_config (config.hpp) that checks relay settings: each layer on its own (the global relay, a
// forward's override: endpoint, files, conflicts), then what each forward really uses (complete credentials, Entra
// ID, EntityPath, warnings about the connection). It reads the secret files those settings name, and the proxy's
// credentials file the same way, and collects the warnings of the whole validation.
#pragma once

#include "bridge/config.hpp"
#include "hc/result.hpp"

#include <string>
#include <vector>

namespace bridge {

struct EntraCredential;

class RelaySettingsCheck {
 public:
  RelaySettingsCheck(std::vector<std::string>& warnings, const AzureEnv& env) : warnings_(warnings), env_(env) {}

  // Adds a non-fatal finding (once).
  void warn(const std::string& w);

  // One layer of settings (the global relay, or a forward's override) on its own: endpoint syntax, files, and
  // conflicts inside the layer; completes it (the global endpoint's default, key files read into `key`). `where`
  // prefixes messages ("relay" or "F:3: local_forward[0]: relay").
  hc::Result<bool> check_layer(RelaySettings& r, const std::string& where, bool global);

  // What the forward will really use: the merged settings; warnings about the connection.
  hc::Result<bool> check_effective(const RelaySettings& r, const std::string& where, const std::string& hc_name);

  // The first line of a secret file (a key, or the proxy's user:password: `what` and `content` name them); a file
  // that other users may read draws a warning.
  hc::Result<std::string> read_key_file(const std::string& path, const std::string& field,
                                        const std::string& what = "key file", const std::string& content = "the key");

 private:
  static hc::Result<bool> check_conflicts(const RelaySettings& r, const std::string& where);
  static hc::Result<bool> check_credentials(const RelaySettings& r, const std::string& where);
  static hc::Result<bool> check_implicit_entra(const RelaySettings& r, const EntraCredential& credential,
                                               const std::string& where);

  std::vector<std::string>& warnings_;
  const AzureEnv& env_;
};

}  // namespace bridge
