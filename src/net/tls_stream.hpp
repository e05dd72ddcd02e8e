// TLS over a TCP socket on OpenSSL directly, in place of asio::ssl::stream (issue 16: most of TLS's cost there was
// syscalls and copies through asio's BIO pair, one record per read and per write, not the cipher).
//  - Reading: OpenSSL reads the (non-blocking) socket itself with read-ahead into a ~132 KiB buffer, so one read()
//    feeds several records; each record is decrypted in that buffer and its plaintext copied once, into the caller's
//    buffer (no BIO pair in between). read_some() is synchronous and
//    non-blocking: it returns what is decryptable now (several records) or would_block, so a caller can read inline
//    while whole records are buffered and wait for readiness only when they are not.
//  - Writing: the records of one write (up to 64 KiB of plaintext, header and payload gathered into full 16 KiB
//    records) are encrypted into one buffer we own and leave with as few send()s as the socket takes.
//  - Asynchronous operations are asio composed operations over socket readiness waits: a pending handler lives in
//    asio's socket operation (never in this object), so it is destroyed with the io_context, without cycles.
// One read and one write may be outstanding at once (as with asio::ssl::stream); everything runs on one thread.
// Errors are those asio::ssl::stream reports: asio::error::eof after the peer's close_notify,
// asio::ssl::error::stream_truncated when the TCP stream ends without one, the ssl category for TLS failures, and the
// system category for socket errors.
#pragma once

#include <asio.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream_base.hpp>

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <vector>

namespace net {

class TlsStream {
 public:
  using tcp = asio::ip::tcp;
  static constexpr std::size_t kRecord = 16384;          // TLS's largest record payload
  static constexpr std::size_t kWriteBatch = 64 * 1024;  // plaintext encrypted before its records are sent
  // One read() takes up to ~8 full records (~132 KiB). With 4 (~66 KiB) the relay and hcbridge -T made 26-28 read()s
  // per MiB over TLS against 17 recv()s over ws://; with 8, 15-17. The buffer is given back whenever the connection
  // waits for input (read_some), so only busy connections hold it.
  static constexpr std::size_t kReadAhead = 8 * (kRecord + 512);

  TlsStream(tcp::socket socket, asio::ssl::context& context);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  SSL* native_handle() { return ssl_; }
  tcp::socket& next_layer() { return socket_; }
  asio::any_io_executor get_executor() { return socket_.get_executor(); }

  // Decrypts what can be had without blocking into `buffer` (as many whole records as fit and are buffered or
  // readable). asio::error::would_block: wait for the socket to be readable, then call again.
  std::size_t read_some(asio::mutable_buffer buffer, std::error_code& ec);

  template <class Handler>
  void async_handshake(asio::ssl::stream_base::handshake_type type, Handler&& handler);
  // Reads some bytes (at least one) into the first non-empty buffer.
  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler);
  // Writes all of `buffers`; completes with the plaintext byte count.
  template <class ConstBuffers, class Handler>
  void async_write(const ConstBuffers& buffers, Handler&& handler);
  // Sends close_notify (does not wait for the peer's: that arrives as eof on the read side).
  template <class Handler>
  void async_shutdown(Handler&& handler);

 private:
  enum class Want { nothing, input, output };
  template <class>
  friend struct TlsReadOp;
  template <class>
  friend struct TlsWriteOp;
  friend struct TlsHandshakeOp;

  // One step of the handshake (shutdown = false) or of sending close_notify: what it waits for next.
  Want handshake_step(bool shutdown, std::error_code& ec);
  // Encrypts `count` pieces into out_, full records first (small pieces are gathered with what follows).
  void encrypt(const asio::const_buffer* pieces, std::size_t count, std::error_code& ec);
  template <class ConstBuffers>
  std::size_t encrypt_batch(const ConstBuffers& buffers, std::size_t skip, std::error_code& ec);
  // Sends out_ without blocking. True when it is empty; false with ec clear when the socket is full.
  bool flush(std::error_code& ec);
  void release_output();
  std::error_code error_from(int ssl_error);

  tcp::socket socket_;
  SSL* ssl_ = nullptr;
  std::vector<uint8_t> out_;  // encrypted bytes not yet sent: out_[out_sent_, size)
  std::size_t out_sent_ = 0;
  bool shutdown_sent_ = false;
  bool read_waiting_ = false;  // the last read_some found nothing: the reader waits for the socket
  std::error_code read_error_;
};

// ------------------------------------------------------------------------------------------- composed operations

struct TlsHandshakeOp {
  TlsStream& stream;
  bool shutdown;
  bool waited = false;
  bool done = false;
  std::error_code result;

