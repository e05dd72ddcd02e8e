#include "net/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace net {
namespace {

std::string openssl_error_text() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace

hc::Result<std::shared_ptr<asio::ssl::context>> make_client_tls_context(const std::string& ca_file) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
  asio::error_code ec;
  if (ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return hc::fail("cannot load the system CA store: " + ec.message());
  } else {
    ctx->load_verify_file(ca_file, ec);
    if (ec) return hc::fail("cannot load CA file '" + ca_file + "': " + ec.message());
  }
  ctx->set_verify_mode(asio::ssl::verify_peer);
  // Session resumption makes the many short rendezvous dials cheaper.
  SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_CLIENT);
  return ctx;
}

hc::Result<std::shared_ptr<asio::ssl::context>> make_server_tls_context(const std::string& cert_file,
                                                                        const std::string& key_file) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                   asio::ssl::context::single_dh_use);
  asio::error_code ec;
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) return hc::fail("cannot load TLS certificate '" + cert_file + "': " + ec.message());
  ctx->use_private_key_file(key_file, asio::ssl::context::pem, ec);
  if (ec) return hc::fail("cannot load TLS key '" + key_file + "': " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    return hc::fail("TLS key '" + key_file + "' does not match certificate '" + cert_file + "'");
  return ctx;
}

hc::Result<bool> prepare_client_tls(asio::ssl::stream<asio::ip::tcp::socket>& stream, const std::string& host) {
  SSL* ssl = stream.native_handle();
  asio::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  const bool is_ip = !ec;
  // SNI must not carry an IP literal (RFC 6066).
  if (!is_ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return hc::fail(openssl_error_text());
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int rc = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (rc != 1) return hc::fail("cannot set TLS peer name check for '" + host + "'");
  (void)addr;
  return true;
}

}  // namespace net
