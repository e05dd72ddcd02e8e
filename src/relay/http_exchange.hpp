// One HTTP request from a sender through the relay to a listener (HTTP request mode, reference 1.7 and 3.2-3.6).
// Steps: (control form) read the small body, send request JSON + one binary body message on the control channel; or
// (rendezvous form) send {"request":{address,id}}, wait for the listener to dial, send the request JSON there and
// stream the body as it arrives. Either way the `response` comes on the control channel or on a rendezvous, and its
// body streams to the sender as chunked transfer coding (HTTP/1.0 senders: as is, ended by close, or with a
// Content-Length when the whole body came in the control form). The sender's connection persists (HTTP/1.1) when the request
// allows it and was read whole before the answer: once the answer is written, the connection and any bytes read past
// the request (a pipelined one) go back to the gateway for the next request.
#pragma once

#include "hc/control_message.hpp"
#include "net/http_body.hpp"
#include "net/websocket.hpp"
#include "net/ws_server.hpp"
#include "relay/config.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace relay {

class ControlChannel;

struct HttpExchangeSetup {
  std::string id;            // the request id the listener echoes as requestId
  std::string address;       // the rendezvous URL for this request
  std::string via;           // "1.1 <namespace host>", added to the response
  hc::RequestMessage message;  // everything but the body
  net::http::RequestFraming framing;
  bool use_rendezvous = false;
  bool expect_continue = false;
  std::chrono::milliseconds timeout{60000};
  bool keep_alive = false;   // the request allows a persistent connection (HTTP/1.1 without "close", or keep-alive)
  bool http11 = true;        // an HTTP/1.0 sender cannot read a chunked body: it keeps only bodyless answers
};

class HttpExchange : public std::enable_shared_from_this<HttpExchange> {
 public:
  // on_done runs once the request is answered (or failed); on_kept then gets the sender's connection, with the bytes
  // read past the request in `leftover`, when it persists.
  HttpExchange(net::IncomingRequestPtr sender, HttpExchangeSetup setup, std::weak_ptr<ControlChannel> listener,
               std::function<void(HttpExchange&)> on_done, std::function<void(net::IncomingRequestPtr)> on_kept);
  void start();
  // The listener dialled this request's rendezvous.
  void on_rendezvous(std::shared_ptr<net::WebSocket> ws);
  // A complete `response` (and its body) from the control channel.
  void on_control_response(const hc::ResponseMessage& response, std::string body);
  // The relay is stopping or the listener went away.
  void abort(const char* why);
  const std::string& id() const { return setup_.id; }
  bool responded() const { return responded_; }
  const ControlChannel* listener() const { return listener_ptr_; }

 private:
  void do_continue();
  void dispatch();
  void watch_sender();
  void do_read_small_body();
  void on_small_body_read(std::error_code ec, std::size_t n);
  void send_on_control(std::shared_ptr<std::string> body);
  void do_read_sender_body();
  void on_sender_body(std::error_code ec, std::size_t n);
  void forward_body_bytes(const char* data, std::size_t size);
  void do_read_response();
  void on_response_chunk(std::error_code ec, net::ReadChunk chunk);
  void on_response_text(const std::string& text);
  // `known_length`: the whole body's size when it is already here (control form), so an HTTP/1.0 sender gets a
  // Content-Length instead of a body ended by close.
  std::string response_head(const hc::ResponseMessage& response, bool& has_body,
                            std::optional<std::size_t> known_length = std::nullopt);
  // A piece of the answer's body as it goes to the sender: chunked for HTTP/1.1, as is for HTTP/1.0 (which cannot
  // read chunked coding: its body ends with the connection).
  std::string body_piece(const char* data, std::size_t size, bool last) const;
  void write_to_sender(std::string bytes, bool last);
  void on_timeout();
  void send_error(int status, const std::string& code, const std::string& message);
  void finish(uint16_t rendezvous_code, bool reuse = false);
  void hand_over();
  void on_watch_read(std::error_code ec, std::size_t n);
  void keep_pipelined(const char* data, std::size_t size);
  bool body_allowed(int status) const;

  net::IncomingRequestPtr sender_;
  HttpExchangeSetup setup_;
  std::weak_ptr<ControlChannel> listener_;
  const ControlChannel* listener_ptr_;
  std::function<void(HttpExchange&)> on_done_;
  std::function<void(net::IncomingRequestPtr)> on_kept_;
  asio::steady_timer timer_;
  std::shared_ptr<net::WebSocket> ws_;  // the rendezvous, once dialled
  std::vector<char> in_;                // sender body reads
  std::vector<uint8_t> rbuf_;           // rendezvous reads
  std::string body_;                    // control form: the whole (small) body; chunked form: decoded bytes
  net::http::ChunkedDecoder chunked_;
  uint64_t body_left_ = 0;
  bool request_sent_ = false;
  bool responded_ = false;    // a response head went (or is going) to the sender
  bool body_open_ = false;    // the response carries a body we are streaming
  bool reading_text_ = true;  // on the rendezvous: the response JSON is still to come
  bool done_ = false;
  bool sender_reading_ = false;
  bool request_read_ = false;  // the whole request (body included) has been read from the sender
  bool keep_ = false;          // the answer went out without "Connection: close": the connection persists
  bool handing_over_ = false;  // the answer is complete; the watch read is being cancelled to hand the connection on
  std::string text_;
};

}  // namespace relay
