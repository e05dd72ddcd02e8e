#include "bridge/tunnel.hpp"

namespace bridge {
namespace {
constexpr std::size_t kChunk = net::BufferPool::kPayload;
constexpr std::size_t kHeadroom = net::BufferPool::kHeadroom;
constexpr auto kStallThreshold = std::chrono::milliseconds(100);
constexpr auto kCloseLinger = std::chrono::seconds(1);  // for the close frame of a failed WebSocket
}  // namespace

const char* close_kind_name(CloseKind kind) {
  switch (kind) {
    case CloseKind::closed: return "closed";
    case CloseKind::idle_timeout: return "idle_timeout";
    case CloseKind::shutdown: return "shutdown";
    case CloseKind::local_error: return "local_error";
    case CloseKind::relay_error: return "relay_error";
  }
  return "closed";
}

Tunnel::Tunnel(TunnelInfo info, LocalStream local, std::shared_ptr<net::WebSocket> ws, std::string to_local_first,
               std::chrono::milliseconds idle_timeout, std::shared_ptr<net::BufferPool> pool, ClosedHandler on_closed,
               std::weak_ptr<TunnelObserver> observer)
    : info_(std::move(info)),
      local_(std::move(local)),
      ws_(std::move(ws)),
      to_local_first_(std::move(to_local_first)),
      idle_timeout_(idle_timeout),
      on_closed_(std::move(on_closed)),
      observer_(std::move(observer)),
      idle_timer_(local_.get_executor()),
      pool_(std::move(pool)) {}

void Tunnel::start() {
  started_ = last_activity_ = std::chrono::steady_clock::now();
  std::error_code ignored;  // TCP_NODELAY is already set by whoever accepted or connected a TCP socket
  // Reads are non-blocking calls made after a readiness wait, so a quiet tunnel ties up no buffer.
  local_.non_blocking(true, ignored);
  arm_idle_timer();
  local_to_ws();
  write_first_then_read();
}

void Tunnel::write_first_then_read() {
  if (to_local_first_.empty()) return ws_to_local();
  auto data = std::make_shared<std::string>(std::move(to_local_first_));
  asio::async_write(local_, asio::buffer(*data), [self = shared_from_this(), data](std::error_code ec, std::size_t n) {
    if (ec) return self->finish("local write failed: " + ec.message(), CloseKind::local_error);
    self->bytes_down_ += n;
    if (auto o = self->observer_.lock()) o->on_bytes(self->info_.forward, false, n);
    self->ws_to_local();
  });
}

void Tunnel::local_to_ws() {
  if (finished_) return;
  if (!up_) up_ = pool_->acquire();
  std::error_code ec;
  const std::size_t n = local_.read_some(asio::buffer(up_.data() + kHeadroom, kChunk), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    up_.reset();  // nothing waiting: give the block back until the client sends again
    local_.async_wait(LocalStream::wait_read, [self = shared_from_this()](std::error_code wec) {
      if (self->finished_) return;
      if (wec) return self->on_local_read_error(wec);
      self->local_to_ws();
    });
    return;
  }
  if (ec) return on_local_read_error(ec);
  const auto since = last_activity_ = std::chrono::steady_clock::now();
  ws_->async_write_in_place(asio::buffer(up_.data() + kHeadroom, n), net::ws::Opcode::binary, true,
                            [self = shared_from_this(), n, since](std::error_code wec) {
                              if (self->finished_) return;
                              if (wec) return self->finish("relay write failed: " + wec.message(), CloseKind::relay_error);
                              self->written(true, n, since);
                              self->local_to_ws();  // keeps the block: under load the next read usually has data
                            });
}

void Tunnel::on_local_read_error(std::error_code ec) {
  up_.reset();
  if (ec == asio::error::eof) {
    // Local side is done sending: close our WebSocket direction only; replies keep flowing down.
    local_eof_ = true;
    ws_->send_close(1000, "Shutdown");
    return maybe_finish();
  }
  if (ec == asio::error::operation_aborted) return finish(pending_reason_, pending_kind_);
  finish("local side: " + ec.message(), CloseKind::local_error);
}

void Tunnel::ws_to_local() {
  ws_->async_read_view(kChunk, [self = shared_from_this()](std::error_code ec, net::ReadView view) {
    if (self->finished_) return;
    if (ec == net::WsError::closed) {
      // The remote side is done sending: pass the EOF on, keep our direction open.
      self->ws_closed_ = true;
      std::error_code ignored;
      self->local_.shutdown(LocalStream::shutdown_send, ignored);
      return self->maybe_finish();
    }
    if (ec) {
      if (ec == asio::error::operation_aborted) return self->finish(self->pending_reason_, self->pending_kind_);
      return self->finish("relay side: " + ec.message(), CloseKind::relay_error);
    }
    if (view.opcode == net::ws::Opcode::text && !self->valid_text(view))
      return self->fail_relay_side(1007, "text message is not valid UTF-8");
    const auto since = self->last_activity_ = std::chrono::steady_clock::now();
    if (view.size == 0) return self->ws_to_local();
    // Written straight from the WebSocket's block; the view stays valid until the next read, which waits for this.
    asio::async_write(self->local_, asio::buffer(view.data, view.size),
                      [self, since](std::error_code wec, std::size_t n) {
                        if (self->finished_) return;
                        if (wec) return self->finish("local write failed: " + wec.message(), CloseKind::local_error);
                        self->written(false, n, since);
                        self->ws_to_local();
                      });
  });
}

bool Tunnel::valid_text(const net::ReadView& view) {
  const bool valid = utf8_.feed(view.data, view.size) && (!view.message_end || utf8_.complete());
  if (view.message_end) utf8_.reset();
  return valid;
}

void Tunnel::fail_relay_side(uint16_t code, const char* why) {
  ws_failing_ = true;
  ws_->fail_connection(code, why, kCloseLinger);
  finish(std::string("relay side: ") + why, CloseKind::relay_error);
}

void Tunnel::arm_idle_timer() {
  if (idle_timeout_.count() <= 0) return;
  const auto due = last_activity_ + idle_timeout_;
  idle_timer_.expires_at(due);
  idle_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || self->finished_) return;
    if (std::chrono::steady_clock::now() >= self->last_activity_ + self->idle_timeout_) {
      return self->abort("idle timeout", CloseKind::idle_timeout);
    }
    self->arm_idle_timer();
  });
}

