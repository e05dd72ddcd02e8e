// The daemon: builds a forwarder per configured forward, owns the tunnels and the metrics, applies a new configuration
// on reload without touching what did not change, and shuts down in order (stop accepting, let tunnels drain for the
// grace period, then abort what is left).
#pragma once

#include "bridge/config.hpp"
#include "bridge/credentials/entra_token_source.hpp"
#include "bridge/local_forwarder.hpp"
#include "bridge/remote_forwarder.hpp"
#include "bridge/tunnel_registry.hpp"
#include "ops/metrics.hpp"

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

struct ForwardState {
  std::string name;
  bool up = false;
  std::string detail;  // "listening on ...", "control channel connected", "connecting" ...
};

class Daemon {
 public:
  Daemon(asio::io_context& io, Config config);
  ~Daemon();

  std::optional<StartError> start();
  // Applies `next`: unchanged forwards keep running with their tunnels, removed ones stop accepting (their tunnels
  // drain), new and changed ones start. On an error nothing changes. Returns a one-line summary of what changed.
  hc::Result<std::string> reload(Config next);
  // A reload whose new configuration did not even parse (counted with the failed ones).
  void reload_rejected() { metrics_->add("hcbridge_config_reloads_total", {{"result", "failed"}}); }
  // Stops accepting and calls on_done once every tunnel has ended or the grace period ran out.
  void shutdown(std::function<void()> on_done);
  // A second signal during the drain: abort everything now.
  void abort_now();

  bool ready() const;
  std::vector<ForwardState> forward_states() const;
  std::string status_line() const;     // e.g. "2/2 forwards up, 5 tunnels open"
  std::string readiness_json() const;  // body of /readyz
  std::string render_metrics();        // body of /metrics

  const Config& config() const { return *config_; }
  ops::Metrics& metrics() { return *metrics_; }
  TunnelRegistry& tunnels() { return *tunnels_; }
  const std::vector<std::shared_ptr<LocalForwarder>>& local_forwarders() const { return local_; }
  const std::vector<std::shared_ptr<RemoteForwarder>>& remote_forwarders() const { return remote_; }

 private:
  struct ReloadPlan;
  hc::Result<RelayContext> relay_context(const Config& config, const RelaySettings& settings);
  // The steps of reload(): sort, build what is new, then either roll back or commit.
  ReloadPlan plan_reload(const Config& next);
  std::optional<std::string> build_added_forwards(const std::shared_ptr<const Config>& next, ReloadPlan& plan);
  hc::Result<std::string> roll_back(const ReloadPlan& plan, const std::string& why);
  void commit_reload(const ReloadPlan& plan, std::shared_ptr<const Config> next);
  void check_drained();
  hc::Result<std::shared_ptr<TokenSource>> token_source(const Config& config, const RelaySettings& settings,
                                                        const RelayContext& ctx);
  void stop_token_sources();

  asio::io_context& io_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<ops::Metrics> metrics_;
  std::shared_ptr<TunnelRegistry> tunnels_;
  std::map<std::string, std::shared_ptr<asio::ssl::context>> tls_by_ca_;
  // One Entra token source per credential (and CA and proxy), shared by the forwards using it; they own it.
  std::map<std::string, std::weak_ptr<EntraTokenSource>> entra_sources_;
  std::vector<std::shared_ptr<LocalForwarder>> local_;
  std::vector<std::shared_ptr<RemoteForwarder>> remote_;
  std::map<const void*, std::string> identity_;  // forwarder -> what it was built from (reload compares these)
  asio::steady_timer grace_timer_;
  std::function<void()> on_drained_;
  bool shutting_down_ = false;
  bool grace_over_ = false;
  double start_time_ = 0;
};

// What a forward was built from, as one comparable string (includes secrets: never log it).
std::string forward_identity(const Config& config, const LocalForward& forward);
std::string forward_identity(const Config& config, const RemoteForward& forward);

}  // namespace bridge
