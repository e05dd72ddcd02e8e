#include "bridge/credentials/entra_token_source.hpp"

#include "bridge/credentials/refresh_policy.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

namespace bridge {
namespace {

int64_t now_unix() { return static_cast<int64_t>(std::time(nullptr)); }
// Token times are whole seconds; timers are set from the precise clock, or a refresh planned for second N would fire
// up to a second late (and a 10 s token has no second to spare).
double now_precise() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Before the first token (or after it expired) there is nothing to protect: retry from 1 s up to 30 s.
double cold_retry_delay(unsigned attempt, double jitter01) {
  const double ceiling = std::min(30.0, std::pow(2.0, std::min(attempt, 10u)));
  return std::max(1.0, ceiling / 2 + ceiling / 2 * jitter01);
}

}  // namespace

EntraTokenSource::EntraTokenSource(asio::io_context& io, EntraCredential credential, FetchContext context,
                                   std::shared_ptr<ops::Metrics> metrics)
    : io_(io),
      credential_(std::move(credential)),
      context_(std::move(context)),
      metrics_(std::move(metrics)),
      timer_(io) {
  std::string label = entra_kind_name(credential_.kind);
  std::replace(label.begin(), label.end(), '-', '_');
  labels_ = {{"credential", label}};
  if (metrics_) {
    metrics_->declare("hcbridge_token_expiry_seconds", labels_);
    for (const char* result : {"ok", "failed"}) {
      ops::Labels l = labels_;
      l.emplace_back("result", result);
      metrics_->declare("hcbridge_token_fetches_total", l);
    }
  }
}

void EntraTokenSource::start() {
  if (started_) return;
  started_ = true;
  spdlog::info("relay authentication: {}", credential_.describe());
  do_fetch();
}

void EntraTokenSource::stop() {
  stopped_ = true;
  timer_.cancel();
  if (fetch_) fetch_->cancel();
  fetch_.reset();
}

void EntraTokenSource::do_fetch() {
  if (stopped_) return;
  fetch_ = TokenFetch::start(io_, credential_, context_, [weak = weak_from_this()](FetchOutcome outcome) {
    if (auto self = weak.lock()) self->on_fetched(std::move(outcome));
  });
}

void EntraTokenSource::on_fetched(FetchOutcome outcome) {
  fetch_.reset();
  if (stopped_) return;
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  const int64_t now = now_unix();
  const char* result = outcome.ok ? "ok" : "failed";
  if (metrics_) {
    ops::Labels l = labels_;
    l.emplace_back("result", result);
    metrics_->add("hcbridge_token_fetches_total", l);
  }
  if (!outcome.ok) {
    ++failed_;
    last_problem_ = outcome.problem;
    const bool alive = !token_.token.empty() && token_.expiry > now;
    const auto now_up = static_cast<int64_t>(std::ceil(now_precise()));  // what is left, counted without the fraction
    const double delay = alive ? RefreshPolicy::retry_delay(attempt_, now_up, token_.issued, token_.expiry, jitter(rng_))
                               : cold_retry_delay(attempt_, jitter(rng_));
    ++attempt_;
    // While the current token lives, a failing endpoint is a warning (nothing is lost yet); without one it is an
    // error an operator must act on, unless it is the kind of failure that heals by itself.
    if (alive)
      spdlog::warn("Entra ID token refresh failed ({}): {}; the current token is valid for {} s more; retrying in {:.0f} s",
                   entra_kind_name(credential_.kind), outcome.problem, token_.expiry - now, delay);
    else if (outcome.transient)
      spdlog::warn("Entra ID token fetch failed ({}): {}; retrying in {:.0f} s", entra_kind_name(credential_.kind),
                   outcome.problem, delay);
    else
      spdlog::error("Entra ID token fetch failed ({}): {}; retrying in {:.0f} s", entra_kind_name(credential_.kind),
                    outcome.problem, delay);
    return schedule(delay);
  }
  ++ok_;
  attempt_ = 0;
  last_problem_.clear();
  token_ = std::move(outcome.token);
  ++generation_;
  if (metrics_) metrics_->set("hcbridge_token_expiry_seconds", labels_, static_cast<double>(token_.expiry));
  const int64_t at = RefreshPolicy::refresh_at(token_.issued, token_.expiry, jitter(rng_));
  spdlog::debug("Entra ID token fetched ({}), valid for {} s; next refresh in {} s", entra_kind_name(credential_.kind),
                token_.expiry - now, at - now);
  schedule(std::max(1.0, static_cast<double>(at) - now_precise()));
  notify(ready_waiters_);
  notify(renewal_waiters_);
}

void EntraTokenSource::schedule(double seconds) {
  // The expiry comes from the network: a token "valid" for centuries must not overflow the timer; a day is plenty
  // (the refresh then simply happens early).
  seconds = std::clamp(seconds, 0.0, 86400.0);
  timer_.expires_after(std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  timer_.async_wait([weak = weak_from_this()](std::error_code ec) {
    if (auto self = weak.lock(); self && !ec) self->do_fetch();
  });
}

// Each waiter runs once, from the io_context (never inside the caller's stack).
void EntraTokenSource::notify(std::vector<std::weak_ptr<Slot>>& slots) {
  std::vector<std::weak_ptr<Slot>> due;
  due.swap(slots);
  for (auto& w : due)
    asio::post(io_, [w] {
      if (auto slot = w.lock()) (*slot)();
    });
}

Subscription EntraTokenSource::add(std::vector<std::weak_ptr<Slot>>& slots, std::function<void()> fn) {
  slots.erase(std::remove_if(slots.begin(), slots.end(), [](const auto& w) { return w.expired(); }), slots.end());
  auto slot = std::make_shared<Slot>(std::move(fn));
  slots.push_back(slot);
  return slot;
}

std::string EntraTokenSource::token_for(const std::string& hc, int64_t) {
  handed_[hc] = generation_;
  return token_.token;
}

int64_t EntraTokenSource::expiry_for(const std::string&) const { return token_.expiry; }

Subscription EntraTokenSource::when_ready(std::function<void()> ready) { return add(ready_waiters_, std::move(ready)); }

Subscription EntraTokenSource::when_renewal_due(const std::string& hc, int64_t, std::function<void()> due) {
  auto slot = add(renewal_waiters_, std::move(due));
  // A token newer than the one this hybrid connection was handed arrived meanwhile: renew at once.
  if (auto it = handed_.find(hc); it != handed_.end() && it->second < generation_) notify(renewal_waiters_);
  return slot;
}

}  // namespace bridge
