// Shared Access Signature tokens: creation (what our daemon sends) and verification (what hcrelay
// checks), reference sections 2.1-2.4.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "hc/result.hpp"

namespace hc {

// "http://" + lower(host) + "/" + hc + "/" (.NET form, what our daemon signs).
std::string sas_resource_uri(std::string_view host, std::string_view hc);
// "SharedAccessSignature sr=..&sig=..&se=..&skn=.."; HMAC key = the UTF-8 bytes of `key` (not base64-decoded).
std::string create_sas_token(std::string_view resource_uri, std::string_view key_name, std::string_view key,
                             int64_t expiry_unix);

struct SasToken {
  std::string sr;   // raw, still url-encoded
  std::string sig;  // url-decoded
  std::string se;   // raw
  std::string skn;
  int64_t expiry = 0;
};

// Prefix "SharedAccessSignature " (case-insensitive); fields sr, sig, se, skn required, any order.
// Error messages never contain the signature.
Result<SasToken> parse_sas_token(std::string_view token);

// `forbidden` (a valid token whose principal lacks the right: 403) only comes from the relay's Entra check.
enum class SasFailure { none, missing, malformed, unknown_key_name, bad_signature, expired, wrong_audience, forbidden };

struct SasCheck {
  SasFailure failure = SasFailure::none;
  std::string reason;  // HTTP reason text for the relay; never contains sig or keys
  int64_t expiry = 0;
  std::string key_name;
  std::string principal;  // Entra tokens: the `oid` (a renewal must name the same one)
  bool ok() const { return failure == SasFailure::none; }
};

// keys: key name -> key text. ns_host: namespace host the relay serves (case-insensitive, port ignored).
// hc_path: the HC name (no leading '/').
SasCheck verify_sas_token(std::string_view token, const std::map<std::string, std::string, std::less<>>& keys,
                          std::string_view ns_host, std::string_view hc_path, int64_t now_unix);
// The token's `se`, or nullopt when the token does not parse.
std::optional<int64_t> sas_token_expiry(std::string_view token);

// The reason texts verify_sas_token uses.
inline constexpr std::string_view kSasReasonMissing = "MissingToken: The authorization header was not provided.";
inline constexpr std::string_view kSasReasonMalformed =
    "MalformedToken: The credentials contained in the authorization header are not in the correct format.";
inline constexpr std::string_view kSasReasonInvalidSignature = "The token has an invalid signature.";
inline constexpr std::string_view kSasReasonExpired = "ExpiredToken: The token is expired.";
inline constexpr std::string_view kSasReasonWrongAudience =
    "InvalidAudience: The authorization header contains a token with a wrong audience.";

}  // namespace hc
