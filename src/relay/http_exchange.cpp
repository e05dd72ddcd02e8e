#include "relay/http_exchange.hpp"

#include "hc/url.hpp"
#include "relay/control_channel.hpp"
#include "relay/routing.hpp"

#include <spdlog/spdlog.h>

namespace relay {
namespace {

constexpr std::size_t kReadSize = 16 * 1024;
// Bytes read past a request while it is answered (pipelined requests) are kept up to this much; beyond it the
// connection is not read until the answer is out, so TCP holds the sender back.
constexpr std::size_t kPipelineLimit = 64 * 1024;

// Framing and per-connection headers the listener must not set on our answer (we frame it ourselves).
bool hop_by_hop(const std::string& name) {
  for (const char* h : {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
                        "content-length"})
    if (hc::iequals(name, h)) return true;
  return false;
}

bool safe_header(const std::string& name, const std::string& value) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (c <= 0x20 || c >= 0x7f || std::string_view("()<>@,;:\\\"/[]?={}").find(static_cast<char>(c)) != std::string_view::npos)
      return false;
  for (unsigned char c : value)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

}  // namespace

HttpExchange::HttpExchange(net::IncomingRequestPtr sender, HttpExchangeSetup setup,
                           std::weak_ptr<ControlChannel> listener, std::function<void(HttpExchange&)> on_done,
                           std::function<void(net::IncomingRequestPtr)> on_kept)
    : sender_(std::move(sender)),
      setup_(std::move(setup)),
      listener_(std::move(listener)),
      listener_ptr_(listener_.lock().get()),
      on_done_(std::move(on_done)),
      on_kept_(std::move(on_kept)),
      timer_(sender_->stream->get_executor()) {}

void HttpExchange::start() {
  timer_.expires_after(setup_.timeout);
  timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec) self->on_timeout();
  });
  if (setup_.expect_continue && setup_.framing.framing != net::http::BodyFraming::none) return do_continue();
  dispatch();
}

void HttpExchange::do_continue() {
  // We stream the body ourselves, so the sender need not wait for the listener's opinion.
  auto text = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
  sender_->stream->async_write(asio::buffer(*text), [self = shared_from_this(), text](std::error_code ec, std::size_t) {
    if (self->done_) return;
    if (ec) return self->finish(1001);
    self->dispatch();
  });
}

void HttpExchange::dispatch() {
  if (setup_.use_rendezvous) {
    hc::RequestMessage notice;
    notice.address = setup_.address;
    notice.id = setup_.id;
    notice.rendezvous_only = true;
    auto l = listener_.lock();
    if (!l) return abort("the listener went away");
    l->send_request(hc::build_request_message(notice), nullptr);
    return;  // on_rendezvous goes on
  }
  if (setup_.framing.framing == net::http::BodyFraming::length) {
    body_left_ = setup_.framing.length;
    const std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(body_left_, sender_->leftover.size()));
    body_.assign(sender_->leftover, 0, take);
    body_left_ -= take;
    sender_->leftover.erase(0, take);  // what follows is the next request's
    if (body_left_ > 0) return do_read_small_body();
    return send_on_control(std::make_shared<std::string>(std::move(body_)));
  }
  send_on_control(nullptr);
}

void HttpExchange::do_read_small_body() {
  in_.resize(kReadSize);
  sender_reading_ = true;
  sender_->stream->async_read_some(asio::buffer(in_.data(), std::min<uint64_t>(in_.size(), body_left_)),
                                   [self = shared_from_this()](std::error_code ec, std::size_t n) {
                                     self->on_small_body_read(ec, n);
                                   });
}

void HttpExchange::on_small_body_read(std::error_code ec, std::size_t n) {
  sender_reading_ = false;
  if (done_) return sender_->stream->close();
  if (ec) return finish(1001);
  body_.append(in_.data(), n);
  body_left_ -= n;
  if (body_left_ > 0) return do_read_small_body();
  send_on_control(std::make_shared<std::string>(std::move(body_)));
}

