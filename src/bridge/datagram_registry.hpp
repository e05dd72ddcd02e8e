// Owns every live UDP route of the daemon (sender and listener side), like TunnelRegistry does for streams: it
// starts them, writes one open and one close line per route, keeps the UDP metrics and ends them all at shutdown.
// UDP has nothing to drain, so shutdown ends routes at once (a close frame each) instead of waiting a grace period.
#pragma once

#include "bridge/datagram_tunnel.hpp"
#include "ops/metrics.hpp"

#include <map>
#include <memory>
#include <string>

namespace bridge {

class DatagramRegistry : public DatagramObserver, public std::enable_shared_from_this<DatagramRegistry> {
 public:
  explicit DatagramRegistry(std::shared_ptr<ops::Metrics> metrics);

  // Creates, registers and starts a route. `on_closed` (optional) runs after the registry's own bookkeeping.
  std::shared_ptr<DatagramTunnel> open(TunnelInfo info, std::shared_ptr<net::WebSocket> ws,
                                       std::string from_relay_first, DatagramLimits limits,
                                       DatagramTunnel::SendLocal send_local,
                                       std::function<void(const DatagramSummary&)> on_closed = {});
  void end_all(const std::string& reason);
  std::size_t size() const { return routes_.size(); }
  std::size_t count(const std::string& forward) const;
  // No route open and no ended route's WebSocket still closing: shutdown may stop the event loop (a read still
  // pending there would keep its route and WebSocket alive in a cycle).
  bool quiet() const { return routes_.empty() && closing_ == 0; }
  // Called when quiet() may have become true.
  void set_on_change(std::function<void()> cb) { on_change_ = std::move(cb); }

  void on_datagram(const std::string& forward, bool to_relay, std::size_t bytes) override;
  void on_drop(const std::string& forward, DropReason reason) override;

 private:
  void closed(DatagramTunnel& t, const DatagramSummary& s, const std::function<void(const DatagramSummary&)>& then);

  std::shared_ptr<ops::Metrics> metrics_;
  std::map<DatagramTunnel*, std::shared_ptr<DatagramTunnel>> routes_;
  std::map<std::string, std::size_t> per_forward_;
  std::size_t closing_ = 0;
  std::function<void()> on_change_;
};

}  // namespace bridge
