#include "bridge/token_source.hpp"

#include "hc/sas.hpp"

namespace bridge {

TokenSource::TokenSource(RelaySettings relay, std::string relay_host, Seconds ttl)
    : relay_(std::move(relay)), host_(std::move(relay_host)), ttl_(std::max<int64_t>(1, static_cast<int64_t>(ttl.count()))) {}

std::string TokenSource::token_for(const std::string& hc, int64_t now) {
  if (!relay_.sas.empty()) return relay_.sas;
  if (relay_.key.empty()) return {};
  auto& c = cache_[hc];
  // Reuse while more than 20% of the lifetime is left, so a token never expires in the middle of a handshake.
  if (!c.token.empty() && now < c.issued + (ttl_ * 8) / 10) return c.token;
  c.issued = now;
  c.expiry = now + ttl_;
  c.token = hc::create_sas_token(hc::sas_resource_uri(host_, hc), relay_.key_name, relay_.key, c.expiry);
  return c.token;
}

int64_t TokenSource::expiry_for(const std::string& hc) const {
  if (!relay_.sas.empty()) return fixed_expiry().value_or(0);
  auto it = cache_.find(hc);
  return it == cache_.end() ? 0 : it->second.expiry;
}

std::optional<int64_t> TokenSource::fixed_expiry() const {
  if (relay_.sas.empty()) return std::nullopt;
  return hc::sas_token_expiry(relay_.sas);
}

}  // namespace bridge
