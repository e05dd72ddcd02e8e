#include "relay/control_channel.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace relay {

namespace {

constexpr std::chrono::seconds kLongestExpiryWait = std::chrono::hours(24 * 365);

}  // namespace

ControlChannel::ControlChannel(std::shared_ptr<net::WebSocket> ws, std::string hc, std::string id,
                               std::string accept_authority, int64_t token_expiry, Verifier verifier,
                               std::chrono::milliseconds ping_interval)
    : ws_(std::move(ws)),
      hc_(std::move(hc)),
      id_(std::move(id)),
      accept_authority_(std::move(accept_authority)),
      verifier_(std::move(verifier)),
      expiry_timer_(ws_->stream().get_executor()),
      ping_timer_(ws_->stream().get_executor()),
      ping_interval_(ping_interval),
      chunk_(4096),
      initial_expiry_(token_expiry) {}

void ControlChannel::start(std::function<void(ControlChannel&)> on_closed) {
  on_closed_ = std::move(on_closed);
  ws_->set_finished_handler([self = shared_from_this()] { self->ended(); });
  ws_->set_pong_handler([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->awaiting_pong_ = false;
  });
  arm_expiry(initial_expiry_);
  arm_ping();
  read_next();
}

ControlChannel::AcceptSlot::~AcceptSlot() {
  if (auto channel = channel_.lock()) --channel->unsettled_accepts_;
}

void ControlChannel::arm_ping() {
  if (ping_interval_.count() <= 0 || closing_) return;
  ping_timer_.expires_after(ping_interval_);
  ping_timer_.async_wait([this, weak = weak_from_this()](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    on_ping_tick();
  });
}

void ControlChannel::on_ping_tick() {
  if (closing_) return;
  if (awaiting_pong_) {
    // No pong for a whole interval: the listener stopped reading (or its path died). Its accepts would only pile up.
    spdlog::info("control {} ({}): no answer to a ping within {} ms, closing with 1008", id_, hc_, ping_interval_.count());
    close(1008, "The listener did not answer a ping in time. TrackingId:" + id_,
          std::min<std::chrono::milliseconds>(ping_interval_, std::chrono::seconds(5)));
    return;
  }
  awaiting_pong_ = true;
  ws_->send_ping();
  arm_ping();
}

bool ControlChannel::can_take_accept(std::size_t max) const {
  return !closing_ && ws_->is_open() && unsettled_accepts_ < max && unwritten_accepts_ < max;
}

void ControlChannel::arm_expiry(int64_t expiry) {
  expiry_timer_.cancel();
  if (expiry <= 0) return;  // no-auth relay: tokens do not expire
  const int64_t left = expiry - static_cast<int64_t>(std::time(nullptr));
  // A token's se may be anything up to INT64_MAX; that many seconds overflow steady_clock's nanoseconds. Wait at most
  // a year at a time and look again when the wait ends before the token does.
  const bool capped = left > kLongestExpiryWait.count();
  expiry_timer_.expires_after(capped ? kLongestExpiryWait : std::chrono::seconds(std::max<int64_t>(left, 0)));
  expiry_timer_.async_wait([this, weak = weak_from_this(), expiry, capped](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    if (capped) return arm_expiry(expiry);
    spdlog::info("control {} ({}): token expired, closing with 1008", id_, hc_);
    close(1008, "ExpiredToken: The token is expired. TrackingId:" + id_);
  });
}

void ControlChannel::read_next() {
  ws_->async_read(asio::buffer(chunk_), [self = shared_from_this()](std::error_code ec, net::ReadChunk chunk) {
    if (ec == net::WsError::closed) {
      spdlog::info("control {} ({}): listener closed ({})", self->id_, self->hc_, self->ws_->close_code());
      self->closing_ = true;
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

std::shared_ptr<ControlChannel::AcceptSlot> ControlChannel::send_accept(const hc::AcceptMessage& message) {
  ++unsettled_accepts_;
  ++unwritten_accepts_;
  ws_->async_write_text(hc::build_accept_message(message), [weak = weak_from_this()](std::error_code) {
    if (auto self = weak.lock()) --self->unwritten_accepts_;
  });
  return std::make_shared<AcceptSlot>(weak_from_this());
}

void ControlChannel::close(uint16_t code, const std::string& reason, std::chrono::milliseconds grace) {
  closing_ = true;
  ping_timer_.cancel();
  ws_->send_close(code, reason);
  // A listener that does not answer our close within the grace period is dropped.
  auto timer = std::make_shared<asio::steady_timer>(ws_->stream().get_executor(), grace);
  timer->async_wait([timer, ws = ws_](std::error_code) { ws->abort(); });
}

void ControlChannel::ended() {
  if (ended_) return;
  ended_ = true;
  closing_ = true;
  expiry_timer_.cancel();
  ping_timer_.cancel();
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    cb(*this);
  }
}

}  // namespace relay
