#include "bridge/tunnel.hpp"

namespace bridge {
namespace {
constexpr std::size_t kChunk = 64 * 1024;
}

Tunnel::Tunnel(TunnelInfo info, asio::ip::tcp::socket tcp, std::shared_ptr<net::WebSocket> ws, std::string to_tcp_first,
               std::chrono::milliseconds idle_timeout, ClosedHandler on_closed)
    : info_(std::move(info)),
      tcp_(std::move(tcp)),
      ws_(std::move(ws)),
      to_tcp_first_(std::move(to_tcp_first)),
      idle_timeout_(idle_timeout),
      on_closed_(std::move(on_closed)),
      idle_timer_(tcp_.get_executor()),
      up_(kChunk),
      down_(kChunk) {}

void Tunnel::start() {
  started_ = last_activity_ = std::chrono::steady_clock::now();
  std::error_code ignored;
  tcp_.set_option(asio::ip::tcp::no_delay(true), ignored);
  arm_idle_timer();
  tcp_to_ws();
  write_first_then_read();
}

void Tunnel::write_first_then_read() {
  if (to_tcp_first_.empty()) return ws_to_tcp();
  auto data = std::make_shared<std::string>(std::move(to_tcp_first_));
  asio::async_write(tcp_, asio::buffer(*data), [self = shared_from_this(), data](std::error_code ec, std::size_t n) {
    if (ec) return self->finish("local write failed: " + ec.message(), false);
    self->bytes_down_ += n;
    self->ws_to_tcp();
  });
}

void Tunnel::tcp_to_ws() {
  tcp_.async_read_some(asio::buffer(up_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
    if (self->finished_) return;
    if (ec == asio::error::eof) {
      // Local side is done sending: close our WebSocket direction only; replies keep flowing down.
      self->tcp_eof_ = true;
      self->ws_->send_close(1000, "Shutdown");
      return self->maybe_finish();
    }
    if (ec) return self->finish(ec == asio::error::operation_aborted ? self->pending_reason_ : "local side: " + ec.message(), false);
    self->last_activity_ = std::chrono::steady_clock::now();
    self->ws_->async_write(asio::buffer(self->up_.data(), n), net::ws::Opcode::binary, true,
                           [self, n](std::error_code wec) {
                             if (self->finished_) return;
                             if (wec) return self->finish("relay write failed: " + wec.message(), false);
                             self->bytes_up_ += n;
                             self->tcp_to_ws();
                           });
  });
}

void Tunnel::ws_to_tcp() {
  ws_->async_read(asio::buffer(down_), [self = shared_from_this()](std::error_code ec, net::ReadChunk chunk) {
    if (self->finished_) return;
    if (ec == net::WsError::closed) {
      // The remote side is done sending: pass the EOF on, keep our direction open.
      self->ws_closed_ = true;
      std::error_code ignored;
      self->tcp_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      return self->maybe_finish();
    }
    if (ec) {
      const std::string why = ec == asio::error::operation_aborted ? self->pending_reason_ : "relay side: " + ec.message();
      return self->finish(why.empty() ? "relay dropped the connection" : why, false);
    }
    self->last_activity_ = std::chrono::steady_clock::now();
    if (chunk.size == 0) return self->ws_to_tcp();
    asio::async_write(self->tcp_, asio::buffer(self->down_.data(), chunk.size),
                      [self](std::error_code wec, std::size_t n) {
                        if (self->finished_) return;
                        if (wec) return self->finish("local write failed: " + wec.message(), false);
                        self->bytes_down_ += n;
                        self->ws_to_tcp();
                      });
  });
}

void Tunnel::arm_idle_timer() {
  if (idle_timeout_.count() <= 0) return;
  const auto due = last_activity_ + idle_timeout_;
  idle_timer_.expires_at(due);
  idle_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || self->finished_) return;
    if (std::chrono::steady_clock::now() >= self->last_activity_ + self->idle_timeout_) {
      return self->abort("idle timeout");
    }
    self->arm_idle_timer();
  });
}

void Tunnel::maybe_finish() {
  if (tcp_eof_ && ws_closed_) finish("closed", true);
}

void Tunnel::abort(const std::string& reason) {
  if (finished_) return;
  pending_reason_ = reason;
  finish(reason, false);
}

void Tunnel::finish(const std::string& reason, bool clean) {
  if (finished_) return;
  finished_ = true;
  idle_timer_.cancel();
  std::error_code ignored;
  if (clean) {
    // Both directions ended in order; the WebSocket finishes its own close handshake and shuts its socket.
    tcp_.close(ignored);
  } else {
    // An abort on one side aborts the other: RST the local socket so the client sees an error, not a clean EOF.
    tcp_.set_option(asio::socket_base::linger(true, 0), ignored);
    tcp_.close(ignored);
    ws_->abort();
  }
  TunnelSummary summary;
  summary.duration = std::chrono::steady_clock::now() - started_;
  summary.bytes_to_relay = bytes_up_;
  summary.bytes_from_relay = bytes_down_;
  summary.reason = reason;
  summary.clean = clean;
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    cb(*this, summary);
  }
}

}  // namespace bridge
