#include "net/dialer.hpp"

#include "net/address.hpp"
#include "net/http_head.hpp"

#include <array>

namespace net {
namespace {

using asio::ip::tcp;

// CONNECT through a proxy: connect to the proxy -> write the request -> read the answer head -> hand the socket over.
class ProxyHandshake : public PendingDial, public std::enable_shared_from_this<ProxyHandshake> {
 public:
  ProxyHandshake(asio::io_context& io, std::string host, uint16_t port, ProxyUrl proxy, DialHandler handler)
      : io_(io), socket_(io), timer_(io), host_(std::move(host)), port_(port), proxy_(std::move(proxy)),
        handler_(std::move(handler)) {}

  void start(std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this(), timeout](std::error_code ec) {
      if (!ec) self->on_deadline(timeout);
    });
    tcp_ = async_tcp_connect(io_, proxy_.host, proxy_.port, timeout,
                             [self = shared_from_this()](std::error_code ec, tcp::socket s) {
                               self->on_proxy_connected(ec, std::move(s));
                             });
  }

  void cancel() override {
    if (tcp_) tcp_->cancel();  // at once: a connect to the proxy not yet started never starts
    asio::post(io_, [self = shared_from_this()] { self->finish(asio::error::operation_aborted, "cancelled"); });
  }

 private:
  std::string target() const { return host_for_url(host_) + ":" + std::to_string(port_); }
  std::string name() const { return proxy_.masked(); }

  void on_deadline(std::chrono::milliseconds timeout) {
    const std::string after = std::to_string(timeout.count()) + " ms";
    if (!connected_) return finish(ProxyError::unreachable, "cannot connect to proxy " + name() + ": timed out after " + after);
    finish(ProxyError::timeout, "proxy " + name() + " did not answer CONNECT " + target() + " within " + after);
  }

  void on_proxy_connected(std::error_code ec, tcp::socket socket) {
    tcp_.reset();
    if (done_) return;
    if (ec) return finish(ProxyError::unreachable, "cannot connect to proxy " + name() + ": " + ec.message());
    connected_ = true;
    socket_ = std::move(socket);
    do_write_request();
  }

  void do_write_request() {
    request_ = build_connect_request(host_, port_, proxy_.basic_authorization());
    asio::async_write(socket_, asio::buffer(request_), [self = shared_from_this()](std::error_code ec, std::size_t) {
      self->on_write_request(ec);
    });
  }

  void on_write_request(std::error_code ec) {
    if (done_) return;
    if (ec) return finish(ProxyError::unreachable, "proxy " + name() + " closed the connection: " + ec.message());
    do_read_head();
  }

  void do_read_head() {
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      self->on_read_head(ec, n);
    });
  }

  void on_read_head(std::error_code ec, std::size_t n) {
    if (done_) return;
    if (ec) return finish(ProxyError::bad_response, "proxy " + name() + " closed the connection before answering CONNECT");
    std::size_t consumed = 0;
    const auto status = parser_.feed(buf_.data(), n, consumed);
    if (status == http::ParseStatus::need_more) return do_read_head();
    if (status == http::ParseStatus::bad)
      return finish(ProxyError::bad_response, "proxy " + name() + " sent an invalid answer to CONNECT: " + parser_.error());
    auto verdict = judge_connect_response(parser_.head(), name(), target(), proxy_.has_credentials());
    if (verdict.error) return finish(verdict.error, verdict.message);
    // A TLS or WebSocket server never speaks first, so bytes after the head are not the relay's: refuse them rather
    // than drop them (asio would otherwise hand the TLS layer a stream with a hole in it).
    if (consumed < n)
      return finish(ProxyError::bad_response, "proxy " + name() + " sent " + std::to_string(n - consumed) +
                                                  " bytes after its answer, before the client spoke");
    finish({}, "");
  }

  void finish(std::error_code ec, const std::string& detail) {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    if (tcp_) tcp_->cancel();
    auto handler = std::move(handler_);
    if (ec) {
      std::error_code ignored;
      socket_.close(ignored);
      return handler(ec, tcp::socket(io_), detail);
    }
    handler(ec, std::move(socket_), detail);
  }

  asio::io_context& io_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::string host_;
  uint16_t port_;
  ProxyUrl proxy_;
  DialHandler handler_;
  std::shared_ptr<PendingDial> tcp_;
  std::string request_;
  std::array<char, 2048> buf_{};
  http::ResponseParser parser_;
  bool connected_ = false;
  bool done_ = false;
};

}  // namespace

std::shared_ptr<PendingDial> async_dial(asio::io_context& io, const std::string& host, uint16_t port,
                                        const DialOptions& options, DialHandler handler) {
  const ProxyUrl* proxy = options.proxy ? options.proxy->route(host, port) : nullptr;
  if (!proxy) {
    const std::string target = host_for_url(host) + ":" + std::to_string(port);
    return async_tcp_connect(io, host, port, options.timeout,
                             [h = std::move(handler), target](std::error_code ec, tcp::socket s) {
                               h(ec, std::move(s), ec ? "cannot connect to " + target + ": " + ec.message() : "");
                             });
  }
  auto handshake = std::make_shared<ProxyHandshake>(io, host, port, *proxy, std::move(handler));
  handshake->start(options.timeout);
  return handshake;
}

}  // namespace net
