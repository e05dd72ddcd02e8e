#include "bridge/udp_local_forwarder.hpp"

#include "bridge/relay_dial.hpp"
#include "net/address.hpp"

#include <spdlog/spdlog.h>

namespace bridge {
namespace {

constexpr std::size_t kMaxUdpPayload = 65535;
constexpr int kDatagramsPerWakeup = 64;
constexpr int kSocketReceiveBuffer = 1 << 20;  // then yield to the event loop, so one busy port cannot starve the others

std::string endpoint_text(const asio::ip::udp::endpoint& ep) {
  return net::host_for_url(ep.address().to_string()) + ":" + std::to_string(ep.port());
}

}  // namespace

struct UdpLocalForwarder::Binding {
  LocalBinding config;
  asio::ip::udp::socket socket;
  Binding(asio::io_context& io, LocalBinding b) : config(std::move(b)), socket(io) {}
};

struct UdpLocalForwarder::Route {
  std::shared_ptr<Binding> binding;
  asio::ip::udp::endpoint client;
  std::string id;
  std::chrono::steady_clock::time_point setup_started;
  std::shared_ptr<UdpRouteSetup> setup;      // while the rendezvous is being set up
  std::deque<std::vector<uint8_t>> pending;  // datagrams that arrived meanwhile
  std::size_t pending_bytes = 0;
  std::shared_ptr<DatagramTunnel> tunnel;    // once open
  bool failed = false;                       // set-up failed: drop until the route is forgotten
};

UdpLocalForwarder::UdpLocalForwarder(asio::io_context& io, std::shared_ptr<const Config> config, LocalForward forward,
                                     RelayContext relay, std::shared_ptr<TunnelRegistry> tunnels,
                                     std::shared_ptr<DatagramRegistry> routes)
    : io_(io),
      config_(std::move(config)),
      forward_(std::move(forward)),
      relay_(std::move(relay)),
      tunnels_(std::move(tunnels)),
      registry_(std::move(routes)),
      name_("L:" + forward_.hc),
      receive_buffer_(kMaxUdpPayload + 1) {}

hc::Result<bool> UdpLocalForwarder::start() {
  bindings_.clear();
  stopped_ = false;
  for (const auto& b : forward_.bindings) {
    std::error_code ec;
    asio::ip::address address = asio::ip::make_address(b.bind_host == "*" ? "0.0.0.0" : b.bind_host, ec);
    if (ec) {
      asio::ip::udp::resolver resolver(io_);
      auto results = resolver.resolve(b.bind_host, std::to_string(b.port), ec);
      if (ec || results.empty()) return hc::fail("cannot resolve bind address '" + b.bind_host + "': " + ec.message());
      address = results.begin()->endpoint().address();
    }
    const asio::ip::udp::endpoint ep(address, b.port);
    auto binding = std::make_shared<Binding>(io_, b);
    binding->socket.open(ep.protocol(), ec);
    if (!ec && ep.address().is_v6()) binding->socket.set_option(asio::ip::v6_only(true), ec);
    // Bursts from many clients land here before the loop reads them; the kernel caps this at net.core.rmem_max.
    std::error_code ignored;
    if (!ec) binding->socket.set_option(asio::socket_base::receive_buffer_size(kSocketReceiveBuffer), ignored);
    if (!ec) binding->socket.bind(ep, ec);
    if (!ec) binding->socket.non_blocking(true, ec);
    if (ec) return hc::fail(name_ + ": cannot bind UDP " + endpoint_text(ep) + ": " + ec.message());
    spdlog::info("{}: listening on {}/udp (port name '{}')", name_, endpoint_text(binding->socket.local_endpoint()),
                 b.port_name);
    bindings_.push_back(std::move(binding));
  }
  listening_ = true;
  for (auto& b : bindings_) receive_next(b);
  return true;
}

void UdpLocalForwarder::stop() {
  stopped_ = true;
  listening_ = false;
  auto routes = std::move(routes_);
  for (auto& [key, route] : routes) {
    if (route->setup) route->setup->cancel();
    if (route->tunnel) route->tunnel->end("shutdown", CloseKind::shutdown);
  }
  for (auto& b : bindings_) {
    std::error_code ignored;
    b->socket.close(ignored);
  }
}

std::vector<asio::ip::udp::endpoint> UdpLocalForwarder::local_endpoints() const {
  std::vector<asio::ip::udp::endpoint> out;
  for (const auto& b : bindings_) {
    std::error_code ec;
    auto ep = b->socket.local_endpoint(ec);
    if (!ec) out.push_back(ep);
  }
  return out;
}

void UdpLocalForwarder::receive_next(const std::shared_ptr<Binding>& binding) {
  // A readiness wait, then non-blocking reads: a burst is taken in one go without a handler per datagram.
  binding->socket.async_wait(asio::ip::udp::socket::wait_read,
                             [self = shared_from_this(), binding](std::error_code ec) {
                               if (self->stopped_ || ec == asio::error::operation_aborted) return;
                               if (ec) spdlog::warn("{}: UDP receive failed: {}", self->name_, ec.message());
                               self->drain_socket(binding);
                             });
}

void UdpLocalForwarder::drain_socket(const std::shared_ptr<Binding>& binding) {
  for (int i = 0; i < kDatagramsPerWakeup && !stopped_; ++i) {
    asio::ip::udp::endpoint from;
    std::error_code ec;
    const std::size_t n = binding->socket.receive_from(asio::buffer(receive_buffer_), from, 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    // ICMP errors from earlier replies (port unreachable) show up here; they concern one client, not the socket.
    if (ec) continue;
    on_datagram(binding, from, n);
  }
  if (!stopped_) receive_next(binding);
}

void UdpLocalForwarder::on_datagram(const std::shared_ptr<Binding>& binding, const asio::ip::udp::endpoint& from,
                                    std::size_t size) {
  if (size > kMaxUdpPayload) return drop(DropReason::too_big);
  auto it = routes_.find({binding.get(), from});
  std::shared_ptr<Route> route = it == routes_.end() ? new_route(binding, from) : it->second;
  if (!route) return;  // dropped (limit)
  if (route->tunnel) return route->tunnel->send_to_relay(receive_buffer_.data(), size);
  if (route->failed) return drop(DropReason::no_route);
  if (route->pending.size() >= kSetupQueueDatagrams || route->pending_bytes + size > kSetupQueueBytes)
    return drop(DropReason::setup_queue_full);
  route->pending.emplace_back(receive_buffer_.begin(), receive_buffer_.begin() + static_cast<std::ptrdiff_t>(size));
  route->pending_bytes += size;
}

std::shared_ptr<UdpLocalForwarder::Route> UdpLocalForwarder::new_route(const std::shared_ptr<Binding>& binding,
                                                                      const asio::ip::udp::endpoint& client) {
  const std::size_t limit = forward_.max_connections.value_or(config_->max_connections);
  if (routes_.size() >= limit) {
    tunnels_->failed(name_, "limit");
    drop(DropReason::route_limit);
    spdlog::debug("{}: no route for {}: {} routes open (max_connections {})", name_, endpoint_text(client),
                  routes_.size(), limit);
    return nullptr;
  }
  auto route = std::make_shared<Route>();
  route->binding = binding;
  route->client = client;
  route->id = tunnels_->next_id();
  route->setup_started = std::chrono::steady_clock::now();
  UdpRouteSetup::Params params;
  params.hc = forward_.hc;
  params.port_name = binding->config.port_name;
  params.preamble_timeout = ms(config_->preamble_timeout);
  std::weak_ptr<UdpLocalForwarder> weak = shared_from_this();
  auto options = relay_dial_options(relay_, *config_, *tunnels_);
  route->setup = std::make_shared<UdpRouteSetup>(io_, relay_, options, params, [weak, route](UdpRouteSetup::Outcome out) {
    auto self = weak.lock();
    if (!self || self->stopped_) {
      if (out.ws) out.ws->abort();
      return;
    }
    if (out.failure != nullptr) return self->on_route_failed(route, out.failure, out.why);
    self->on_route_ready(route, std::move(out));
  });
  routes_[{binding.get(), client}] = route;
  route->setup->start();
  return route;
}

void UdpLocalForwarder::on_route_ready(const std::shared_ptr<Route>& route, UdpRouteSetup::Outcome ready) {
  route->setup.reset();
  const Seconds idle = forward_.idle_timeout.value_or(config_->udp_idle_timeout);
  DatagramLimits limits;
  limits.idle_timeout = ms(idle);
  std::weak_ptr<Binding> binding = route->binding;
  const asio::ip::udp::endpoint client = route->client;
  auto send_local = [binding, client](const uint8_t* data, std::size_t size) {
    auto b = binding.lock();
    if (!b) return false;
    std::error_code ec;
    b->socket.send_to(asio::buffer(data, size), client, 0, ec);  // non-blocking: a full socket buffer drops
    return !ec;
  };
  std::weak_ptr<UdpLocalForwarder> weak = shared_from_this();
  TunnelInfo info{route->id, name_, forward_.hc, endpoint_text(client), ready.tracking_id, route->setup_started};
  route->tunnel = registry_->open(info, std::move(ready.ws), std::move(ready.leftover), limits, send_local,
                                  [weak, route](const DatagramSummary&) {
                                    if (auto self = weak.lock()) self->forget(route);
                                  });
  while (!route->pending.empty() && route->tunnel && !route->tunnel->finished()) {
    route->tunnel->send_to_relay(route->pending.front().data(), route->pending.front().size());
    route->pending.pop_front();
  }
  route->pending.clear();
  route->pending_bytes = 0;
}

void UdpLocalForwarder::on_route_failed(const std::shared_ptr<Route>& route, const char* kind, const std::string& why) {
  route->setup.reset();
  route->failed = true;
  for (std::size_t i = 0; i < route->pending.size(); ++i) drop(DropReason::no_route);
  route->pending.clear();
  route->pending_bytes = 0;
  tunnels_->failed(name_, kind);
  spdlog::warn("{}: UDP client {}: cannot open a route: {}", name_, endpoint_text(route->client), why);
  // Forget the failed route after a pause; until then its client's datagrams are dropped, not re-dialled.
  auto timer = std::make_shared<asio::steady_timer>(io_, kRetryAfterFailure);
  std::weak_ptr<UdpLocalForwarder> weak = shared_from_this();
  timer->async_wait([weak, route, timer](std::error_code) {
    if (auto self = weak.lock()) self->forget(route);
  });
}

void UdpLocalForwarder::forget(const std::shared_ptr<Route>& route) {
  auto it = routes_.find({route->binding.get(), route->client});
  if (it != routes_.end() && it->second == route) routes_.erase(it);
}

void UdpLocalForwarder::drop(DropReason reason) { registry_->on_drop(name_, reason); }

}  // namespace bridge
