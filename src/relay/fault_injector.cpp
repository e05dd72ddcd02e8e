#include "relay/fault_injector.hpp"

#include "relay/relay_server.hpp"

#include <spdlog/spdlog.h>

namespace relay {

bool FaultInjector::upgrade_status_active() const {
  return faults_.upgrade_status != 0 &&
         (faults_.upgrade_count > 0 || std::chrono::steady_clock::now() < faults_.upgrade_until);
}

void FaultInjector::set_upgrade_status(int status, unsigned count, std::chrono::milliseconds duration) {
  faults_.upgrade_status = status;
  faults_.upgrade_count = count;
  faults_.upgrade_until = std::chrono::steady_clock::now() + duration;
}

void FaultInjector::set_stall_rendezvous(bool on) {
  faults_.stall_rendezvous = on;
  if (on) return;
  auto held = std::move(stalled_);
  stalled_.clear();
  for (auto& request : held) server_.route(request);
}

void FaultInjector::set_blackhole(bool on) {
  faults_.blackhole = on;
  if (!on) blackholed_.clear();  // closes them
}

void FaultInjector::set_silent_listeners(bool on) {
  faults_.silent_listeners = on;
  if (on) return;
  for (auto& ws : silent_) ws->abort();
  silent_.clear();
}

void FaultInjector::clear() {
  set_refuse_listeners(false);
  set_upgrade_status(0, 0, {});
  set_stall_rendezvous(false);
  set_blackhole(false);
  set_silent_listeners(false);
}

bool FaultInjector::on_accept_connection(asio::ip::tcp::socket& socket) {
  if (!faults_.blackhole) return false;
  spdlog::debug("relay: fault: holding a new connection unanswered (black hole)");
  blackholed_.push_back(std::make_unique<asio::ip::tcp::socket>(std::move(socket)));
  return true;
}

FaultPlan::Answer FaultInjector::on_upgrade(Action action) {
  if (upgrade_status_active()) {
    const int status = faults_.upgrade_status;
    if (faults_.upgrade_count > 0 && --faults_.upgrade_count == 0) faults_.upgrade_status = 0;
    return {status, "Fault injected by hcrelay --fault-control", false};
  }
  faults_.upgrade_status = 0;
  if (action == Action::listen && faults_.refuse_listeners)
    return {503, "Fault injected by hcrelay --fault-control: new listeners are refused", false};
  return {};
}

FaultPlan::Answer FaultInjector::on_rendezvous(const net::IncomingRequestPtr& request) {
  if (!faults_.stall_rendezvous) return {};
  spdlog::debug("relay: fault: holding a rendezvous unanswered");
  stalled_.push_back(request);
  return {0, {}, true};
}

bool FaultInjector::on_listener_connected(const std::shared_ptr<net::WebSocket>& ws) {
  if (!faults_.silent_listeners) return false;
  spdlog::debug("relay: fault: a new control channel is held silent");
  silent_.push_back(ws);
  return true;
}

void FaultInjector::on_stop() {
  for (auto& r : stalled_) r->stream->close();
  stalled_.clear();
  blackholed_.clear();
  for (auto& ws : silent_) ws->abort();
  silent_.clear();
}

}  // namespace relay
