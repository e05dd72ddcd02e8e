// A byte stream that is either plain TCP or TLS over TCP, chosen at run time. Everything above it (WebSocket, pumps)
// is written once against this type. Dispatch is a branch, not a virtual call, so handlers keep their concrete types.
#pragma once

#include "net/tls_stream.hpp"

#include <asio.hpp>

#include <memory>
#include <optional>
#include <utility>

namespace net {

using tcp = asio::ip::tcp;

class Stream {
 public:
  explicit Stream(tcp::socket socket) : tcp_(std::move(socket)) {}
  Stream(tcp::socket socket, asio::ssl::context& tls) : tls_(std::make_unique<TlsStream>(std::move(socket), tls)) {}

  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  bool is_tls() const { return tls_ != nullptr; }
  TlsStream* tls() { return tls_.get(); }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *tcp_; }
  asio::any_io_executor get_executor() { return socket().get_executor(); }

  // Non-blocking read of what is available now (the socket must be non-blocking; a TLS stream's always is):
  // asio::error::would_block means wait for socket() to be readable, then call again.
  std::size_t read_some(asio::mutable_buffer buffer, std::error_code& ec) {
    return tls_ ? tls_->read_some(buffer, ec) : tcp_->read_some(buffer, ec);
  }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_)
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    else
      tcp_->async_read_some(buffers, std::forward<Handler>(handler));
  }

  // Writes all of `buffers` (composed operation).
  template <class ConstBuffers, class Handler>
  void async_write(const ConstBuffers& buffers, Handler&& handler) {
    if (tls_)
      tls_->async_write(buffers, std::forward<Handler>(handler));
    else
      asio::async_write(*tcp_, buffers, std::forward<Handler>(handler));
  }

  // Closes the TCP socket at once: pending operations complete with operation_aborted. Safe to call twice.
  void close() {
    asio::error_code ignored;
    socket().close(ignored);
  }

  // Half-close of our sending direction at the TCP level (used only once nothing more will be sent).
  void shutdown_send() {
    asio::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

 private:
  std::unique_ptr<TlsStream> tls_;
  std::optional<tcp::socket> tcp_;
};

}  // namespace net
