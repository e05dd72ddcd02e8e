// JSON Web Tokens (RFC 7519) as Microsoft Entra ID issues them for Azure Relay: parsing (what the daemon reads from a
// token it was given: `exp`), RS256 verification against a JSON Web Key Set (what hcrelay checks), and the Entra
// claim rules (reference egress-and-identity.md 2.1 and 2.5). Only RS256 is accepted: `alg: none` and the HMAC
// algorithms are refused, so a public key can never be used as an HMAC secret.
#pragma once

#include "hc/result.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

typedef struct evp_pkey_st EVP_PKEY;

namespace hc {

// base64url (RFC 4648 section 5) without padding, as JOSE uses it.
std::string base64url_encode(std::string_view bytes);
// Accepts the base64url alphabet without padding only. nullopt when the text is not valid.
std::optional<std::string> base64url_decode(std::string_view text);

inline constexpr std::size_t kMaxJwtSize = 16 * 1024;  // Entra tokens are 1-3 KiB; group overage keeps them small

struct Jwt {
  std::string alg, kid, typ;
  std::string signing_input;  // "<header>.<payload>" as received
  std::string signature;      // raw bytes
  std::string iss, sub, oid, tid, appid;
  std::vector<std::string> aud;
  std::optional<int64_t> nbf, exp, iat;
};

// Three base64url parts; header and payload JSON objects; registered claims of the wrong type are errors. Error
// messages never contain the token or its signature.
Result<Jwt> parse_jwt(std::string_view token);
// True when the text has the shape of a JWT (three dot-separated base64url parts), without decoding it.
bool looks_like_jwt(std::string_view token);

// An RSA public key from a JWKS.
struct JsonWebKey {
  std::string kid;
  std::shared_ptr<EVP_PKEY> key;
};
using JsonWebKeySet = std::vector<JsonWebKey>;

// {"keys":[{"kty":"RSA","kid":"..","n":"..","e":".."}]}; keys of other types are skipped; RSA keys under 2048 bits
// are refused. An error when no usable key is left.
Result<JsonWebKeySet> parse_jwks(std::string_view json);

// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) over `signing_input`.
bool verify_rs256(EVP_PKEY* key, std::string_view signing_input, std::string_view signature);

enum class JwtFailure {
  none,
  missing,
  malformed,
  unsupported_algorithm,
  unknown_key,
  bad_signature,
  wrong_issuer,
  wrong_audience,
  not_yet_valid,
  expired,
  no_principal
};

struct EntraPolicy {
  std::string tenant_id;                 // issuers are derived from it ...
  std::vector<std::string> issuers;      // ... unless given here
  std::vector<std::string> audiences{"https://relay.azure.net", "https://relay.azure.net/"};
  int64_t clock_skew_seconds = 300;      // tolerated on `nbf` (reference 2.5); `exp` is strict
};

struct JwtCheck {
  JwtFailure failure = JwtFailure::none;
  std::string reason;     // what the relay answers with; never contains the token or its signature
  std::string principal;  // `oid`
  int64_t expiry = 0;     // `exp`
  bool ok() const { return failure == JwtFailure::none; }
};

// The Entra access-token rules of reference 2.5: RS256 with a key of `keys` (by `kid`, or the only key when the token
// names none), `iss` one of the tenant's issuers, `aud` the relay resource with or without the trailing slash,
// `nbf` <= now + skew, `exp` > now, an `oid`. An optional "Bearer " prefix is ignored.
JwtCheck verify_entra_token(std::string_view token, const JsonWebKeySet& keys, const EntraPolicy& policy,
                            int64_t now_unix);

// The two issuer forms Entra uses for a tenant (v1 and v2 tokens).
std::vector<std::string> entra_issuers(std::string_view tenant_id);

}  // namespace hc
