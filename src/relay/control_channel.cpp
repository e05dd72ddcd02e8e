#include "relay/control_channel.hpp"

#include <spdlog/spdlog.h>

#include <ctime>

namespace relay {

ControlChannel::ControlChannel(std::shared_ptr<net::WebSocket> ws, std::string hc, std::string id,
                               std::string accept_authority, int64_t token_expiry, Verifier verifier)
    : ws_(std::move(ws)),
      hc_(std::move(hc)),
      id_(std::move(id)),
      accept_authority_(std::move(accept_authority)),
      verifier_(std::move(verifier)),
      expiry_timer_(ws_->stream().get_executor()),
      chunk_(4096),
      initial_expiry_(token_expiry) {}

void ControlChannel::start(std::function<void(ControlChannel&)> on_closed) {
  on_closed_ = std::move(on_closed);
  ws_->set_finished_handler([self = shared_from_this()] { self->ended(); });
  arm_expiry(initial_expiry_);
  read_next();
}

void ControlChannel::arm_expiry(int64_t expiry) {
  expiry_timer_.cancel();
  if (expiry <= 0) return;  // no-auth relay: tokens do not expire
  const int64_t left = expiry - static_cast<int64_t>(std::time(nullptr));
  expiry_timer_.expires_after(std::chrono::seconds(std::max<int64_t>(left, 0)));
  expiry_timer_.async_wait([this, weak = weak_from_this()](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    spdlog::info("control {} ({}): token expired, closing with 1008", id_, hc_);
    close(1008, "ExpiredToken: The token is expired. TrackingId:" + id_);
  });
}

void ControlChannel::read_next() {
  ws_->async_read(asio::buffer(chunk_), [self = shared_from_this()](std::error_code ec, net::ReadChunk chunk) {
    if (ec == net::WsError::closed) {
      spdlog::info("control {} ({}): listener closed ({})", self->id_, self->hc_, self->ws_->close_code());
      self->ws_->send_close(1000, "");
      return;
    }
    if (ec) {
      if (ec != asio::error::operation_aborted)
        spdlog::info("control {} ({}): connection lost: {}", self->id_, self->hc_, ec.message());
      self->ws_->abort();
      return;
    }
    self->message_.append(reinterpret_cast<const char*>(self->chunk_.data()), chunk.size);
    // Response bodies may exceed the JSON limit a little (hyco-https keeps up to 64 KiB + framing here); four times it
    // still bounds what one listener can make us hold.
    const std::size_t limit = chunk.opcode == net::ws::Opcode::binary ? 4 * hc::kMaxControlMessageSize
                                                                      : hc::kMaxControlMessageSize;
    if (self->message_.size() > limit) {
      spdlog::warn("control {} ({}): message over {} bytes, closing", self->id_, self->hc_, hc::kMaxControlMessageSize);
      self->close(1009, "control message too large");
      return;
    }
    if (chunk.message_end) {
      std::string text;
      text.swap(self->message_);
      if (chunk.opcode == net::ws::Opcode::text) self->on_message(text);
      else self->on_binary(std::move(text));
    }
    self->read_next();
  });
}

void ControlChannel::on_message(const std::string& text) {
  auto parsed = hc::parse_control_message(text);
  if (!parsed) {
    spdlog::warn("control {} ({}): bad control message: {}", id_, hc_, parsed.error());
    return;
  }
  if (auto* renew = std::get_if<hc::RenewTokenMessage>(&parsed.value())) {
    const auto check = verifier_(renew->token);
    if (!check.ok()) {
      spdlog::info("control {} ({}): renewToken rejected: {}", id_, hc_, check.reason);
      close(1008, check.reason + " TrackingId:" + id_);
      return;
    }
    spdlog::debug("control {} ({}): token renewed", id_, hc_);
    arm_expiry(check.expiry);
    return;
  }
  if (auto* response = std::get_if<hc::ResponseMessage>(&parsed.value())) {
    if (response->body) {
      awaiting_body_ = *response;
      return;
    }
    if (on_response_) on_response_(*response, {});
    return;
  }
  spdlog::debug("control {} ({}): ignoring a control message it does not handle", id_, hc_);
}

void ControlChannel::on_binary(std::string body) {
  // hyco-https sends a stray empty binary message after body:false responses: one no response expects is dropped.
  if (!awaiting_body_) return;
  auto response = std::move(*awaiting_body_);
  awaiting_body_.reset();
  if (body.size() > hc::kMaxControlMessageSize)
    spdlog::info("control {} ({}): response body of {} bytes on the control channel", id_, hc_, body.size());
  if (on_response_) on_response_(response, std::move(body));
}

void ControlChannel::send_request(std::string json, std::shared_ptr<std::string> body) {
  ws_->async_write_text(std::move(json), [](std::error_code) {});
  if (!body) return;
  ws_->async_write(asio::buffer(body->data(), body->size()), net::ws::Opcode::binary, true,
                   [body](std::error_code) {});
}

void ControlChannel::send_accept(const hc::AcceptMessage& message) {
  ws_->async_write_text(hc::build_accept_message(message), [](std::error_code) {});
}

void ControlChannel::close(uint16_t code, const std::string& reason) {
  ws_->send_close(code, reason);
  // A listener that does not answer our close within a few seconds is dropped.
  auto timer = std::make_shared<asio::steady_timer>(ws_->stream().get_executor(), std::chrono::seconds(5));
  timer->async_wait([timer, ws = ws_](std::error_code) { ws->abort(); });
}

void ControlChannel::ended() {
  if (ended_) return;
  ended_ = true;
  expiry_timer_.cancel();
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    cb(*this);
  }
}

}  // namespace relay
