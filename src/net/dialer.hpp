// The outbound dial for relay and token endpoints: a connected TCP socket to host:port, directly or through an HTTP
// CONNECT proxy, whichever the ProxyPolicy says for that host and port (decided per dial).
//
// Usage (any HTTPS or WebSocket client):
//   net::DialOptions dial{policy, timeout};          // policy: shared_ptr<const ProxyPolicy>, may be null (direct)
//   auto pending = net::async_dial(io, host, 443, dial,
//       [](std::error_code ec, asio::ip::tcp::socket socket, std::string detail) {
//         if (ec) ...;  // detail says what failed, names the proxy masked; proxy_error_word(ec) for a metric label
//         // Then TLS on `socket` with SNI and the certificate check for `host` (net::prepare_client_tls), never for
//         // the proxy; the proxy only ever sees "CONNECT host:443".
//       });
//   pending->cancel();  // optional: the handler then runs with operation_aborted
// The socket is handed over right after the proxy's 2xx head: nothing of the tunnel has been read.
#pragma once

#include "net/proxy_connect.hpp"
#include "net/proxy_policy.hpp"
#include "net/tcp_connect.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace net {

struct DialOptions {
  std::shared_ptr<const ProxyPolicy> proxy;   // null, or a policy without proxy: direct
  std::chrono::milliseconds timeout{20000};  // one deadline for TCP and the CONNECT exchange
};

// Runs exactly once. On failure the socket is closed and `detail` is a message for logs (never a credential); errors
// of proxy_category() (ProxyError) mean the proxy refused or failed, others come from TCP (refused, timed_out...).
using DialHandler = std::function<void(std::error_code, asio::ip::tcp::socket, std::string detail)>;

std::shared_ptr<PendingDial> async_dial(asio::io_context& io, const std::string& host, uint16_t port,
                                        const DialOptions& options, DialHandler handler);

}  // namespace net
