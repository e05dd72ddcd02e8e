// The daemon: builds a forwarder per configured forward, owns the tunnels, and shuts down in order (stop accepting,
// let tunnels drain for the grace period, then abort what is left).
#pragma once

#include "bridge/config.hpp"
#include "bridge/local_forwarder.hpp"
#include "bridge/remote_forwarder.hpp"
#include "bridge/tunnel_registry.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bridge {

struct StartError {
  int exit_code = 1;  // 2 for configuration problems found only now (e.g. an unreadable CA file), 1 otherwise
  std::string message;
};

class Daemon {
 public:
  Daemon(asio::io_context& io, Config config);

  std::optional<StartError> start();
  // Stops accepting and calls on_done once every tunnel has ended or the grace period ran out.
  void shutdown(std::function<void()> on_done);
  // A second signal during the drain: abort everything now.
  void abort_now();

  const Config& config() const { return config_; }
  TunnelRegistry& tunnels() { return tunnels_; }
  const std::vector<std::shared_ptr<LocalForwarder>>& local_forwarders() const { return local_; }
  const std::vector<std::shared_ptr<RemoteForwarder>>& remote_forwarders() const { return remote_; }

 private:
  hc::Result<RelayContext> relay_context(const RelaySettings& settings);
  void check_drained();

  asio::io_context& io_;
  Config config_;
  TunnelRegistry tunnels_;
  std::map<std::string, std::shared_ptr<asio::ssl::context>> tls_by_ca_;
  std::vector<std::shared_ptr<LocalForwarder>> local_;
  std::vector<std::shared_ptr<RemoteForwarder>> remote_;
  asio::steady_timer grace_timer_;
  std::function<void()> on_drained_;
  bool shutting_down_ = false;
};

}  // namespace bridge
