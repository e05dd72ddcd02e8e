// One RFC 6455 connection over a Stream, after the HTTP upgrade. Built for relaying bytes:
//  - nothing is read unless the owner asks (async_read_view), so a slow consumer slows the peer: backpressure for free;
//  - payload is read once into a pooled block and handed to the owner in place (a view), without assembling messages;
//    the block is taken only when the stream has data (on TLS: decrypted records), so an idle connection holds no
//    buffer at all, and reads go on inline while data is there (one readiness wait per burst, not per record);
//  - a received close frame ends only the peer's direction; we answer it only when the owner calls send_close(),
//    which is what half-close needs (websocketpp answers at once, hence this class);
//  - pings are answered here; pongs are reported to the owner (keep-alive liveness);
//  - optional timers (websocket_timers.cpp): a keep-alive pong on a quiet connection, and a drop after silence.
// Single-threaded: every call must be made on the connection's executor.
#pragma once

#include "net/buffer_pool.hpp"
#include "net/stream.hpp"
#include "net/ws_frame.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace net {

enum class WsError {
  closed = 1,        // the peer sent a close frame: its direction is finished (see close_code())
  protocol_error,    // the peer broke RFC 6455; the connection was failed
  message_too_big,   // a frame or message exceeded our limit
  write_after_close, // the owner wrote after send_close()
};
const std::error_category& ws_category();
inline std::error_code make_error_code(WsError e) { return {static_cast<int>(e), ws_category()}; }

struct ReadChunk {
  std::size_t size = 0;
  ws::Opcode opcode = ws::Opcode::binary;  // text or binary: the opcode of the message this chunk belongs to
  bool message_end = false;                // this chunk ends the message
};

// Payload in place in the connection's read block. Valid (and writable) until the next read call. The
// BufferPool::kHeadroom bytes in front of `data` are writable too, so the view can be sent on with
// async_write_in_place without a copy.
struct ReadView {
  uint8_t* data = nullptr;
  std::size_t size = 0;
  ws::Opcode opcode = ws::Opcode::binary;
  bool message_end = false;
};

class WebSocket : public std::enable_shared_from_this<WebSocket> {
 public:
  using ReadHandler = std::function<void(std::error_code, ReadChunk)>;
  using ViewHandler = std::function<void(std::error_code, ReadView)>;
  using WriteHandler = std::function<void(std::error_code)>;

  struct Options {
    uint64_t max_frame_payload = 64ull << 20;  // larger frames fail the connection with 1009
    std::shared_ptr<BufferPool> pool;           // shared read blocks; a private pool when null
    // An unsolicited pong (RFC 6455 5.5.3: allowed, and never answered) after this long without any frame written,
    // so the path of a quiet connection stays open: paths to Azure Relay drop flows idle for about 4 minutes, HTTP
    // proxies often sooner, and an idle tunnel (an SSH session) would be cut. .NET's WebSocket does the same on
    // every HC socket. 0 = off.
    std::chrono::milliseconds keepalive{0};
    // The TCP connection is dropped, without a close frame, when nothing arrived for this long while the owner was
    // reading (a connection held back by backpressure is not silent), as such a path does (hcrelay --idle-timeout).
    // 0 = off.
    std::chrono::milliseconds drop_when_silent{0};
  };

  // `leftover` holds bytes that arrived after the HTTP head; they are the start of the frame stream.
  WebSocket(std::unique_ptr<Stream> stream, ws::Role role, std::string leftover, Options options);
  WebSocket(std::unique_ptr<Stream> stream, ws::Role role, std::string leftover)
      : WebSocket(std::move(stream), role, std::move(leftover), Options{}) {}
  ~WebSocket();

  // Reads the next chunk (at most `max_size` bytes) of data-message payload, handed over in place. One read at a time.
  void async_read_view(std::size_t max_size, ViewHandler handler);
  // The same, copied into `buffer` (control channels and tests, where a copy costs nothing).
  void async_read(asio::mutable_buffer buffer, ReadHandler handler);

  // Sends one data frame. In the client role the payload is masked IN PLACE: the caller's bytes are clobbered, which
  // saves a copy on the hot path. The buffer must stay alive until the handler runs. Continuation opcodes are chosen
  // here: after a frame with fin=false, the next frame is sent as a continuation whatever `opcode` says.
  void async_write(asio::mutable_buffer payload, ws::Opcode opcode, bool fin, WriteHandler handler);
  // The same, for a payload with BufferPool::kHeadroom writable bytes in front of it (a pooled block or a ReadView):
  // the header goes there and the frame leaves as one contiguous buffer, so over TLS header and payload share records.
  void async_write_in_place(asio::mutable_buffer payload, ws::Opcode opcode, bool fin, WriteHandler handler);
  // Sends a whole text message from an owned string (control-channel JSON).
  void async_write_text(std::string message, WriteHandler handler);

