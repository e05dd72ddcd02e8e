// The client assertion of the certificate credential (reference egress-and-identity.md 2.2 b): a JWT signed with the
// certificate's private key, PS256 by default (current Entra documentation, header x5t#S256) or RS256 (older
// documentation and the Azure C++ SDK, header x5t and kid). aud = the token URL, iss = sub = client id, a fresh jti,
// valid for 10 minutes.
#pragma once

#include "hc/result.hpp"

#include <cstdint>
#include <memory>
#include <string>

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace bridge {

enum class AssertionAlgorithm { ps256, rs256 };

struct ClientCertificate {
  std::shared_ptr<X509> cert;
  std::shared_ptr<EVP_PKEY> key;
  std::string thumbprint_sha1;    // base64url of SHA-1(DER)
  std::string thumbprint_sha256;  // base64url of SHA-256(DER)
};

// A PEM file holding the certificate and its (unencrypted) RSA private key, as AZURE_CLIENT_CERTIFICATE_PATH names.
// Refused when other users may read it (the key is a secret), when it is not a regular file, or when the key does not
// match the certificate. Errors name the file, never its contents.
hc::Result<ClientCertificate> load_client_certificate(const std::string& path);

// `jti` must be unique per assertion (a GUID).
std::string build_client_assertion(const ClientCertificate& cert, const std::string& client_id,
                                   const std::string& token_url, AssertionAlgorithm alg, int64_t now,
                                   const std::string& jti);

}  // namespace bridge