void HttpExchange::send_on_control(std::shared_ptr<std::string> body) {
  auto l = listener_.lock();
  if (!l) return abort("the listener went away");
  hc::RequestMessage m = setup_.message;
  m.address = setup_.address;
  m.id = setup_.id;
  m.body = body != nullptr;
  l->send_request(hc::build_request_message(m), std::move(body));
  request_sent_ = true;
  watch_sender();
}

void HttpExchange::watch_sender() {
  // The request is complete; a read that ends now means the sender left (its rendezvous then closes with 1001).
  // Bytes it brings are the next request's (pipelining): kept for it, served once this answer is out.
  request_read_ = true;
  if (sender_->leftover.size() >= kPipelineLimit) return;
  in_.resize(kReadSize);
  sender_reading_ = true;
  sender_->stream->async_read_some(asio::buffer(in_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
    self->on_watch_read(ec, n);
  });
}

void HttpExchange::on_watch_read(std::error_code ec, std::size_t n) {
  sender_reading_ = false;
  if (handing_over_) {  // finish() cancelled this read to pass the connection on; a read that won the race counts
    if (!ec) keep_pipelined(in_.data(), n);
    if (!ec || ec == asio::error::operation_aborted) return hand_over();
    return sender_->stream->close();
  }
  if (done_) return sender_->stream->close();
  if (ec) return finish(1001);
  keep_pipelined(in_.data(), n);
  watch_sender();
}

void HttpExchange::keep_pipelined(const char* data, std::size_t size) { sender_->leftover.append(data, size); }

void HttpExchange::on_rendezvous(std::shared_ptr<net::WebSocket> ws) {
  if (ws_ || done_) return ws->send_close(1008, "this request already has a rendezvous");
  ws_ = std::move(ws);
  rbuf_.resize(kReadSize);
  do_read_response();
  if (!setup_.use_rendezvous || request_sent_) return;
  hc::RequestMessage m = setup_.message;
  m.id = setup_.id;
  m.body = setup_.framing.framing != net::http::BodyFraming::none;
  ws_->async_write_text(hc::build_request_message(m), [](std::error_code) {});
  request_sent_ = true;
  if (!m.body) return watch_sender();
  body_left_ = setup_.framing.length;
  std::string early;
  early.swap(sender_->leftover);
  forward_body_bytes(early.data(), early.size());
}

void HttpExchange::do_read_sender_body() {
  in_.resize(kReadSize);
  sender_reading_ = true;
  sender_->stream->async_read_some(asio::buffer(in_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
    self->on_sender_body(ec, n);
  });
}

void HttpExchange::on_sender_body(std::error_code ec, std::size_t n) {
  sender_reading_ = false;
  if (done_) return sender_->stream->close();
  if (ec) return finish(1001);
  forward_body_bytes(in_.data(), n);
}

void HttpExchange::forward_body_bytes(const char* data, std::size_t size) {
  auto out = std::make_shared<std::string>();
  bool complete = false;
  std::size_t used = size;
  if (setup_.framing.framing == net::http::BodyFraming::length) {
    used = static_cast<std::size_t>(std::min<uint64_t>(size, body_left_));
    out->assign(data, used);
    body_left_ -= used;
    complete = body_left_ == 0;
  } else {
    const auto status = chunked_.feed(data, size, used, *out);
    if (status == net::http::ParseStatus::bad) {
      spdlog::info("relay: http {}: bad chunked body from the sender: {}", setup_.id, chunked_.error());
      if (!responded_) return send_error(400, "BadRequest", "Malformed chunked request body");
      return finish(1001);
    }
    complete = status == net::http::ParseStatus::good;
  }
  if (complete) keep_pipelined(data + used, size - used);  // the start of the next request
  // One frame per read, the next read only once it is written: a slow listener slows the sender.
  auto after = [self = shared_from_this(), complete, out](std::error_code ec) {
    if (self->done_) return;
    if (ec) return self->finish(1001);
    if (!complete) return self->do_read_sender_body();
    self->ws_->async_write(asio::mutable_buffer(), net::ws::Opcode::binary, true, [](std::error_code) {});
    self->watch_sender();
  };
  if (out->empty()) return complete || size > 0 ? after({}) : do_read_sender_body();
  ws_->async_write(asio::buffer(out->data(), out->size()), net::ws::Opcode::binary, false, after);
}

