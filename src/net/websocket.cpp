#include "net/websocket.hpp"

#include "hc/crypto.hpp"

#include <algorithm>
#include <cstring>

namespace net {
namespace {

class WsCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "websocket"; }
  std::string message(int e) const override {
    switch (static_cast<WsError>(e)) {
      case WsError::closed: return "peer closed its direction";
      case WsError::protocol_error: return "WebSocket protocol error";
      case WsError::message_too_big: return "WebSocket frame too big";
      case WsError::write_after_close: return "write after close";
    }
    return "unknown websocket error";
  }
};

constexpr std::size_t kMaxQueuedControlFrames = 8;

}  // namespace

const std::error_category& ws_category() {
  static WsCategory category;
  return category;
}

WebSocket::WebSocket(std::unique_ptr<Stream> stream, ws::Role role, std::string leftover, Options options)
    : stream_(std::move(stream)),
      role_(role),
      options_(std::move(options)),
      pool_(options_.pool ? options_.pool : BufferPool::create(1)) {
  options_.pool.reset();
  if (!leftover.empty()) {
    // At most one HTTP read buffer (4 KiB) can follow the head; a block holds 64 KiB.
    rblock_ = pool_->acquire();
    const std::size_t n = std::min(leftover.size(), BufferPool::kPayload);
    std::memcpy(rblock_.data() + rbegin_, leftover.data(), n);
    rend_ = rbegin_ + n;
  }
  // Read with non-blocking calls after a readiness wait, so no buffer is tied up while idle (a TLS stream's socket is
  // non-blocking already, and it gives its record buffers back while waiting too).
  std::error_code ignored;
  stream_->socket().non_blocking(true, ignored);
  hc::random_bytes(&mask_state_, sizeof mask_state_);
  mask_state_ |= 1;  // xorshift must not start at zero
}

WebSocket::~WebSocket() = default;

// ---------------------------------------------------------------------------------------------------------- reading

void WebSocket::async_read_view(std::size_t max_size, ViewHandler handler) {
  if (reading_) {
    asio::post(stream_->get_executor(), [h = std::move(handler)] { h(asio::error::in_progress, {}); });
    return;
  }
  reading_ = true;
  if (!timers_started_) start_timers();
  read_max_ = max_size;
  read_handler_ = std::move(handler);
  in_initiation_ = true;
  read_step();
  in_initiation_ = false;
}

void WebSocket::async_read(asio::mutable_buffer buffer, ReadHandler handler) {
  async_read_view(buffer.size(), [buffer, h = std::move(handler)](std::error_code ec, ReadView view) {
    if (view.size > 0) std::memcpy(buffer.data(), view.data, view.size);
    h(ec, ReadChunk{view.size, view.opcode, view.message_end});
  });
}

void WebSocket::deliver(std::error_code ec, ReadView view) {
  reading_ = false;
  auto h = std::move(read_handler_);
  read_handler_ = nullptr;
  if (in_initiation_) {
    // Completing inside async_read would recurse owner -> read -> owner without bound on buffered frames.
    asio::post(stream_->get_executor(), [self = shared_from_this(), h = std::move(h), ec, view] { h(ec, view); });
  } else {
    h(ec, view);
  }
}

std::error_code WebSocket::read_error(std::error_code ec) const {
  return aborted_ ? std::error_code(asio::error::operation_aborted) : ec;
}

