// Sender side: one local client turned into a tunnel, in the shape of Asio's HTTP server `connection`: connect the
// sender WebSocket to the hybrid connection -> exchange the azbridge preamble (unless raw) -> hand both sockets to the
// TunnelRegistry. The object lives while a step is pending (shared_from_this) and its HandshakeSlot gives the
// forward's budget back when it dies.
#pragma once

#include "bridge/handshake_slot.hpp"
#include "bridge/local_forwarder.hpp"
#include "net/ws_client.hpp"

#include <memory>
#include <string>

namespace bridge {

class SenderHandshake : public Handshake, public std::enable_shared_from_this<SenderHandshake> {
 public:
  // `peer` names the client in logs ("127.0.0.1:50312", or the socket path a Unix client came through).
  SenderHandshake(std::shared_ptr<LocalForwarder> owner, LocalStream client, std::string peer, std::string port_name,
                  HandshakeSlot slot);
  void start();
  void cancel() override;

 private:
  void do_connect();
  void on_connect(std::error_code ec, net::ConnectResult result);
  void do_preamble();
  void on_preamble(std::error_code ec, std::string leftover, std::string refusal);
  void open_tunnel(std::string leftover);
  // The tunnel cannot be set up: count it, say why, and reset the client.
  void fail(const char* reason, const std::string& why);
  void reset_client();

  std::shared_ptr<LocalForwarder> owner_;
  LocalStream client_;
  std::string peer_;
  std::string port_name_;
  HandshakeSlot slot_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::string tracking_id_;
  std::shared_ptr<net::PendingConnect> pending_;
  std::shared_ptr<net::WebSocket> ws_;
  bool cancelled_ = false;
};

}  // namespace bridge
