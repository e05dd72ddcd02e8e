#include "net/tcp_connect.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <vector>

namespace net {
namespace {

class TcpConnect : public PendingDial, public std::enable_shared_from_this<TcpConnect> {
 public:
  TcpConnect(asio::io_context& io, TcpConnectHandler h)
      : resolver_(io), socket_(io), timer_(io), handler_(std::move(h)) {}

  void start(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->finish(asio::error::timed_out);
    });
    async_resolve_host(resolver_, host, port,
                       [self = shared_from_this()](std::error_code ec, asio::ip::tcp::resolver::results_type r) {
                         self->on_resolve(ec, r);
                       });
  }

  void cancel() override {
    // The flag takes effect at once: a resolve result already queued must not start a dial after cancel() returned.
    cancelled_ = true;
    asio::post(timer_.get_executor(), [self = shared_from_this()] { self->finish(asio::error::operation_aborted); });
  }

 private:
  void on_resolve(std::error_code ec, const asio::ip::tcp::resolver::results_type& results) {
    if (done_ || cancelled_) return;  // cancelled or timed out while resolving: do not dial
    if (ec) return finish(ec);
    for (const auto& entry : results) endpoints_.push_back(entry.endpoint());
    do_connect();
  }

  // Each address in turn, as asio::async_connect would, but a socket that cannot be opened (no descriptor left)
  // reports its own error: asio's range connect turns it into operation_aborted, which reads like a cancel.
  void do_connect() {
    if (done_ || cancelled_) return;
    if (next_ == endpoints_.size()) return finish(last_error_ ? last_error_ : asio::error::host_not_found);
    const asio::ip::tcp::endpoint& endpoint = endpoints_[next_++];
    std::error_code ec;
    socket_.close(ec);
    socket_.open(endpoint.protocol(), ec);
    if (ec) {
      last_error_ = ec;
      return do_connect();
    }
    socket_.async_connect(endpoint, [self = shared_from_this()](std::error_code cec) { self->on_connect(cec); });
  }

  void on_connect(std::error_code ec) {
    if (done_) return;
    if (!ec) return finish(ec);
    last_error_ = ec;
    do_connect();
  }

  void finish(std::error_code ec) {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    resolver_.cancel();
    if (ec) {
      // The connect operation may still be running on `socket_`; never hand that object out on failure.
      std::error_code ignored;
      socket_.close(ignored);
      auto handler = std::move(handler_);
      return handler(ec, asio::ip::tcp::socket(socket_.get_executor()));
    }
    tune_tcp_socket(socket_);
    auto handler = std::move(handler_);
    handler(ec, std::move(socket_));
  }

  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  TcpConnectHandler handler_;
  std::vector<asio::ip::tcp::endpoint> endpoints_;
  std::size_t next_ = 0;
  std::error_code last_error_;
  bool done_ = false;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

void tune_tcp_socket(asio::ip::tcp::socket& socket) {
  std::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  const int fd = socket.native_handle();
  const int idle = 60, interval = 10, probes = 6;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
}

void async_resolve_host(asio::ip::tcp::resolver& resolver, const std::string& host, uint16_t port,
                        ResolveHandler handler) {
  std::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return resolver.async_resolve(host, std::to_string(port), std::move(handler));
  auto results = asio::ip::tcp::resolver::results_type::create(asio::ip::tcp::endpoint(address, port), host,
                                                               std::to_string(port));
  asio::post(resolver.get_executor(), [h = std::move(handler), results = std::move(results)] { h({}, results); });
}

std::shared_ptr<PendingDial> async_tcp_connect(asio::io_context& io, const std::string& host, uint16_t port,
                                               std::chrono::milliseconds timeout, TcpConnectHandler handler) {
  auto c = std::make_shared<TcpConnect>(io, std::move(handler));
  c->start(host, port, timeout);
  return c;
}

}  // namespace net
