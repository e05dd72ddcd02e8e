// A local HTTP entrance (-L http:[addr:]port:hc): one local client connection, in the shape of Asio's HTTP server
// `connection`. It reads a request head, hands the request to an HttpEntranceExchange (which sends it to the hybrid
// connection as an HC HTTP request and streams the answer back) and, when both sides keep the connection alive,
// reads the next one. It keeps the connection to the relay the last exchange used while the relay keeps it open. Its
// HandshakeSlot counts toward the forward's max_connections and lets stop() end it.
#pragma once

#include "bridge/handshake_slot.hpp"
#include "bridge/local_forwarder.hpp"
#include "bridge/relay_http_connection.hpp"
#include "bridge/tunnel.hpp"
#include "net/http_head.hpp"

#include <memory>
#include <string>
#include <vector>

namespace bridge {

class HttpEntranceExchange;

class HttpEntrance : public Handshake, public std::enable_shared_from_this<HttpEntrance> {
 public:
  HttpEntrance(std::shared_ptr<LocalForwarder> owner, LocalStream client, std::string peer, HandshakeSlot slot);
  void start();
  void cancel() override;

  // For the exchange.
  LocalForwarder& owner() { return *owner_; }
  LocalStream& client() { return client_; }
  const std::string& peer() const { return peer_; }
  std::vector<char>& read_buffer() { return rbuf_; }
  // The relay connection kept from the last request (null or closed when there is none).
  std::shared_ptr<RelayHttpConnection> take_upstream() { return std::move(upstream_); }
  // An exchange is over: `keep_alive` when the client may send another request on this connection (then
  // `leftover` holds what it already sent of it), `upstream` when the relay connection may carry another request.
  void exchange_done(bool keep_alive, std::string leftover, std::shared_ptr<RelayHttpConnection> upstream,
                     bool reading_client);

 private:
  void do_read_head();
  void on_read_head(std::error_code ec, std::size_t n);
  bool take_head(const char* data, std::size_t size);
  void refuse(int status, const std::string& text);
  void do_end(bool reading_client);
  void do_drain();
  void arm_timer(std::chrono::milliseconds after);
  void close();

  std::shared_ptr<LocalForwarder> owner_;
  LocalStream client_;
  std::string peer_;
  HandshakeSlot slot_;
  asio::steady_timer timer_;
  std::vector<char> rbuf_;
  std::string leftover_;  // bytes of the next request read with the last one
  net::http::RequestParser parser_;
  std::shared_ptr<RelayHttpConnection> upstream_;
  std::shared_ptr<HttpEntranceExchange> exchange_;
  std::string write_buf_;
  bool cancelled_ = false;
  bool closed_ = false;
};

}  // namespace bridge
