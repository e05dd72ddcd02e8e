#include "relay/entra_auth.hpp"

#include "hc/url.hpp"

#include <fstream>
#include <sstream>

namespace relay {

namespace {

constexpr std::size_t kMaxFileSize = 1 << 20;

hc::Result<std::string> read_small_file(const std::string& option, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return hc::fail(option + " '" + path + "' cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > kMaxFileSize) return hc::fail(option + " '" + path + "' is larger than 1 MiB");
  return text.str();
}

bool is_sas(std::string_view token) {
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  constexpr std::string_view kPrefix = "SharedAccessSignature";
  return token.size() >= kPrefix.size() && hc::iequals(token.substr(0, kPrefix.size()), kPrefix);
}

hc::SasCheck from_jwt(const hc::JwtCheck& c) {
  hc::SasCheck out;
  if (!c.ok()) {
    out.failure = c.failure == hc::JwtFailure::missing ? hc::SasFailure::missing
                  : c.failure == hc::JwtFailure::expired       ? hc::SasFailure::expired
                  : c.failure == hc::JwtFailure::wrong_audience ? hc::SasFailure::wrong_audience
                  : c.failure == hc::JwtFailure::malformed      ? hc::SasFailure::malformed
                                                                : hc::SasFailure::bad_signature;
  }
  out.reason = c.reason;
  out.expiry = c.expiry;
  out.principal = c.principal;
  return out;
}

hc::SasCheck check_entra(const EntraAuth& entra, std::string_view token, std::string_view hc_path,
                         hc::RelayRight right, int64_t now) {
  hc::SasCheck out = from_jwt(hc::verify_entra_token(token, entra.keys, entra.policy, now));
  if (!out.ok()) return out;
  if (!hc::has_relay_right(entra.roles, out.principal, hc_path, right)) {
    out.failure = hc::SasFailure::forbidden;
    out.reason = "Unauthorized: The principal " + out.principal + " needs the role " + hc::role_needed(right) +
                 " (or Azure Relay Owner) on '" + std::string(hc_path) + "' or its namespace for '" +
                 (right == hc::RelayRight::listen ? "listen" : "send") + "'.";
  }
  return out;
}

}  // namespace

hc::Result<std::shared_ptr<const EntraAuth>> load_entra_auth(const std::string& jwks_file,
                                                             const std::string& roles_file) {
  auto jwks_text = read_small_file("--entra-jwks", jwks_file);
  if (!jwks_text) return hc::fail(jwks_text.error());
  auto keys = hc::parse_jwks(jwks_text.value());
  if (!keys) return hc::fail("--entra-jwks '" + jwks_file + "': " + keys.error());
  auto roles_text = read_small_file("--entra-roles", roles_file);
  if (!roles_text) return hc::fail(roles_text.error());
  auto roles = hc::parse_entra_roles(roles_text.value());
  if (!roles) return hc::fail(roles.error() + " ('" + roles_file + "')");
  auto auth = std::make_shared<EntraAuth>();
  auth->keys = std::move(keys.value());
  auth->roles = std::move(roles.value());
  auth->policy.tenant_id = auth->roles.tenant_id;
  auth->policy.issuers = auth->roles.issuers;
  return std::shared_ptr<const EntraAuth>(std::move(auth));
}

hc::SasCheck authorize(const SasKeys& keys, const EntraAuth* entra, std::string_view token, std::string_view ns_host,
                       std::string_view hc_path, Action action, int64_t now) {
  if (!entra || is_sas(token)) return hc::verify_sas_token(token, keys, ns_host, hc_path, now);
  return check_entra(*entra, token, hc_path, action == Action::listen ? hc::RelayRight::listen : hc::RelayRight::send,
                     now);
}

hc::SasCheck authorize_renewal(const SasKeys& keys, const EntraAuth* entra, std::string_view token,
                               std::string_view ns_host, std::string_view hc_path, const std::string& principal,
                               int64_t now) {
  hc::SasCheck check = authorize(keys, entra, token, ns_host, hc_path, Action::listen, now);
  if (check.ok() && check.principal != principal) {
    check.failure = hc::SasFailure::forbidden;
    check.reason = "Unauthorized: renewToken names another principal than the one this listener connected as.";
  }
  return check;
}

}  // namespace relay
