#include "bridge/sender_handshake.hpp"

#include "bridge/preamble_exchange.hpp"
#include "bridge/relay_dial.hpp"
#include "hc/guid.hpp"

#include <spdlog/spdlog.h>

namespace bridge {

SenderHandshake::SenderHandshake(std::shared_ptr<LocalForwarder> owner, LocalStream client, std::string peer,
                                 std::string port_name, HandshakeSlot slot)
    : owner_(std::move(owner)), client_(std::move(client)), peer_(std::move(peer)), port_name_(std::move(port_name)),
      slot_(std::move(slot)), tracking_id_(hc::new_guid()) {}

void SenderHandshake::start() {
  slot_.attach(weak_from_this());
  do_connect();
}

void SenderHandshake::cancel() {
  cancelled_ = true;
  if (pending_) pending_->cancel();
  if (ws_) ws_->abort();
  reset_client();
}

void SenderHandshake::reset_client() {
  // A reset, not a FIN: the client may already have sent its request, and a clean end would read as "the service
  // answered nothing" instead of "the tunnel failed" (the same rule as an aborted tunnel).
  std::error_code ignored;
  client_.set_option(asio::socket_base::linger(true, 0), ignored);
  client_.close(ignored);
}

void SenderHandshake::fail(const char* reason, const std::string& why) {
  owner_->tunnels().failed(owner_->name(), reason);
  spdlog::warn("{}: client {}: cannot open a tunnel: {}", owner_->name(), peer_, why);
  reset_client();
}

void SenderHandshake::do_connect() {
  auto options = relay_dial_options(owner_->relay(), owner_->config(), owner_->tunnels());
  pending_ = async_sender_connect(owner_->io(), owner_->relay(), std::move(options), owner_->forward().hc, tracking_id_,
                                  [self = shared_from_this()](std::error_code ec, net::ConnectResult r) {
                                    self->pending_.reset();
                                    self->on_connect(ec, std::move(r));
                                  });
}

void SenderHandshake::on_connect(std::error_code ec, net::ConnectResult result) {
  if (cancelled_) {
    if (result.ws) result.ws->abort();
    return;
  }
  if (ec) return fail(sender_connect_failure(ec, result), describe_sender_failure(ec, result));
  ws_ = std::move(result.ws);
  if (owner_->forward().raw) return open_tunnel({});
  do_preamble();
}

void SenderHandshake::do_preamble() {
  async_send_preamble(ws_, port_name_, ms(owner_->config().preamble_timeout),
                      [self = shared_from_this()](std::error_code ec, std::string leftover, std::string refusal) {
                        self->on_preamble(ec, std::move(leftover), std::move(refusal));
                      });
}

void SenderHandshake::on_preamble(std::error_code ec, std::string leftover, std::string refusal) {
  if (cancelled_) return;
  if (ec || !refusal.empty()) ws_->abort();
  if (ec) return fail("preamble_failed", "preamble exchange failed: " + ec.message());
  if (!refusal.empty()) return fail("preamble_refused", refusal);
  open_tunnel(std::move(leftover));
}

void SenderHandshake::open_tunnel(std::string leftover) {
  slot_.release();  // from here the tunnel counts toward max_connections
  TunnelInfo info{owner_->tunnels().next_id(), owner_->name(), owner_->forward().hc, peer_, tracking_id_, started_};
  const Seconds idle = owner_->forward().idle_timeout.value_or(owner_->config().idle_timeout);
  owner_->tunnels().open(info, std::move(client_), ws_, std::move(leftover), ms(idle));
}

}  // namespace bridge
