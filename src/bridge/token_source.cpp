#include "bridge/token_source.hpp"

#include "hc/sas.hpp"
#include "hc/url.hpp"

namespace bridge {

SasTokenSource::SasTokenSource(asio::io_context& io, RelaySettings relay, std::string relay_host, Seconds ttl)
    : io_(io),
      relay_(std::move(relay)),
      host_(std::move(relay_host)),
      ttl_(std::max<int64_t>(1, static_cast<int64_t>(ttl.count()))) {}

std::string SasTokenSource::token_for(const std::string& hc, int64_t now) {
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

int64_t SasTokenSource::expiry_for(const std::string& hc) const {
  if (!relay_.sas.empty()) return fixed_expiry().value_or(0);
  auto it = cache_.find(hc);
  return it == cache_.end() ? 0 : it->second.expiry;
}

Subscription SasTokenSource::when_ready(std::function<void()>) { return nullptr; }  // always ready

Subscription SasTokenSource::when_renewal_due(const std::string& hc, int64_t now, std::function<void()> due) {
  if (!renewable()) return nullptr;
  // Renew at about 80% of the lifetime: early enough that the relay never sees an expired token.
  const int64_t in = std::max<int64_t>(1, expiry_for(hc) - ttl_ / 5 - now);
  // Dropping the handle destroys the timer, which cancels the wait.
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(in));
  timer->async_wait([due = std::move(due)](std::error_code ec) {
    if (!ec) due();
  });
  return timer;
}

std::optional<int64_t> SasTokenSource::fixed_expiry() const {
  if (relay_.sas.empty()) return std::nullopt;
  return hc::sas_token_expiry(relay_.sas);
}

std::string SasTokenSource::describe() const {
  if (!relay_.sas.empty()) return "a pre-issued SAS token";
  if (!relay_.key.empty()) return "SAS key " + hc::quote_for_message(relay_.key_name, 80);
  return "no token";
}

}  // namespace bridge
