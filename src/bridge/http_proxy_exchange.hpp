// Listener side of HC HTTP request mode (-H): one `request` from the relay answered by the published web server, in
// the shape of Asio's HTTP server `connection`. A request that came whole on the control channel goes to the server at
// once; a rendezvous-only one is read from its rendezvous first (the body streamed to the server as it arrives). The
// answer goes back on the control channel when its body is known and at most 64 KiB, otherwise over a rendezvous,
// each read of the server's body one WebSocket frame (so server-sent events and large downloads stream, with one read
// buffer of memory; a piece the relay does not take within write_timeout aborts the request). Each step is a do_x/on_x pair; the object lives while a step is pending and its HandshakeSlot
// counts toward the forward's requests in flight.
#pragma once

#include "bridge/handshake_slot.hpp"
#include "bridge/origin_request.hpp"
#include "bridge/remote_forwarder.hpp"
#include "hc/control_message.hpp"

#include <memory>
#include <string>

namespace bridge {

class HttpProxyExchange : public Handshake, public std::enable_shared_from_this<HttpProxyExchange> {
 public:
  // `control` is the channel the request came on (the answer goes back there); `body` the request's body when it
  // came on it too.
  HttpProxyExchange(std::shared_ptr<RemoteForwarder> owner, std::shared_ptr<net::WebSocket> control,
                    hc::RequestMessage request, std::string body, HandshakeSlot slot);
  void start();
  void cancel() override;

 private:
  void do_dial_request();
  bool dial_rendezvous(void (HttpProxyExchange::*then)());
  void on_dial(std::error_code ec, net::ConnectResult result, void (HttpProxyExchange::*then)());
  void on_request_channel();
  void do_read_request();
  void on_request_part(std::error_code ec, net::ReadChunk chunk);
  void do_origin();
  void on_origin_head(const OriginFailure* failure);
  void do_pump_request_body();
  void on_request_body_part(std::error_code ec, net::ReadChunk chunk);
  void do_collect_body();
  void on_collected(const OriginFailure* failure, std::string_view data, bool last);
  void do_dial_response();
  void do_send_head();
  void do_stream_body();
  void on_body_piece(const OriginFailure* failure, std::string_view data, bool last);
  void on_frame_sent(std::error_code ec, bool last);
  void respond(hc::ResponseMessage response, std::string body);
  void respond_error(int status, const std::string& text, const std::string& why);
  void finish(int status);
  void abort_answer(const char* reason, const std::string& why);
  void on_write_timeout();
  hc::ResponseMessage response_message(bool body) const;

  std::shared_ptr<RemoteForwarder> owner_;
  std::shared_ptr<net::WebSocket> control_;
  hc::RequestMessage request_;
  std::string body_;  // the request body (control channel), then the answer's body when it goes back there
  HandshakeSlot slot_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::shared_ptr<net::PendingConnect> pending_;
  std::shared_ptr<net::WebSocket> rendezvous_;
  std::shared_ptr<OriginRequest> origin_;
  std::vector<uint8_t> read_buf_;
  std::string message_;  // the request JSON read from a rendezvous
  std::string frame_;    // the body piece being sent
  std::unique_ptr<asio::steady_timer> write_timer_;  // a body piece the relay does not take within write_timeout
  bool has_body_ = false;
  bool responded_ = false;  // the answer's head went out: errors can only abort from here
  bool cancelled_ = false;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
};

}  // namespace bridge
