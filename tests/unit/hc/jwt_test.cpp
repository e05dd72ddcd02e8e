#include <catch2/catch.hpp>

#include "hc/entra_roles.hpp"
#include "hc/jwt.hpp"
#include "support/test_jwt.hpp"

using namespace hc;

namespace {

const std::string kTid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const std::string kOid = "11111111-2222-3333-4444-555555555555";
constexpr int64_t kNow = 1800000000;

const testing::TestSigningKey& signing_key() {
  static const auto k = testing::TestSigningKey::generate("test-key-1");
  return k;
}
const JsonWebKeySet& jwks() {
  static const JsonWebKeySet set = parse_jwks(testing::jwks_of(signing_key())).value();
  return set;
}
EntraPolicy policy() {
  EntraPolicy p;
  p.tenant_id = kTid;
  return p;
}
const std::string kHeader = R"({"alg":"RS256","typ":"JWT","kid":"test-key-1"})";

std::string token(const std::string& payload, const std::string& header = kHeader, const std::string& alg = "RS256") {
  return signing_key().token(header, payload, alg, "hmac-secret");
}
JwtCheck verify(const std::string& t, int64_t now = kNow) { return verify_entra_token(t, jwks(), policy(), now); }

}  // namespace

TEST_CASE("base64url round-trips and refuses padding, the standard alphabet and stray bits", "[jwt]") {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    const auto enc = base64url_encode(s);
    CHECK(enc.find('=') == std::string::npos);
    CHECK(base64url_decode(enc) == s);
  }
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK_FALSE(base64url_decode("Zg==").has_value());
  CHECK_FALSE(base64url_decode("a+b/").has_value());
  CHECK_FALSE(base64url_decode("Zh").has_value());  // 'h' leaves non-zero low bits: not canonical
  CHECK_FALSE(base64url_decode("Z").has_value());
}

TEST_CASE("a valid Entra token is accepted with its principal and expiry", "[jwt]") {
  const auto c = verify(token(testing::entra_claims(kTid, kOid, kNow - 10, kNow + 3600)));
  REQUIRE(c.ok());
  CHECK(c.principal == kOid);
  CHECK(c.expiry == kNow + 3600);
  CHECK(verify("Bearer " + token(testing::entra_claims(kTid, kOid, kNow - 10, kNow + 3600))).ok());
}

TEST_CASE("the audience is accepted with and without the trailing slash, and nothing else", "[jwt]") {
  CHECK(verify(token(testing::entra_claims(kTid, kOid, kNow, kNow + 60, "https://relay.azure.net/"))).ok());
  const auto other = verify(token(testing::entra_claims(kTid, kOid, kNow, kNow + 60, "https://storage.azure.com")));
  CHECK(other.failure == JwtFailure::wrong_audience);
  CHECK(other.reason.find("https://relay.azure.net") != std::string::npos);
  const std::string list = R"({"aud":["x","https://relay.azure.net"],"iss":"https://sts.windows.net/)" + kTid +
                           R"(/","exp":)" + std::to_string(kNow + 60) + R"(,"oid":")" + kOid + "\"}";
  CHECK(verify(token(list)).ok());
}

TEST_CASE("issuers: both forms of the tenant, never another tenant", "[jwt]") {
  const std::string v2 = R"({"aud":"https://relay.azure.net","iss":"https://login.microsoftonline.com/)" + kTid +
                         R"(/v2.0","exp":)" + std::to_string(kNow + 60) + R"(,"oid":")" + kOid + "\"}";
  CHECK(verify(token(v2)).ok());
  const auto c = verify(token(testing::entra_claims("00000000-0000-0000-0000-000000000000", kOid, kNow, kNow + 60)));
  CHECK(c.failure == JwtFailure::wrong_issuer);
  CHECK(c.reason.find("tenant") != std::string::npos);
}

TEST_CASE("nbf tolerates a small skew, exp does not", "[jwt]") {
  CHECK(verify(token(testing::entra_claims(kTid, kOid, kNow + 200, kNow + 3600))).ok());
  CHECK(verify(token(testing::entra_claims(kTid, kOid, kNow + 400, kNow + 3600))).failure == JwtFailure::not_yet_valid);
  const auto t = token(testing::entra_claims(kTid, kOid, kNow - 100, kNow));
  CHECK(verify(t, kNow).failure == JwtFailure::expired);
  CHECK(verify(t, kNow - 1).ok());
  const std::string no_exp = R"({"aud":"https://relay.azure.net","iss":"https://sts.windows.net/)" + kTid +
                             R"(/","oid":")" + kOid + "\"}";
  CHECK(verify(token(no_exp)).failure == JwtFailure::malformed);
}

