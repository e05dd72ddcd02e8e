#include "bridge/datagram_registry.hpp"

#include "ops/logging.hpp"

#include <spdlog/spdlog.h>

#include <vector>

namespace bridge {

// The families are described, and each forward's series declared, by the daemon (bridge/metric_families.cpp).
DatagramRegistry::DatagramRegistry(std::shared_ptr<ops::Metrics> metrics) : metrics_(std::move(metrics)) {}

std::shared_ptr<DatagramTunnel> DatagramRegistry::open(TunnelInfo info, std::shared_ptr<net::WebSocket> ws,
                                                       std::string from_relay_first, DatagramLimits limits,
                                                       DatagramTunnel::SendLocal send_local,
                                                       std::function<void(const DatagramSummary&)> on_closed) {
  ops::log(spdlog::level::info,
           fmt::format("udp route {} open: forward={} hc={} peer={} tracking_id={}", info.id, info.forward, info.hc,
                       info.peer, info.tracking_id),
           "udp route open",
           {{"tunnel_id", info.id}, {"forward", info.forward}, {"hc", info.hc}, {"peer", info.peer},
            {"tracking_id", info.tracking_id}});
  auto route = std::make_shared<DatagramTunnel>(
      info, std::move(ws), std::move(from_relay_first), limits, std::move(send_local),
      [weak = weak_from_this(), then = std::move(on_closed)](DatagramTunnel& t, const DatagramSummary& s) {
        if (auto self = weak.lock()) self->closed(t, s, then);
      },
      weak_from_this());
  routes_[route.get()] = route;
  const std::size_t now_open = ++per_forward_[info.forward];
  metrics_->add("hcbridge_udp_routes_opened_total", {{"forward", info.forward}});
  metrics_->set("hcbridge_udp_routes_open", {{"forward", info.forward}}, static_cast<double>(now_open));
  route->start();
  return route;
}

void DatagramRegistry::closed(DatagramTunnel& t, const DatagramSummary& s,
                              const std::function<void(const DatagramSummary&)>& then) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(s.duration).count();
  ops::log(spdlog::level::info,
           fmt::format("udp route {} closed: forward={} reason=\"{}\" duration_ms={} datagrams_to_relay={} "
                       "datagrams_from_relay={} bytes_to_relay={} bytes_from_relay={}",
                       t.info().id, t.info().forward, s.reason, ms, s.datagrams_to_relay, s.datagrams_from_relay,
                       s.bytes_to_relay, s.bytes_from_relay),
           "udp route closed",
           {{"tunnel_id", t.info().id}, {"forward", t.info().forward}, {"peer", t.info().peer},
            {"reason", s.reason}, {"duration_ms", std::to_string(ms)},
            {"datagrams_to_relay", std::to_string(s.datagrams_to_relay)},
            {"datagrams_from_relay", std::to_string(s.datagrams_from_relay)}});
  metrics_->add("hcbridge_udp_routes_closed_total", {{"forward", t.info().forward}, {"reason", close_kind_name(s.kind)}});
  auto it = routes_.find(&t);
  if (it == routes_.end()) return;
  auto keep = it->second;  // the route must outlive this callback
  ++closing_;
  keep->hold_until_closed(std::shared_ptr<void>(static_cast<void*>(nullptr), [weak = weak_from_this()](void*) {
    auto self = weak.lock();
    if (!self) return;
    --self->closing_;
    if (self->on_change_) self->on_change_();
  }));
  routes_.erase(it);
  const std::size_t left = --per_forward_[t.info().forward];
  metrics_->set("hcbridge_udp_routes_open", {{"forward", t.info().forward}}, static_cast<double>(left));
  if (left == 0) per_forward_.erase(t.info().forward);
  if (then) then(s);
}

void DatagramRegistry::end_all(const std::string& reason) {
  std::vector<std::shared_ptr<DatagramTunnel>> all;
  for (auto& [k, v] : routes_) all.push_back(v);
  for (auto& r : all) r->end(reason, CloseKind::shutdown);
}

std::size_t DatagramRegistry::count(const std::string& forward) const {
  auto it = per_forward_.find(forward);
  return it == per_forward_.end() ? 0 : it->second;
}

void DatagramRegistry::on_datagram(const std::string& forward, bool to_relay, std::size_t bytes) {
  const char* direction = to_relay ? "to_relay" : "from_relay";
  metrics_->add("hcbridge_datagrams_total", {{"forward", forward}, {"direction", direction}});
  metrics_->add("hcbridge_bytes_total", {{"forward", forward}, {"direction", direction}}, static_cast<double>(bytes));
}

void DatagramRegistry::on_drop(const std::string& forward, DropReason reason) {
  metrics_->add("hcbridge_datagrams_dropped_total", {{"forward", forward}, {"reason", drop_reason_name(reason)}});
}

}  // namespace bridge
