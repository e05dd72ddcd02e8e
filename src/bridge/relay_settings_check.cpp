#include "bridge/relay_settings_check.hpp"

#include "bridge/credentials/entra_credential.hpp"
#include "hc/sas.hpp"
#include "hc/url.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace bridge {

namespace {

constexpr std::size_t kMaxKeyLength = 256;  // what .NET's token provider accepts

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n\f\v";
  const std::size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  const std::size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string shown_path(const std::string& path) { return hc::quote_for_message(path, 200); }

}  // namespace

void RelaySettingsCheck::warn(const std::string& w) {
  if (std::find(warnings_.begin(), warnings_.end(), w) == warnings_.end()) warnings_.push_back(w);
}

hc::Result<bool> RelaySettingsCheck::check_layer(RelaySettings& r, const std::string& where, bool global) {
  if (r.endpoint.empty() && global) r.endpoint = kDefaultEndpoint;
  if (!r.endpoint.empty()) {
    const std::string field = where + ".endpoint" + (global ? " (-e/--endpoint)" : "");
    auto uri = hc::parse_uri(r.endpoint);
    if (!uri) return hc::fail(field + ": " + uri.error());
    if (uri->scheme != "sb" && uri->scheme != "wss" && uri->scheme != "ws")
      return hc::fail(field + ": scheme '" + uri->scheme + "' is not supported (expected sb://, wss:// or ws://)");
    // Never echo the rest: a connection string pasted here would put its key in the path.
    if (uri->path != "/" || !uri->query.empty())
      return hc::fail(field + ": must be only scheme://host[:port]/ without a path or query" +
                      " (for a connection string use -x or connection_string)");
    r.endpoint = uri->scheme + "://" + uri->authority() + "/";
  }
  if (!r.key_file.empty()) {
    auto key = read_key_file(r.key_file, where + ".key_file" + (global ? " (--key-file)" : ""));
    if (!key) return hc::fail(key.error());
    r.key = std::move(key.value());
  }
  if (!r.ca_file.empty()) {
    std::ifstream in(r.ca_file);
    if (!in)
      return hc::fail(where + ".ca_file" + (global ? " (--ca-file)" : "") + ": cannot read CA file " +
                      shown_path(r.ca_file) + ": " + std::strerror(errno));
  }
  if (!r.entra.client_secret_file.empty()) {
    auto secret = read_key_file(r.entra.client_secret_file, where + ".entra.client_secret_file", "client secret file",
                                "the client secret");
    if (!secret) return hc::fail(secret.error());
    r.entra.client_secret = std::move(secret.value());
  }
  if (!r.auth_mode.empty() && r.auth_mode != "sas" && r.auth_mode != "entra")
    return hc::fail(where + ".auth.mode: must be sas or entra (got " + hc::quote_for_message(r.auth_mode, 40) + ")");
  if (r.key.size() > kMaxKeyLength)
    return hc::fail(where + ": the key is longer than " + std::to_string(kMaxKeyLength) + " characters");
  if (r.key_name.size() > kMaxKeyLength)
    return hc::fail(where + ".key_name: longer than " + std::to_string(kMaxKeyLength) + " characters");
  if (r.no_auth && r.has_sas_credentials())
    return hc::fail(where + ": no_auth cannot be combined with credentials (key_name/key/key_file/sas)");
  // A layer may carry half of a key pair (e.g. a global key_name, a key_file per forward): completeness is
  // checked on what each forward really uses.
  return check_conflicts(r, where);
}

hc::Result<bool> RelaySettingsCheck::check_conflicts(const RelaySettings& r, const std::string& where) {
  if (!r.sas.empty() && (!r.key.empty() || !r.key_name.empty()))
    return hc::fail(where + ": a pre-issued sas (-s) cannot be combined with key_name/key (-K/-k/--key-file)");
  if (!r.sas.empty()) {
    // Caught here instead of as an endless series of 401s from the relay.
    auto token = hc::parse_sas_token(r.sas);
    if (!token) return hc::fail(where + ": the pre-issued sas (-s) is not a SAS token: " + token.error());
  }
  return true;
}

