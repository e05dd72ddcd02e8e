// The client TLS context: peer verification on, TLS 1.2 at least, and a host-name (or IP) check per connection.
#include "net/tls.hpp"

#include <catch2/catch.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

TEST_CASE("tls: the client context verifies the peer and refuses anything below TLS 1.2", "[tls]") {
  auto ctx = net::make_client_tls_context("");
  REQUIRE(ctx.ok());
  SSL_CTX* native = ctx.value()->native_handle();
  CHECK(SSL_CTX_get_min_proto_version(native) == TLS1_2_VERSION);
  CHECK((SSL_CTX_get_verify_mode(native) & SSL_VERIFY_PEER) != 0);
}

TEST_CASE("tls: each connection checks the relay's host name, or its IP address", "[tls]") {
  auto ctx = net::make_client_tls_context("");
  REQUIRE(ctx.ok());
  asio::io_context io;
  for (const std::string host : {"contoso.servicebus.windows.net", "127.0.0.1"}) {
    asio::ssl::stream<asio::ip::tcp::socket> stream(io, *ctx.value());
    REQUIRE(net::prepare_client_tls(stream.native_handle(), host, 443).ok());
    X509_VERIFY_PARAM* param = SSL_get0_param(stream.native_handle());
    const char* peer_name = X509_VERIFY_PARAM_get0_host(param, 0);
    if (host == "127.0.0.1") {
      CHECK(peer_name == nullptr);  // an IP literal is matched as an address, and not sent as SNI
      CHECK(SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name) == nullptr);
    } else {
      REQUIRE(peer_name != nullptr);
      CHECK(std::string(peer_name) == host);
      CHECK(std::string(SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) == host);
    }
  }
}
