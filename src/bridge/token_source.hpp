// Where a forward's relay tokens come from. One interface for the forwarders (control channel connect and renewal,
// sender connect), two kinds behind it:
//  - SasTokenSource: SAS tokens issued from the key with our TTL and reused while they have more than 20% of their
//    life left, or a pre-issued token used as is; no credentials: no token (hybrid connections without client
//    authorization, --no-auth);
//  - EntraTokenSource (bridge/credentials/entra_token_source.hpp): a Microsoft Entra ID access token fetched in the
//    background and shared by every forward using the same credential.
#pragma once

#include "bridge/config.hpp"

#include <asio.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace bridge {

// A registration that stays active while its handle lives: drop the handle to cancel it.
using Subscription = std::shared_ptr<void>;

class TokenSource {
 public:
  virtual ~TokenSource() = default;

  // Token for `hc` at time `now` (unix seconds), or "" when there is none (no credentials, or none fetched yet).
  virtual std::string token_for(const std::string& hc, int64_t now) = 0;
  // Expiry of the token last returned for `hc`, 0 when none.
  virtual int64_t expiry_for(const std::string& hc) const = 0;
  virtual bool has_credentials() const = 0;
  // Whether token_for can give a token now (false only while a fetched token is still awaited).
  virtual bool ready() const { return true; }
  // Runs `ready` once when ready() turns true (not when it already is).
  virtual Subscription when_ready(std::function<void()> ready) = 0;
  // Runs `due` once, when a control channel for `hc` holding the token token_for gave at `now` should send a
  // renewToken with a new one. Never runs for a token that cannot be renewed.
  virtual Subscription when_renewal_due(const std::string& hc, int64_t now, std::function<void()> due) = 0;
  // For a pre-issued token: its expiry (nullopt when unknown or not pre-issued).
  virtual std::optional<int64_t> fixed_expiry() const { return std::nullopt; }
  // What the forward authenticates with, for logs and check-config: never a secret.
  virtual std::string describe() const = 0;
};

class SasTokenSource : public TokenSource {
 public:
  SasTokenSource(asio::io_context& io, RelaySettings relay, std::string relay_host, Seconds ttl);

  std::string token_for(const std::string& hc, int64_t now) override;
  int64_t expiry_for(const std::string& hc) const override;
  bool has_credentials() const override { return !relay_.key.empty() || !relay_.sas.empty(); }
  Subscription when_ready(std::function<void()> ready) override;
  // At 80% of the token's lifetime (at least 1 s from now); never for a pre-issued token or without credentials.
  Subscription when_renewal_due(const std::string& hc, int64_t now, std::function<void()> due) override;
  std::optional<int64_t> fixed_expiry() const override;
  std::string describe() const override;
  bool renewable() const { return !relay_.key.empty(); }
  int64_t ttl_seconds() const { return ttl_; }

 private:
  struct Cached {
    std::string token;
    int64_t issued = 0;
    int64_t expiry = 0;
  };
  asio::io_context& io_;
  RelaySettings relay_;
  std::string host_;
  int64_t ttl_;
  std::map<std::string, Cached> cache_;
};

}  // namespace bridge
