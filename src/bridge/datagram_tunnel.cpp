#include "bridge/datagram_tunnel.hpp"

#include "net/buffer_pool.hpp"

#include <cstring>

namespace bridge {
namespace {
constexpr std::size_t kHeadroom = net::BufferPool::kHeadroom;
constexpr std::size_t kReadChunk = net::BufferPool::kPayload;
constexpr auto kCloseWait = std::chrono::seconds(5);

// After our close frame: read (and discard) until the peer's close arrives, so the close handshake can complete.
void drain_until_closed(const std::shared_ptr<net::WebSocket>& ws, const std::shared_ptr<void>& closing_token) {
  ws->async_read_view(kReadChunk, [ws, closing_token](std::error_code ec, net::ReadView) {
    if (!ec) drain_until_closed(ws, closing_token);
  });
}
}  // namespace

const char* drop_reason_name(DropReason reason) {
  switch (reason) {
    case DropReason::setup_queue_full: return "setup_queue_full";
    case DropReason::relay_slow: return "relay_slow";
    case DropReason::local_busy: return "local_busy";
    case DropReason::route_limit: return "route_limit";
    case DropReason::no_route: return "no_route";
    case DropReason::too_big: return "too_big";
  }
  return "relay_slow";
}

DatagramTunnel::DatagramTunnel(TunnelInfo info, std::shared_ptr<net::WebSocket> ws, std::string from_relay_first,
                               DatagramLimits limits, SendLocal send_local, Closed on_closed,
                               std::weak_ptr<DatagramObserver> observer)
    : info_(std::move(info)),
      ws_(std::move(ws)),
      from_relay_first_(std::move(from_relay_first)),
      limits_(limits),
      send_local_(std::move(send_local)),
      on_closed_(std::move(on_closed)),
      observer_(std::move(observer)),
      idle_timer_(ws_->stream().get_executor()) {}

void DatagramTunnel::start() {
  started_ = last_activity_ = std::chrono::steady_clock::now();
  arm_idle_timer();
  if (!from_relay_first_.empty()) {
    const std::string first = std::move(from_relay_first_);
    deliver(reinterpret_cast<const uint8_t*>(first.data()), first.size());
  }
  read_relay();
}

void DatagramTunnel::send_to_relay(const uint8_t* data, std::size_t size) {
  if (finished_) return;
  if (size > hc::kMaxDatagram) return drop(DropReason::too_big);
  const std::size_t framed = hc::kDatagramHeader + size;
  if (queued_bytes_ + framed > limits_.max_queued_bytes) return drop(DropReason::relay_slow);
  // An exact-size buffer with room for the WebSocket header in front: the frame leaves as one write, and a route
  // holds only what is queued.
  auto buffer = std::make_shared<std::vector<uint8_t>>(kHeadroom + framed);
  hc::write_datagram_header(size, buffer->data() + kHeadroom);
  if (size > 0) std::memcpy(buffer->data() + kHeadroom + hc::kDatagramHeader, data, size);
  queued_bytes_ += framed;
  last_activity_ = std::chrono::steady_clock::now();
  ++summary_.datagrams_to_relay;
  summary_.bytes_to_relay += size;
  if (auto o = observer_.lock()) o->on_datagram(info_.forward, true, size);
  ws_->async_write_in_place(asio::buffer(buffer->data() + kHeadroom, framed), net::ws::Opcode::binary, true,
                            [self = shared_from_this(), buffer, framed](std::error_code ec) {
                              self->queued_bytes_ -= framed;
                              if (ec && !self->finished_)
                                self->finish("relay write failed: " + ec.message(), CloseKind::relay_error);
                            });
}

void DatagramTunnel::read_relay() {
  ws_->async_read_view(kReadChunk, [self = shared_from_this()](std::error_code ec, net::ReadView view) {
    if (ec) {
      if (self->finished_) return;
      if (ec == net::WsError::closed) return self->finish("closed by the peer", CloseKind::closed);
      return self->finish("relay side: " + ec.message(), CloseKind::relay_error);
    }
    if (!self->finished_) self->deliver(view.data, view.size);
    // Ended by us (idle, shutdown) while this read was pending: keep reading until the peer answers our close.
    if (self->finished_) return drain_until_closed(self->ws_, self->closing_token_);
    self->read_relay();
  });
}

void DatagramTunnel::deliver(const uint8_t* data, std::size_t size) {
  std::size_t pos = 0;
  while (pos < size || size == 0) {
    std::size_t used = 0;
    const auto status = deframer_.feed(data + pos, size - pos, used);
    pos += used;
    if (status != hc::ParseStatus::good) break;
    last_activity_ = std::chrono::steady_clock::now();
    if (!send_local_(deframer_.data(), deframer_.size())) {
      drop(DropReason::local_busy);
    } else {
      ++summary_.datagrams_from_relay;
      summary_.bytes_from_relay += deframer_.size();
      if (auto o = observer_.lock()) o->on_datagram(info_.forward, false, deframer_.size());
    }
    if (finished_ || pos == size) break;
  }
}

void DatagramTunnel::drop(DropReason reason) {
  if (auto o = observer_.lock()) o->on_drop(info_.forward, reason);
}

void DatagramTunnel::arm_idle_timer() {
  if (limits_.idle_timeout.count() <= 0) return;
  idle_timer_.expires_at(last_activity_ + limits_.idle_timeout);
  idle_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || self->finished_) return;
    if (std::chrono::steady_clock::now() >= self->last_activity_ + self->limits_.idle_timeout)
      return self->end("idle timeout", CloseKind::idle_timeout);
    self->arm_idle_timer();
  });
}

void DatagramTunnel::end(const std::string& reason, CloseKind kind) { finish(reason, kind); }

void DatagramTunnel::finish(const std::string& reason, CloseKind kind) {
  if (finished_) return;
  finished_ = true;
  idle_timer_.cancel();
  if (kind == CloseKind::closed || kind == CloseKind::idle_timeout || kind == CloseKind::shutdown) {
    // Nothing to drain in UDP: say goodbye and let the WebSocket finish its close handshake (it drops the socket
    // itself if the peer does not answer).
    ws_->send_close(1000, kind == CloseKind::closed ? "Shutdown" : reason);
    // The peer gets a few seconds to answer; the timer does not keep the WebSocket alive.
    auto timer = std::make_shared<asio::steady_timer>(ws_->stream().get_executor(), kCloseWait);
    timer->async_wait([timer, weak = std::weak_ptr<net::WebSocket>(ws_)](std::error_code) {
      if (auto ws = weak.lock()) ws->abort();
    });
  } else {
    ws_->abort();
  }
  summary_.duration = std::chrono::steady_clock::now() - started_;
  summary_.reason = reason;
  summary_.kind = kind;
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    cb(*this, summary_);
  }
}

}  // namespace bridge
