// Listener side of a UDP route (azbridge's `-T hc:53U`): after a sender's datagram preamble, open a connected UDP
// socket to the target, answer {1,0,1}, then carry datagrams both ways (DatagramTunnel) until the route ends (idle
// expiry, the sender's close, an error), when the socket is closed too.
// Steps: resolve the target -> connect the UDP socket -> send the reply -> run. A target that cannot be resolved or
// connected is reported to the sender with a close frame, never with an accept.
#pragma once

#include "bridge/config.hpp"
#include "bridge/datagram_registry.hpp"

#include <asio.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bridge {

class UdpRemoteTunnel : public std::enable_shared_from_this<UdpRemoteTunnel> {
 public:
  // `done(ok, failure_reason)` is called once the set-up has finished (the route then runs on its own).
  using SetupDone = std::function<void(bool ok, const char* failure, const std::string& why)>;

  UdpRemoteTunnel(asio::io_context& io, std::shared_ptr<DatagramRegistry> registry, TunnelInfo info,
                  std::shared_ptr<net::WebSocket> ws, std::string leftover, RemoteTarget target,
                  DatagramLimits limits, SetupDone done);
  void start();

 private:
  void do_resolve();
  void on_resolve(std::error_code ec, asio::ip::udp::resolver::results_type results);
  void do_reply();
  void on_reply(std::error_code ec);
  void receive_next();
  void drain_socket();
  void fail(const char* kind, const std::string& why);

  asio::io_context& io_;
  std::shared_ptr<DatagramRegistry> registry_;
  TunnelInfo info_;
  std::shared_ptr<net::WebSocket> ws_;
  std::string leftover_;
  RemoteTarget target_;
  DatagramLimits limits_;
  SetupDone done_;
  asio::ip::udp::resolver resolver_;
  asio::ip::udp::socket socket_;
  std::shared_ptr<std::string> reply_;
  std::shared_ptr<DatagramTunnel> tunnel_;
};

}  // namespace bridge