  template <class Self>
  void operator()(Self& self, std::error_code ec = {}) {
    if (done) return self.complete(result);
    if (ec) return self.complete(ec);
    const TlsStream::Want want = stream.handshake_step(shutdown, result);
    if (want != TlsStream::Want::nothing) {
      waited = true;
      const auto w = want == TlsStream::Want::input ? asio::socket_base::wait_read : asio::socket_base::wait_write;
      return stream.socket_.async_wait(w, std::move(self));
    }
    if (waited) return self.complete(result);
    done = true;  // never complete inside the initiating call
    asio::post(std::move(self));
  }
};

template <class MutableBuffers>
struct TlsReadOp {
  TlsStream& stream;
  MutableBuffers buffers;
  bool waited = false;
  bool done = false;
  std::size_t n = 0;
  std::error_code result;

  template <class Self>
  void operator()(Self& self, std::error_code ec = {}) {
    if (done) return self.complete(result, n);
    if (ec) return self.complete(ec, 0);
    asio::mutable_buffer target;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
      target = asio::mutable_buffer(*it);
      if (target.size() > 0) break;
    }
    if (target.size() > 0) {
      n = stream.read_some(target, result);
      if (result == asio::error::would_block) {
        waited = true;
        return stream.socket_.async_wait(asio::socket_base::wait_read, std::move(self));
      }
    }
    if (waited) return self.complete(result, n);
    done = true;
    asio::post(std::move(self));
  }
};

template <class ConstBuffers>
struct TlsWriteOp {
  TlsStream& stream;
  ConstBuffers buffers;
  std::size_t total;
  std::size_t written = 0;
  bool waited = false;
  bool done = false;
  std::error_code result;

  template <class Self>
  void operator()(Self& self, std::error_code ec = {}) {
    if (done) return self.complete(result, written);
    if (ec) return self.complete(ec, written);
    for (;;) {
      if (!stream.flush(result)) {
        if (result) break;
        waited = true;
        return stream.socket_.async_wait(asio::socket_base::wait_write, std::move(self));
      }
      if (written == total) break;
      written += stream.encrypt_batch(buffers, written, result);
      if (result) break;
    }
    stream.release_output();
    if (waited) return self.complete(result, written);
    done = true;
    asio::post(std::move(self));
  }
};

template <class Handler>
void TlsStream::async_handshake(asio::ssl::stream_base::handshake_type type, Handler&& handler) {
  if (type == asio::ssl::stream_base::client)
    SSL_set_connect_state(ssl_);
  else
    SSL_set_accept_state(ssl_);
  asio::async_compose<Handler, void(std::error_code)>(TlsHandshakeOp{*this, false, false, false, {}}, handler, socket_);
}

template <class MutableBuffers, class Handler>
void TlsStream::async_read_some(const MutableBuffers& buffers, Handler&& handler) {
  asio::async_compose<Handler, void(std::error_code, std::size_t)>(
      TlsReadOp<MutableBuffers>{*this, buffers, false, false, 0, {}}, handler, socket_);
}

template <class ConstBuffers, class Handler>
void TlsStream::async_write(const ConstBuffers& buffers, Handler&& handler) {
  asio::async_compose<Handler, void(std::error_code, std::size_t)>(
      TlsWriteOp<ConstBuffers>{*this, buffers, asio::buffer_size(buffers), 0, false, false, {}}, handler, socket_);
}

template <class Handler>
void TlsStream::async_shutdown(Handler&& handler) {
  asio::async_compose<Handler, void(std::error_code)>(TlsHandshakeOp{*this, true, false, false, {}}, handler, socket_);
}

template <class ConstBuffers>
std::size_t TlsStream::encrypt_batch(const ConstBuffers& buffers, std::size_t skip, std::error_code& ec) {
  // The pieces that follow the first `skip` bytes, up to kWriteBatch bytes: out_ stays bounded whatever the caller
  // writes, and the next batch is encrypted only once this one is sent.
  std::array<asio::const_buffer, 64> pieces;  // a WebSocket write gathers up to 32 frames (2 pieces each at most)
  std::size_t count = 0, taken = 0;
  for (auto it = asio::buffer_sequence_begin(buffers);
       it != asio::buffer_sequence_end(buffers) && count < pieces.size() && taken < kWriteBatch; ++it) {
    asio::const_buffer b(*it);
    if (skip >= b.size()) {
      skip -= b.size();
      continue;
    }
    b += skip;
    skip = 0;
    const std::size_t n = std::min(b.size(), kWriteBatch - taken);
    pieces[count++] = asio::const_buffer(b.data(), n);
    taken += n;
  }
  encrypt(pieces.data(), count, ec);
  return ec ? 0 : taken;
}

}  // namespace net
