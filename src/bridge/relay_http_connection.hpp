// A plain HTTP/1.1 connection to the relay, for HC HTTP requests (the local HTTP entrance): dialled as every
// connection to the relay is (through the HTTP proxy the policy names, TLS verified with the relay's context and SNI),
// opened with start() -> do_dial/on_dial -> on_handshake under one deadline. Its entrance connection keeps it for the
// next request while the relay keeps it open.
#pragma once

#include "bridge/relay_context.hpp"
#include "net/dialer.hpp"
#include "net/stream.hpp"

#include <asio.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace bridge {

class RelayHttpConnection : public std::enable_shared_from_this<RelayHttpConnection> {
 public:
  // `problem` says what failed, for the log (never a credential).
  using OpenHandler = std::function<void(std::error_code, const std::string& problem)>;

  RelayHttpConnection(asio::io_context& io, RelayContext relay, std::chrono::milliseconds timeout);
  void start(OpenHandler handler);
  void close();
  bool is_open() const { return stream_ != nullptr && !closed_; }
  net::Stream& stream() { return *stream_; }
  // How many requests it carried (a request on a reused connection may find it closed by the relay meanwhile).
  unsigned uses = 0;

 private:
  void do_dial();
  void on_dial(std::error_code ec, asio::ip::tcp::socket socket, const std::string& detail);
  void on_handshake(std::error_code ec);
  void complete(std::error_code ec, const std::string& problem);

  asio::io_context& io_;
  RelayContext relay_;
  std::chrono::milliseconds timeout_;
  asio::steady_timer timer_;
  std::shared_ptr<net::PendingDial> dial_;
  std::unique_ptr<net::Stream> stream_;
  OpenHandler handler_;
  bool closed_ = false;
};

}  // namespace bridge
