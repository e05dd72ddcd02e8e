// One UDP "route" carried over a hybrid-connection WebSocket in azbridge's datagram mode (azbridge.md 2.5): each
// datagram from the local side leaves as exactly one binary message (2-byte big-endian length + payload); the bytes
// from the relay are read as a stream and cut into datagrams again, whatever the message boundaries.
//  - UDP has no backpressure: a datagram that would push the bytes queued towards the relay past a bound is dropped
//    and counted (relay_slow), so a flood costs at most that bound per route, never more;
//  - a datagram the local socket cannot take at once is dropped and counted (local_busy);
//  - the route ends after `idle_timeout` without a datagram either way (a close frame, then the socket), when the
//    peer closes, or on any WebSocket error.
// The local side is a callback: the sender side replies through its forwarder's socket to the client's address, the
// listener side writes to its connected socket to the target (UdpTargetLink).
#pragma once

#include "bridge/tunnel.hpp"
#include "hc/datagram.hpp"
#include "net/websocket.hpp"

#include <asio.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bridge {

// Why a datagram was dropped: fixed words, used as metric labels.
enum class DropReason { setup_queue_full, relay_slow, local_busy, route_limit, no_route, too_big };
constexpr DropReason kAllDropReasons[] = {DropReason::setup_queue_full, DropReason::relay_slow, DropReason::local_busy,
                                          DropReason::route_limit,      DropReason::no_route,   DropReason::too_big};
const char* drop_reason_name(DropReason reason);

struct DatagramObserver {
  virtual ~DatagramObserver() = default;
  virtual void on_datagram(const std::string& forward, bool to_relay, std::size_t bytes) = 0;
  virtual void on_drop(const std::string& forward, DropReason reason) = 0;
};

struct DatagramLimits {
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(4)};  // azbridge's route expiry
  std::size_t max_queued_bytes = 256 * 1024;  // framed datagrams waiting to be written to the relay, per route
};

struct DatagramSummary {
  std::chrono::steady_clock::duration duration{};
  uint64_t datagrams_to_relay = 0, datagrams_from_relay = 0;
  uint64_t bytes_to_relay = 0, bytes_from_relay = 0;
  std::string reason;
  CloseKind kind = CloseKind::closed;
};

class DatagramTunnel : public std::enable_shared_from_this<DatagramTunnel> {
 public:
  // Delivers one datagram to the local side; returns false when it had to be dropped.
  using SendLocal = std::function<bool(const uint8_t*, std::size_t)>;
  using Closed = std::function<void(DatagramTunnel&, const DatagramSummary&)>;

  // `from_relay_first` is payload that arrived together with the preamble reply (already part of the datagram stream).
  DatagramTunnel(TunnelInfo info, std::shared_ptr<net::WebSocket> ws, std::string from_relay_first,
                 DatagramLimits limits, SendLocal send_local, Closed on_closed, std::weak_ptr<DatagramObserver> observer);

  void start();
  // Frames and sends one datagram from the local side, or drops it (see above).
  void send_to_relay(const uint8_t* data, std::size_t size);
  // Ends the route: a close frame when `kind` is idle_timeout/shutdown, a drop otherwise.
  void end(const std::string& reason, CloseKind kind);

  const TunnelInfo& info() const { return info_; }
  std::size_t queued_bytes() const { return queued_bytes_; }
  bool finished() const { return finished_; }
  // Kept until the route's WebSocket has finished closing (its read loop has ended), so that the owner can tell when
  // nothing of the route is left on the event loop.
  void hold_until_closed(std::shared_ptr<void> token) { closing_token_ = std::move(token); }

 private:
  void read_relay();
  void deliver(const uint8_t* data, std::size_t size);
  void arm_idle_timer();
  void finish(const std::string& reason, CloseKind kind);
  void drop(DropReason reason);

  TunnelInfo info_;
  std::shared_ptr<net::WebSocket> ws_;
  std::string from_relay_first_;
  DatagramLimits limits_;
  SendLocal send_local_;
  Closed on_closed_;
  std::shared_ptr<void> closing_token_;
  std::weak_ptr<DatagramObserver> observer_;
  asio::steady_timer idle_timer_;
  hc::DatagramDeframer deframer_;
  std::chrono::steady_clock::time_point started_, last_activity_;
  std::size_t queued_bytes_ = 0;
  DatagramSummary summary_;
  bool finished_ = false;
};

}  // namespace bridge
