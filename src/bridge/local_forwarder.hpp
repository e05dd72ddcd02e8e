// Local forward (sender side): listens on local TCP addresses and, for each client, runs a SenderHandshake (sender
// WebSocket to the hybrid connection, azbridge preamble unless raw) that ends in a tunnel. UDP bindings of the forward
// are served by a UdpLocalForwarder it owns (one route per client address).
#pragma once

#include "bridge/config.hpp"
#include "bridge/handshake_slot.hpp"
#include "bridge/log_limiter.hpp"
#include "bridge/relay_context.hpp"
#include "bridge/tunnel_registry.hpp"
#include "bridge/udp_local_forwarder.hpp"

#include <memory>
#include <string>
#include <vector>

namespace bridge {

class LocalForwarder : public std::enable_shared_from_this<LocalForwarder> {
 public:
  LocalForwarder(asio::io_context& io, std::shared_ptr<const Config> config, LocalForward forward, RelayContext relay,
                 std::shared_ptr<TunnelRegistry> tunnels);

  // Binds every address; fails (naming the address) if any cannot be bound. Also restarts after stop() (a reload
  // that rolled back).
  hc::Result<bool> start();
  // Stops accepting and cancels the connections still being set up; open tunnels are left to drain.
  void stop();

  bool listening() const { return listening_; }
  const std::string& name() const { return name_; }
  const LocalForward& forward() const { return forward_; }
  std::vector<asio::ip::tcp::endpoint> local_endpoints() const;
  std::size_t handshakes() const { return slots_->in_use(); }

  // For the handshakes this forwarder starts (sender_handshake.hpp).
  asio::io_context& io() { return io_; }
  const Config& config() const { return *config_; }
  const RelayContext& relay() const { return relay_; }
  TunnelRegistry& tunnels() { return *tunnels_; }
  std::vector<asio::ip::udp::endpoint> udp_endpoints() const;

 private:
  // One listening address. Shared with its pending accept and retry timer, so a completion that arrives after stop()
  // (or after a restart replaced the binding) finds it alive and closed, never freed.
  struct Binding {
    Binding(asio::io_context& io, LocalBinding c) : config(std::move(c)), acceptor(io), retry(io) {}
    LocalBinding config;
    asio::ip::tcp::acceptor acceptor;
    asio::steady_timer retry;  // after a failed accept (EMFILE), accepting resumes when it fires
    bool closed = false;
    void close();  // no accept completion or retry acts on it any more
  };
  hc::Result<std::shared_ptr<Binding>> bind(const LocalBinding& b);
  void close_bindings();
  void accept_next(const std::shared_ptr<Binding>& binding);
  void on_accept(const std::shared_ptr<Binding>& binding, std::error_code ec, asio::ip::tcp::socket client);
  hc::Result<bool> start_udp();

  asio::io_context& io_;
  std::shared_ptr<const Config> config_;
  LocalForward forward_;
  RelayContext relay_;
  std::shared_ptr<TunnelRegistry> tunnels_;
  std::string name_;
  std::vector<std::shared_ptr<Binding>> bindings_;
  std::shared_ptr<HandshakeSlots> slots_ = std::make_shared<HandshakeSlots>();
  LogLimiter limit_warnings_, accept_warnings_;
  std::shared_ptr<UdpLocalForwarder> udp_;  // when the forward has UDP bindings
  bool listening_ = false;
};

}  // namespace bridge
