// A listener's control channel on the relay: carries `accept` notifications to the listener, takes `renewToken`,
// closes with 1008 when the listener's token runs out without renewal, and pings the listener: one that has not
// answered a ping by the next one is unresponsive and is closed with 1008 too. It counts the accepts offered to the
// listener and not yet settled, so the relay can skip a listener that stopped taking them.
#pragma once

#include "hc/control_message.hpp"
#include "hc/sas.hpp"
#include "net/websocket.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace relay {

class ControlChannel : public std::enable_shared_from_this<ControlChannel> {
 public:
  using Verifier = std::function<hc::SasCheck(const std::string& token)>;

  // Held by a waiting sender whose accept went to this listener; the listener's count drops when the slot dies
  // (the listener dialled or rejected, the sender timed out, or the relay stopped).
  class AcceptSlot {
   public:
    explicit AcceptSlot(std::weak_ptr<ControlChannel> channel) : channel_(std::move(channel)) {}
    AcceptSlot(const AcceptSlot&) = delete;
    AcceptSlot& operator=(const AcceptSlot&) = delete;
    ~AcceptSlot();

   private:
    std::weak_ptr<ControlChannel> channel_;
  };

  ControlChannel(std::shared_ptr<net::WebSocket> ws, std::string hc, std::string id, std::string accept_authority,
                 int64_t token_expiry, Verifier verifier, std::chrono::milliseconds ping_interval);

  // A `response` from the listener (HTTP request mode) with its body, once the body message is complete.
  using ResponseHandler = std::function<void(const hc::ResponseMessage&, std::string body)>;

  void start(std::function<void(ControlChannel&)> on_closed);
  // Whether a new accept may go to this listener: it is not closing, and fewer than `max` accepts are unsettled
  // (or still unwritten, for a listener that stopped reading).
  bool can_take_accept(std::size_t max) const;
  std::shared_ptr<AcceptSlot> send_accept(const hc::AcceptMessage& message);
  // Sends a close frame and drops the connection if the listener has not finished it within `grace`.
  void close(uint16_t code, const std::string& reason, std::chrono::milliseconds grace = std::chrono::seconds(5));
  void set_response_handler(ResponseHandler handler) { on_response_ = std::move(handler); }
  // A `request` JSON and (when `body` is set) its one binary body message, queued back to back: nothing may come
  // between them (hyco-https takes the next message as the body).
  void send_request(std::string json, std::shared_ptr<std::string> body);
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
  void arm_ping();
  void on_ping_tick();
  void ended();

  std::shared_ptr<net::WebSocket> ws_;
  std::string hc_, id_, accept_authority_;
  Verifier verifier_;
  asio::steady_timer expiry_timer_;
  asio::steady_timer ping_timer_;
  std::chrono::milliseconds ping_interval_;
  bool awaiting_pong_ = false;
  bool closing_ = false;
  std::size_t unsettled_accepts_ = 0;  // AcceptSlots alive
  std::size_t unwritten_accepts_ = 0;  // accept messages not yet handed to the socket
  std::string message_;
  std::vector<uint8_t> chunk_;
  std::function<void(ControlChannel&)> on_closed_;
  ResponseHandler on_response_;
  std::optional<hc::ResponseMessage> awaiting_body_;  // a `response` with body:true whose binary message is next
  int64_t initial_expiry_;
  bool ended_ = false;
};

}  // namespace relay
