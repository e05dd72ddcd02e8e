// Sets up one UDP route's rendezvous (sender side): connect a sender WebSocket to the hybrid connection, send the
// datagram preamble {1,0,1,n,name} and accept only the reply {1,0,1}. One object per route, so routes are set up
// side by side; the result is reported once, to `done`.
#pragma once

#include "bridge/relay_context.hpp"
#include "net/websocket.hpp"
#include "net/ws_client.hpp"

#include <asio.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace bridge {

class UdpRouteSetup : public std::enable_shared_from_this<UdpRouteSetup> {
 public:
  struct Outcome {
    std::shared_ptr<net::WebSocket> ws;  // set on success
    std::string leftover;                // datagram bytes that followed the reply
    std::string tracking_id;             // the sb-hc-id we sent (the relay's id for this connection)
    const char* failure = nullptr;       // metric reason word on failure
    std::string why;                     // on failure, for the log
  };
  using Done = std::function<void(Outcome)>;

  struct Params {
    std::string hc;
    std::string port_name;
    std::chrono::milliseconds preamble_timeout{30000};
  };

  // `options`: relay_dial_options (TLS, buffer pool, connect deadline, HTTP proxy).
  UdpRouteSetup(asio::io_context& io, RelayContext relay, net::ClientOptions options, Params params, Done done);
  void start();
  // Gives up (the forwarder stopped): `done` is not called afterwards.
  void cancel();

 private:
  void do_connect();
  void on_connect(std::error_code ec, net::ConnectResult result);
  void do_preamble();
  void on_preamble(std::error_code ec, std::string leftover, std::string refusal);
  void fail(const char* kind, std::string why);

  asio::io_context& io_;
  RelayContext relay_;
  net::ClientOptions options_;
  Params params_;
  Done done_;
  std::shared_ptr<net::PendingConnect> pending_;
  std::shared_ptr<net::WebSocket> ws_;
  std::string tracking_id_;
  bool cancelled_ = false;
};

}  // namespace bridge
