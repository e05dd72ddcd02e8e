#include "bridge/accept_handshake.hpp"

#include "bridge/relay_dial.hpp"
#include "bridge/udp_remote_tunnel.hpp"
#include "hc/datagram.hpp"
#include "hc/url.hpp"
#include "net/address.hpp"
#include "net/tcp_connect.hpp"
#include "net/unix_socket.hpp"

#include <spdlog/spdlog.h>

namespace bridge {

std::string describe_connect_failure(const std::string& hc, std::error_code ec, const net::ConnectResult& r) {
  if (ec == net::ConnectError::http_status) {
    switch (r.http_status) {
      case 401: return "401 Unauthorized (check the credentials): " + r.reason;
      case 403: return "403 Forbidden: " + r.reason;
      case 404: return "404: hybrid connection '" + hc + "' not found: " + r.reason;
      default: return std::to_string(r.http_status) + " " + r.reason;
    }
  }
  return r.reason.empty() ? ec.message() : r.reason;
}

AcceptHandshake::AcceptHandshake(std::shared_ptr<RemoteForwarder> owner, hc::AcceptMessage accept, HandshakeSlot slot)
    : owner_(std::move(owner)), accept_(std::move(accept)), slot_(std::move(slot)), target_socket_(owner_->io()) {
  peer_ = accept_.remote_address.empty()
              ? std::string("?")
              : net::host_for_url(accept_.remote_address) + ":" + std::to_string(accept_.remote_port);
}

void AcceptHandshake::start() {
  slot_.attach(weak_from_this());
  do_dial();
}

void AcceptHandshake::cancel() {
  cancelled_ = true;
  if (pending_) pending_->cancel();
  if (ws_) ws_->abort();
  std::error_code ignored;
  target_socket_.close(ignored);
}

void AcceptHandshake::fail(const char* reason, const std::string& why) {
  owner_->tunnels().failed(owner_->name(), reason);
  spdlog::warn("{}: connection {} from {}: {}", owner_->name(), accept_.id, peer_, why);
}

void AcceptHandshake::do_dial() {
  auto options = relay_dial_options(owner_->relay(), owner_->config(), owner_->tunnels());
  pending_ = net::async_ws_connect(owner_->io(), accept_.address, options,
                                   [self = shared_from_this()](std::error_code ec, net::ConnectResult r) {
                                     self->pending_.reset();
                                     self->on_dial(ec, std::move(r));
                                   });
}

void AcceptHandshake::on_dial(std::error_code ec, net::ConnectResult result) {
  if (cancelled_) {
    if (result.ws) result.ws->abort();
    return;
  }
  if (ec) {
    owner_->tunnels().failed(owner_->name(), "rendezvous_failed");
    return spdlog::warn("{}: rendezvous for connection {} failed: {}", owner_->name(), accept_.id,
                        describe_connect_failure(owner_->forward().hc, ec, result));
  }
  ws_ = std::move(result.ws);
  if (owner_->forward().raw) return do_connect_target(owner_->forward().targets.front());
  do_read_preamble();
}

void AcceptHandshake::do_read_preamble() {
  async_read_preamble(ws_, ms(owner_->config().preamble_timeout),
                      [self = shared_from_this()](std::error_code ec, PreambleRequest request) {
                        self->on_preamble(ec, std::move(request));
                      });
}

void AcceptHandshake::on_preamble(std::error_code ec, PreambleRequest request) {
  if (cancelled_) return;
  if (ec) {
    ws_->abort();
    return fail("bad_preamble", std::string("no preamble from the sender: ") +
                                    (ec == asio::error::timed_out ? "timed out" : ec.message()));
  }
  if (!request.error.empty()) return refuse_preamble(request);
  target_ = owner_->pick_target(request.port_name);
  if (target_ == nullptr) {
    // azbridge closes without a reply here; we also say so in the log, which azbridge does not (its issue #10).
    std::string known;
    for (const auto& t : owner_->forward().targets) known += (known.empty() ? "" : ", ") + t.port_name;
    fail("unknown_port_name", "unknown port name '" + request.port_name + "' (this forward has: " + known + ")");
    return ws_->send_close(1008, "unknown port name '" + request.port_name + "'");
  }
  const bool udp = target_->protocol == Protocol::udp;
  if ((request.mode == hc::PreambleMode::datagram) != udp) return refuse_mode(request, udp);
  leftover_ = std::move(request.leftover);
  if (udp) return open_udp_route();
  do_connect_target(*target_);
}

void AcceptHandshake::refuse_preamble(const PreambleRequest& request) {
  auto ws = ws_;
  fail("bad_preamble", "bad preamble: " + request.error);
  if (request.reply_on_error.empty()) return ws->send_close(1008, request.error);
  async_send_reply(ws, request.reply_on_error, [ws](std::error_code) { ws->send_close(1008, "bad preamble"); });
}

// azbridge's answers to a mode that does not fit the port: {0,0,1} "this port is UDP", {0,0,FF} "this port is a stream".
void AcceptHandshake::refuse_mode(const PreambleRequest& request, bool port_is_udp) {
  auto ws = ws_;
  fail("bad_preamble", "port '" + request.port_name + "' is " + (port_is_udp ? "UDP" : "a stream") +
                           " but the sender asked for " + (port_is_udp ? "a stream" : "UDP"));
  async_send_reply(ws, hc::preamble_answer(request.mode, port_is_udp),
                   [ws](std::error_code) { ws->send_close(1008, "protocol mismatch"); });
}

// A datagram route: UdpRemoteTunnel connects its UDP socket to the target and replies; this handshake (and its slot)
// lives until that set-up has finished.
void AcceptHandshake::open_udp_route() {
  TunnelInfo info{owner_->tunnels().next_id(), owner_->name(), owner_->forward().hc, peer_, accept_.id, started_};
  DatagramLimits limits;
  limits.idle_timeout = ms(owner_->forward().idle_timeout.value_or(owner_->config().udp_idle_timeout));
  auto route = std::make_shared<UdpRemoteTunnel>(
      owner_->io(), owner_->tunnels().datagrams(), info, ws_, std::move(leftover_), *target_, limits,
      [self = shared_from_this()](bool ok, const char* failure, const std::string& why) {
        self->slot_.release();
        if (!ok && !self->cancelled_) self->fail(failure, "UDP target unreachable: " + why);
      });
  route->start();
}

// The target is connected before the reply: a refused target is then reported to the sender (azbridge replies first
// and closes later, so its clients see a connect followed by EOF).
void AcceptHandshake::do_connect_target(const RemoteTarget& target) {
  target_ = &target;
  const auto timeout = ms(owner_->config().connect_timeout);
  auto connected = [self = shared_from_this()](std::error_code ec, auto socket) {
    self->on_target(ec, LocalStream(std::move(socket)));
  };
  if (target.protocol == Protocol::unix_socket) {
    net::async_unix_connect(owner_->io(), target.socket_path, timeout, std::move(connected));
    return;
  }
  net::async_tcp_connect(owner_->io(), target.host, target.port, timeout, std::move(connected));
}

void AcceptHandshake::on_target(std::error_code ec, LocalStream socket) {
  if (cancelled_) return;
  if (ec) {
    fail("target_unreachable", "target " + target_text(*target_) + " unreachable: " + ec.message());
    return ws_->send_close(1011, "target unreachable: " + ec.message());
  }
  target_socket_ = std::move(socket);
  if (owner_->forward().raw) return open_tunnel();
  do_reply();
}

void AcceptHandshake::do_reply() {
  async_send_reply(ws_, hc::preamble_reply_accepted(hc::PreambleMode::stream),
                   [self = shared_from_this()](std::error_code ec) { self->on_reply(ec); });
}

void AcceptHandshake::on_reply(std::error_code ec) {
  if (cancelled_) return;
  if (ec) {
    ws_->abort();
    return fail("preamble_failed", "the preamble reply could not be sent: " + ec.message());
  }
  open_tunnel();
}

void AcceptHandshake::open_tunnel() {
  slot_.release();  // from here the tunnel counts toward max_connections
  TunnelInfo info{owner_->tunnels().next_id(), owner_->name(), owner_->forward().hc, peer_ + " -> " + target_text(*target_),
                  accept_.id, started_};
  const Seconds idle = owner_->forward().idle_timeout.value_or(owner_->config().idle_timeout);
  owner_->tunnels().open(info, std::move(target_socket_), ws_, std::move(leftover_), ms(idle));
}

RejectHandshake::RejectHandshake(std::shared_ptr<RemoteForwarder> owner, std::string url, HandshakeSlot slot)
    : owner_(std::move(owner)), url_(std::move(url)), slot_(std::move(slot)) {}

void RejectHandshake::start() {
  slot_.attach(weak_from_this());
  auto options = relay_dial_options(owner_->relay(), owner_->config(), owner_->tunnels());
  pending_ = net::async_ws_connect(owner_->io(), url_, options,
                                   [self = shared_from_this()](std::error_code, net::ConnectResult r) {
                                     self->pending_.reset();
                                     if (r.ws) r.ws->abort();  // a relay should answer 410; never keep a socket
                                   });
}

void RejectHandshake::cancel() {
  if (pending_) pending_->cancel();
}

}  // namespace bridge
