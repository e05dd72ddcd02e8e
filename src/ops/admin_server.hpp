// The admin endpoint: /healthz, /readyz and /metrics over plain HTTP/1.1, one request per connection. It runs on the
// daemon's event loop, so an answer from /healthz also proves the loop is turning.
#pragma once

#include "hc/result.hpp"

#include <asio.hpp>

#include <functional>
#include <memory>
#include <string>

namespace ops {

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class AdminServer {
 public:
  using Handler = std::function<AdminResponse()>;
  struct Routes {
    Handler healthz, readyz, metrics;
  };

  AdminServer(asio::io_context& io, Routes routes);
  ~AdminServer();
  // bind: "ADDR:PORT" (IPv6 in brackets). Returns the bound endpoint.
  hc::Result<asio::ip::tcp::endpoint> start(const std::string& bind);
  void stop();

 private:
  void accept();
  void serve(std::shared_ptr<asio::ip::tcp::socket> socket);

  asio::io_context& io_;
  Routes routes_;
  asio::ip::tcp::acceptor acceptor_;
  std::size_t active_ = 0;
};

// Asks a running daemon's /healthz (for `hcbridge healthcheck` and container HEALTHCHECKs). Returns the HTTP status, or
// an error text when nothing answered within `timeout`.
hc::Result<int> query_health(const std::string& bind, std::chrono::milliseconds timeout, std::string* body = nullptr);

}  // namespace ops
