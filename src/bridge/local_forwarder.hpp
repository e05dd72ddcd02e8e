// Local forward (sender side): listens on local TCP addresses and Unix socket paths and, for each client, runs a
// SenderHandshake (sender WebSocket to the hybrid connection, azbridge preamble unless raw) that ends in a tunnel. UDP
// bindings of the forward are served by a UdpLocalForwarder it owns (one route per client address); HTTP bindings
// (local HTTP entrances) by an HttpEntrance per client connection, which sends its requests as HC HTTP requests.
#pragma once

#include "bridge/config.hpp"
#include "bridge/handshake_slot.hpp"
#include "bridge/log_limiter.hpp"
#include "bridge/relay_context.hpp"
#include "bridge/tunnel_registry.hpp"
#include "bridge/udp_local_forwarder.hpp"
#include "net/unix_socket.hpp"

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
  // Stops accepting, removes its socket files and cancels the connections still being set up; open tunnels are left
  // to drain.
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
  std::vector<std::string> socket_paths() const;

 private:
  // One listening address (TCP) or socket path (Unix). Shared with its pending accept and retry timer, so a
  // completion that arrives after stop() (or after a restart replaced the binding) finds it alive and closed, never
  // freed.
  template <class Protocol>
  struct Binding {
    Binding(asio::io_context& io, LocalBinding c) : config(std::move(c)), acceptor(io), retry(io) {}
    LocalBinding config;
    typename Protocol::acceptor acceptor;
    asio::steady_timer retry;  // after a failed accept (EMFILE), accepting resumes when it fires
    net::SocketFile file;      // Unix: the socket file, removed on close (if still ours)
    bool closed = false;
    void close();  // no accept completion or retry acts on it any more
  };
  using TcpBinding = Binding<asio::ip::tcp>;
  using UnixBinding = Binding<net::local_stream>;
  hc::Result<std::shared_ptr<TcpBinding>> bind(const LocalBinding& b);
  hc::Result<std::shared_ptr<UnixBinding>> bind_unix(const LocalBinding& b);
  void close_bindings();
  template <class Protocol>
  void accept_next(const std::shared_ptr<Binding<Protocol>>& binding);
  template <class Protocol>
  void on_accept(const std::shared_ptr<Binding<Protocol>>& binding, std::error_code ec,
                 typename Protocol::socket client);
  void hand_over(LocalStream client, std::string peer, const LocalBinding& binding);
  hc::Result<bool> start_udp();

  asio::io_context& io_;
  std::shared_ptr<const Config> config_;
  LocalForward forward_;
  RelayContext relay_;
  std::shared_ptr<TunnelRegistry> tunnels_;
  std::string name_;
  std::vector<std::shared_ptr<TcpBinding>> bindings_;
  std::vector<std::shared_ptr<UnixBinding>> unix_bindings_;
  std::shared_ptr<HandshakeSlots> slots_ = std::make_shared<HandshakeSlots>();
  LogLimiter limit_warnings_, accept_warnings_;
  std::shared_ptr<UdpLocalForwarder> udp_;  // when the forward has UDP bindings
  bool listening_ = false;
};

}  // namespace bridge
