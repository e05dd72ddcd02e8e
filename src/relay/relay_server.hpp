// hcrelay: a local Hybrid Connections relay. It accepts listener control channels, senders and rendezvous dials on
// one port, pairs them as the Azure service does, and splices the pairs (reference section 7).
#pragma once

#include "net/ws_server.hpp"
#include "relay/config.hpp"
#include "relay/control_channel.hpp"
#include "relay/fault_plan.hpp"
#include "relay/http_gateway.hpp"
#include "relay/relay_tunnel.hpp"
#include "relay/routing.hpp"

#include <asio/ssl.hpp>

#include <chrono>
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

  // Ends every control channel with a close frame carrying `code` and `reason`, or (code 0) by dropping TCP.
  // Returns how many. stop() uses it; so do fault tests (hence the default reason).
  std::size_t drop_control_channels(uint16_t code, const std::string& reason = "fault injected");
  // Where tests make the relay misbehave (fault_plan.hpp); the default plan does nothing. Null restores it.
  void set_fault_plan(std::shared_ptr<FaultPlan> plan);
  // Routes a request whose head was read: listen, connect or rendezvous. A fault plan hands held requests back here.
  void route(const net::IncomingRequestPtr& request);
  std::size_t pending_count() const { return pending_.size(); }

  // Counters for tests and logs.
  std::size_t listener_count() const;
  std::size_t tunnel_count() const { return tunnels_.size(); }
  bool idle() const { return listeners_.empty() && tunnels_.empty() && pending_.empty(); }
  // I/O blocks on loan to connections right now (quiet connections hold none).
  std::size_t buffers_in_use() const { return buffers_->in_use(); }
  // What counts toward max_connections: handshakes being read, waiting senders, listeners and tunnel sides.
  std::size_t connection_count() const;
  uint64_t refused_connections() const { return refused_; }

 private:
  // Both ends of a tunnel read into blocks from one pool, which the splice then writes from in place.
  net::WebSocket::Options tunnel_options() const {
    net::WebSocket::Options o;
    o.pool = buffers_;
    o.drop_when_silent = config_.idle_timeout;
    return o;
  }
  std::shared_ptr<net::BufferPool> buffers_ = net::BufferPool::create(32);
  struct PendingSender {
    net::IncomingRequestPtr request;
    std::shared_ptr<asio::steady_timer> timer;
    std::string hc;
    std::shared_ptr<ControlChannel::AcceptSlot> slot;  // counts against the chosen listener's accept queue
  };

  void do_accept();
  void on_request(std::error_code ec, const net::IncomingRequestPtr& request, const std::string& problem);
  void handle_listen(const net::IncomingRequestPtr& request, const HcRequest& hcr, const hc::SasCheck& check);
  void handle_connect(const net::IncomingRequestPtr& request, const HcRequest& hcr);
  void register_listener(const std::shared_ptr<ControlChannel>& channel, const std::string& key, const std::string& conn,
                         const asio::ip::tcp::endpoint& peer);
  // A listener of `key` chosen at random among those that can take an accept now; null when none can.
  std::shared_ptr<ControlChannel> pick_listener(const std::string& key);
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

  // By hc_key(); an entry exists only while it holds a registered listener (the empty ones are erased).
  std::map<std::string, std::vector<std::shared_ptr<ControlChannel>>> listeners_;
  std::map<std::string, PendingSender> pending_;                                    // by rendezvous id
  std::set<std::shared_ptr<RelayTunnel>> tunnels_;
  // HTTP request mode; a kept-alive sender's next request comes back through on_request like a new connection's.
  HttpGateway http_{config_, listeners_,
                    [this](std::error_code ec, const net::IncomingRequestPtr& r, const std::string& p) { on_request(ec, r, p); }};
  std::shared_ptr<FaultPlan> faults_;  // never null
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace relay
