#include "hc/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>

namespace hc {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Claim values shown in reasons are cut short and stripped of anything but printable ASCII.
std::string shown(std::string_view value) {
  std::string out;
  for (char c : value.substr(0, 120)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (value.size() > 120) out += "...";
  return out;
}

Result<rapidjson::Document> parse_object(std::string_view b64, const char* what) {
  const auto text = base64url_decode(b64);
  if (!text) return fail(std::string("the JWT ") + what + " is not base64url");
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseStopWhenDoneFlag>(text->data(), text->size());
  if (doc.HasParseError() || !doc.IsObject()) return fail(std::string("the JWT ") + what + " is not a JSON object");
  return doc;
}

// A string member, absent (ok, left empty) or of another type (error).
bool read_string(const rapidjson::Value& obj, const char* name, std::string& out) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return true;
  if (!it->value.IsString()) return false;
  out.assign(it->value.GetString(), it->value.GetStringLength());
  return true;
}

// A NumericDate (RFC 7519 2): a JSON number, fractions truncated, within +-2^53.
bool read_time(const rapidjson::Value& obj, const char* name, std::optional<int64_t>& out) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return true;
  if (!it->value.IsNumber()) return false;
  const double v = it->value.GetDouble();
  if (!std::isfinite(v) || std::fabs(v) > 9007199254740992.0) return false;
  out = static_cast<int64_t>(v);
  return true;
}

bool read_audience(const rapidjson::Value& obj, std::vector<std::string>& out) {
  const auto it = obj.FindMember("aud");
  if (it == obj.MemberEnd()) return true;
  if (it->value.IsString()) {
    out.emplace_back(it->value.GetString(), it->value.GetStringLength());
    return true;
  }
  if (!it->value.IsArray()) return false;
  for (const auto& a : it->value.GetArray()) {
    if (!a.IsString()) return false;
    out.emplace_back(a.GetString(), a.GetStringLength());
  }
  return true;
}

Result<bool> read_header(std::string_view b64, Jwt& jwt) {
  auto header = parse_object(b64, "header");
  if (!header) return fail(header.error());
  const auto& h = header.value();
  if (!read_string(h, "alg", jwt.alg) || !read_string(h, "kid", jwt.kid) || !read_string(h, "typ", jwt.typ))
    return fail("the JWT header has a field of the wrong type");
  if (jwt.alg.empty()) return fail("the JWT header has no 'alg'");
  // RFC 7515 4.1.11: extensions we do not understand must not be ignored.
  if (h.HasMember("crit")) return fail("the JWT header has 'crit' extensions, which are not supported");
  return true;
}

Result<bool> read_claims(std::string_view b64, Jwt& jwt) {
  auto payload = parse_object(b64, "payload");
  if (!payload) return fail(payload.error());
  const auto& p = payload.value();
  const bool ok = read_string(p, "iss", jwt.iss) && read_string(p, "sub", jwt.sub) && read_string(p, "oid", jwt.oid) &&
                  read_string(p, "tid", jwt.tid) && read_string(p, "appid", jwt.appid) && read_audience(p, jwt.aud) &&
                  read_time(p, "nbf", jwt.nbf) && read_time(p, "exp", jwt.exp) && read_time(p, "iat", jwt.iat);
  if (!ok) return fail("the JWT payload has a registered claim of the wrong type");
  return true;
}

