// Remote forward (listener side): keeps one control channel open to a hybrid connection, and turns each `accept` into a
// tunnel to the local target its port name picks. Reconnects with jittered backoff, pings with a pong deadline and
// renews its token on the channel. Tunnels already open do not depend on the channel and survive its reconnects.
#pragma once

#include "bridge/backoff.hpp"
#include "bridge/config.hpp"
#include "bridge/handshake_slot.hpp"
#include "bridge/log_limiter.hpp"
#include "bridge/relay_context.hpp"
#include "bridge/tunnel_registry.hpp"
#include "hc/control_message.hpp"
#include "net/ws_client.hpp"
#include "net/ws_frame.hpp"

#include <memory>
#include <optional>
#include <string>

namespace bridge {

// `seconds` from now as a timer delay, clamped to [0, one year] (a token expiry near INT64_MAX would overflow the
// timer clock's nanoseconds).
std::chrono::seconds timer_delay(int64_t seconds);

class RemoteForwarder : public std::enable_shared_from_this<RemoteForwarder> {
 public:
  RemoteForwarder(asio::io_context& io, std::shared_ptr<const Config> config, RemoteForward forward, RelayContext relay,
                  std::shared_ptr<TunnelRegistry> tunnels);

  void start();
  // Closes the control channel, stops reconnecting and cancels the accepts still being set up; open tunnels are left
  // to drain.
  void stop();

  bool connected() const { return connected_; }
  const std::string& name() const { return name_; }
  const RemoteForward& forward() const { return forward_; }
  uint64_t reconnects() const { return reconnects_; }
  std::size_t handshakes() const { return slots_->in_use(); }

  // For the handshakes this forwarder starts (accept_handshake.hpp).
  asio::io_context& io() { return io_; }
  const Config& config() const { return *config_; }
  const RelayContext& relay() const { return relay_; }
  TunnelRegistry& tunnels() { return *tunnels_; }
  // The target an accepted sender's port name picks, or null.
  const RemoteTarget* pick_target(const std::string& port_name) const;
  // The TLS context for an https web server (-H), null otherwise.
  const std::shared_ptr<asio::ssl::context>& http_tls() const { return http_tls_; }
  std::size_t http_requests() const { return http_slots_->in_use(); }

  // Direct answers (501 without a web server, 503 over its limit) in flight at most; more are dropped and counted.
  static constexpr std::size_t kMaxPendingRequestReplies = 16;
  // Why the last connect attempt failed, as a metrics reason word ("proxy_auth_rejected", "unauthorized"...); "" once
  // connected.
  const char* last_failure() const { return connected_ ? "" : last_failure_; }

 private:
  void connect();
  void set_up(bool up);
  void count_reconnect(const char* reason);
  void on_connect_result(std::error_code ec, net::ConnectResult result);
  void on_connected(std::shared_ptr<net::WebSocket> ws);
  void read_control();
  void on_control_message(const std::string& text);
  void on_disconnected(const std::string& why, bool immediate);
  // The relay broke the protocol on the control channel: tell it why with a close frame (best effort, the socket is
  // dropped a moment later whatever it does) and reconnect.
  void fail_channel(uint16_t code, const std::string& why);
  void schedule_reconnect(std::chrono::duration<double> delay);
  void keepalive_tick();
  void schedule_renewal();
  void handle_accept(const hc::AcceptMessage& accept);
  void handle_request(hc::RequestMessage request);
  void on_control_body(std::string body);
  void start_http_exchange(hc::RequestMessage request, std::string body);
  void answer_request(const hc::RequestMessage& request, int status, const char* description);
  void reject(const hc::AcceptMessage& accept, std::size_t open, std::size_t limit);
  void count_dropped(const char* reason);

  asio::io_context& io_;
  std::shared_ptr<const Config> config_;
  RemoteForward forward_;
  RelayContext relay_;
  std::shared_ptr<TunnelRegistry> tunnels_;
  std::string name_;

  Backoff backoff_;
  asio::steady_timer reconnect_timer_;
  asio::steady_timer keepalive_timer_;
  Subscription renewal_;     // the token source calls back when a renewToken is due
  Subscription token_ready_;  // the first token of a source that fetches one
  std::shared_ptr<net::PendingConnect> pending_connect_;
  std::shared_ptr<net::WebSocket> ws_;
  std::string channel_id_;
  std::string message_;
  net::ws::Utf8Validator utf8_;  // text messages on the control channel must be UTF-8 (RFC 6455 8.1)
  std::vector<uint8_t> chunk_;
  std::chrono::steady_clock::time_point connected_at_;
  bool connected_ = false;
  bool awaiting_pong_ = false;
  bool stopped_ = false;
  uint64_t reconnects_ = 0;
  const char* last_failure_ = "";
  uint64_t generation_ = 0;  // bumps per channel so stale callbacks of an old channel do nothing
  std::shared_ptr<HandshakeSlots> slots_ = std::make_shared<HandshakeSlots>();  // accepts and rejects being set up
  std::size_t pending_request_replies_ = 0;
  std::shared_ptr<HandshakeSlots> http_slots_ = std::make_shared<HandshakeSlots>();  // HTTP requests in flight
  std::shared_ptr<asio::ssl::context> http_tls_;
  std::optional<hc::RequestMessage> awaiting_body_;  // a request whose body is the next binary message
  // One warning per interval for what a relay can repeat at will.
  LogLimiter limit_warnings_, request_warnings_, bad_address_warnings_, malformed_warnings_;
};

}  // namespace bridge
