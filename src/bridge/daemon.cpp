#include "bridge/daemon.hpp"

#include "net/tls.hpp"

#include <spdlog/spdlog.h>

namespace bridge {

Daemon::Daemon(asio::io_context& io, Config config) : io_(io), config_(std::move(config)), grace_timer_(io) {}

hc::Result<RelayContext> Daemon::relay_context(const RelaySettings& settings) {
  RelayContext ctx;
  auto uri = hc::parse_uri(settings.endpoint.empty() ? std::string(kDefaultEndpoint) : settings.endpoint);
  if (!uri) return hc::fail("relay endpoint: " + uri.error());
  ctx.endpoint = uri.value();
  if (ctx.endpoint.tls()) {
    auto& tls = tls_by_ca_[settings.ca_file];
    if (!tls) {
      auto made = net::make_client_tls_context(settings.ca_file);
      if (!made) return hc::fail(made.error());
      tls = made.value();
    }
    ctx.tls = tls;
  }
  ctx.tokens = std::make_shared<TokenSource>(settings, ctx.endpoint.host, config_.token_ttl);
  return ctx;
}

std::optional<StartError> Daemon::start() {
  for (const auto& f : config_.remote_forwards) {
    auto ctx = relay_context(effective_relay(config_, f.relay));
    if (!ctx) return StartError{2, "remote forward '" + f.hc + "': " + ctx.error()};
    remote_.push_back(std::make_shared<RemoteForwarder>(io_, config_, f, ctx.value(), tunnels_));
  }
  for (const auto& f : config_.local_forwards) {
    auto ctx = relay_context(effective_relay(config_, f.relay));
    if (!ctx) return StartError{2, "local forward '" + f.hc + "': " + ctx.error()};
    auto forwarder = std::make_shared<LocalForwarder>(io_, config_, f, ctx.value(), tunnels_);
    auto started = forwarder->start();
    if (!started) {
      for (auto& l : local_) l->stop();
      return StartError{1, started.error()};
    }
    local_.push_back(forwarder);
  }
  // Control channels connect in the background; a relay that is down at start-up is retried like any other failure.
  for (auto& r : remote_) r->start();
  return std::nullopt;
}

void Daemon::shutdown(std::function<void()> on_done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  on_drained_ = std::move(on_done);
  for (auto& l : local_) l->stop();
  for (auto& r : remote_) r->stop();
  if (tunnels_.size() > 0) {
    spdlog::info("shutting down: waiting up to {:.0f} s for {} open tunnel(s) to finish", config_.grace_period.count(),
                 tunnels_.size());
  }
  tunnels_.set_on_change([this] { check_drained(); });
  grace_timer_.expires_after(std::chrono::milliseconds(static_cast<int64_t>(config_.grace_period.count() * 1000)));
  grace_timer_.async_wait([this](std::error_code ec) {
    if (ec) return;
    if (tunnels_.size() > 0) spdlog::warn("grace period over: aborting {} tunnel(s)", tunnels_.size());
    tunnels_.abort_all("shutdown");
    check_drained();
  });
  check_drained();
}

void Daemon::abort_now() {
  tunnels_.abort_all("shutdown");
  check_drained();
}

void Daemon::check_drained() {
  if (!shutting_down_ || tunnels_.size() > 0 || !on_drained_) return;
  grace_timer_.cancel();
  auto cb = std::move(on_drained_);
  on_drained_ = nullptr;
  asio::post(io_, cb);
}

}  // namespace bridge
