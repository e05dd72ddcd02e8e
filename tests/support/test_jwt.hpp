// Test-only Entra-style tokens: an RSA key made in the test, its JWKS, and RS256/HS256 signing of arbitrary claims, so
// tests never depend on a key checked into the tree.
#pragma once

#include "hc/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>

namespace testing {

struct TestSigningKey {
  std::shared_ptr<EVP_PKEY> key;
  std::string kid;

  static TestSigningKey generate(std::string kid, unsigned bits = 2048) {
    return {std::shared_ptr<EVP_PKEY>(EVP_RSA_gen(bits), EVP_PKEY_free), std::move(kid)};
  }

  // {"kty":"RSA","kid":..,"n":..,"e":..}
  std::string jwk() const {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e);
    auto bytes = [](const BIGNUM* b) {
      std::string s(static_cast<std::size_t>(BN_num_bytes(b)), '\0');
      BN_bn2bin(b, reinterpret_cast<unsigned char*>(s.data()));
      return hc::base64url_encode(s);
    };
    std::string out = R"({"kty":"RSA","use":"sig","kid":")" + kid + R"(","n":")" + bytes(n) + R"(","e":")" + bytes(e) + "\"}";
    BN_free(n);
    BN_free(e);
    return out;
  }

  std::string sign_rs256(const std::string& input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get());
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    return sig;
  }

  // header/payload are JSON texts; alg "RS256" signs with the key, "HS256" with `hmac_secret`, "none" not at all.
  std::string token(const std::string& header, const std::string& payload, const std::string& alg = "RS256",
                    const std::string& hmac_secret = "") const {
    const std::string input = hc::base64url_encode(header) + "." + hc::base64url_encode(payload);
    std::string sig;
    if (alg == "RS256") {
      sig = sign_rs256(input);
    } else if (alg == "HS256") {
      unsigned char mac[EVP_MAX_MD_SIZE];
      unsigned int mac_len = 0;
      HMAC(EVP_sha256(), hmac_secret.data(), static_cast<int>(hmac_secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
      sig.assign(reinterpret_cast<char*>(mac), mac_len);
    }
    return input + "." + hc::base64url_encode(sig);
  }
};

inline std::string jwks_of(const TestSigningKey& k) { return "{\"keys\":[" + k.jwk() + "]}"; }

// An Entra-shaped access token for the relay.
inline std::string entra_claims(const std::string& tid, const std::string& oid, int64_t nbf, int64_t exp,
                                const std::string& aud = "https://relay.azure.net") {
  return R"({"aud":")" + aud + R"(","iss":"https://sts.windows.net/)" + tid + R"(/","iat":)" + std::to_string(nbf) +
         R"(,"nbf":)" + std::to_string(nbf) + R"(,"exp":)" + std::to_string(exp) + R"(,"oid":")" + oid +
         R"(","sub":")" + oid + R"(","tid":")" + tid + R"("})";
}

}  // namespace testing
