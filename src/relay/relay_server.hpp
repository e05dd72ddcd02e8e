// hcrelay: a local Hybrid Connections relay. It accepts listener control channels, senders and rendezvous dials on
// one port, pairs them as the Azure service does, and splices the pairs (reference section 7).
#pragma once

#include "net/ws_server.hpp"
#include "relay/config.hpp"
#include "relay/control_channel.hpp"
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

// Test-only misbehaviour, switched by `hcrelay --fault-control` (docs/testing.md) or by in-process tests. Everything is
// off by default and consulted only where a connection is accepted or a request is routed, never on the data path.
struct RelayFaults {
  bool refuse_listeners = false;  // listen requests get 503
  int upgrade_status = 0;         // non-zero: listen and connect requests get this HTTP status ...
  unsigned upgrade_count = 0;     // ... for this many more requests, or (0) ...
  std::chrono::steady_clock::time_point upgrade_until{};  // ... until this moment
  bool stall_rendezvous = false;  // rendezvous (accept) requests are read, then held unanswered
  bool blackhole = false;         // new TCP connections are accepted, then never read from or written to
};

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
  // Returns how many channels it ended.
  std::size_t drop_control_channels(uint16_t code);
  const RelayFaults& faults() const { return faults_; }
  void set_refuse_listeners(bool on);
  // `status` 0 clears; otherwise the next `count` listen/connect requests, or (count 0) those within `duration`.
  void set_upgrade_status(int status, unsigned count, std::chrono::milliseconds duration);
  // Turning it off routes the held rendezvous requests as usual (their senders may have given up: 403).
  void set_stall_rendezvous(bool on);
  // Turning it off closes the held connections (their peers see a FIN).
  void set_blackhole(bool on);
  void clear_faults();
  std::size_t held_count() const { return stalled_.size() + blackholed_.size(); }
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
    return o;
  }
  std::shared_ptr<net::BufferPool> buffers_ = net::BufferPool::create(32);
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
  // The upgrade-status fault: true (and the status) when this request must get it.
  bool take_upgrade_fault(int& status);
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
  HttpGateway http_{config_, listeners_};  // HTTP request mode
  RelayFaults faults_;
  std::vector<net::IncomingRequestPtr> stalled_;                    // stall_rendezvous
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> blackholed_;  // blackhole
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace relay