hc::Result<bool> RelaySettingsCheck::check_credentials(const RelaySettings& r, const std::string& where) {
  auto conflicts = check_conflicts(r, where);
  if (!conflicts) return conflicts;
  if (!r.key_name.empty() && r.key.empty())
    return hc::fail(where + ": key_name " + hc::quote_for_message(r.key_name, 80) +
                    " is set but no key (give -k/--key or --key-file, or key/key_file in the config file)");
  if (r.key_name.empty() && !r.key.empty())
    return hc::fail(where + ": a key is set but no key_name (give -K/--key-name, or key_name in the config file)");
  return true;
}

hc::Result<bool> RelaySettingsCheck::check_effective(const RelaySettings& r, const std::string& where,
                                                     const std::string& hc_name) {
  if (uses_entra(r)) {
    if (r.has_sas_credentials())
      return hc::fail(where + ": auth.mode entra cannot be combined with SAS credentials (key_name/key/key_file/sas)");
    auto credential = resolve_entra_credential(r.entra, env_);
    if (!credential) return hc::fail(where + ": " + credential.error());
    return check_implicit_entra(r, credential.value(), where);
  }
  if (r.auth_mode == "sas" && !r.has_sas_credentials())
    return hc::fail(where + ": auth.mode sas needs a key (key_name with key or key_file) or a pre-issued sas");
  auto ok = check_credentials(r, where);
  if (!ok) return ok;
  if (!r.entity_path.empty() && !hc::iequals(r.entity_path, hc_name))
    return hc::fail(where + ": the connection string's EntityPath " + hc::quote_for_message(r.entity_path, 80) +
                    " does not match the hybrid connection " + hc::quote_for_message(hc_name, 80));
  auto uri = hc::parse_uri(r.endpoint);
  if (!uri) return hc::fail(where + ": endpoint: " + uri.error());  // not reached: checked per layer
  const bool loopback = is_loopback_host(uri->host);
  if (uri->scheme == "ws") {
    if (!loopback) warn("plain ws:// to " + uri->host_for_url() + ": traffic and tokens are not encrypted");
    if (!r.ca_file.empty())
      warn("ca_file " + shown_path(r.ca_file) + " is not used: ws://" + uri->authority() + " is not TLS");
  }
  return true;
}

// Entra ID chosen only because no SAS key was given, towards a loopback relay, with nothing in the environment but
// the managed-identity fallback: almost surely a local hcrelay meant to be used without a token. Waiting on an IMDS
// that does not exist would only loop; say what to write instead.
hc::Result<bool> RelaySettingsCheck::check_implicit_entra(const RelaySettings& r, const EntraCredential& credential,
                                                          const std::string& where) {
  const bool implicit = r.auth_mode.empty() && r.entra.empty();
  const auto endpoint_origin = credential.origin.find("endpoint");
  const bool fallback = credential.kind == EntraKind::managed_identity && credential.source == ManagedSource::imds &&
                        endpoint_origin != credential.origin.end() && endpoint_origin->second == "default";
  auto uri = hc::parse_uri(r.endpoint);
  if (!implicit || !fallback || !uri || !is_loopback_host(uri->host)) return true;
  return hc::fail(where + ": the endpoint " + uri->scheme + "://" + uri->authority() +
                  "/ has no SAS key, so hcbridge would use Entra ID, and no Entra credential is configured; for a "
                  "relay without authorization (hcrelay --no-auth) give --no-auth (no_auth: true in the config "
                  "file), otherwise give a key (-K/-k) or an Entra credential (AZURE_* or entra.*)");
}

hc::Result<std::string> RelaySettingsCheck::read_key_file(const std::string& path, const std::string& field,
                                                          const std::string& what, const std::string& content) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return hc::fail(field + ": cannot read " + what + " " + shown_path(path) + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return hc::fail(field + ": " + what + " " + shown_path(path) + " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return hc::fail(field + ": cannot read " + what + " " + shown_path(path) + ": " + std::strerror(errno));
  std::string line;
  std::getline(in, line);
  if (in.bad()) return hc::fail(field + ": cannot read " + what + " " + shown_path(path));
  line = trim(line);
  if (line.empty())
    return hc::fail(field + ": " + what + " " + shown_path(path) + " is empty (expected " + content + " on its first line)");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    warn(what + " " + path + " is readable by other users; run chmod 600 " + path);
  return line;
}

}  // namespace bridge
