// TLS contexts. Client contexts verify the peer (system store or a CA file) with a hostname check; the only context that
// does not is the one a published web server's explicit `insecure` setting asks for. Server contexts load a certificate chain and key from files.
#pragma once

#include "hc/result.hpp"

#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace net {

// ca_file empty -> the system trust store. Minimum TLS 1.2.
hc::Result<std::shared_ptr<asio::ssl::context>> make_client_tls_context(const std::string& ca_file);
// For an https web server the operator marked `insecure` (and was warned about): no certificate or name check.
hc::Result<std::shared_ptr<asio::ssl::context>> make_unverified_client_tls_context();
hc::Result<std::shared_ptr<asio::ssl::context>> make_server_tls_context(const std::string& cert_file,
                                                                        const std::string& key_file);

// Sets SNI and the hostname (or IP address) check on a client stream before its handshake, and offers the last
// session this context got from host:port, so repeated dials (every rendezvous, every sender) resume instead of
// paying a full handshake with certificate checks. Sessions are only ever offered to the peer they came from.
hc::Result<bool> prepare_client_tls(SSL* ssl, const std::string& host, uint16_t port);

}  // namespace net
