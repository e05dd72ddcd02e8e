#include "bridge/tunnel_registry.hpp"

#include <spdlog/spdlog.h>

#include <vector>

namespace bridge {

std::string TunnelRegistry::next_id() { return "t" + std::to_string(++ids_); }

std::shared_ptr<Tunnel> TunnelRegistry::open(TunnelInfo info, asio::ip::tcp::socket tcp,
                                             std::shared_ptr<net::WebSocket> ws, std::string to_tcp_first,
                                             std::chrono::milliseconds idle_timeout) {
  spdlog::info("tunnel {} open: forward={} hc={} peer={} tracking_id={}", info.id, info.forward, info.hc, info.peer,
               info.tracking_id);
  auto tunnel = std::make_shared<Tunnel>(
      info, std::move(tcp), std::move(ws), std::move(to_tcp_first), idle_timeout,
      [this](Tunnel& t, const TunnelSummary& s) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(s.duration).count();
        // Normal ends are info: an operator has nothing to do about a client that hung up.
        spdlog::info("tunnel {} closed: forward={} reason=\"{}\" duration_ms={} bytes_to_relay={} bytes_from_relay={}",
                     t.info().id, t.info().forward, s.reason, ms, s.bytes_to_relay, s.bytes_from_relay);
        auto it = tunnels_.find(&t);
        if (it != tunnels_.end()) {
          auto keep = it->second;  // the tunnel must outlive this callback
          tunnels_.erase(it);
          if (--per_forward_[t.info().forward] == 0) per_forward_.erase(t.info().forward);
          if (on_change_) on_change_();
        }
      });
  tunnels_[tunnel.get()] = tunnel;
  ++per_forward_[info.forward];
  ++opened_;
  tunnel->start();
  return tunnel;
}

void TunnelRegistry::abort_all(const std::string& reason) {
  std::vector<std::shared_ptr<Tunnel>> all;
  for (auto& [k, v] : tunnels_) all.push_back(v);
  for (auto& t : all) t->abort(reason);
}

std::size_t TunnelRegistry::count(const std::string& forward) const {
  auto it = per_forward_.find(forward);
  return it == per_forward_.end() ? 0 : it->second;
}

}  // namespace bridge
