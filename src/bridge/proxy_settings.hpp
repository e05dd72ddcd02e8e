// The daemon's proxy policy: the config's proxy section resolved against the environment it captured
// (net::resolve_proxy_policy), with the credentials file applied. One policy per configuration.
#pragma once

#include "bridge/config.hpp"
#include "hc/result.hpp"
#include "net/proxy_policy.hpp"

#include <memory>
#include <string>

namespace bridge {

// The environment variables the proxy settings read (copied into ProxyConfig::env by the command line).
extern const char* const kProxyEnvironment[6];

// Errors name the setting or variable they come from ("HTTPS_PROXY: SOCKS proxies ... are not supported").
hc::Result<std::shared_ptr<const net::ProxyPolicy>> make_proxy_policy(const ProxyConfig& config);

// One line for logs: "proxy: none", or "proxy: http://u:***@p:3128 (HTTPS_PROXY), bypass: localhost,10.0.0.0/8
// (NO_PROXY)". Never a password.
std::string describe_proxy_policy(const net::ProxyPolicy& policy);

// For check-config (stderr): the policy line, then one line per relay endpoint the forwards use, saying which way its
// dials go ("check-config: relay ns.servicebus.windows.net:443: via http://p:3128 (HTTPS_PROXY)").
std::string describe_proxy_routes(const Config& config);

}  // namespace bridge
