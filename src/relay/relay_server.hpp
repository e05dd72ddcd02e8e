// hcrelay: a local Hybrid Connections relay. It accepts listener control channels, senders and rendezvous dials on
// one port, pairs them as the Azure service does, and splices the pairs (reference section 7).
#pragma once

#include "net/ws_server.hpp"
#include "relay/config.hpp"
#include "relay/control_channel.hpp"
#include "relay/relay_tunnel.hpp"
#include "relay/routing.hpp"

#include <asio/ssl.hpp>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace relay {

class RelayServer {
 public:
  RelayServer(asio::io_context& io, RelayConfig config);
  ~RelayServer();

  // Binds and starts accepting. Errors name the address and the reason.
  hc::Result<asio::ip::tcp::endpoint> start();
  // Stops accepting, closes control channels (1001) and tunnels, refuses waiting senders. Safe to call twice.
  void stop();
  bool tls() const { return tls_ != nullptr; }

  // Fault hooks for tests: end every control channel with a close frame carrying `code`, or (code 0) by dropping TCP.
  void drop_control_channels(uint16_t code);

  // Counters for tests and logs.
  std::size_t listener_count() const;
  std::size_t tunnel_count() const { return tunnels_.size(); }
  bool idle() const { return listeners_.empty() && tunnels_.empty() && pending_.empty(); }
  // What counts toward max_connections: handshakes being read, waiting senders, listeners and tunnel sides.
  std::size_t connection_count() const;
  uint64_t refused_connections() const { return refused_; }

 private:
  struct PendingSender {
    net::IncomingRequestPtr request;
    std::shared_ptr<asio::steady_timer> timer;
    std::string hc;
  };

  void do_accept();
  void on_request(std::error_code ec, const net::IncomingRequestPtr& request, const std::string& problem);
  void handle_listen(const net::IncomingRequestPtr& request, const HcRequest& hcr, int64_t expiry);
  void handle_connect(const net::IncomingRequestPtr& request, const HcRequest& hcr);
  void handle_accept(const net::IncomingRequestPtr& request, const HcRequest& hcr);
  void reject(const net::IncomingRequestPtr& request, int status, const std::string& reason);
  hc::SasCheck check_token(const net::IncomingRequestPtr& request, const HcRequest& hcr, const std::string& ns_host,
                           const std::string& hc_path) const;
  std::string next_conn_id();
  std::weak_ptr<void> liveness() const { return alive_; }

  asio::io_context& io_;
  RelayConfig config_;
  std::shared_ptr<asio::ssl::context> tls_;
  asio::ip::tcp::acceptor acceptor_;
  bool stopped_ = false;
  uint64_t conn_counter_ = 0;
  std::size_t handshaking_ = 0;  // connections whose HTTP head is being read
  uint64_t refused_ = 0;         // connections closed because max_connections was reached
  bool full_ = false;            // logged once per episode of being full
  std::mt19937_64 rng_;

  std::map<std::string, std::vector<std::shared_ptr<ControlChannel>>> listeners_;  // by hc_key()
  std::map<std::string, PendingSender> pending_;                                    // by rendezvous id
  std::set<std::shared_ptr<RelayTunnel>> tunnels_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace relay
