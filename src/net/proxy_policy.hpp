// Which proxy, if any, each outbound dial uses: the setting (--proxy / proxy.url; "none" turns proxying off), else the
// environment as curl and .NET read it (https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY; first non-empty wins), with
// the bypass list from the setting (--no-proxy / proxy.no_proxy), else no_proxy / NO_PROXY. Decided per dial: a
// rendezvous host is not the namespace host. Pure: the environment comes in as a lookup function.
#pragma once

#include "hc/result.hpp"
#include "net/no_proxy.hpp"
#include "net/proxy_url.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace net {

struct ProxyPolicy {
  std::optional<ProxyUrl> proxy;  // nullopt: every dial is direct
  std::string source;             // where the proxy came from: "proxy.url", "HTTPS_PROXY"... ("" when none)
  NoProxy bypass;
  std::string bypass_source;      // "proxy.no_proxy", "NO_PROXY"... ("" when empty)

  // The proxy a dial to host:port goes through, or nullptr to dial directly.
  const ProxyUrl* route(std::string_view host, uint16_t port) const;
  // For check-config and logs (password masked): "via http://u:***@p:3128 (HTTPS_PROXY)", "direct (matches
  // NO_PROXY)", "direct (no proxy configured)".
  std::string describe_route(std::string_view host, uint16_t port) const;
};

struct ProxySettings {
  std::optional<std::string> url;       // --proxy / proxy.url; "none" = off
  std::optional<std::string> no_proxy;  // --no-proxy / proxy.no_proxy
  std::string url_source = "proxy.url";
  std::string no_proxy_source = "proxy.no_proxy";
};

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
// The process environment (std::getenv).
std::optional<std::string> process_env(const char* name);

// Errors name the source ("HTTPS_PROXY: SOCKS proxies ... are not supported").
hc::Result<ProxyPolicy> resolve_proxy_policy(const ProxySettings& settings, const EnvLookup& env);

}  // namespace net
