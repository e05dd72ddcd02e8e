// hcrelay's Entra ID check (reference egress-and-identity.md 2.5): a token that is not a SAS token is verified as an
// Entra JWT against --entra-jwks, and its principal must hold the role for the action in --entra-roles. Answers use
// the SAS check's shape, so the relay's 401/403 and 1008 paths serve both kinds.
#pragma once

#include "hc/entra_roles.hpp"
#include "hc/jwt.hpp"
#include "hc/sas.hpp"
#include "relay/routing.hpp"

#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace relay {

struct EntraAuth {
  hc::JsonWebKeySet keys;
  hc::EntraRoles roles;
  hc::EntraPolicy policy;
};

// Reads and checks both files; errors name the file and what is wrong.
hc::Result<std::shared_ptr<const EntraAuth>> load_entra_auth(const std::string& jwks_file,
                                                             const std::string& roles_file);

using SasKeys = std::map<std::string, std::string, std::less<>>;

// listen / connect: SAS tokens against `keys`; anything else, when `entra` is set, as an Entra token that must carry
// the role for `action` on `hc_path`. A missing role is SasFailure::forbidden with a reason naming the role.
hc::SasCheck authorize(const SasKeys& keys, const EntraAuth* entra, std::string_view token, std::string_view ns_host,
                       std::string_view hc_path, Action action, int64_t now);

// renewToken on a control channel opened with `check`: the same rules for listen, and an Entra token must name the
// principal the channel was opened with.
hc::SasCheck authorize_renewal(const SasKeys& keys, const EntraAuth* entra, std::string_view token,
                               std::string_view ns_host, std::string_view hc_path, const std::string& principal,
                               int64_t now);

// The HTTP status for a failed check: 403 for a missing role, else 401.
inline int auth_status(const hc::SasCheck& check) { return check.failure == hc::SasFailure::forbidden ? 403 : 401; }

}  // namespace relay
