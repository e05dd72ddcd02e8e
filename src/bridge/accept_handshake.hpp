// Listener side: one `accept` from the control channel turned into a tunnel, step by step, in the shape of Asio's
// HTTP server `connection`: dial the rendezvous address -> read the sender's preamble -> connect the target -> reply
// -> hand both sockets to the TunnelRegistry (a UDP port instead gets a UdpRemoteTunnel, which connects its socket and
// replies). Each step is a do_x/on_x pair; the object lives while a step is pending (shared_from_this) and its
// HandshakeSlot gives the forward's budget back when it dies.
// RejectHandshake is the 503 answer to an accept over the limit: it dials the reject address and hangs up, holding a
// slot of the same budget while it does.
#pragma once

#include "bridge/handshake_slot.hpp"
#include "bridge/preamble_exchange.hpp"
#include "bridge/remote_forwarder.hpp"
#include "hc/control_message.hpp"

#include <memory>
#include <string>

namespace bridge {

// Why a relay connect failed, in words an operator can act on.
std::string describe_connect_failure(const std::string& hc, std::error_code ec, const net::ConnectResult& r);

class AcceptHandshake : public Handshake, public std::enable_shared_from_this<AcceptHandshake> {
 public:
  AcceptHandshake(std::shared_ptr<RemoteForwarder> owner, hc::AcceptMessage accept, HandshakeSlot slot);
  void start();
  void cancel() override;

 private:
  void do_dial();
  void on_dial(std::error_code ec, net::ConnectResult result);
  void do_read_preamble();
  void on_preamble(std::error_code ec, PreambleRequest request);
  void refuse_preamble(const PreambleRequest& request);
  void refuse_mode(const PreambleRequest& request, bool port_is_udp);
  void open_udp_route();
  void do_connect_target(const RemoteTarget& target);
  void on_target(std::error_code ec, LocalStream socket);
  void do_reply();
  void on_reply(std::error_code ec);
  void open_tunnel();
  void fail(const char* reason, const std::string& why);

  std::shared_ptr<RemoteForwarder> owner_;
  hc::AcceptMessage accept_;
  HandshakeSlot slot_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::string peer_;  // the sender, as the relay reports it
  std::shared_ptr<net::PendingConnect> pending_;
  std::shared_ptr<net::WebSocket> ws_;
  const RemoteTarget* target_ = nullptr;
  std::string leftover_;  // payload that came with the preamble
  LocalStream target_socket_;
  bool cancelled_ = false;
};

class RejectHandshake : public Handshake, public std::enable_shared_from_this<RejectHandshake> {
 public:
  RejectHandshake(std::shared_ptr<RemoteForwarder> owner, std::string url, HandshakeSlot slot);
  void start();
  void cancel() override;

 private:
  std::shared_ptr<RemoteForwarder> owner_;
  std::string url_;
  HandshakeSlot slot_;
  std::shared_ptr<net::PendingConnect> pending_;
};

}  // namespace bridge