void HttpExchange::do_read_response() {
  ws_->async_read(asio::buffer(rbuf_), [self = shared_from_this()](std::error_code ec, net::ReadChunk chunk) {
    self->on_response_chunk(ec, chunk);
  });
}

void HttpExchange::on_response_chunk(std::error_code ec, net::ReadChunk chunk) {
  if (done_) return;
  if (ec) {
    if (!responded_) return send_error(502, "BadGateway", "The listener closed the request's rendezvous without a response");
    sender_->stream->close();  // a body cut short: the sender must not take it for complete
    return finish(1001);
  }
  const char* data = reinterpret_cast<const char*>(rbuf_.data());
  if (reading_text_) {
    if (chunk.opcode != net::ws::Opcode::text) return do_read_response();  // a stray binary message
    text_.append(data, chunk.size);
    if (text_.size() > hc::kMaxControlMessageSize) return send_error(502, "BadGateway", "The listener's response is too large");
    if (!chunk.message_end) return do_read_response();
    return on_response_text(text_);
  }
  write_to_sender(body_piece(data, chunk.size, chunk.message_end), chunk.message_end);
}

void HttpExchange::on_response_text(const std::string& text) {
  auto parsed = hc::parse_control_message(text);
  text_.clear();
  const auto* response = parsed ? std::get_if<hc::ResponseMessage>(&parsed.value()) : nullptr;
  if (!response) {
    spdlog::info("relay: http {}: the listener sent something other than a response on the rendezvous", setup_.id);
    return send_error(502, "BadGateway", "The listener sent an invalid response");
  }
  if (responded_) return finish(1000);  // a late answer after our 504
  bool has_body = false;
  std::string head = response_head(*response, has_body);
  reading_text_ = false;
  if (!has_body) return write_to_sender(std::move(head), true);  // HEAD/204/304 or body:false: nothing more
  write_to_sender(std::move(head), false);
}

void HttpExchange::on_control_response(const hc::ResponseMessage& response, std::string body) {
  if (responded_ || done_) return;
  bool has_body = false;
  std::string out = response_head(response, has_body, body.size());
  if (has_body) out += setup_.http11 ? body_piece(body.data(), body.size(), true) : body;
  write_to_sender(std::move(out), true);
}

std::string HttpExchange::body_piece(const char* data, std::size_t size, bool last) const {
  if (!setup_.http11) return std::string(data, size);
  std::string out = size ? net::http::chunk_encoded({data, size}) : std::string();
  if (last) out += "0\r\n\r\n";
  return out;
}

bool HttpExchange::body_allowed(int status) const {
  return setup_.message.method != "HEAD" && status != 204 && status != 304 && status >= 200;
}

std::string HttpExchange::response_head(const hc::ResponseMessage& response, bool& has_body,
                                        std::optional<std::size_t> known_length) {
  responded_ = true;
  timer_.cancel();
  has_body = response.body && body_allowed(response.status_code);
  std::string reason = response.status_description;
  for (char& c : reason)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  if (reason.empty()) reason = response.status_code == 200 ? "OK" : "Status";
  std::string head = "HTTP/1.1 " + std::to_string(response.status_code) + " " + reason.substr(0, 512) + "\r\n";
  std::string via;
  for (const auto& [name, value] : response.response_headers) {
    if (hop_by_hop(name) || !safe_header(name, value)) continue;
    if (hc::iequals(name, "via")) {
      via = value + ", ";
      continue;
    }
    head += name + ": " + value + "\r\n";
  }
  head += "Via: " + via + setup_.via + "\r\n";
  // No Content-Length from hyco-https (it drops the app's), so the body is always chunked; HEAD/204/304 get none.
  // A HEAD answer carries the framing the GET's would (RFC 9110 9.3.2): without it, clients that decide persistence
  // from the head alone (Node's llhttp) take the answer as ended by close and drop the connection.
  const bool head_of_body = setup_.message.method == "HEAD" && response.status_code >= 200 &&
                            response.status_code != 204 && response.status_code != 304;
  // An HTTP/1.0 sender cannot read chunked coding (RFC 9112 6.1): it gets a Content-Length when the body is already
  // here, else a body that ends with the connection.
  const bool length_known = has_body && !setup_.http11 && known_length;
  if (length_known) head += "Content-Length: " + std::to_string(*known_length) + "\r\n";
  else if ((has_body || head_of_body) && setup_.http11) head += "Transfer-Encoding: chunked\r\n";
  else if (!has_body && body_allowed(response.status_code)) head += "Content-Length: 0\r\n";
  // Persistent when the request allows it and is read whole (an answer that overtakes its request body would leave
  // the rest of that body where the next request should start), and the body's end is not the connection's.
  keep_ = setup_.keep_alive && request_read_ && (setup_.http11 || !has_body || length_known);
  if (!keep_) head += "Connection: close\r\n";
  else if (!setup_.http11) head += "Connection: keep-alive\r\n";
  return head + "\r\n";
}

