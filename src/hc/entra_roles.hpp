// Azure RBAC for Relay, as hcrelay emulates it: which principal (`oid`) holds Azure Relay Listener / Sender / Owner on
// the namespace or on one hybrid connection. Azure evaluates role assignments on the server, not from the token
// (reference egress-and-identity.md 2.1), so the relay reads them from a file: --entra-roles.
#pragma once

#include "hc/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace hc {

enum class RelayRole { listener, sender, owner };
enum class RelayRight { listen, send };

struct RoleAssignment {
  std::string principal;  // object id, compared case-insensitively (GUIDs)
  RelayRole role = RelayRole::listener;
  std::string scope;      // "" = the namespace, else a hybrid connection's name
};

struct EntraRoles {
  std::string tenant_id;
  std::vector<std::string> issuers;  // optional override of the tenant's two issuer forms
  std::vector<RoleAssignment> assignments;
};

// {"tenant_id": "..", "issuers": [..]?, "assignments": [{"principal": "<oid>", "role": "Listener"|"Sender"|"Owner"
// (or "Azure Relay Listener", or the role definition id), "scope": "/" | "<hc name>"}]}
Result<EntraRoles> parse_entra_roles(std::string_view json);

// The built-in role's display name ("Azure Relay Listener").
std::string role_name(RelayRole role);
// The role that grants `right` besides Owner ("Azure Relay Listener" for listen).
std::string role_needed(RelayRight right);

// True when `principal` holds a role granting `right` on the namespace or on `hc_path` (the HC's name, or a path
// below it).
bool has_relay_right(const EntraRoles& roles, std::string_view principal, std::string_view hc_path, RelayRight right);

}  // namespace hc
