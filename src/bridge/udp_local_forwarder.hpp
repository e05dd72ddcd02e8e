// Local UDP forward (sender side, azbridge's `-L 5353U:hc`): receives datagrams on local addresses and gives every
// client address its own route, i.e. its own sender WebSocket in datagram mode (azbridge.md 2.5).
//  - a route's rendezvous is set up on its own (UdpRouteSetup): other clients of the same port keep flowing meanwhile
//    (azbridge sets routes up inside its receive loop and stalls every client while one connects);
//  - datagrams that arrive while their route is being set up wait in a small queue; beyond it they are dropped;
//  - a route whose set-up failed drops its client's datagrams for a short while before trying again, so a client
//    cannot make us dial the relay once per datagram;
//  - at most max_connections routes per forward; replies go to the route's client address from the bound socket.
#pragma once

#include "bridge/config.hpp"
#include "bridge/datagram_registry.hpp"
#include "bridge/relay_context.hpp"
#include "bridge/tunnel_registry.hpp"
#include "bridge/udp_route_setup.hpp"

#include <asio.hpp>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bridge {

class UdpLocalForwarder : public std::enable_shared_from_this<UdpLocalForwarder> {
 public:
  static constexpr std::size_t kSetupQueueDatagrams = 16;       // queued per route while its rendezvous is set up
  static constexpr std::size_t kSetupQueueBytes = 64 * 1024;    // ... and at most this many bytes
  static constexpr auto kRetryAfterFailure = std::chrono::seconds(1);

  UdpLocalForwarder(asio::io_context& io, std::shared_ptr<const Config> config, LocalForward forward,
                    RelayContext relay, std::shared_ptr<TunnelRegistry> tunnels,
                    std::shared_ptr<DatagramRegistry> routes);

  // Binds every address; fails (naming the address) if any cannot be bound.
  hc::Result<bool> start();
  // Stops receiving and ends every route.
  void stop();

  bool listening() const { return listening_; }
  const std::string& name() const { return name_; }
  const LocalForward& forward() const { return forward_; }
  std::vector<asio::ip::udp::endpoint> local_endpoints() const;
  std::size_t routes() const { return routes_.size(); }

 private:
  struct Binding;
  struct Route;
  void receive_next(const std::shared_ptr<Binding>& binding);
  void drain_socket(const std::shared_ptr<Binding>& binding);
  void on_datagram(const std::shared_ptr<Binding>& binding, const asio::ip::udp::endpoint& from, std::size_t size);
  std::shared_ptr<Route> new_route(const std::shared_ptr<Binding>& binding, const asio::ip::udp::endpoint& client);
  void on_route_ready(const std::shared_ptr<Route>& route, UdpRouteSetup::Outcome ready);
  void on_route_failed(const std::shared_ptr<Route>& route, const char* kind, const std::string& why);
  void forget(const std::shared_ptr<Route>& route);
  void drop(DropReason reason);

  asio::io_context& io_;
  std::shared_ptr<const Config> config_;
  LocalForward forward_;
  RelayContext relay_;
  std::shared_ptr<TunnelRegistry> tunnels_;
  std::shared_ptr<DatagramRegistry> registry_;
  std::string name_;
  std::vector<std::shared_ptr<Binding>> bindings_;
  std::map<std::pair<const Binding*, asio::ip::udp::endpoint>, std::shared_ptr<Route>> routes_;
  std::vector<uint8_t> receive_buffer_;  // one datagram at a time, shared by the bindings (single-threaded)
  bool listening_ = false;
  bool stopped_ = false;
};

}  // namespace bridge
