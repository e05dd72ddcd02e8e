// Owns every live tunnel, like the connection_manager of Asio's HTTP server example: forwarders hand tunnels in,
// tunnels leave when they end, and shutdown is one call. It also writes the one open and one close line per tunnel.
#pragma once

#include "bridge/datagram_registry.hpp"
#include "bridge/tunnel.hpp"
#include "ops/metrics.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace bridge {

// Shared (not owned by one forwarder): forwarders and tunnels hold it while they have callbacks pending.
class TunnelRegistry : public TunnelObserver, public std::enable_shared_from_this<TunnelRegistry> {
 public:
  explicit TunnelRegistry(std::shared_ptr<ops::Metrics> metrics);

  // Creates, registers and starts a tunnel.
  std::shared_ptr<Tunnel> open(TunnelInfo info, LocalStream local, std::shared_ptr<net::WebSocket> ws,
                               std::string to_local_first, std::chrono::milliseconds idle_timeout);
  // Aborts every stream tunnel and ends every UDP route.
  void abort_all(const std::string& reason);
  std::size_t size() const { return tunnels_.size(); }
  std::size_t count(const std::string& forward) const;
  uint64_t opened() const { return opened_; }
  std::string next_id();
  ops::Metrics& metrics() { return *metrics_; }
  // The UDP routes (datagram mode) of this daemon, both sides.
  const std::shared_ptr<DatagramRegistry>& datagrams() const { return datagrams_; }
  // The I/O blocks every tunnel and tunnel WebSocket of this daemon borrows from.
  const std::shared_ptr<net::BufferPool>& buffers() const { return buffers_; }
  // A tunnel that could not be set up (relay refused, target unreachable, ...): counted by reason.
  void failed(const std::string& forward, const char* reason);

  void on_bytes(const std::string& forward, bool to_relay, std::size_t n) override;
  void on_stall(const std::string& forward, bool to_relay) override;
  void closed(Tunnel& t, const TunnelSummary& s);

  // Called after a tunnel left the registry (daemon shutdown waits on this).
  void set_on_change(std::function<void()> cb) { on_change_ = std::move(cb); }

 private:
  std::shared_ptr<ops::Metrics> metrics_;
  std::shared_ptr<DatagramRegistry> datagrams_;
  std::shared_ptr<net::BufferPool> buffers_ = net::BufferPool::create(32);  // keeps at most 2 MiB of free blocks
  std::map<Tunnel*, std::shared_ptr<Tunnel>> tunnels_;
  std::map<std::string, std::size_t> per_forward_;
  uint64_t opened_ = 0;
  uint64_t ids_ = 0;
  std::function<void()> on_change_;
};

}  // namespace bridge
