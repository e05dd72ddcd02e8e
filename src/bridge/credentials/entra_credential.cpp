#include "bridge/credentials/entra_credential.hpp"

#include "hc/url.hpp"

#include <cctype>
#include <sstream>

namespace bridge {
namespace {

constexpr const char* kDefaultAuthority = "https://login.microsoftonline.com/";
constexpr const char* kImdsHost = "http://169.254.169.254";
constexpr const char* kImdsPath = "/metadata/identity/oauth2/token";

// A value from the config (`key`) when set, else from the environment variable `var`; records where it came from.
std::string pick(const std::string& configured, const char* key, const AzureEnv& env, const char* var,
                 std::map<std::string, std::string>& origin, const char* name) {
  if (!configured.empty()) {
    origin[name] = key;
    return configured;
  }
  if (var) {
    if (auto it = env.find(var); it != env.end() && !it->second.empty()) {
      origin[name] = var;
      return it->second;
    }
  }
  return {};
}

bool has(const AzureEnv& env, const char* var) {
  auto it = env.find(var);
  return it != env.end() && !it->second.empty();
}

hc::Result<EntraKind> chosen_kind(const EntraSettings& s, const AzureEnv& env, const std::string& secret) {
  const std::string& c = s.credential;
  if (c == "client-secret") return EntraKind::client_secret;
  if (c == "client-certificate") return EntraKind::client_certificate;
  if (c == "workload-identity") return EntraKind::workload_identity;
  if (c == "managed-identity") return EntraKind::managed_identity;
  if (!c.empty() && c != "auto")
    return hc::fail("entra.credential " + hc::quote_for_message(c, 40) +
                    " is not one of auto, client-secret, client-certificate, workload-identity, managed-identity");
  // auto: the order of the Azure SDKs' EnvironmentCredential, then workload identity, then managed identity.
  const bool app = !s.tenant_id.empty() || has(env, "AZURE_TENANT_ID");
  if (app && !secret.empty()) return EntraKind::client_secret;
  if (app && (!s.certificate_file.empty() || has(env, "AZURE_CLIENT_CERTIFICATE_PATH")))
    return EntraKind::client_certificate;
  if (app && (!s.federated_token_file.empty() || has(env, "AZURE_FEDERATED_TOKEN_FILE")))
    return EntraKind::workload_identity;
  return EntraKind::managed_identity;
}

hc::Result<bool> resolve_authority(EntraCredential& c, const EntraSettings& s, const AzureEnv& env) {
  c.authority_host = pick(s.authority_host, "entra.authority_host", env, "AZURE_AUTHORITY_HOST", c.origin, "authority_host");
  if (c.authority_host.empty()) {
    c.authority_host = kDefaultAuthority;
    c.origin["authority_host"] = "default";
  }
  if (c.authority_host.back() != '/') c.authority_host += '/';
  auto uri = hc::parse_uri(c.authority_host);
  // Tokens and secrets travel to it: the Azure SDKs refuse anything but https, and so do we.
  if (!uri || uri->scheme != "https")
    return hc::fail("authority_host (" + c.origin["authority_host"] + ") must be an https:// URL");
  c.tenant_id = pick(s.tenant_id, "entra.tenant_id", env, "AZURE_TENANT_ID", c.origin, "tenant_id");
  if (c.tenant_id.empty())
    return hc::fail(std::string("the Entra ID ") + entra_kind_name(c.kind) +
                    " credential needs a tenant id (entra.tenant_id or AZURE_TENANT_ID)");
  for (char ch : c.tenant_id)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.'))
      return hc::fail("tenant id (" + c.origin["tenant_id"] + ") may hold only letters, digits, '-' and '.'");
  if (c.client_id.empty())
    return hc::fail(std::string("the Entra ID ") + entra_kind_name(c.kind) +
                    " credential needs a client id (entra.client_id or AZURE_CLIENT_ID)");
  return true;
}

void resolve_managed(EntraCredential& c, const AzureEnv& env) {
  auto get = [&](const char* var) {
    auto it = env.find(var);
    return it == env.end() ? std::string() : it->second;
  };
  const std::string endpoint = get("IDENTITY_ENDPOINT");
  if (!endpoint.empty() && has(env, "IDENTITY_HEADER")) {
    c.source = ManagedSource::app_service;
    c.managed_endpoint = endpoint;
    c.identity_header = get("IDENTITY_HEADER");
    c.origin["endpoint"] = "IDENTITY_ENDPOINT";
  } else if (!endpoint.empty() && has(env, "IMDS_ENDPOINT")) {
    c.source = ManagedSource::arc;
    c.managed_endpoint = endpoint;
    c.origin["endpoint"] = "IDENTITY_ENDPOINT";
  } else {
    c.source = ManagedSource::imds;
    std::string host = get("AZURE_POD_IDENTITY_AUTHORITY_HOST");
    c.origin["endpoint"] = host.empty() ? "default" : "AZURE_POD_IDENTITY_AUTHORITY_HOST";
    if (host.empty()) host = kImdsHost;
    while (!host.empty() && host.back() == '/') host.pop_back();
    c.managed_endpoint = host + kImdsPath;
  }
}

}  // namespace

const char* entra_kind_name(EntraKind kind) {
  switch (kind) {
    case EntraKind::client_secret: return "client-secret";
    case EntraKind::client_certificate: return "client-certificate";
    case EntraKind::workload_identity: return "workload-identity";
    case EntraKind::managed_identity: return "managed-identity";
  }
  return "?";
}

hc::Result<EntraCredential> resolve_entra_credential(const EntraSettings& s, const AzureEnv& env) {
  EntraCredential c;
  const std::string secret =
      pick(s.client_secret, "entra.client_secret_file", env, "AZURE_CLIENT_SECRET", c.origin, "client_secret");
  auto kind = chosen_kind(s, env, secret);
  if (!kind) return hc::fail(kind.error());
  c.kind = kind.value();
  c.client_id = pick(s.client_id, "entra.client_id", env, "AZURE_CLIENT_ID", c.origin, "client_id");
  if (c.kind == EntraKind::managed_identity) {
    c.origin.erase("client_secret");
    resolve_managed(c, env);
    if (!s.arc_key_directory.empty()) c.arc_key_directory = s.arc_key_directory;
    return c;
  }
  auto authority = resolve_authority(c, s, env);
  if (!authority) return hc::fail(authority.error());
  if (c.kind == EntraKind::client_secret) {
    c.client_secret = secret;
    if (secret.empty())
      return hc::fail("the Entra ID client-secret credential needs a secret (entra.client_secret_file or AZURE_CLIENT_SECRET)");
    return c;
  }
  c.origin.erase("client_secret");
  if (c.kind == EntraKind::client_certificate) {
    c.certificate_file = pick(s.certificate_file, "entra.certificate_file", env, "AZURE_CLIENT_CERTIFICATE_PATH",
                              c.origin, "certificate_file");
    if (c.certificate_file.empty())
      return hc::fail("the Entra ID client-certificate credential needs a certificate file (entra.certificate_file or "
                      "AZURE_CLIENT_CERTIFICATE_PATH)");
    if (s.assertion_algorithm == "rs256") c.algorithm = AssertionAlgorithm::rs256;
    else if (!s.assertion_algorithm.empty() && s.assertion_algorithm != "ps256")
      return hc::fail("entra.assertion_algorithm must be ps256 or rs256");
    return c;
  }
  c.federated_token_file = pick(s.federated_token_file, "entra.federated_token_file", env, "AZURE_FEDERATED_TOKEN_FILE",
                                c.origin, "federated_token_file");
  if (c.federated_token_file.empty())
    return hc::fail("the Entra ID workload-identity credential needs a token file (entra.federated_token_file or "
                    "AZURE_FEDERATED_TOKEN_FILE)");
  return c;
}

std::string EntraCredential::identity() const {
  std::ostringstream o;
  o << static_cast<int>(kind) << '\x1f' << tenant_id << '\x1f' << client_id << '\x1f' << authority_host << '\x1f'
    << client_secret << '\x1f' << certificate_file << '\x1f' << static_cast<int>(algorithm) << '\x1f'
    << federated_token_file << '\x1f' << static_cast<int>(source) << '\x1f' << managed_endpoint << '\x1f'
    << identity_header << '\x1f' << arc_key_directory;
  return o.str();
}

std::string EntraCredential::describe() const {
  auto from = [&](const char* name) {
    auto it = origin.find(name);
    return it == origin.end() ? std::string() : " (" + it->second + ")";
  };
  std::ostringstream o;
  o << "Entra ID " << entra_kind_name(kind);
  if (kind == EntraKind::managed_identity) {
    static const char* const kSources[] = {"IMDS", "Azure Arc", "App Service"};
    o << " via " << kSources[static_cast<int>(source)] << " at " << managed_endpoint << from("endpoint");
    o << ", " << (client_id.empty() ? std::string("system-assigned") : "client id " + client_id + from("client_id"));
    return o.str();
  }
  o << ", tenant " << tenant_id << from("tenant_id") << ", client id " << client_id << from("client_id")
    << ", token endpoint " << token_url() << from("authority_host");
  if (kind == EntraKind::client_secret) o << ", secret ***" << from("client_secret");
  if (kind == EntraKind::client_certificate)
    o << ", certificate " << certificate_file << from("certificate_file") << ", "
      << (algorithm == AssertionAlgorithm::ps256 ? "PS256" : "RS256");
  if (kind == EntraKind::workload_identity) o << ", token file " << federated_token_file << from("federated_token_file");
  return o.str();
}

}  // namespace bridge