  // Ends our direction with a close frame. Further writes fail; reading continues until the peer's close.
  void send_close(uint16_t code, std::string_view reason);
  void send_ping(std::string_view payload = {});
  void send_pong(std::string_view payload = {});

  // Drops the TCP connection at once, without a close frame (an abort). Pending handlers get operation_aborted.
  void abort();
  // Fails the connection for something the owner found in the payload (RFC 6455 7.1.7; e.g. 1007, a text message
  // that is not UTF-8): a close frame with `code`, then the TCP connection is dropped once that frame is out, or after
  // `linger` at the latest (a peer that does not read cannot keep it). Just an abort if our close went out already.
  void fail_connection(uint16_t code, std::string_view why, std::chrono::milliseconds linger);

  void set_pong_handler(std::function<void()> handler) { on_pong_ = std::move(handler); }
  // Called once when the connection is fully finished (both closes exchanged and the socket shut, or aborted).
  void set_finished_handler(std::function<void()> handler) { on_finished_ = std::move(handler); }

  bool close_sent() const { return close_queued_; }
  bool close_received() const { return close_received_; }
  uint16_t close_code() const { return close_code_; }
  const std::string& close_reason() const { return close_reason_; }
  bool is_open() const { return !aborted_; }
  ws::Role role() const { return role_; }
  Stream& stream() { return *stream_; }
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  struct OutFrame {
    std::array<uint8_t, ws::kMaxFrameHeaderSize> header{};
    std::size_t header_size = 0;
    asio::const_buffer payload;  // with header_size == 0: the whole frame, header included
    std::string owned;           // control frames and text messages own their payload
    WriteHandler handler;
    std::size_t data_bytes = 0;  // payload bytes of a data frame (statistics)
    bool is_close = false;
    bool prebuilt = false;       // header already written in front of the payload
  };

  static std::size_t frame_bytes(const OutFrame& frame);
  // A write gathers queued data frames up to these bounds (a 64 KiB data frame is always written alone).
  static constexpr std::size_t kMaxGatheredFrames = 32;
  static constexpr std::size_t kMaxGatheredBytes = 64 * 1024;

  void read_step();
  bool fill_read_block();
  void read_when_ready();
  std::error_code read_error(std::error_code ec) const;
  void deliver(std::error_code ec, ReadView view = {});
  void write_data(asio::mutable_buffer payload, ws::Opcode opcode, bool fin, WriteHandler handler, bool in_place);
  bool handle_control_frame();
  void fail(uint16_t code, const char* why, WsError error);
  void close_then_abort(uint16_t code, std::string_view why);
  void enqueue(OutFrame frame, bool control);
  void write_next();
  void make_mask(uint8_t out[4]);
  void maybe_finish();
  void finish();
  // websocket_timers.cpp
  void start_timers();
  void arm_keepalive();
  void arm_silence_watch();

  std::unique_ptr<Stream> stream_;
  ws::Role role_;
  Options options_;

  // Read side: unparsed bytes are rblock_[rbegin_, rend_). The block's first kHeadroom bytes are never read into.
  std::shared_ptr<BufferPool> pool_;
  Block rblock_;
  std::size_t rbegin_ = BufferPool::kHeadroom, rend_ = BufferPool::kHeadroom;
  std::size_t read_max_ = 0;
  bool have_header_ = false;
  ws::FrameHeader header_{};
  uint64_t payload_left_ = 0;
  uint64_t payload_offset_ = 0;
  bool in_message_ = false;
  ws::Opcode message_opcode_ = ws::Opcode::binary;
  ViewHandler read_handler_;
  bool reading_ = false;
  bool in_initiation_ = false;

  // Write side.
  std::deque<OutFrame> control_queue_;
  std::deque<OutFrame> data_queue_;
  bool writing_ = false;
  bool sent_unfinished_message_ = false;
  bool close_queued_ = false;
  bool close_written_ = false;
  uint64_t mask_state_ = 0;

  bool close_received_ = false;
  uint16_t close_code_ = 1005;
  std::string close_reason_;
  bool aborted_ = false;
  bool finished_ = false;
  uint64_t bytes_read_ = 0, bytes_written_ = 0;

  // Keep-alive and silence timers (Options::keepalive, drop_when_silent), armed at the first read.
  std::unique_ptr<asio::steady_timer> keepalive_timer_, silence_timer_;
  bool timers_started_ = false;
  std::chrono::steady_clock::time_point last_written_, last_heard_;  // kept only while the timer that reads it runs

  std::function<void()> on_pong_;
  std::function<void()> on_finished_;
};

}  // namespace net

namespace std {
template <>
struct is_error_code_enum<net::WsError> : true_type {};
}  // namespace std
