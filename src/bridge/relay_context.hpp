// What a forwarder needs to reach its relay: the parsed endpoint, a TLS context (when the endpoint is TLS), tokens and
// the proxy policy (which proxy, if any, each dial goes through).
#pragma once

#include "bridge/config.hpp"
#include "bridge/token_source.hpp"
#include "hc/url.hpp"
#include "net/proxy_policy.hpp"

#include <asio/ssl.hpp>

#include <memory>

namespace bridge {

struct RelayContext {
  hc::Uri endpoint;
  std::shared_ptr<asio::ssl::context> tls;  // null for ws://
  std::shared_ptr<TokenSource> tokens;
  std::shared_ptr<const net::ProxyPolicy> proxy;  // null: direct
};

}  // namespace bridge
