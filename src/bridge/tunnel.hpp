// One forwarded connection: a local stream socket (TCP or Unix) spliced onto a hybrid-connection WebSocket. The
// local side is an asio::generic::stream_protocol socket, so one implementation serves both kinds; everything it
// does (readiness waits, shutdown(SHUT_WR), a linger-0 reset) means the same on either.
//  - bytes are a stream: each local read becomes one binary message (<= 64 KiB), message boundaries mean nothing;
//  - backpressure both ways: each direction reads again only after its last chunk was written;
//  - no copies and no idle memory: a local read lands in a pooled block behind room for the frame header and is sent
//    from there; relay payload is written to the local socket straight from the WebSocket's block. A quiet tunnel
//    holds no block;
//  - half-close both ways: local EOF -> close frame (our direction only); peer's close frame -> shutdown(SHUT_WR) on
//    the local socket;
//  - an abort on either side (RST, TCP drop, protocol error) aborts the other;
//  - binary messages are opaque; a text message that is not UTF-8 fails the tunnel with 1007 (RFC 6455 8.1), checked
//    as it streams (a code point may straddle frames and reads) and only for text, so binary traffic pays nothing.
#pragma once

#include "net/buffer_pool.hpp"
#include "net/websocket.hpp"

#include <asio.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bridge {

// The local end of a tunnel: a TCP or Unix stream socket (both convert to it by move).
using LocalStream = asio::generic::stream_protocol::socket;

struct TunnelInfo {
  std::string id;           // our id, in every log line of this tunnel
  std::string forward;      // forward name (e.g. "L:127.0.0.1:8080" or "T:myhc")
  std::string hc;
  std::string peer;         // the local client (sender side) or the target (listener side)
  std::string tracking_id;  // the relay's id for this connection
  std::chrono::steady_clock::time_point setup_started{};  // when the connection was first seen (set-up latency)
};

enum class CloseKind { closed, idle_timeout, shutdown, local_error, relay_error };
constexpr CloseKind kAllCloseKinds[] = {CloseKind::closed, CloseKind::idle_timeout, CloseKind::shutdown,
                                        CloseKind::local_error, CloseKind::relay_error};
const char* close_kind_name(CloseKind kind);

// Live counters the tunnel reports while it runs (metrics).
struct TunnelObserver {
  virtual ~TunnelObserver() = default;
  virtual void on_bytes(const std::string& forward, bool to_relay, std::size_t n) = 0;
  // A write that took long: the far side reads slower than this side sends, and this side is being held back.
  virtual void on_stall(const std::string& forward, bool to_relay) = 0;
};

struct TunnelSummary {
  std::chrono::steady_clock::duration duration{};
  uint64_t bytes_to_relay = 0;    // local socket -> WebSocket
  uint64_t bytes_from_relay = 0;  // WebSocket -> local socket
  std::string reason;             // "closed", "idle timeout", "relay dropped", "local reset", "shutdown", ...
  bool clean = false;             // both directions ended with a close/EOF
  CloseKind kind = CloseKind::closed;
};

class Tunnel : public std::enable_shared_from_this<Tunnel> {
 public:
  using ClosedHandler = std::function<void(Tunnel&, const TunnelSummary&)>;

  // `to_local_first` holds payload that arrived together with the preamble; it is written to the local socket before
  // anything else.
  Tunnel(TunnelInfo info, LocalStream local, std::shared_ptr<net::WebSocket> ws, std::string to_local_first,
         std::chrono::milliseconds idle_timeout, std::shared_ptr<net::BufferPool> pool, ClosedHandler on_closed,
         std::weak_ptr<TunnelObserver> observer = {});

  void start();
  // Ends both sides at once, without waiting for the peers (used when the drain grace period runs out).
  void abort(const std::string& reason, CloseKind kind = CloseKind::shutdown);

  const TunnelInfo& info() const { return info_; }

 private:
  void local_to_ws();
  void on_local_read_error(std::error_code ec);
  void ws_to_local();
  void write_first_then_read();
  void arm_idle_timer();
  void maybe_finish();
  void finish(const std::string& reason, CloseKind kind);
  void written(bool to_relay, std::size_t n, std::chrono::steady_clock::time_point since);
  bool valid_text(const net::ReadView& view);
  void fail_relay_side(uint16_t code, const char* why);

  TunnelInfo info_;
  LocalStream local_;
  std::shared_ptr<net::WebSocket> ws_;
  std::string to_local_first_;
  std::chrono::milliseconds idle_timeout_;
  ClosedHandler on_closed_;
  std::weak_ptr<TunnelObserver> observer_;
  asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point started_, last_activity_;

  std::shared_ptr<net::BufferPool> pool_;
  net::Block up_;  // local -> WebSocket, held only while a chunk is in flight (WebSocket -> local uses the ws's block)
  uint64_t bytes_up_ = 0, bytes_down_ = 0;
  bool local_eof_ = false;       // local side finished sending (we sent our close frame)
  bool ws_closed_ = false;     // relay side finished sending (we shut down the local socket's write side)
  bool finished_ = false;
  bool ws_failing_ = false;    // fail_relay_side() is sending its close frame: finish() must not abort it
  net::ws::Utf8Validator utf8_;  // the text message being received
  std::string pending_reason_;
  CloseKind pending_kind_ = CloseKind::shutdown;
};

}  // namespace bridge
