#include "bridge/http_proxy_exchange.hpp"

#include "bridge/accept_handshake.hpp"
#include "bridge/http_mapping.hpp"
#include "bridge/relay_dial.hpp"
#include "net/http_body.hpp"
#include "hc/rendezvous.hpp"
#include "hc/url.hpp"
#include "net/address.hpp"

#include <spdlog/spdlog.h>

namespace bridge {
namespace {

// Answers up to this size go back on the control channel (the service's limit for a control-channel body).
constexpr uint64_t kMaxControlBody = 64 * 1024;
constexpr std::size_t kReadSize = 64 * 1024;

const char* status_class(int status) {
  static const char* const kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  return status >= 100 && status < 600 ? kClasses[status / 100 - 1] : "5xx";
}

bool sends_body(const std::string& method) { return method == "POST" || method == "PUT" || method == "PATCH"; }

}  // namespace

HttpProxyExchange::HttpProxyExchange(std::shared_ptr<RemoteForwarder> owner, std::shared_ptr<net::WebSocket> control,
                                     hc::RequestMessage request, std::string body, HandshakeSlot slot)
    : owner_(std::move(owner)), control_(std::move(control)), request_(std::move(request)), body_(std::move(body)),
      slot_(std::move(slot)) {}

void HttpProxyExchange::start() {
  slot_.attach(weak_from_this());
  if (request_.rendezvous_only) return do_dial_request();
  bytes_in_ = body_.size();
  do_origin();
}

void HttpProxyExchange::cancel() {
  cancelled_ = true;
  if (write_timer_) write_timer_->cancel();
  if (pending_) pending_->cancel();
  if (origin_) origin_->cancel();
  if (rendezvous_) rendezvous_->abort();
}

// ---- A rendezvous-only request: dial, then read the request and (streamed, below) its body ----

void HttpProxyExchange::do_dial_request() { dial_rendezvous(&HttpProxyExchange::on_request_channel); }

// Dials the request's rendezvous address (only where the relay may send us: hc::check_rendezvous_address); `then`
// runs once it is open. False when the address is refused.
bool HttpProxyExchange::dial_rendezvous(void (HttpProxyExchange::*then)()) {
  auto checked = hc::check_rendezvous_address(owner_->relay().endpoint, request_.address);
  if (!checked) {
    owner_->tunnels().failed(owner_->name(), "bad_rendezvous_address");
    spdlog::warn("{}: refusing to dial the rendezvous address of request {}: {}", owner_->name(), request_.id,
                 checked.error());
    return false;
  }
  auto options = relay_dial_options(owner_->relay(), owner_->config(), owner_->tunnels());
  pending_ = net::async_ws_connect(owner_->io(), request_.address, options,
                                   [self = shared_from_this(), then](std::error_code ec, net::ConnectResult r) {
                                     self->pending_.reset();
                                     self->on_dial(ec, std::move(r), then);
                                   });
  return true;
}

void HttpProxyExchange::on_dial(std::error_code ec, net::ConnectResult result, void (HttpProxyExchange::*then)()) {
  if (cancelled_) {
    if (result.ws) result.ws->abort();
    return;
  }
  if (ec) {
    owner_->tunnels().failed(owner_->name(), "rendezvous_failed");
    spdlog::warn("{}: rendezvous for request {} failed: {}", owner_->name(), request_.id,
                 describe_connect_failure(owner_->forward().hc, ec, result));
    if (!origin_) return;  // the relay times the sender out
    origin_->cancel();
    return finish(502);
  }
  rendezvous_ = std::move(result.ws);
  ((*this).*then)();
}

void HttpProxyExchange::on_request_channel() {
  read_buf_.resize(kReadSize);
  do_read_request();
}

void HttpProxyExchange::do_read_request() {
  rendezvous_->async_read(asio::buffer(read_buf_), [self = shared_from_this()](std::error_code ec, net::ReadChunk c) {
    self->on_request_part(ec, c);
  });
}

void HttpProxyExchange::on_request_part(std::error_code ec, net::ReadChunk chunk) {
  if (cancelled_) return;
  if (ec) {
    rendezvous_->abort();
    return spdlog::warn("{}: request {}: the rendezvous ended before the request: {}", owner_->name(), request_.id,
                        ec.message());
  }
  message_.append(reinterpret_cast<const char*>(read_buf_.data()), chunk.size);
  if (message_.size() > hc::kMaxControlMessageSize) return respond_error(431, "request head too large", "request JSON over 64 KiB");
  if (!chunk.message_end) return do_read_request();
  auto parsed = hc::parse_control_message(message_);
  auto* request = parsed ? std::get_if<hc::RequestMessage>(&parsed.value()) : nullptr;
  if (request == nullptr || request->rendezvous_only || chunk.opcode != net::ws::Opcode::text)
    return respond_error(400, "bad request", "the rendezvous did not carry a request message");
  std::string address = std::move(request_.address);
  request_ = std::move(*request);
  request_.address = std::move(address);
  message_.clear();
  do_origin();
}

// ---- The web server ----

void HttpProxyExchange::do_origin() {
  const HttpTarget& t = *owner_->forward().http;
  if (!net::http::is_token_text(request_.method)) return respond_error(400, "bad method", "bad method");
  auto target = map_request_target(owner_->forward().hc, t.base_path, request_.request_target);
  if (!target) return respond_error(400, target.error(), target.error());
  ForwardedFor fwd{net::host_for_url(t.host) + ((t.port == (t.tls ? 443 : 80)) ? "" : ":" + std::to_string(t.port)),
                   t.preserve_host, request_.remote_address, owner_->relay().endpoint.tls() ? "https" : "http"};
  auto headers = map_request_headers(request_.request_headers, fwd);
  const bool streamed = request_.rendezvous_only || rendezvous_ != nullptr;
  if (streamed && request_.body) headers.add("Transfer-Encoding", "chunked");
  else if (!body_.empty() || sends_body(request_.method)) headers.add("Content-Length", std::to_string(body_.size()));
  headers.add("Connection", "close");
  std::string head = net::http::build_request_head(request_.method, target.value(), headers);
  if (!streamed) head += body_;
  body_.clear();
  OriginOptions options{t.host, t.port, owner_->http_tls(), ms(t.connect_timeout), ms(t.response_timeout)};
  origin_ = std::make_shared<OriginRequest>(owner_->io(), std::move(options));
  origin_->start(std::move(head), request_.method,
                 [self = shared_from_this()](const OriginFailure* f) { self->on_origin_head(f); });
  if (streamed && request_.body) do_pump_request_body();
}

// The request body from the rendezvous, one chunk of chunked coding per read, each written before the next read.
void HttpProxyExchange::do_pump_request_body() {
  rendezvous_->async_read(asio::buffer(read_buf_), [self = shared_from_this()](std::error_code ec, net::ReadChunk c) {
    self->on_request_body_part(ec, c);
  });
}

void HttpProxyExchange::on_request_body_part(std::error_code ec, net::ReadChunk chunk) {
  if (cancelled_ || responded_) return;
  if (ec) {
    if (origin_) origin_->cancel();
    if (rendezvous_) rendezvous_->abort();
    return spdlog::warn("{}: request {}: the request body was cut off: {}", owner_->name(), request_.id, ec.message());
  }
  bytes_in_ += chunk.size;
  std::string piece = chunk.size > 0 ? net::http::chunk_encoded({reinterpret_cast<const char*>(read_buf_.data()), chunk.size}) : "";
  if (chunk.message_end) piece += "0\r\n\r\n";
  origin_->write(std::move(piece), [self = shared_from_this(), end = chunk.message_end](std::error_code wec) {
    if (!wec && !end) self->do_pump_request_body();
  });
}

void HttpProxyExchange::on_origin_head(const OriginFailure* failure) {
  if (cancelled_) return;
  if (failure) {
    const int status = failure->gateway_timeout ? 504 : 502;
    return respond_error(status, failure->gateway_timeout ? "the web server did not answer in time"
                                                          : "the web server could not be reached",
                         failure->problem);
  }
  const auto length = origin_->body_length();
  has_body_ = !(length && *length == 0);
  if (rendezvous_) return do_send_head();
  if (!has_body_ || (length && *length <= kMaxControlBody)) return do_collect_body();
  do_dial_response();
}

// ---- The answer on the control channel: a small body of known length, read whole first ----

void HttpProxyExchange::do_collect_body() {
  if (!has_body_) return respond(response_message(false), {});
  origin_->read_body([self = shared_from_this()](const OriginFailure* f, std::string_view data, bool last) {
    self->on_collected(f, data, last);
  });
}

void HttpProxyExchange::on_collected(const OriginFailure* failure, std::string_view data, bool last) {
  if (cancelled_) return;
  if (failure) return respond_error(failure->gateway_timeout ? 504 : 502, "the web server's answer broke off", failure->problem);
  body_.append(data);
  if (!last) return do_collect_body();
  auto message = response_message(!body_.empty());
  respond(std::move(message), std::move(body_));
}

// Writes the answer (and its body) where the request came from, as one unit on the control channel.
void HttpProxyExchange::respond(hc::ResponseMessage response, std::string body) {
  responded_ = true;
  bytes_out_ = body.size();
  const int status = response.status_code;
  auto ws = rendezvous_ ? rendezvous_ : control_;
  frame_ = std::move(body);
  ws->async_write_text(hc::build_response_message(response), [](std::error_code) {});
  if (response.body)
    ws->async_write(asio::buffer(frame_), net::ws::Opcode::binary, true, [self = shared_from_this()](std::error_code) {});
  if (rendezvous_) rendezvous_->send_close(1000, "");
  finish(status);
}

void HttpProxyExchange::respond_error(int status, const std::string& text, const std::string& why) {
  // A bad request is the sender's business (the access log shows it); a web server that fails is the operator's.
  spdlog::log(status >= 500 ? spdlog::level::warn : spdlog::level::info, "{}: request {} {} {}: answered {}: {}",
              owner_->name(), request_.id, request_.method, net::http::split_target(request_.request_target).first,
              status, why);
  if (responded_) {  // the head is out: all that is left is to cut the answer short
    if (rendezvous_) rendezvous_->abort();
    return finish(status);
  }
  if (origin_) origin_->cancel();
  hc::ResponseMessage response;
  response.request_id = request_.id;
  response.status_code = status;
  response.response_headers = {{"Content-Type", "text/plain; charset=utf-8"}};
  response.body = true;
  respond(std::move(response), text + "\n");
}

hc::ResponseMessage HttpProxyExchange::response_message(bool body) const {
  hc::ResponseMessage m;
  m.request_id = request_.id;
  m.status_code = origin_->response().status;
  m.status_description = origin_->response().reason;
  m.response_headers = map_response_headers(origin_->response().headers);
  m.body = body;
  return m;
}

// ---- The answer over a rendezvous: head, then each piece of the body as it is read ----

void HttpProxyExchange::do_dial_response() {
  if (dial_rendezvous(&HttpProxyExchange::do_send_head)) return;
  origin_->cancel();
  finish(502);
}

void HttpProxyExchange::do_send_head() {
  responded_ = true;
  rendezvous_->async_write_text(hc::build_response_message(response_message(has_body_)), [](std::error_code) {});
  if (!has_body_) {
    rendezvous_->send_close(1000, "");
    return finish(origin_->response().status);
  }
  do_stream_body();
}

void HttpProxyExchange::do_stream_body() {
  origin_->read_body([self = shared_from_this()](const OriginFailure* f, std::string_view data, bool last) {
    self->on_body_piece(f, data, last);
  });
}

void HttpProxyExchange::on_body_piece(const OriginFailure* failure, std::string_view data, bool last) {
  if (cancelled_) return;
  if (failure) return respond_error(502, "", failure->problem);
  bytes_out_ += data.size();
  frame_.assign(data);
  // Backpressure ends here: a relay that stops reading would otherwise hold this request (and the web server's
  // connection) for ever.
  if (!write_timer_) write_timer_ = std::make_unique<asio::steady_timer>(owner_->io());
  write_timer_->expires_after(ms(owner_->forward().http->write_timeout));
  write_timer_->async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec) self->on_write_timeout();
  });
  // Each read goes out as a frame of the one body message; an empty frame with FIN ends it.
  rendezvous_->async_write(asio::buffer(frame_), net::ws::Opcode::binary, last,
                           [self = shared_from_this(), last](std::error_code ec) { self->on_frame_sent(ec, last); });
}

