#include "hc/entra_roles.hpp"

#include "hc/url.hpp"

#include <rapidjson/document.h>

#include <optional>

namespace hc {

namespace {

struct KnownRole {
  RelayRole role;
  const char* short_name;
  const char* name;
  const char* id;  // built-in role definition ids (reference 2.1)
};
constexpr KnownRole kRoles[] = {
    {RelayRole::listener, "Listener", "Azure Relay Listener", "26e0b698-aa6d-4085-9386-aadae190014d"},
    {RelayRole::sender, "Sender", "Azure Relay Sender", "26baccc8-eea7-41f1-98f4-1762cc7f685d"},
    {RelayRole::owner, "Owner", "Azure Relay Owner", "2787bf04-f1f5-4bfe-8383-c8a24483ee38"},
};

std::optional<RelayRole> role_from_text(std::string_view text) {
  for (const auto& r : kRoles)
    if (iequals(text, r.short_name) || iequals(text, r.name) || iequals(text, r.id)) return r.role;
  return std::nullopt;
}

std::string member_string(const rapidjson::Value& obj, const char* name, bool& ok) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return {};
  if (!it->value.IsString()) {
    ok = false;
    return {};
  }
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

Result<RoleAssignment> parse_assignment(const rapidjson::Value& a, std::size_t index) {
  const std::string where = "--entra-roles: assignment " + std::to_string(index + 1);
  if (!a.IsObject()) return fail(where + " is not an object");
  bool ok = true;
  RoleAssignment out;
  out.principal = member_string(a, "principal", ok);
  const std::string role = member_string(a, "role", ok);
  std::string scope = member_string(a, "scope", ok);
  if (!ok) return fail(where + ": 'principal', 'role' and 'scope' must be strings");
  if (out.principal.empty()) return fail(where + " has no 'principal' (the object id)");
  const auto r = role_from_text(role);
  if (!r) return fail(where + ": unknown role '" + role + "' (Listener, Sender or Owner)");
  out.role = *r;
  while (!scope.empty() && scope.front() == '/') scope.erase(0, 1);
  while (!scope.empty() && scope.back() == '/') scope.pop_back();
  out.scope = scope;
  return out;
}

bool grants(RelayRole role, RelayRight right) {
  if (role == RelayRole::owner) return true;
  return (role == RelayRole::listener) == (right == RelayRight::listen);
}

// The scope is the HC itself, or the namespace; `hc_path` may continue below the HC's name.
bool in_scope(std::string_view scope, std::string_view hc_path) {
  if (scope.empty()) return true;
  if (hc_path.size() < scope.size() || !iequals(hc_path.substr(0, scope.size()), scope)) return false;
  return hc_path.size() == scope.size() || hc_path[scope.size()] == '/';
}

}  // namespace

Result<EntraRoles> parse_entra_roles(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return fail("--entra-roles: the file is not a JSON object");
  EntraRoles roles;
  bool ok = true;
  roles.tenant_id = member_string(doc, "tenant_id", ok);
  if (!ok || roles.tenant_id.empty()) return fail("--entra-roles: 'tenant_id' (the namespace's tenant) is required");
  if (const auto it = doc.FindMember("issuers"); it != doc.MemberEnd()) {
    if (!it->value.IsArray()) return fail("--entra-roles: 'issuers' must be an array of strings");
    for (const auto& i : it->value.GetArray()) {
      if (!i.IsString()) return fail("--entra-roles: 'issuers' must be an array of strings");
      roles.issuers.emplace_back(i.GetString(), i.GetStringLength());
    }
  }
  const auto list = doc.FindMember("assignments");
  if (list == doc.MemberEnd() || !list->value.IsArray()) return fail("--entra-roles: 'assignments' must be an array");
  for (rapidjson::SizeType i = 0; i < list->value.Size(); ++i) {
    auto a = parse_assignment(list->value[i], i);
    if (!a) return fail(a.error());
    roles.assignments.push_back(std::move(a.value()));
  }
  return roles;
}

std::string role_name(RelayRole role) {
  for (const auto& r : kRoles)
    if (r.role == role) return r.name;
  return "?";
}

std::string role_needed(RelayRight right) {
  return role_name(right == RelayRight::listen ? RelayRole::listener : RelayRole::sender);
}

bool has_relay_right(const EntraRoles& roles, std::string_view principal, std::string_view hc_path, RelayRight right) {
  for (const auto& a : roles.assignments)
    if (iequals(a.principal, principal) && grants(a.role, right) && in_scope(a.scope, hc_path)) return true;
  return false;
}

}  // namespace hc
