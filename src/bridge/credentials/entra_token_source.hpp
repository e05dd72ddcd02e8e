// One cached Entra ID access token per credential, shared by every forward that uses it (reference
// egress-and-identity.md 2.3): fetched at start, refreshed ahead of expiry by RefreshPolicy, retried with backoff while
// the current token still lives; each new token wakes the control channels waiting to send renewToken. A token
// endpoint that is down costs nothing while the current token lives. Never logs a token or a secret.
#pragma once

#include "bridge/credentials/entra_credential.hpp"
#include "bridge/credentials/token_fetch.hpp"
#include "bridge/token_source.hpp"
#include "ops/metrics.hpp"

#include <asio.hpp>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace bridge {

class EntraTokenSource : public TokenSource, public std::enable_shared_from_this<EntraTokenSource> {
 public:
  EntraTokenSource(asio::io_context& io, EntraCredential credential, FetchContext context,
                   std::shared_ptr<ops::Metrics> metrics);
  // The first fetch. Idempotent.
  void start();
  // Cancels the fetch or timer in progress; nothing is called back afterwards.
  void stop();

  std::string token_for(const std::string& hc, int64_t now) override;
  int64_t expiry_for(const std::string& hc) const override;
  bool has_credentials() const override { return true; }
  bool ready() const override { return !token_.token.empty(); }
  Subscription when_ready(std::function<void()> ready) override;
  Subscription when_renewal_due(const std::string& hc, int64_t now, std::function<void()> due) override;
  std::string describe() const override { return credential_.describe(); }

  EntraKind kind() const { return credential_.kind; }
  // Fetches so far, by result (for /readyz).
  unsigned fetches_ok() const { return ok_; }
  unsigned fetches_failed() const { return failed_; }
  const std::string& last_problem() const { return last_problem_; }

 private:
  using Slot = std::function<void()>;
  void do_fetch();
  void on_fetched(FetchOutcome outcome);
  void schedule(double seconds);
  void notify(std::vector<std::weak_ptr<Slot>>& slots);
  static Subscription add(std::vector<std::weak_ptr<Slot>>& slots, std::function<void()> fn);

  asio::io_context& io_;
  const EntraCredential credential_;
  FetchContext context_;
  std::shared_ptr<ops::Metrics> metrics_;
  ops::Labels labels_;
  asio::steady_timer timer_;
  std::shared_ptr<TokenFetch> fetch_;
  FetchedToken token_;
  uint64_t generation_ = 0;               // of token_
  std::map<std::string, uint64_t> handed_;  // generation last handed out per hybrid connection
  std::vector<std::weak_ptr<Slot>> ready_waiters_, renewal_waiters_;
  unsigned attempt_ = 0;
  unsigned ok_ = 0, failed_ = 0;
  std::string last_problem_;
  bool started_ = false, stopped_ = false;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace bridge
