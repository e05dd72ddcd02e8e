// A spliced pair of WebSockets (sender <-> listener). Data frames are re-framed chunk by chunk (RFC 6455 lets an
// intermediary change fragmentation): each chunk is sent on from the reading side's pooled block, so memory per tunnel
// is at most one block per direction however large the messages are (none while quiet), and a direction reads only
// after its last chunk was written: a slow reader slows the writer. Close frames are forwarded per
// direction; a TCP drop on one side drops the other side without a close frame, as the service does.
#pragma once

#include "net/websocket.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace relay {

class RelayTunnel : public std::enable_shared_from_this<RelayTunnel> {
 public:
  RelayTunnel(std::string id, std::shared_ptr<net::WebSocket> sender, std::shared_ptr<net::WebSocket> listener,
              std::function<void(RelayTunnel&)> on_finished);
  void start();
  void abort();
  // Ends both directions with a close frame (relay shutdown).
  void close(uint16_t code, const std::string& reason);
  const std::string& id() const { return id_; }

 private:
  struct Direction {
    std::shared_ptr<net::WebSocket> from, to;
    const char* name;
  };
  void pump(Direction& d);
  void on_socket_finished();

  std::string id_;
  Direction to_listener_, to_sender_;
  std::function<void(RelayTunnel&)> on_finished_;
  int sockets_open_ = 2;
};

}  // namespace relay
