// What every connection a forwarder makes to its relay shares: the TLS context, the tunnels' buffer pool, the
// connect deadline and the HTTP proxy (if any).
#pragma once

#include "bridge/config.hpp"
#include "bridge/relay_context.hpp"
#include "bridge/tunnel_registry.hpp"
#include "net/ws_client.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace bridge {

inline net::ClientOptions relay_dial_options(const RelayContext& relay, const Config& config, const TunnelRegistry& tunnels) {
  net::ClientOptions options;
  options.tls = relay.tls;
  options.ws.pool = tunnels.buffers();
  // A quiet tunnel sends a keep-alive frame every keepalive seconds, or a proxy or Azure's path drops it when idle.
  options.ws.keepalive = ms(config.keepalive);
  options.timeout = ms(config.connect_timeout);
  options.proxy = relay.proxy;
  return options;
}

// A sender's WebSocket to hybrid connection `hc` (azbridge's -L side): `options` plus the relay's token, to the sender
// URL that carries `tracking_id`. Used by the TCP handshake and by each UDP route.
std::shared_ptr<net::PendingConnect> async_sender_connect(asio::io_context& io, const RelayContext& relay,
                                                          net::ClientOptions options, const std::string& hc,
                                                          const std::string& tracking_id, net::ConnectHandler handler);
// Why a sender connect failed: a metrics reason word, and the text for the log.
const char* sender_connect_failure(std::error_code ec, const net::ConnectResult& result);
std::string describe_sender_failure(std::error_code ec, const net::ConnectResult& result);

}  // namespace bridge
