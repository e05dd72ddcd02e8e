#include "net/proxy_policy.hpp"

#include "hc/url.hpp"

#include <cstdlib>

namespace net {

const ProxyUrl* ProxyPolicy::route(std::string_view host, uint16_t port) const {
  if (!proxy || bypass.matches(host, port)) return nullptr;
  return &*proxy;
}

std::string ProxyPolicy::describe_route(std::string_view host, uint16_t port) const {
  if (!proxy) return "direct (no proxy configured)";
  if (bypass.matches(host, port)) return "direct (matches " + bypass_source + ")";
  return "via " + proxy->masked() + " (" + source + ")";
}

std::optional<std::string> process_env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

namespace {

// The first variable that is set and not empty (curl treats an empty value as unset).
std::optional<std::pair<std::string, std::string>> first_set(const EnvLookup& env, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto v = env(name);
    if (v && !v->empty()) return std::make_pair(std::string(name), *v);
  }
  return std::nullopt;
}

}  // namespace

hc::Result<ProxyPolicy> resolve_proxy_policy(const ProxySettings& settings, const EnvLookup& env) {
  ProxyPolicy policy;
  std::optional<std::pair<std::string, std::string>> chosen;
  if (settings.url) {
    if (!hc::iequals(*settings.url, "none")) chosen = std::make_pair(settings.url_source, *settings.url);
  } else {
    chosen = first_set(env, {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"});
  }
  if (chosen) {
    auto url = parse_proxy_url(chosen->second);
    if (!url) return hc::fail(chosen->first + ": " + url.error());
    policy.proxy = std::move(url.value());
    policy.source = chosen->first;
  }
  std::optional<std::pair<std::string, std::string>> bypass;
  if (settings.no_proxy) bypass = std::make_pair(settings.no_proxy_source, *settings.no_proxy);
  else bypass = first_set(env, {"no_proxy", "NO_PROXY"});
  if (bypass) {
    auto list = NoProxy::parse(bypass->second);
    if (!list) return hc::fail(bypass->first + ": " + list.error());
    policy.bypass = std::move(list.value());
    policy.bypass_source = bypass->first;
  }
  return policy;
}

}  // namespace net
