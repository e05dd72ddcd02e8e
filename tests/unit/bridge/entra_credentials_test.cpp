#include <catch2/catch.hpp>

#include "bridge/credentials/client_assertion.hpp"
#include "bridge/credentials/refresh_policy.hpp"
#include "hc/jwt.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <rapidjson/document.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

using bridge::RefreshPolicy;

TEST_CASE("refresh: ordinary tokens 5 min before exp, long ones at half-life, short ones at 80%", "[entra]") {
  CHECK(RefreshPolicy::refresh_at(0, 3600, 0) == 3300);
  CHECK(RefreshPolicy::refresh_at(0, 5400, 0) == 5100);
  CHECK(RefreshPolicy::refresh_at(0, 86400, 0) == 43200);
  CHECK(RefreshPolicy::refresh_at(0, 7200, 0) == 3600);
  CHECK(RefreshPolicy::refresh_at(0, 60, 0) == 48);
  CHECK(RefreshPolicy::refresh_at(1000, 1020, 0) == 1016);
  // Jitter only ever makes it earlier, by at most 5% of the life and at most 60 s.
  CHECK(RefreshPolicy::refresh_at(0, 3600, 0.999) == 3300 - 59);
  CHECK(RefreshPolicy::refresh_at(0, 60, 0.999) >= 48 - 3);
  CHECK(RefreshPolicy::refresh_at(0, 60, 0.999) < 48);
}

TEST_CASE("refresh retries back off but stay inside the token's remaining life", "[entra]") {
  // An hour-long token: 30 s doubling towards 5 min.
  CHECK(RefreshPolicy::retry_delay(0, 3300, 0, 3600, 1.0) == Approx(30));
  CHECK(RefreshPolicy::retry_delay(0, 3300, 0, 3600, 0.0) == Approx(15));
  CHECK(RefreshPolicy::retry_delay(1, 3300, 0, 3600, 1.0) == Approx(60));
  CHECK(RefreshPolicy::retry_delay(9, 0, 0, 86400, 1.0) == Approx(300));
  // Close to expiry: at most half of what is left.
  CHECK(RefreshPolicy::retry_delay(5, 3500, 0, 3600, 1.0) == Approx(50));
  // A 30-second token retries within seconds, never below 1 s.
  CHECK(RefreshPolicy::retry_delay(0, 24, 0, 30, 1.0) == Approx(1.5));
  CHECK(RefreshPolicy::retry_delay(10, 24, 0, 30, 1.0) == Approx(3));
  CHECK(RefreshPolicy::retry_delay(3, 29, 0, 30, 1.0) == Approx(1));
}

namespace {

struct TempPem {
  std::string dir, path;
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  explicit TempPem(mode_t mode = 0600) {
    char tmpl[] = "/tmp/hcb-assert-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    path = dir + "/client.pem";
    key = EVP_RSA_gen(2048);
    cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("client"), -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_sign(cert, key, EVP_sha256());
    FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);  // key first: order must not matter
    PEM_write_X509(f, cert);
    std::fclose(f);
    chmod(path.c_str(), mode);
  }
  ~TempPem() {
    std::remove(path.c_str());
    rmdir(dir.c_str());
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

bool verify(EVP_PKEY* key, bool pss, const std::string& token) {
  const auto dot = token.rfind('.');
  const auto sig = *hc::base64url_decode(token.substr(dot + 1));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nullptr, key);
  if (pss) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
  }
  const bool ok = EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                   reinterpret_cast<const unsigned char*>(token.data()), dot) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

rapidjson::Document part(const std::string& token, int index) {
  std::size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  const auto text = *hc::base64url_decode(token.substr(start, token.find('.', start) - start));
  rapidjson::Document d;
  d.Parse(text.c_str());
  return d;
}

}  // namespace

TEST_CASE("client assertion: PS256 with x5t#S256 by default, RS256 with x5t and kid, claims as Entra wants", "[entra]") {
  TempPem pem;
  const auto cert = bridge::load_client_certificate(pem.path);
  REQUIRE(cert.ok());
  const std::string url = "https://login.microsoftonline.com/tenant/oauth2/v2.0/token";
  const auto ps = bridge::build_client_assertion(cert.value(), "app-id", url, bridge::AssertionAlgorithm::ps256, 1000, "jti-1");
  CHECK(verify(pem.key, true, ps));
  CHECK_FALSE(verify(pem.key, false, ps));
  auto h = part(ps, 0);
  CHECK(std::string(h["alg"].GetString()) == "PS256");
  unsigned char digest[32];
  unsigned int len = 0;
  X509_digest(pem.cert, EVP_sha256(), digest, &len);
  CHECK(std::string(h["x5t#S256"].GetString()) == hc::base64url_encode(std::string(reinterpret_cast<char*>(digest), len)));
  auto c = part(ps, 1);
  CHECK(std::string(c["aud"].GetString()) == url);
  CHECK(std::string(c["iss"].GetString()) == "app-id");
  CHECK(std::string(c["sub"].GetString()) == "app-id");
  CHECK(std::string(c["jti"].GetString()) == "jti-1");
  CHECK(c["exp"].GetInt64() - c["nbf"].GetInt64() == 600);

  const auto rs = bridge::build_client_assertion(cert.value(), "app-id", url, bridge::AssertionAlgorithm::rs256, 1000, "jti-2");
  CHECK(verify(pem.key, false, rs));
  auto rh = part(rs, 0);
  CHECK(std::string(rh["alg"].GetString()) == "RS256");
  CHECK(rh.HasMember("x5t"));
  CHECK(std::string(rh["kid"].GetString()).size() == 40);
}

TEST_CASE("client certificate files: readable by others, missing or without a key are refused by name", "[entra]") {
  TempPem open_pem(0644);
  const auto r = bridge::load_client_certificate(open_pem.path);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains("chmod 600"));
  CHECK_THAT(bridge::load_client_certificate("/nonexistent/c.pem").error(), Catch::Contains("/nonexistent/c.pem"));
  TempPem no_key;
  FILE* f = std::fopen(no_key.path.c_str(), "w");
  PEM_write_X509(f, no_key.cert);
  std::fclose(f);
  CHECK_THAT(bridge::load_client_certificate(no_key.path).error(), Catch::Contains("private key"));
}
