#include "bridge/udp_route_setup.hpp"

#include "bridge/preamble_exchange.hpp"
#include "hc/guid.hpp"
#include "bridge/relay_dial.hpp"

namespace bridge {

UdpRouteSetup::UdpRouteSetup(asio::io_context& io, RelayContext relay, net::ClientOptions options, Params params,
                             Done done)
    : io_(io), relay_(std::move(relay)), options_(std::move(options)), params_(std::move(params)), done_(std::move(done)) {}

void UdpRouteSetup::start() { do_connect(); }

void UdpRouteSetup::cancel() {
  cancelled_ = true;
  done_ = nullptr;
  if (pending_) pending_->cancel();
  if (ws_) ws_->abort();
}

void UdpRouteSetup::do_connect() {
  tracking_id_ = hc::new_guid();
  pending_ = async_sender_connect(io_, relay_, options_, params_.hc, tracking_id_,
                                  [self = shared_from_this()](std::error_code ec, net::ConnectResult r) {
                                    self->pending_.reset();
                                    self->on_connect(ec, std::move(r));
                                  });
}

void UdpRouteSetup::on_connect(std::error_code ec, net::ConnectResult result) {
  if (cancelled_) {
    if (result.ws) result.ws->abort();
    return;
  }
  if (ec) return fail(sender_connect_failure(ec, result), describe_sender_failure(ec, result));
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
  out.tracking_id = tracking_id_;
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