void HttpExchange::write_to_sender(std::string bytes, bool last) {
  auto out = std::make_shared<std::string>(std::move(bytes));
  sender_->stream->async_write(asio::buffer(*out), [self = shared_from_this(), out, last](std::error_code ec, std::size_t) {
    if (self->done_) return;
    if (ec) return self->finish(1001);
    if (last) return self->finish(1000, self->keep_);
    if (self->ws_) self->do_read_response();
  });
}

void HttpExchange::on_timeout() {
  if (responded_ || done_) return;
  spdlog::info("relay: http {}: no response within {} ms: 504", setup_.id, setup_.timeout.count());
  send_error(504, "GatewayTimeout",
             "The request was routed to the listener but the listener did not respond in the required time. TrackingId:" +
                 setup_.id);
}

void HttpExchange::send_error(int status, const std::string& code, const std::string& message) {
  responded_ = true;
  timer_.cancel();
  net::http::Headers extra;
  extra.add("Content-Type", "application/json; charset=utf-8");
  const std::string body = http_error_body(code, message);
  const char* reason = status == 504 ? "Gateway Timeout" : status == 400 ? "Bad Request" : "Bad Gateway";
  write_to_sender(net::http::build_response(status, reason, extra, body), true);
}

void HttpExchange::abort(const char* why) {
  if (done_) return;
  spdlog::info("relay: http {}: {}", setup_.id, why);
  if (!responded_) return send_error(502, "BadGateway", std::string("The request could not be completed: ") + why);
  sender_->stream->close();
  finish(1001);
}

void HttpExchange::finish(uint16_t rendezvous_code, bool reuse) {
  if (done_) return;
  done_ = true;
  timer_.cancel();
  if (ws_) {
    ws_->send_close(rendezvous_code, rendezvous_code == 1000 ? "" : "sender gone");
    auto ws = ws_;
    timer_.expires_after(std::chrono::seconds(5));
    timer_.async_wait([ws](std::error_code) { ws->abort(); });
  }
  if (reuse && on_kept_) {
    if (on_done_) {
      auto cb = std::move(on_done_);
      cb(*this);
    }
    if (!sender_reading_) return hand_over();
    // The watch read is pending: cancel it and hand over from its completion, with whatever bytes it got.
    handing_over_ = true;
    std::error_code ignored;
    sender_->stream->socket().cancel(ignored);
    return;
  }
  // Lingering close: our side is done; the sender's close (or a short deadline) ends the connection.
  sender_->stream->shutdown_send();
  if (!sender_reading_) {
    in_.resize(512);
    sender_reading_ = true;
    sender_->stream->async_read_some(asio::buffer(in_), [self = shared_from_this()](std::error_code, std::size_t) {
      self->sender_->stream->close();
    });
  }
  auto linger = std::make_shared<asio::steady_timer>(sender_->stream->get_executor(), std::chrono::seconds(5));
  linger->async_wait([self = shared_from_this(), linger](std::error_code) { self->sender_->stream->close(); });
  if (on_done_) {
    auto cb = std::move(on_done_);
    cb(*this);
  }
}

void HttpExchange::hand_over() {
  auto kept = std::move(on_kept_);
  on_kept_ = nullptr;
  kept(std::move(sender_));
}

}  // namespace relay
