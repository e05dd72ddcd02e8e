// Which Microsoft Entra ID credential a forward uses and every value it needs, resolved from the configuration and the
// environment the way the Azure SDKs read it (reference egress-and-identity.md 2.2, 2.4):
//   entra.credential (or auto) → client secret (AZURE_CLIENT_SECRET or entra.client_secret_file) → client certificate
//   (AZURE_CLIENT_CERTIFICATE_PATH / entra.certificate_file) → workload identity (AZURE_FEDERATED_TOKEN_FILE) →
//   managed identity (App Service: IDENTITY_ENDPOINT + IDENTITY_HEADER; Arc: IDENTITY_ENDPOINT + IMDS_ENDPOINT; else
//   IMDS at 169.254.169.254 or AZURE_POD_IDENTITY_AUTHORITY_HOST).
// Pure: no file is read here except the client secret file (at validation, like SAS key files).
#pragma once

#include "bridge/config.hpp"
#include "bridge/credentials/client_assertion.hpp"
#include "hc/result.hpp"

#include <map>
#include <string>

namespace bridge {

enum class EntraKind { client_secret, client_certificate, workload_identity, managed_identity };
enum class ManagedSource { imds, arc, app_service };

const char* entra_kind_name(EntraKind kind);  // "client-secret", ... (also the metric label, with '_')

struct EntraCredential {
  EntraKind kind = EntraKind::managed_identity;
  std::string tenant_id;
  std::string client_id;         // "" for a system-assigned managed identity
  std::string authority_host;    // ends with '/'
  std::string client_secret;     // secret
  std::string certificate_file;
  AssertionAlgorithm algorithm = AssertionAlgorithm::ps256;
  std::string federated_token_file;
  ManagedSource source = ManagedSource::imds;
  std::string managed_endpoint;  // full URL of the managed identity endpoint
  std::string identity_header;   // App Service's X-IDENTITY-HEADER value (secret)
  std::string arc_key_directory = "/var/opt/azcmagent/tokens";
  std::map<std::string, std::string> origin;  // value name → where it came from ("AZURE_CLIENT_ID", "entra.client_id")

  std::string token_url() const { return authority_host + tenant_id + "/oauth2/v2.0/token"; }
  // Everything it was built from, secrets included: for the shared-cache key and reload identity, never logged.
  std::string identity() const;
  // For logs and check-config: kind, tenant, client, endpoint and origins; secrets masked.
  std::string describe() const;
};

constexpr const char* kRelayScope = "https://relay.azure.net/.default";
constexpr const char* kRelayResource = "https://relay.azure.net";

// Errors are one sentence naming the missing or bad value and where it is set; never a secret.
hc::Result<EntraCredential> resolve_entra_credential(const EntraSettings& settings, const AzureEnv& env);

}  // namespace bridge
