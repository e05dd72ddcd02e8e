// hc::parse_jwt, hc::verify_entra_token (a key made at start-up, fixed tenant, pinned clock), hc::base64url_* and
// hc::parse_entra_roles.
//
// Input: a token as it arrives from the network; or "sign:<payload>", which makes the harness sign <payload> (any
// bytes, usually JSON claims) with the trusted key, so the claim checks behind a valid signature get fuzzed too.
//
// Invariants:
//  - base64url: encode/decode round-trips, and a decodable text is the canonical encoding of what it decodes to;
//  - parse_jwt accepts only what looks_like_jwt, and its signing input is the token up to the last '.';
//  - an unsigned input is never accepted (the fuzzer cannot forge RS256), and no reason shows the signature (unless
//    the header spells it too: the reason quotes 'alg');
//  - a signed payload is accepted exactly when an independent reading of its claims says so (issuer, audience,
//    nbf with 300 s skew, exp, oid), and then carries that oid and exp.
#include "fuzz_check.hpp"

#include "hc/entra_roles.hpp"
#include "hc/jwt.hpp"
#include "support/test_jwt.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace {

constexpr int64_t kNow = 1800000000;
const std::string kTid = "72f988bf-86f1-41af-91ab-2d7cd011db47";

struct Trusted {
  testing::TestSigningKey signer = testing::TestSigningKey::generate("k1");
  hc::JsonWebKeySet set{{"k1", signer.key}};
  hc::EntraPolicy policy;
  Trusted() { policy.tenant_id = kTid; }
};
const Trusted& trusted() {
  static const Trusted t;
  return t;
}

// Independent reading of the claims: should verify_entra_token accept them?
bool expected_ok(const std::string& payload, std::string& oid, int64_t& exp) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseStopWhenDoneFlag>(payload.data(), payload.size());
  if (d.HasParseError() || !d.IsObject()) return false;
  auto str = [&](const char* n, std::string& out) {
    auto it = d.FindMember(n);
    if (it == d.MemberEnd()) return true;
    if (!it->value.IsString()) return false;
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return true;
  };
  auto num = [&](const char* n, bool& present, double& out) {
    auto it = d.FindMember(n);
    present = it != d.MemberEnd();
    if (!present) return true;
    if (!it->value.IsNumber()) return false;
    out = it->value.GetDouble();
    return std::isfinite(out) && std::fabs(out) <= 9007199254740992.0;
  };
  std::string iss, sub, tid, appid;
  bool has_nbf = false, has_exp = false, has_iat = false;
  double nbf = 0, e = 0, iat = 0;
  if (!str("iss", iss) || !str("sub", sub) || !str("oid", oid) || !str("tid", tid) || !str("appid", appid) ||
      !num("nbf", has_nbf, nbf) || !num("exp", has_exp, e) || !num("iat", has_iat, iat))
    return false;
  bool aud_ok = false;
  if (auto it = d.FindMember("aud"); it != d.MemberEnd()) {
    std::vector<const rapidjson::Value*> auds;
    if (it->value.IsArray()) {
      for (const auto& a : it->value.GetArray()) auds.push_back(&a);
    } else {
      auds.push_back(&it->value);
    }
    for (const auto* a : auds) {
      if (!a->IsString()) return false;
      const std::string s(a->GetString(), a->GetStringLength());
      aud_ok = aud_ok || s == "https://relay.azure.net" || s == "https://relay.azure.net/";
    }
  }
  const bool iss_ok = iss == "https://sts.windows.net/" + kTid + "/" || iss == "https://login.microsoftonline.com/" + kTid + "/v2.0";
  exp = static_cast<int64_t>(e);
  return iss_ok && aud_ok && has_exp && (!has_nbf || static_cast<int64_t>(nbf) <= kNow + 300) && exp > kNow &&
         !oid.empty();
}

void check_base64url(const std::string& input) {
  FUZZ_CHECK(hc::base64url_decode(hc::base64url_encode(input)) == input, "base64url round trip");
  if (const auto d = hc::base64url_decode(input))
    FUZZ_CHECK(hc::base64url_encode(*d) == input, "non-canonical base64url accepted: " + fuzz::show(input));
}

void check_token(const std::string& token, bool signed_by_us) {
  const auto parsed = hc::parse_jwt(token);
  if (parsed) {
    FUZZ_CHECK(hc::looks_like_jwt(token), "parsed but does not look like a JWT: " + fuzz::show(token));
    FUZZ_CHECK(parsed->signing_input == token.substr(0, token.rfind('.')), "signing input");
  }
  const auto c = hc::verify_entra_token(token, trusted().set, trusted().policy, kNow);
  FUZZ_CHECK(c.ok() == (c.failure == hc::JwtFailure::none), "ok()");
  if (!signed_by_us) FUZZ_CHECK(!c.ok(), "an unsigned token was accepted: " + fuzz::show(token));
  // No reason shows the signature. Its text can be in a reason by coincidence, though: the reason's own wording
  // ("...alformedToken: a JWT has three parts..." after the last '.'), or a header field it quotes ('alg') that
  // spells it. So the same token is verified with another signature of the same length: only if that reason lacks
  // the text does its presence here come from the signature.
  const auto dot = token.rfind('.');
  if (dot != std::string::npos && token.size() - dot > 16) {
    const std::string signature = token.substr(dot + 1);
    const std::string other = token.substr(0, dot + 1) + std::string(signature.size(), signature[0] == 'Q' ? 'R' : 'Q');
    const auto c2 = hc::verify_entra_token(other, trusted().set, trusted().policy, kNow);
    if (c2.reason.find(signature) == std::string::npos)
      FUZZ_CHECK(c.reason.find(signature) == std::string::npos, "reason shows the signature");
  }
  if (c.ok()) FUZZ_CHECK(!c.principal.empty() && c.expiry > kNow, "accepted without principal or with a past exp");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check_base64url(input);
  (void)hc::parse_entra_roles(input);
  if (input.compare(0, 5, "sign:") == 0) {
    const std::string payload = input.substr(5);
    const std::string signing_input =
        hc::base64url_encode(R"({"alg":"RS256","kid":"k1"})") + "." + hc::base64url_encode(payload);
    const std::string token = signing_input + "." + hc::base64url_encode(trusted().signer.sign_rs256(signing_input));
    check_token(token, true);
    std::string oid;
    int64_t exp = 0;
    const bool want = expected_ok(payload, oid, exp);
    const auto c = hc::verify_entra_token(token, trusted().set, trusted().policy, kNow);
    FUZZ_CHECK(c.ok() == want, "verdict " + c.reason + " for claims " + fuzz::show(payload));
    if (want) FUZZ_CHECK(c.principal == oid && c.expiry == exp, "principal/expiry of " + fuzz::show(payload));
  } else {
    check_token(input, false);
  }
  return 0;
}