void HttpProxyExchange::on_frame_sent(std::error_code ec, bool last) {
  if (cancelled_) return;
  write_timer_->cancel();
  if (ec) return abort_answer("relay_gone", "the relay stopped taking the answer: " + ec.message());
  if (!last) return do_stream_body();
  rendezvous_->send_close(1000, "");
  finish(origin_->response().status);
}

void HttpProxyExchange::on_write_timeout() {
  if (cancelled_) return;
  abort_answer("relay_write_timeout", fmt::format("the relay took no part of the answer for {:g} s (write_timeout)",
                                                 owner_->forward().http->write_timeout.count()));
}

// A streamed answer that cannot be completed: the web server's connection closed, the rendezvous dropped (no close
// frame, so the sender cannot take the cut body for a whole one), counted by `reason` and logged with the request id.
void HttpProxyExchange::abort_answer(const char* reason, const std::string& why) {
  cancelled_ = true;
  if (write_timer_) write_timer_->cancel();
  origin_->cancel();
  rendezvous_->abort();
  owner_->tunnels().metrics().add("hcbridge_http_aborted_total", {{"forward", owner_->name()}, {"reason", reason}});
  spdlog::warn("{}: request {} {} {}: aborted after {} B: {}", owner_->name(), request_.id, request_.method,
               net::http::split_target(request_.request_target).first, bytes_out_, why);
  finish(origin_->response().status);
}

void HttpProxyExchange::finish(int status) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const std::string& forward = owner_->name();
  auto& m = owner_->tunnels().metrics();
  m.add("hcbridge_http_requests_total", {{"forward", forward}, {"code", status_class(status)}});
  m.observe("hcbridge_http_request_seconds", {{"forward", forward}}, seconds);
  m.add("hcbridge_http_bytes_total", {{"forward", forward}, {"direction", "from_relay"}}, static_cast<double>(bytes_in_));
  m.add("hcbridge_http_bytes_total", {{"forward", forward}, {"direction", "to_relay"}}, static_cast<double>(bytes_out_));
  // The query can carry what its owner would not want in a log; the path is enough to find the request.
  spdlog::info("{}: {} {} {} {} {} B {:.0f} ms", forward, request_.id, request_.method,
               net::http::split_target(request_.request_target).first, status, bytes_out_, seconds * 1000);
}

}  // namespace bridge
