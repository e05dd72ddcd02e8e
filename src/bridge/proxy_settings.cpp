#include "bridge/proxy_settings.hpp"

#include "hc/url.hpp"

#include <set>

namespace bridge {

const char* const kProxyEnvironment[6] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"};

hc::Result<std::shared_ptr<const net::ProxyPolicy>> make_proxy_policy(const ProxyConfig& config) {
  net::ProxySettings settings;
  settings.url = config.url;
  settings.no_proxy = config.no_proxy;
  settings.url_source = "--proxy/proxy.url";  // one setting, from the flag or the file (the flag wins)
  settings.no_proxy_source = "--no-proxy/proxy.no_proxy";
  const auto lookup = [&config](const char* name) -> std::optional<std::string> {
    const auto it = config.env.find(name);
    if (it == config.env.end()) return std::nullopt;
    return it->second;
  };
  auto policy = net::resolve_proxy_policy(settings, lookup);
  if (!policy) return hc::fail(policy.error());
  if (policy->proxy && !config.credentials.empty()) {
    auto applied = net::apply_proxy_credentials(*policy->proxy, config.credentials);
    if (!applied) return hc::fail("proxy.credentials_file: " + applied.error());
  }
  return std::make_shared<const net::ProxyPolicy>(std::move(policy.value()));
}

std::string describe_proxy_policy(const net::ProxyPolicy& policy) {
  std::string out = "proxy: ";
  out += policy.proxy ? policy.proxy->masked() + " (" + policy.source + ")" : std::string("none");
  if (!policy.bypass.empty()) out += ", bypass: " + policy.bypass.to_string() + " (" + policy.bypass_source + ")";
  return out;
}

std::string describe_proxy_routes(const Config& config) {
  auto policy = make_proxy_policy(config.proxy);
  if (!policy) return {};
  std::string out = "check-config: " + describe_proxy_policy(*policy.value()) + "\n";
  std::set<std::string> seen;
  auto add = [&](const std::optional<RelaySettings>& layer) {
    const RelaySettings r = effective_relay(config, layer);
    auto uri = hc::parse_uri(r.endpoint.empty() ? std::string(kDefaultEndpoint) : r.endpoint);
    if (!uri) return;
    const std::string authority = uri->host_for_url() + ":" + std::to_string(uri->port);
    if (!seen.insert(authority).second) return;
    out += "check-config: relay " + authority + ": " + policy.value()->describe_route(uri->host, uri->port) + "\n";
  };
  for (const auto& f : config.local_forwards) add(f.relay);
  for (const auto& f : config.remote_forwards) add(f.relay);
  return out;
}

}  // namespace bridge
