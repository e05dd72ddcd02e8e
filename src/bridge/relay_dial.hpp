// What every connection a forwarder makes to its relay shares: the TLS context, the tunnels' buffer pool, the
// connect deadline and the HTTP proxy (if any).
#pragma once

#include "bridge/config.hpp"
#include "bridge/relay_context.hpp"
#include "bridge/tunnel_registry.hpp"
#include "net/ws_client.hpp"

#include <chrono>

namespace bridge {

inline net::ClientOptions relay_dial_options(const RelayContext& relay, const Config& config, const TunnelRegistry& tunnels) {
  net::ClientOptions options;
  options.tls = relay.tls;
  options.ws.pool = tunnels.buffers();
  options.timeout = ms(config.connect_timeout);
  options.proxy = relay.proxy;
  return options;
}

}  // namespace bridge
