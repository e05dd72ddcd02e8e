// Azure Relay connection strings (reference 2.6).
#pragma once

#include <string>
#include <string_view>

#include "hc/result.hpp"
#include "hc/url.hpp"

namespace hc {

struct ConnectionString {
  Uri endpoint;                   // parsed Endpoint (scheme sb, wss or ws only)
  std::string entity_path;        // "" when absent
  std::string key_name, key;      // both set or both empty
  std::string sas;                // pre-issued token (SharedAccessSignature=...), "" when absent
  std::string operation_timeout;  // raw text, "" when absent (accepted but unused)
  std::string authentication;     // raw text, "" when absent ("Managed Identity" selects Entra managed identity)
  bool has_key() const;
  bool has_sas() const;
};

// Error messages never contain the SharedAccessKey or SharedAccessSignature values.
Result<ConnectionString> parse_connection_string(std::string_view text);
// The string re-rendered with SharedAccessKey=*** and SharedAccessSignature=*** (safe to log).
std::string masked(const ConnectionString& cs);

}  // namespace hc
