#include "bridge/credentials/client_assertion.hpp"

#include "hc/jwt.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sys/stat.h>

#include <cstdio>
#include <cstring>

namespace bridge {

namespace {

std::string thumbprint(X509* cert, const EVP_MD* md) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, md, digest, &len);
  return hc::base64url_encode(std::string(reinterpret_cast<char*>(digest), len));
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string sign(EVP_PKEY* key, AssertionAlgorithm alg, const std::string& input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  std::string sig;
  std::size_t len = 0;
  bool ok = ctx && EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key) == 1;
  if (ok && alg == AssertionAlgorithm::ps256)
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (ok && EVP_DigestSign(ctx, nullptr, &len, data, input.size()) == 1) {
    sig.resize(len);
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, data, input.size()) == 1)
      sig.resize(len);
    else
      sig.clear();
  }
  EVP_MD_CTX_free(ctx);
  return sig;
}

template <class Fill>
std::string json_object(Fill fill) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  fill(w);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

hc::Result<bool> check_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return hc::fail("client certificate '" + path + "' cannot be read: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return hc::fail("client certificate '" + path + "' is not a regular file");
  if ((st.st_mode & S_IRWXO) != 0)
    return hc::fail("client certificate '" + path + "' holds a private key and is readable by other users; run chmod 600 " +
                    path);
  return true;
}

}  // namespace

hc::Result<ClientCertificate> load_client_certificate(const std::string& path) {
  if (auto ok = check_file(path); !ok) return hc::fail(ok.error());
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return hc::fail("client certificate '" + path + "' cannot be read: " + std::strerror(errno));
  ClientCertificate out;
  // The PEM blocks may come in any order: the first certificate of the file, then (second pass) its private key.
  if (STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read(f, nullptr, nullptr, nullptr)) {
    for (int i = 0; i < sk_X509_INFO_num(infos) && !out.cert; ++i) {
      X509_INFO* info = sk_X509_INFO_value(infos, i);
      if (!info->x509) continue;
      X509_up_ref(info->x509);
      out.cert.reset(info->x509, X509_free);
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
  }
  std::rewind(f);
  if (EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr)) out.key.reset(key, EVP_PKEY_free);
  std::fclose(f);
  if (!out.cert) return hc::fail("client certificate '" + path + "' has no PEM certificate");
  if (!out.key) return hc::fail("client certificate '" + path + "' has no unencrypted PEM private key");
  if (EVP_PKEY_get_base_id(out.key.get()) != EVP_PKEY_RSA)
    return hc::fail("client certificate '" + path + "': the private key is not RSA (Entra assertions are RS256/PS256)");
  if (X509_check_private_key(out.cert.get(), out.key.get()) != 1)
    return hc::fail("client certificate '" + path + "': the private key does not belong to the certificate");
  out.thumbprint_sha1 = thumbprint(out.cert.get(), EVP_sha1());
  out.thumbprint_sha256 = thumbprint(out.cert.get(), EVP_sha256());
  return out;
}

std::string build_client_assertion(const ClientCertificate& cert, const std::string& client_id,
                                   const std::string& token_url, AssertionAlgorithm alg, int64_t now,
                                   const std::string& jti) {
  const bool pss = alg == AssertionAlgorithm::ps256;
  const std::string header = json_object([&](auto& w) {
    w.Key("alg");
    w.String(pss ? "PS256" : "RS256");
    w.Key("typ");
    w.String("JWT");
    if (pss) {
      w.Key("x5t#S256");
      w.String(cert.thumbprint_sha256.c_str());
    } else {
      w.Key("x5t");
      w.String(cert.thumbprint_sha1.c_str());
      w.Key("kid");
      w.String(hex(*hc::base64url_decode(cert.thumbprint_sha1)).c_str());
    }
  });
  const std::string claims = json_object([&](auto& w) {
    w.Key("aud");
    w.String(token_url.c_str());
    w.Key("iss");
    w.String(client_id.c_str());
    w.Key("sub");
    w.String(client_id.c_str());
    w.Key("jti");
    w.String(jti.c_str());
    w.Key("nbf");
    w.Int64(now);
    w.Key("iat");
    w.Int64(now);
    w.Key("exp");
    w.Int64(now + 600);
  });
  const std::string input = hc::base64url_encode(header) + "." + hc::base64url_encode(claims);
  return input + "." + hc::base64url_encode(sign(cert.key.get(), alg, input));
}

}  // namespace bridge
