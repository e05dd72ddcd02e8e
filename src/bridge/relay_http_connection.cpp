#include "bridge/relay_http_connection.hpp"

#include "net/tls.hpp"

namespace bridge {

RelayHttpConnection::RelayHttpConnection(asio::io_context& io, RelayContext relay, std::chrono::milliseconds timeout)
    : io_(io), relay_(std::move(relay)), timeout_(timeout), timer_(io) {}

void RelayHttpConnection::start(OpenHandler handler) {
  handler_ = std::move(handler);
  // The dial has its own deadline; this one also covers the TLS handshake.
  timer_.expires_after(timeout_);
  timer_.async_wait([weak = weak_from_this()](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || !self->handler_) return;
    self->close();
    self->complete(asio::error::timed_out, "no connection to the relay within " + std::to_string(self->timeout_.count()) + " ms");
  });
  do_dial();
}

void RelayHttpConnection::close() {
  closed_ = true;
  timer_.cancel();
  if (dial_) dial_->cancel();
  if (stream_) stream_->close();
}

void RelayHttpConnection::do_dial() {
  const auto& ep = relay_.endpoint;
  dial_ = net::async_dial(io_, ep.host, ep.port, net::DialOptions{relay_.proxy, timeout_},
                          [self = shared_from_this()](std::error_code ec, asio::ip::tcp::socket s, std::string detail) {
                            self->on_dial(ec, std::move(s), detail);
                          });
}

void RelayHttpConnection::on_dial(std::error_code ec, asio::ip::tcp::socket socket, const std::string& detail) {
  dial_.reset();
  if (!handler_) return;
  const auto& ep = relay_.endpoint;
  if (ec) return complete(ec, "cannot connect to the relay " + ep.authority() + ": " + (detail.empty() ? ec.message() : detail));
  if (!ep.tls()) {
    stream_ = std::make_unique<net::Stream>(std::move(socket));
    return complete({}, {});
  }
  if (!relay_.tls) return complete(make_error_code(std::errc::protocol_error), "no TLS context for the relay");
  stream_ = std::make_unique<net::Stream>(std::move(socket), *relay_.tls);
  auto prepared = net::prepare_client_tls(stream_->tls()->native_handle(), ep.host, ep.port);
  if (!prepared) return complete(make_error_code(std::errc::protocol_error), prepared.error());
  stream_->tls()->async_handshake(asio::ssl::stream_base::client,
                                  [self = shared_from_this()](std::error_code e) { self->on_handshake(e); });
}

void RelayHttpConnection::on_handshake(std::error_code ec) {
  if (!handler_) return;
  if (ec) return complete(ec, "TLS handshake with the relay " + relay_.endpoint.authority() + " failed: " + ec.message());
  complete({}, {});
}

void RelayHttpConnection::complete(std::error_code ec, const std::string& problem) {
  timer_.cancel();
  auto handler = std::move(handler_);
  handler_ = nullptr;
  if (ec) close();
  if (handler) handler(ec, problem);
}

}  // namespace bridge
