#include "net/tcp_connect.hpp"

#include <memory>

namespace net {
namespace {

struct TcpConnect : std::enable_shared_from_this<TcpConnect> {
  TcpConnect(asio::io_context& io, std::function<void(std::error_code, asio::ip::tcp::socket)> h)
      : resolver(io), socket(io), timer(io), handler(std::move(h)) {}

  void start(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
    timer.expires_after(timeout);
    timer.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->finish(asio::error::timed_out);
    });
    async_resolve_host(resolver, host, port,
                       [self = shared_from_this()](std::error_code ec, asio::ip::tcp::resolver::results_type r) {
                         if (self->done) return;
                         if (ec) return self->finish(ec);
                         asio::async_connect(self->socket, r, [self](std::error_code cec, const asio::ip::tcp::endpoint&) {
                           self->finish(cec);
                         });
                       });
  }

  void finish(std::error_code ec) {
    if (done) return;
    done = true;
    timer.cancel();
    resolver.cancel();
    if (ec) {
      // The connect operation may still be running on `socket`; never hand that object out on failure.
      std::error_code ignored;
      socket.close(ignored);
      return handler(ec, asio::ip::tcp::socket(socket.get_executor()));
    }
    handler(ec, std::move(socket));
  }

  asio::ip::tcp::resolver resolver;
  asio::ip::tcp::socket socket;
  asio::steady_timer timer;
  std::function<void(std::error_code, asio::ip::tcp::socket)> handler;
  bool done = false;
};

}  // namespace

void async_resolve_host(asio::ip::tcp::resolver& resolver, const std::string& host, uint16_t port,
                        ResolveHandler handler) {
  std::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return resolver.async_resolve(host, std::to_string(port), std::move(handler));
  auto results = asio::ip::tcp::resolver::results_type::create(asio::ip::tcp::endpoint(address, port), host,
                                                               std::to_string(port));
  asio::post(resolver.get_executor(), [h = std::move(handler), results = std::move(results)] { h({}, results); });
}

void async_tcp_connect(asio::io_context& io, const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
                       std::function<void(std::error_code, asio::ip::tcp::socket)> handler) {
  auto c = std::make_shared<TcpConnect>(io, std::move(handler));
  c->start(host, port, timeout);
}

}  // namespace net
