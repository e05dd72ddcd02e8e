// hcrelay's fault-control endpoint (`--fault-control 127.0.0.1:PORT`, test-only, off by default): a tiny HTTP
// server on loopback whose requests switch a FaultInjector (the relay's fault plan), so process-level tests can make a real relay
// misbehave on cue. The commands are listed in docs/testing.md.
#pragma once

#include "hc/result.hpp"
#include "net/ws_server.hpp"

#include <asio/ip/tcp.hpp>

#include <memory>
#include <string>

namespace relay {

class RelayServer;
class FaultInjector;

class FaultControl {
 public:
  FaultControl(asio::io_context& io, RelayServer& server, FaultInjector& faults, asio::ip::tcp::endpoint endpoint);
  ~FaultControl();

  // Binds and starts serving. Refuses any address that is not loopback.
  hc::Result<asio::ip::tcp::endpoint> start();
  void stop();

  // One command: `method` and `target` ("/faults/...?..."); returns {HTTP status, body}. Public for tests.
  std::pair<int, std::string> handle(const std::string& method, const std::string& target);

 private:
  void do_accept();

  asio::io_context& io_;
  RelayServer& server_;
  FaultInjector& faults_;
  asio::ip::tcp::endpoint endpoint_;
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace relay
