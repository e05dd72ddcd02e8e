// net::WebSocket's optional timers (WebSocket::Options::keepalive and drop_when_silent). Each holds only a weak
// reference: a connection that goes away takes its timers with it, and finish() cancels them.
#include "net/websocket.hpp"

namespace net {

void WebSocket::start_timers() {
  timers_started_ = true;
  if (finished_) return;
  if (options_.keepalive.count() > 0) {
    keepalive_timer_ = std::make_unique<asio::steady_timer>(stream_->get_executor());
    last_written_ = std::chrono::steady_clock::now();
    arm_keepalive();
  }
  if (options_.drop_when_silent.count() > 0) {
    silence_timer_ = std::make_unique<asio::steady_timer>(stream_->get_executor());
    last_heard_ = std::chrono::steady_clock::now();
    arm_silence_watch();
  }
}

void WebSocket::arm_keepalive() {
  // Due one period after the last write; a write since the timer was set moves the next check along.
  keepalive_timer_->expires_at(last_written_ + options_.keepalive);
  keepalive_timer_->async_wait([weak = weak_from_this()](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->finished_ || self->close_queued_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - self->last_written_ >= self->options_.keepalive) {
      self->send_pong();
      self->last_written_ = now;  // queued now: the next one is due a period later even if this one waits to be sent
    }
    self->arm_keepalive();
  });
}

void WebSocket::arm_silence_watch() {
  // Checked four times per period: dropped between 1 and 1.25 periods after the last byte arrived.
  silence_timer_->expires_after(std::max(options_.drop_when_silent / 4, std::chrono::milliseconds(1)));
  silence_timer_->async_wait([weak = weak_from_this()](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->finished_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!self->reading_) self->last_heard_ = now;  // held back by its owner (backpressure): not silence
    if (now - self->last_heard_ >= self->options_.drop_when_silent) return self->abort();
    self->arm_silence_watch();
  });
}

}  // namespace net
