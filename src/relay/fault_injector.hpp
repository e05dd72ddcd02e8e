// The test implementation of FaultPlan: switches that make a RelayServer misbehave on cue. Used by in-process tests
// and by `hcrelay --fault-control` (docs/testing.md); never installed otherwise. Everything is off by default.
#pragma once

#include "relay/fault_plan.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

namespace relay {

class RelayServer;

struct RelayFaults {
  bool refuse_listeners = false;  // listen requests get 503
  int upgrade_status = 0;         // non-zero: listen and connect requests get this HTTP status ...
  unsigned upgrade_count = 0;     // ... for this many more requests, or (0) ...
  std::chrono::steady_clock::time_point upgrade_until{};  // ... until this moment
  bool stall_rendezvous = false;  // rendezvous (accept) requests are read, then held unanswered
  bool blackhole = false;         // new TCP connections are accepted, then never read from or written to
  bool silent_listeners = false;  // new control channels get their 101, then are never read (no pong, no close)
};

class FaultInjector : public FaultPlan {
 public:
  explicit FaultInjector(RelayServer& server) : server_(server) {}

  const RelayFaults& faults() const { return faults_; }
  // Whether the upgrade-status fault is in force right now.
  bool upgrade_status_active() const;
  void set_refuse_listeners(bool on) { faults_.refuse_listeners = on; }
  // `status` 0 clears; otherwise the next `count` listen/connect requests, or (count 0) those within `duration`.
  void set_upgrade_status(int status, unsigned count, std::chrono::milliseconds duration);
  // Turning it off routes the held rendezvous requests as usual (their senders may have given up: 403).
  void set_stall_rendezvous(bool on);
  // Turning it off closes the held connections (their peers see a FIN).
  void set_blackhole(bool on);
  // Turning it off drops the silent control channels (their listeners see the TCP connection end).
  void set_silent_listeners(bool on);
  void clear();
  // Connections the faults hold: stalled rendezvous, black-holed sockets, silent control channels.
  std::size_t held_count() const { return stalled_.size() + blackholed_.size() + silent_.size(); }

  bool on_accept_connection(asio::ip::tcp::socket& socket) override;
  Answer on_upgrade(Action action) override;
  Answer on_rendezvous(const net::IncomingRequestPtr& request) override;
  bool on_listener_connected(const std::shared_ptr<net::WebSocket>& ws) override;
  void on_stop() override;

 private:
  RelayServer& server_;
  RelayFaults faults_;
  std::vector<net::IncomingRequestPtr> stalled_;
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> blackholed_;
  std::vector<std::shared_ptr<net::WebSocket>> silent_;
};

}  // namespace relay