void WebSocket::read_step() {
  for (;;) {
    if (close_received_) return deliver(WsError::closed);
    if (aborted_) return deliver(asio::error::operation_aborted);
    // No block while idle on plain TCP (then nothing is buffered either).
    uint8_t* const at = rblock_ ? rblock_.data() + rbegin_ : nullptr;
    const std::size_t buffered = rend_ - rbegin_;

    if (!have_header_) {
      ws::FrameHeader h;
      const auto r = ws::parse_frame_header(at, buffered, role_, options_.max_frame_payload, h);
      if (r.status == ws::ParseStatus::need_more) {
        if (fill_read_block()) continue;
        return;
      }
      if (r.status == ws::ParseStatus::bad) {
        const bool too_big = h.payload_size > options_.max_frame_payload && !ws::is_control(h.opcode);
        return fail(too_big ? 1009 : 1002, r.error ? r.error : "bad frame",
                    too_big ? WsError::message_too_big : WsError::protocol_error);
      }
      if (ws::is_control(h.opcode)) {
        // Control payloads are tiny (<= 125): wait until the whole frame is buffered, then handle it here.
        if (buffered < r.header_size + h.payload_size) {
          if (fill_read_block()) continue;
          return;
        }
        rbegin_ += r.header_size;
        header_ = h;
        if (!handle_control_frame()) return;
        continue;
      }
      if (h.opcode == ws::Opcode::continuation) {
        if (!in_message_) return fail(1002, "continuation frame outside a message", WsError::protocol_error);
      } else {
        if (in_message_) return fail(1002, "new message inside a fragmented message", WsError::protocol_error);
        in_message_ = true;
        message_opcode_ = h.opcode;
      }
      rbegin_ += r.header_size;
      header_ = h;
      have_header_ = true;
      payload_left_ = h.payload_size;
      payload_offset_ = 0;
      if (payload_left_ == 0) {
        have_header_ = false;
        if (h.fin) {
          in_message_ = false;
          return deliver({}, ReadView{rblock_.data() + rbegin_, 0, message_opcode_, true});  // header came from the block
        }
        continue;
      }
    }

    // Inside a data frame's payload: hand over what is buffered, in place.
    const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(payload_left_, read_max_));
    if (want == 0) return deliver({}, ReadView{rblock_ ? rblock_.data() + rbegin_ : nullptr, 0, message_opcode_, false});
    if (rend_ == rbegin_) {
      if (fill_read_block()) continue;
      return;
    }
    const std::size_t n = std::min(want, rend_ - rbegin_);
    uint8_t* data = rblock_.data() + rbegin_;
    rbegin_ += n;
    if (header_.masked) ws::apply_mask(data, n, header_.mask, payload_offset_);
    payload_offset_ += n;
    payload_left_ -= n;
    bytes_read_ += n;
    bool end = false;
    if (payload_left_ == 0) {
      have_header_ = false;
      if (header_.fin) {
        end = true;
        in_message_ = false;
      }
    }
    return deliver({}, ReadView{data, n, message_opcode_, end});
  }
}

// Makes room and reads more bytes into the block. Returns true when bytes were appended at once (plain TCP with data
// waiting); otherwise an asynchronous read or wait was started (or the read failed and the owner was told).
bool WebSocket::fill_read_block() {
  // What is left unparsed is a partial header or control frame (< 140 bytes): move it to the front. Bytes before
  // rbegin_ were handed over in earlier views, which the owner no longer holds (it asked for the next read).
  constexpr std::size_t front = BufferPool::kHeadroom;
  if (rbegin_ == rend_) {
    rbegin_ = rend_ = front;
  } else if (rbegin_ > front) {
    std::memmove(rblock_.data() + front, rblock_.data() + rbegin_, rend_ - rbegin_);
    rend_ -= rbegin_ - front;
    rbegin_ = front;
  }
  if (!rblock_) rblock_ = pool_->acquire();
  const auto space = asio::buffer(rblock_.data() + rend_, BufferPool::kBlockSize - rend_);

  // Inline while bytes are there (on TLS: while whole records are buffered or readable); a readiness wait otherwise.
  std::error_code ec;
  const std::size_t n = stream_->read_some(space, ec);
  if (!ec) {
    rend_ += n;
    if (silence_timer_) last_heard_ = std::chrono::steady_clock::now();
    return true;
  }
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    read_when_ready();
    return false;
  }
  deliver(read_error(ec));
  return false;
}

