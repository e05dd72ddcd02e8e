// The one seam through which tests make hcrelay misbehave. RelayServer consults its plan at these named points and
// nowhere else (never on the data path); the default plan lets everything through, so production never misbehaves.
// The test implementation is FaultInjector (fault_injector.hpp), driven in-process or by `--fault-control`.
#pragma once

#include "net/websocket.hpp"
#include "net/ws_server.hpp"
#include "relay/routing.hpp"

#include <asio/ip/tcp.hpp>

#include <memory>
#include <string>

namespace relay {

class FaultPlan {
 public:
  struct Answer {
    int status = 0;  // non-zero: answer the request with this status and reason instead of routing it
    std::string reason;
    bool held = false;  // the plan took the request over (it may hand it back with RelayServer::route)
  };

  virtual ~FaultPlan() = default;
  // A TCP connection was accepted. True: the plan took it over and the relay forgets it.
  virtual bool on_accept_connection(asio::ip::tcp::socket& /*socket*/) { return false; }
  // A listen or connect request is about to be routed.
  virtual Answer on_upgrade(Action /*action*/) { return {}; }
  // A rendezvous (accept) request is about to be paired with its sender.
  virtual Answer on_rendezvous(const net::IncomingRequestPtr& /*request*/) { return {}; }
  // A listener's upgrade is done. True: the plan took the WebSocket over (it is never registered nor read).
  virtual bool on_listener_connected(const std::shared_ptr<net::WebSocket>& /*ws*/) { return false; }
  // The relay stops: let go of whatever the plan holds.
  virtual void on_stop() {}
};

}  // namespace relay
