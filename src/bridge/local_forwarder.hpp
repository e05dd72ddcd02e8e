// Local forward (sender side): listens on local TCP addresses and, for each client, opens a sender WebSocket to the
// hybrid connection, exchanges the azbridge preamble (unless raw) and splices.
#pragma once

#include "bridge/config.hpp"
#include "bridge/relay_context.hpp"
#include "bridge/tunnel_registry.hpp"

#include <memory>
#include <string>
#include <vector>

namespace bridge {

class LocalForwarder : public std::enable_shared_from_this<LocalForwarder> {
 public:
  LocalForwarder(asio::io_context& io, std::shared_ptr<const Config> config, LocalForward forward, RelayContext relay,
                 std::shared_ptr<TunnelRegistry> tunnels);

  // Binds every address; fails (naming the address) if any cannot be bound.
  hc::Result<bool> start();
  // Stops accepting; open tunnels are left to drain.
  void stop();

  bool listening() const { return listening_; }
  const std::string& name() const { return name_; }
  const LocalForward& forward() const { return forward_; }
  std::vector<asio::ip::tcp::endpoint> local_endpoints() const;

 private:
  struct Binding {
    LocalBinding config;
    std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
  };
  void accept_next(Binding& binding);
  void open_tunnel(asio::ip::tcp::socket client, const std::string& port_name);

  asio::io_context& io_;
  std::shared_ptr<const Config> config_;
  LocalForward forward_;
  RelayContext relay_;
  std::shared_ptr<TunnelRegistry> tunnels_;
  std::string name_;
  std::vector<std::unique_ptr<Binding>> bindings_;
  bool listening_ = false;
  bool stopped_ = false;
  std::size_t handshakes_ = 0;
};

}  // namespace bridge
