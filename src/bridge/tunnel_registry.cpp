#include "bridge/tunnel_registry.hpp"

#include "ops/logging.hpp"

#include <spdlog/spdlog.h>

#include <vector>

namespace bridge {

// The families (the UDP ones too) are described by the daemon (bridge/metric_families.cpp), with every label set known
// in advance.
TunnelRegistry::TunnelRegistry(std::shared_ptr<ops::Metrics> metrics)
    : metrics_(std::move(metrics)), datagrams_(std::make_shared<DatagramRegistry>(metrics_)) {}

void TunnelRegistry::failed(const std::string& forward, const char* reason) {
  metrics_->add("hcbridge_tunnels_failed_total", {{"forward", forward}, {"reason", reason}});
}

void TunnelRegistry::on_bytes(const std::string& forward, bool to_relay, std::size_t n) {
  metrics_->add("hcbridge_bytes_total", {{"forward", forward}, {"direction", to_relay ? "to_relay" : "from_relay"}},
               static_cast<double>(n));
}

void TunnelRegistry::on_stall(const std::string& forward, bool to_relay) {
  metrics_->add("hcbridge_backpressure_stalls_total",
               {{"forward", forward}, {"direction", to_relay ? "to_relay" : "from_relay"}});
}

std::string TunnelRegistry::next_id() { return "t" + std::to_string(++ids_); }

std::shared_ptr<Tunnel> TunnelRegistry::open(TunnelInfo info, LocalStream local,
                                             std::shared_ptr<net::WebSocket> ws, std::string to_local_first,
                                             std::chrono::milliseconds idle_timeout) {
  ops::log(spdlog::level::info,
           fmt::format("tunnel {} open: forward={} hc={} peer={} tracking_id={}", info.id, ops::text_value(info.forward),
                       ops::text_value(info.hc), ops::text_value(info.peer), ops::text_value(info.tracking_id)),
           "tunnel open",
           {{"tunnel_id", info.id}, {"forward", info.forward}, {"hc", info.hc}, {"peer", info.peer},
            {"tracking_id", info.tracking_id}});
  auto tunnel = std::make_shared<Tunnel>(
      info, std::move(local), std::move(ws), std::move(to_local_first), idle_timeout, buffers_,
      [weak = weak_from_this()](Tunnel& t, const TunnelSummary& s) {
        auto self = weak.lock();
        if (self) self->closed(t, s);
      },
      weak_from_this());
  tunnels_[tunnel.get()] = tunnel;
  const std::size_t now_open = ++per_forward_[info.forward];
  ++opened_;
  metrics_->add("hcbridge_tunnels_opened_total", {{"forward", info.forward}});
  metrics_->set("hcbridge_tunnels_open", {{"forward", info.forward}}, static_cast<double>(now_open));
  if (info.setup_started != std::chrono::steady_clock::time_point{}) {
    const std::chrono::duration<double> setup = std::chrono::steady_clock::now() - info.setup_started;
    metrics_->observe("hcbridge_tunnel_setup_seconds", {{"forward", info.forward}}, setup.count());
  }
  tunnel->start();
  return tunnel;
}

void TunnelRegistry::closed(Tunnel& t, const TunnelSummary& s) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(s.duration).count();
  // Normal ends are info: an operator has nothing to do about a client that hung up.
  ops::log(spdlog::level::info,
           fmt::format("tunnel {} closed: forward={} reason={} duration_ms={} bytes_to_relay={} bytes_from_relay={}",
                       t.info().id, ops::text_value(t.info().forward), ops::text_value(s.reason, true), ms,
                       s.bytes_to_relay, s.bytes_from_relay),
           "tunnel closed",
           {{"tunnel_id", t.info().id}, {"forward", t.info().forward}, {"hc", t.info().hc}, {"peer", t.info().peer},
            {"tracking_id", t.info().tracking_id}, {"reason", s.reason}, {"duration_ms", ms},
            {"bytes_to_relay", s.bytes_to_relay}, {"bytes_from_relay", s.bytes_from_relay}});
  metrics_->add("hcbridge_tunnels_closed_total", {{"forward", t.info().forward}, {"reason", close_kind_name(s.kind)}});
  auto it = tunnels_.find(&t);
  if (it != tunnels_.end()) {
    auto keep = it->second;  // the tunnel must outlive this callback
    tunnels_.erase(it);
    const std::size_t left = --per_forward_[t.info().forward];
    metrics_->set("hcbridge_tunnels_open", {{"forward", t.info().forward}}, static_cast<double>(left));
    if (left == 0) per_forward_.erase(t.info().forward);
    if (on_change_) on_change_();
  }
}

void TunnelRegistry::abort_all(const std::string& reason) {
  std::vector<std::shared_ptr<Tunnel>> all;
  for (auto& [k, v] : tunnels_) all.push_back(v);
  for (auto& t : all) t->abort(reason, CloseKind::shutdown);
  datagrams_->end_all(reason);
}

std::size_t TunnelRegistry::count(const std::string& forward) const {
  auto it = per_forward_.find(forward);
  return it == per_forward_.end() ? 0 : it->second;
}

}  // namespace bridge