void WebSocket::read_when_ready() {
  // Nothing to read yet: an empty block goes back to the pool while we wait, so idle connections cost no buffer.
  if (rbegin_ == rend_) rblock_.reset();
  stream_->socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](std::error_code ec) {
    if (ec) return self->deliver(self->read_error(ec));
    self->read_step();
  });
}

bool WebSocket::handle_control_frame() {
  std::string payload(reinterpret_cast<const char*>(rblock_.data() + rbegin_), header_.payload_size);
  rbegin_ += header_.payload_size;
  if (header_.masked)
    ws::apply_mask(reinterpret_cast<uint8_t*>(payload.data()), payload.size(), header_.mask, 0);
  switch (header_.opcode) {
    case ws::Opcode::ping:
      send_pong(payload);
      return true;
    case ws::Opcode::pong:
      if (on_pong_) on_pong_();
      return true;
    case ws::Opcode::close: {
      const auto close = ws::parse_close_payload(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
      if (!close.valid) {
        fail(1002, "invalid close frame", WsError::protocol_error);
        return false;
      }
      close_received_ = true;
      close_code_ = close.code;
      close_reason_ = close.reason;
      deliver(WsError::closed);
      maybe_finish();
      return false;
    }
    default:
      fail(1002, "unknown control frame", WsError::protocol_error);
      return false;
  }
}

void WebSocket::fail(uint16_t code, const char* why, WsError error) {
  close_then_abort(code, why);
  deliver(error);
}

void WebSocket::fail_connection(uint16_t code, std::string_view why, std::chrono::milliseconds linger) {
  close_then_abort(code, why);
  if (aborted_) return;
  auto deadline = std::make_shared<asio::steady_timer>(stream_->get_executor(), linger);
  deadline->async_wait([deadline, self = shared_from_this()](std::error_code) { self->abort(); });
}

void WebSocket::close_then_abort(uint16_t code, std::string_view why) {
  // Tell the peer why (best effort), then drop the connection once that frame is out or failed.
  if (!close_queued_ && !aborted_) {
    close_queued_ = true;
    OutFrame f;
    f.owned = ws::build_close_payload(code, why);
    f.is_close = true;
    f.handler = [self = shared_from_this()](std::error_code) { self->abort(); };
    enqueue(std::move(f), false);
  } else {
    abort();
  }
}

// ---------------------------------------------------------------------------------------------------------- writing

void WebSocket::make_mask(uint8_t out[4]) {
  // xorshift64*, seeded from the CSPRNG: unpredictable to the peer, and cheap enough for every frame.
  mask_state_ ^= mask_state_ >> 12;
  mask_state_ ^= mask_state_ << 25;
  mask_state_ ^= mask_state_ >> 27;
  const uint64_t v = mask_state_ * 0x2545F4914F6CDD1Dull;
  std::memcpy(out, &v, 4);
}

void WebSocket::async_write(asio::mutable_buffer payload, ws::Opcode opcode, bool fin, WriteHandler handler) {
  write_data(payload, opcode, fin, std::move(handler), false);
}

void WebSocket::async_write_in_place(asio::mutable_buffer payload, ws::Opcode opcode, bool fin, WriteHandler handler) {
  write_data(payload, opcode, fin, std::move(handler), true);
}

void WebSocket::write_data(asio::mutable_buffer payload, ws::Opcode opcode, bool fin, WriteHandler handler,
                           bool in_place) {
  if (aborted_ || close_queued_) {
    const std::error_code ec = aborted_ ? std::error_code(asio::error::operation_aborted)
                                        : make_error_code(WsError::write_after_close);
    asio::post(stream_->get_executor(), [h = std::move(handler), ec] { h(ec); });
    return;
  }
  const ws::Opcode op = sent_unfinished_message_ ? ws::Opcode::continuation : opcode;
  sent_unfinished_message_ = !fin;
  OutFrame f;
  uint8_t mask[4];
  const bool masked = role_ == ws::Role::client;
  auto* data = static_cast<uint8_t*>(payload.data());
  if (masked) {
    make_mask(mask);
    ws::apply_mask(data, payload.size(), {mask[0], mask[1], mask[2], mask[3]}, 0);
  }
  f.header_size = ws::encode_frame_header(f.header.data(), fin, op, payload.size(), masked ? mask : nullptr);
  f.payload = payload;
  if (in_place) {
    static_assert(BufferPool::kHeadroom >= ws::kMaxFrameHeaderSize, "headroom must hold any frame header");
    std::memcpy(data - f.header_size, f.header.data(), f.header_size);
    f.payload = asio::const_buffer(data - f.header_size, f.header_size + payload.size());
    f.header_size = 0;
    f.prebuilt = true;
  }
  f.data_bytes = payload.size();
  f.handler = std::move(handler);
  enqueue(std::move(f), false);
}

void WebSocket::async_write_text(std::string message, WriteHandler handler) {
  if (aborted_ || close_queued_ || sent_unfinished_message_) {
    const std::error_code ec = aborted_ ? std::error_code(asio::error::operation_aborted)
                                        : make_error_code(WsError::write_after_close);
    asio::post(stream_->get_executor(), [h = std::move(handler), ec] { h(ec); });
    return;
  }
  OutFrame f;
  f.owned = std::move(message);
  f.handler = std::move(handler);
  enqueue(std::move(f), false);
}

void WebSocket::send_close(uint16_t code, std::string_view reason) {
  if (close_queued_ || aborted_) return;
  close_queued_ = true;
  OutFrame f;
  // 1005 means "no status code": forward it as an empty close body, never as a code on the wire.
  if (code != 1005) f.owned = ws::build_close_payload(code, reason);
  f.is_close = true;
  // Queued behind data frames already accepted, so nothing written before the close is lost.
  enqueue(std::move(f), false);
}

void WebSocket::send_ping(std::string_view payload) {
  if (close_written_ || aborted_ || control_queue_.size() >= kMaxQueuedControlFrames) return;
  OutFrame f;
  f.owned = std::string(payload.substr(0, 125));
  f.header[0] = static_cast<uint8_t>(ws::Opcode::ping);  // marks the opcode until encoded in enqueue()
  enqueue(std::move(f), true);
}

void WebSocket::send_pong(std::string_view payload) {
  // A peer flooding pings while we cannot write must not grow our queue: extra pongs are dropped (RFC 6455 allows
  // answering only the most recent ping).
  if (close_written_ || aborted_ || control_queue_.size() >= kMaxQueuedControlFrames) return;
  OutFrame f;
  f.owned = std::string(payload.substr(0, 125));
  f.header[0] = static_cast<uint8_t>(ws::Opcode::pong);
  enqueue(std::move(f), true);
}

void WebSocket::enqueue(OutFrame frame, bool control) {
  if (!frame.prebuilt && frame.header_size == 0) {
    // Frames that own their payload (text messages, close, ping, pong) get their header now; data frames came with
    // theirs from write_data.
    ws::Opcode op = ws::Opcode::text;
    if (frame.is_close) op = ws::Opcode::close;
    else if (control) op = static_cast<ws::Opcode>(frame.header[0]);
    const bool masked = role_ == ws::Role::client;
    uint8_t mask[4];
    if (masked) {
      make_mask(mask);
      ws::apply_mask(reinterpret_cast<uint8_t*>(frame.owned.data()), frame.owned.size(),
                     {mask[0], mask[1], mask[2], mask[3]}, 0);
    }
    frame.header_size =
        ws::encode_frame_header(frame.header.data(), true, op, frame.owned.size(), masked ? mask : nullptr);
  }
  (control ? control_queue_ : data_queue_).push_back(std::move(frame));
  write_next();
}

void WebSocket::write_next() {
  if (writing_ || aborted_) return;
  std::deque<OutFrame>* q = !control_queue_.empty() ? &control_queue_ : (!data_queue_.empty() ? &data_queue_ : nullptr);
  if (q == nullptr) return;
  // The frames live in a shared_ptr for the duration of the write so their headers and owned payloads stay put.
  auto batch = std::make_shared<std::vector<OutFrame>>();
  batch->push_back(std::move(q->front()));
  q->pop_front();
  // Small data frames queued behind this one (a burst of UDP datagrams, each its own message) go out in the same
  // write: one send and, over TLS, full records instead of one record and one send per message. A close frame is
  // always written on its own, and control frames still go first (they are checked before every write).
  std::size_t bytes = frame_bytes(batch->front());
  while (q == &data_queue_ && !batch->front().is_close && control_queue_.empty() && !data_queue_.empty() &&
         !data_queue_.front().is_close && batch->size() < kMaxGatheredFrames &&
         bytes + frame_bytes(data_queue_.front()) <= kMaxGatheredBytes) {
    bytes += frame_bytes(data_queue_.front());
    batch->push_back(std::move(data_queue_.front()));
    data_queue_.pop_front();
  }
  writing_ = true;
  auto on_written = [self = shared_from_this(), batch](std::error_code ec, std::size_t) {
    self->writing_ = false;
    if (self->keepalive_timer_ && !ec) self->last_written_ = std::chrono::steady_clock::now();
    for (auto& frame : *batch) {
      if (!ec) {
        self->bytes_written_ += frame.data_bytes;
        if (frame.is_close) self->close_written_ = true;
      }
      if (frame.handler) frame.handler(ec);
    }
    if (ec) {
      self->abort();
      return;
    }
    if (batch->back().is_close) self->maybe_finish();
    self->write_next();
  };
  const OutFrame& first = batch->front();
  if (batch->size() == 1 && first.prebuilt) {  // the bulk path: one data frame, its header in front of its payload
    stream_->async_write(asio::const_buffers_1(first.payload), std::move(on_written));
    return;
  }
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(2 * batch->size());
  for (const auto& frame : *batch) {
    if (frame.prebuilt) {
      buffers.push_back(frame.payload);
      continue;
    }
    buffers.push_back(asio::buffer(frame.header.data(), frame.header_size));
    buffers.push_back(frame.owned.empty() ? frame.payload : asio::buffer(frame.owned));
  }
  stream_->async_write(buffers, std::move(on_written));
}

std::size_t WebSocket::frame_bytes(const OutFrame& frame) {
  if (frame.prebuilt) return frame.payload.size();
  return frame.header_size + (frame.owned.empty() ? frame.payload.size() : frame.owned.size());
}

// ---------------------------------------------------------------------------------------------------------- ending

void WebSocket::abort() {
  if (aborted_) return;
  aborted_ = true;
  stream_->close();
  // Frames that never reached the socket still owe their handlers an answer.
  for (auto* q : {&control_queue_, &data_queue_}) {
    for (auto& f : *q) {
      if (f.handler) asio::post(stream_->get_executor(), [h = std::move(f.handler)] { h(asio::error::operation_aborted); });
    }
    q->clear();
  }
  finish();
}

void WebSocket::maybe_finish() {
  if (finished_ || aborted_ || !close_written_ || !close_received_) return;
  // Both directions are closed: nothing more will be sent or read, so the TCP connection can go. (TLS close_notify
  // is skipped on purpose: the WebSocket close handshake already proved nothing was truncated, and waiting for the
  // peer's close_notify is how websocketpp stalls for seconds.)
  stream_->shutdown_send();
  aborted_ = true;  // no further I/O on this socket
  stream_->close();
  finish();
}

void WebSocket::finish() {
  if (finished_) return;
  finished_ = true;
  if (keepalive_timer_) keepalive_timer_->cancel();
  if (silence_timer_) silence_timer_->cancel();
  if (on_finished_) {
    asio::post(stream_->get_executor(), [cb = std::move(on_finished_)] { cb(); });
  }
  on_pong_ = nullptr;
}

}  // namespace net
