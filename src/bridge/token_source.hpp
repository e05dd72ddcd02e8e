// SAS tokens for one relay: issued from the key with our TTL and reused while they have more than 20% of their life
// left, or a pre-issued token used as is. No credentials: no token (hybrid connections without client authorization).
#pragma once

#include "bridge/config.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace bridge {

class TokenSource {
 public:
  TokenSource(RelaySettings relay, std::string relay_host, Seconds ttl);

  // Token for `hc` at time `now` (unix seconds), or "" when there are no credentials.
  std::string token_for(const std::string& hc, int64_t now);
  // Expiry of the token last returned for `hc`, 0 when none.
  int64_t expiry_for(const std::string& hc) const;
  bool has_credentials() const { return !relay_.key.empty() || !relay_.sas.empty(); }
  bool renewable() const { return !relay_.key.empty(); }
  // For a pre-issued token: its expiry (nullopt when unknown or not pre-issued).
  std::optional<int64_t> fixed_expiry() const;
  int64_t ttl_seconds() const { return ttl_; }

 private:
  struct Cached {
    std::string token;
    int64_t issued = 0;
    int64_t expiry = 0;
  };
  RelaySettings relay_;
  std::string host_;
  int64_t ttl_;
  std::map<std::string, Cached> cache_;
};

}  // namespace bridge
