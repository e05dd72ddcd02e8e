// A listener's control channel on the relay: carries `accept` notifications to the listener, takes `renewToken`, and
// closes with 1008 when the listener's token runs out without renewal.
#pragma once

#include "hc/control_message.hpp"
#include "hc/sas.hpp"
#include "net/websocket.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace relay {

class ControlChannel : public std::enable_shared_from_this<ControlChannel> {
 public:
  using Verifier = std::function<hc::SasCheck(const std::string& token)>;

  ControlChannel(std::shared_ptr<net::WebSocket> ws, std::string hc, std::string id, std::string accept_authority,
                 int64_t token_expiry, Verifier verifier);

  // A `response` from the listener (HTTP request mode) with its body, once the body message is complete.
  using ResponseHandler = std::function<void(const hc::ResponseMessage&, std::string body)>;

  void start(std::function<void(ControlChannel&)> on_closed);
  void set_response_handler(ResponseHandler handler) { on_response_ = std::move(handler); }
  void send_accept(const hc::AcceptMessage& message);
  // A `request` JSON and (when `body` is set) its one binary body message, queued back to back: nothing may come
  // between them (hyco-https takes the next message as the body).
  void send_request(std::string json, std::shared_ptr<std::string> body);
  void close(uint16_t code, const std::string& reason);
  void abort() { ws_->abort(); }

  const std::string& hc() const { return hc_; }
  const std::string& id() const { return id_; }
  // host:port the listener used to reach us: rendezvous addresses point there, so the listener can always dial them.
  const std::string& accept_authority() const { return accept_authority_; }
  bool tls() const { return ws_->stream().is_tls(); }

 private:
  void read_next();
  void on_message(const std::string& text);
  void on_binary(std::string body);
  void arm_expiry(int64_t expiry);
  void ended();

  std::shared_ptr<net::WebSocket> ws_;
  std::string hc_, id_, accept_authority_;
  Verifier verifier_;
  asio::steady_timer expiry_timer_;
  std::string message_;
  std::vector<uint8_t> chunk_;
  std::function<void(ControlChannel&)> on_closed_;
  ResponseHandler on_response_;
  std::optional<hc::ResponseMessage> awaiting_body_;  // a `response` with body:true whose binary message is next
  int64_t initial_expiry_;
  bool ended_ = false;
};

}  // namespace relay