TEST_CASE("alg none, HMAC and unknown keys are refused", "[jwt]") {
  const auto claims = testing::entra_claims(kTid, kOid, kNow, kNow + 60);
  CHECK(verify(token(claims, R"({"alg":"none","typ":"JWT"})", "none")).failure == JwtFailure::unsupported_algorithm);
  CHECK(verify(token(claims, R"({"alg":"HS256","kid":"test-key-1"})", "HS256")).failure ==
        JwtFailure::unsupported_algorithm);
  CHECK(verify(token(claims, R"({"alg":"RS256","kid":"other"})")).failure == JwtFailure::unknown_key);
  // No kid: the only key of the set is used.
  CHECK(verify(token(claims, R"({"alg":"RS256"})")).ok());
  // A token signed by another key with the same kid.
  const auto stranger = testing::TestSigningKey::generate("test-key-1");
  CHECK(verify(stranger.token(kHeader, claims)).failure == JwtFailure::bad_signature);
  // A changed payload under the original signature.
  auto t = token(claims);
  const auto d1 = t.find('.'), d2 = t.rfind('.');
  const auto forged = t.substr(0, d1 + 1) + base64url_encode(testing::entra_claims(kTid, "evil", kNow, kNow + 60)) +
                      t.substr(d2);
  CHECK(verify(forged).failure == JwtFailure::bad_signature);
}

TEST_CASE("malformed tokens get a clear error without the token text", "[jwt]") {
  for (std::string bad : {"a.b", "a.b.c.d", "!!.e30.", "e30.!!.", "e30.e30.!!", "W10.e30.", "e30.e30."}) {
    const auto c = verify(bad);
    CHECK(c.failure == JwtFailure::malformed);
    CHECK(c.reason.rfind("MalformedToken:", 0) == 0);
  }
  CHECK(verify("").failure == JwtFailure::missing);
  CHECK(parse_jwt(std::string(kMaxJwtSize + 1, 'a')).error().find("larger") != std::string::npos);
  const std::string wrong_type = R"({"aud":"https://relay.azure.net","exp":"tomorrow"})";
  CHECK(parse_jwt(token(wrong_type)).error().find("wrong type") != std::string::npos);
  CHECK_FALSE(parse_jwt(token("{}", R"({"alg":"RS256","crit":["x"]})")).ok());
  const auto secret_sig = token(testing::entra_claims(kTid, kOid, kNow, kNow + 60));
  const auto sig = secret_sig.substr(secret_sig.rfind('.') + 1);
  CHECK(verify(secret_sig.substr(0, secret_sig.rfind('.')) + ".!" + sig).reason.find(sig) == std::string::npos);
}

TEST_CASE("JWKS: RSA keys only, at least 2048 bits, clear errors", "[jwt]") {
  CHECK(parse_jwks(R"({"keys":[]})").error().find("no RSA key") != std::string::npos);
  CHECK_FALSE(parse_jwks("[]").ok());
  CHECK_FALSE(parse_jwks(R"({"keys":[{"kty":"RSA","kid":"k","n":"!!","e":"AQAB"}]})").ok());
  const auto small = testing::TestSigningKey::generate("small", 1024);
  CHECK(parse_jwks(testing::jwks_of(small)).error().find("2048") != std::string::npos);
  const auto mixed = R"({"keys":[{"kty":"EC","kid":"ec","crv":"P-256"},)" + signing_key().jwk() + "]}";
  CHECK(parse_jwks(mixed).value().size() == 1);
}

TEST_CASE("role assignments: right, scope, principal", "[jwt][roles]") {
  const auto roles = parse_entra_roles(R"({"tenant_id":"t","assignments":[
      {"principal":"AAAA","role":"Listener","scope":"/"},
      {"principal":"bbbb","role":"Azure Relay Sender","scope":"myhc"},
      {"principal":"cccc","role":"2787bf04-f1f5-4bfe-8383-c8a24483ee38","scope":"/other/"}]})");
  REQUIRE(roles.ok());
  const auto& r = roles.value();
  CHECK(has_relay_right(r, "aaaa", "anyhc", RelayRight::listen));
  CHECK_FALSE(has_relay_right(r, "aaaa", "anyhc", RelayRight::send));
  CHECK(has_relay_right(r, "bbbb", "MyHc", RelayRight::send));
  CHECK(has_relay_right(r, "bbbb", "myhc/sub", RelayRight::send));
  CHECK_FALSE(has_relay_right(r, "bbbb", "myhc2", RelayRight::send));
  CHECK_FALSE(has_relay_right(r, "bbbb", "myhc", RelayRight::listen));
  CHECK(has_relay_right(r, "cccc", "other", RelayRight::listen));
  CHECK(has_relay_right(r, "cccc", "other", RelayRight::send));
  CHECK_FALSE(has_relay_right(r, "cccc", "myhc", RelayRight::send));
  CHECK_FALSE(has_relay_right(r, "dddd", "myhc", RelayRight::send));
  CHECK(role_needed(RelayRight::listen) == "Azure Relay Listener");
}

TEST_CASE("role files with mistakes are refused with the reason", "[jwt][roles]") {
  CHECK(parse_entra_roles(R"({"assignments":[]})").error().find("tenant_id") != std::string::npos);
  CHECK(parse_entra_roles(R"({"tenant_id":"t","assignments":[{"principal":"a","role":"Reader"}]})").error().find(
            "unknown role 'Reader'") != std::string::npos);
  CHECK(parse_entra_roles(R"({"tenant_id":"t","assignments":[{"role":"Owner"}]})").error().find("principal") !=
        std::string::npos);
  CHECK_FALSE(parse_entra_roles(R"({"tenant_id":"t"})").ok());
  CHECK_FALSE(parse_entra_roles("nope").ok());
}