void Tunnel::written(bool to_relay, std::size_t n, std::chrono::steady_clock::time_point since) {
  (to_relay ? bytes_up_ : bytes_down_) += n;
  auto o = observer_.lock();
  if (!o) return;
  o->on_bytes(info_.forward, to_relay, n);
  if (std::chrono::steady_clock::now() - since >= kStallThreshold) o->on_stall(info_.forward, to_relay);
}

void Tunnel::maybe_finish() {
  if (local_eof_ && ws_closed_) finish("closed", CloseKind::closed);
}

void Tunnel::abort(const std::string& reason, CloseKind kind) {
  if (finished_) return;
  pending_reason_ = reason;
  pending_kind_ = kind;
  finish(reason, kind);
}

void Tunnel::finish(const std::string& reason, CloseKind kind) {
  const bool clean = kind == CloseKind::closed;
  if (finished_) return;
  finished_ = true;
  idle_timer_.cancel();
  std::error_code ignored;
  if (clean) {
    // Both directions ended in order; the WebSocket finishes its own close handshake and shuts its socket.
    local_.close(ignored);
  } else {
    // An abort on one side aborts the other: RST the local socket so the client sees an error, not a clean EOF.
    local_.set_option(asio::socket_base::linger(true, 0), ignored);
    local_.close(ignored);
    if (!ws_failing_) ws_->abort();
  }
  TunnelSummary summary;
  summary.duration = std::chrono::steady_clock::now() - started_;
  summary.bytes_to_relay = bytes_up_;
  summary.bytes_from_relay = bytes_down_;
  summary.reason = reason;
  summary.clean = clean;
  summary.kind = kind;
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    cb(*this, summary);
  }
}

}  // namespace bridge
