#include "bridge/udp_route_setup.hpp"

#include "bridge/preamble_exchange.hpp"
#include "hc/guid.hpp"
#include "hc/url.hpp"

#include <ctime>

namespace bridge {

UdpRouteSetup::UdpRouteSetup(asio::io_context& io, RelayContext relay, Params params, Done done)
    : io_(io), relay_(std::move(relay)), params_(std::move(params)), done_(std::move(done)) {}

void UdpRouteSetup::start() { do_connect(); }

void UdpRouteSetup::cancel() {
  cancelled_ = true;
  done_ = nullptr;
  if (pending_) pending_->cancel();
  if (ws_) ws_->abort();
}

void UdpRouteSetup::do_connect() {
  const auto& ep = relay_.endpoint;
  net::ClientOptions options;
  options.tls = relay_.tls;
  options.ws.pool = params_.pool;
  options.timeout = params_.connect_timeout;
  const std::string token = relay_.tokens->token_for(params_.hc, static_cast<int64_t>(std::time(nullptr)));
  if (!token.empty()) options.headers.add("ServiceBusAuthorization", token);
  pending_ = net::async_ws_connect(io_, hc::connect_url(ep.tls(), ep.host, ep.port, params_.hc, hc::new_guid()),
                                   options, [self = shared_from_this()](std::error_code ec, net::ConnectResult r) {
                                     self->pending_.reset();
                                     self->on_connect(ec, std::move(r));
                                   });
}

void UdpRouteSetup::on_connect(std::error_code ec, net::ConnectResult result) {
  if (cancelled_) {
    if (result.ws) result.ws->abort();
    return;
  }
  if (ec == net::ConnectError::http_status)
    return fail(result.http_status == 404 ? "no_listener" : "relay_refused",
                std::to_string(result.http_status) + " " + result.reason);
  if (ec) return fail("relay_unreachable", result.reason.empty() ? ec.message() : result.reason);
  ws_ = result.ws;
  do_preamble();
}

void UdpRouteSetup::do_preamble() {
  async_send_preamble(
      ws_, params_.port_name, params_.preamble_timeout,
      [self = shared_from_this()](std::error_code ec, std::string leftover, std::string refusal) {
        self->on_preamble(ec, std::move(leftover), std::move(refusal));
      },
      hc::PreambleMode::datagram);
}

void UdpRouteSetup::on_preamble(std::error_code ec, std::string leftover, std::string refusal) {
  if (cancelled_) return;
  if (ec) return fail("preamble_failed", "preamble exchange failed: " + ec.message());
  if (!refusal.empty()) return fail("preamble_refused", refusal);
  Outcome out;
  out.ws = std::move(ws_);
  out.leftover = std::move(leftover);
  if (auto done = std::move(done_)) done(std::move(out));
}

void UdpRouteSetup::fail(const char* kind, std::string why) {
  if (ws_) ws_->abort();
  ws_.reset();
  Outcome out;
  out.failure = kind;
  out.why = std::move(why);
  if (auto done = std::move(done_)) done(std::move(out));
}

}  // namespace bridge