std::shared_ptr<EVP_PKEY> rsa_public_key(std::string_view n, std::string_view e) {
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* key = nullptr;
  if (bn_n && bn_e && bld && ctx && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr && EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) key = nullptr;
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(ctx);
  BN_free(bn_n);
  BN_free(bn_e);
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

JwtCheck failed(JwtFailure failure, std::string reason) { return JwtCheck{failure, std::move(reason), {}, 0}; }

const JsonWebKey* find_key(const JsonWebKeySet& keys, const std::string& kid) {
  if (kid.empty()) return keys.size() == 1 ? &keys.front() : nullptr;
  for (const auto& k : keys)
    if (k.kid == kid) return &k;
  return nullptr;
}

bool audience_ok(const Jwt& jwt, const EntraPolicy& policy) {
  for (const auto& a : jwt.aud)
    if (std::find(policy.audiences.begin(), policy.audiences.end(), a) != policy.audiences.end()) return true;
  return false;
}

JwtCheck check_claims(const Jwt& jwt, const EntraPolicy& policy, int64_t now) {
  const auto issuers = policy.issuers.empty() ? entra_issuers(policy.tenant_id) : policy.issuers;
  if (std::find(issuers.begin(), issuers.end(), jwt.iss) == issuers.end())
    return failed(JwtFailure::wrong_issuer, "InvalidIssuer: The token was issued by '" + shown(jwt.iss) +
                                                "', which is not this namespace's tenant (expected " + issuers.front() +
                                                ").");
  if (!audience_ok(jwt, policy))
    return failed(JwtFailure::wrong_audience,
                  "InvalidAudience: The token's audience '" + shown(jwt.aud.empty() ? "" : jwt.aud.front()) +
                      "' is not " + policy.audiences.front() + " (request the scope " + policy.audiences.front() +
                      "/.default).");
  if (!jwt.exp) return failed(JwtFailure::malformed, "MalformedToken: The token has no 'exp'.");
  if (jwt.nbf && *jwt.nbf > now + policy.clock_skew_seconds)
    return failed(JwtFailure::not_yet_valid, "InvalidToken: The token is not valid yet ('nbf' is in the future).");
  if (*jwt.exp <= now) return failed(JwtFailure::expired, "ExpiredToken: The token is expired.");
  if (jwt.oid.empty()) return failed(JwtFailure::no_principal, "InvalidToken: The token names no principal ('oid').");
  return JwtCheck{JwtFailure::none, {}, jwt.oid, *jwt.exp};
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (rest == 2) v |= uint8_t(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    if (rest == 2) out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = b64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Non-canonical encodings (stray low bits in the last character) are refused, so each value has one text.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

bool looks_like_jwt(std::string_view token) {
  if (token.empty() || token.size() > kMaxJwtSize) return false;
  if (std::count(token.begin(), token.end(), '.') != 2) return false;
  return std::all_of(token.begin(), token.end(), [](char c) { return c == '.' || b64url_value(c) >= 0; });
}

Result<Jwt> parse_jwt(std::string_view token) {
  if (token.size() > kMaxJwtSize) return fail("the JWT is larger than " + std::to_string(kMaxJwtSize) + " bytes");
  const std::size_t d1 = token.find('.');
  const std::size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return fail("a JWT has three parts separated by '.'");
  Jwt jwt;
  if (auto h = read_header(token.substr(0, d1), jwt); !h) return fail(h.error());
  if (auto c = read_claims(token.substr(d1 + 1, d2 - d1 - 1), jwt); !c) return fail(c.error());
  const auto sig = base64url_decode(token.substr(d2 + 1));
  if (!sig) return fail("the JWT signature is not base64url");
  jwt.signing_input = std::string(token.substr(0, d2));
  jwt.signature = *sig;
  return jwt;
}

Result<JsonWebKeySet> parse_jwks(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return fail("the JWKS is not a JSON object");
  const auto keys = doc.FindMember("keys");
  if (keys == doc.MemberEnd() || !keys->value.IsArray()) return fail("the JWKS has no 'keys' array");
  JsonWebKeySet set;
  for (const auto& k : keys->value.GetArray()) {
    std::string kty, kid, n, e;
    if (!k.IsObject() || !read_string(k, "kty", kty) || !read_string(k, "kid", kid) || !read_string(k, "n", n) ||
        !read_string(k, "e", e))
      return fail("a JWKS key is not an object of strings");
    if (kty != "RSA") continue;
    const auto nb = base64url_decode(n), eb = base64url_decode(e);
    if (!nb || !eb || nb->empty() || eb->empty()) return fail("JWKS key '" + shown(kid) + "': 'n' or 'e' is not base64url");
    auto key = rsa_public_key(*nb, *eb);
    if (!key) return fail("JWKS key '" + shown(kid) + "' is not a valid RSA public key");
    if (EVP_PKEY_get_bits(key.get()) < 2048) return fail("JWKS key '" + shown(kid) + "' is shorter than 2048 bits");
    set.push_back({kid, std::move(key)});
  }
  if (set.empty()) return fail("the JWKS has no RSA key");
  return set;
}

bool verify_rs256(EVP_PKEY* key, std::string_view signing_input, std::string_view signature) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return false;
  const bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                                   signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::vector<std::string> entra_issuers(std::string_view tenant_id) {
  const std::string tid(tenant_id);
  return {"https://sts.windows.net/" + tid + "/", "https://login.microsoftonline.com/" + tid + "/v2.0"};
}

JwtCheck verify_entra_token(std::string_view token, const JsonWebKeySet& keys, const EntraPolicy& policy,
                            int64_t now_unix) {
  if (token.size() >= 7 && token.substr(0, 7) == "Bearer ") token.remove_prefix(7);
  if (token.empty()) return failed(JwtFailure::missing, "MissingToken: The authorization header was not provided.");
  const auto parsed = parse_jwt(token);
  if (!parsed) return failed(JwtFailure::malformed, "MalformedToken: " + parsed.error() + ".");
  const Jwt& jwt = parsed.value();
  if (jwt.alg != "RS256")
    return failed(JwtFailure::unsupported_algorithm,
                  "InvalidToken: The token's algorithm '" + shown(jwt.alg) + "' is not accepted (RS256 only).");
  const JsonWebKey* key = find_key(keys, jwt.kid);
  if (!key) return failed(JwtFailure::unknown_key, "InvalidSignature: The token was signed with an unknown key.");
  if (!verify_rs256(key->key.get(), jwt.signing_input, jwt.signature))
    return failed(JwtFailure::bad_signature, "InvalidSignature: The token has an invalid signature.");
  return check_claims(jwt, policy, now_unix);
}

}  // namespace hc
