#include "bridge/http_entrance_exchange.hpp"

#include "hc/guid.hpp"
#include "hc/url.hpp"

#include <spdlog/spdlog.h>

#include <ctime>

namespace bridge {
namespace {

constexpr std::size_t kReadSize = 64 * 1024;

const char* status_class(int status) {
  static const char* const kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  return status >= 100 && status < 600 ? kClasses[status / 100 - 1] : "5xx";
}

// The status counted (never sent) for a request whose client went away before its answer (nginx's word for it).
constexpr int kClientGone = 499;

bool eof_like(std::error_code ec) { return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated; }

}  // namespace

HttpEntranceExchange::HttpEntranceExchange(std::shared_ptr<HttpEntrance> conn, net::http::RequestHead head, std::string early)
    : conn_(std::move(conn)), owner_(conn_->owner()), head_(std::move(head)), early_(std::move(early)),
      id_(hc::new_guid()), timer_(owner_.io()), ubuf_(kReadSize) {}

void HttpEntranceExchange::start() {
  path_ = net::http::split_target(head_.target).first;
  keep_alive_ = net::http::request_keeps_alive(head_);
  if (!check_request()) return;
  if (request_body_.done() || !expects_continue(head_)) return do_token();
  do_continue();
}

void HttpEntranceExchange::cancel() {
  cancelled_ = true;
  timer_.cancel();
  token_wait_.reset();
  if (upstream_) upstream_->close();
}

// What the relay cannot be asked: a bad method, CONNECT, a target that is not origin-form, a body of unknown framing.
bool HttpEntranceExchange::check_request() {
  framing_ = net::http::request_framing(head_.headers);
  if (framing_.framing == net::http::BodyFraming::invalid) {
    respond_error(400, "bad request: " + framing_.problem, framing_.problem);
    return false;
  }
  const Framing in = framing_.framing == net::http::BodyFraming::chunked ? Framing::chunked
                     : framing_.framing == net::http::BodyFraming::length ? Framing::length
                                                                          : Framing::none;
  request_body_ = BodyCopier(in, framing_.length, in);
  request_done_ = request_body_.done();
  if (!net::http::is_token_text(head_.method) || head_.method == "CONNECT") {
    respond_error(head_.method == "CONNECT" ? 405 : 400, "the relay takes no CONNECT or upgrade requests", "bad method");
    return false;
  }
  auto target = entrance_request_target(owner_.forward().hc, head_.target);
  if (!target) {
    respond_error(400, target.error(), target.error());
    return false;
  }
  target_ = std::move(target.value());
  return true;
}

// The client waits for "100 Continue" before its body: give it at once (the relay gets the body as it arrives).
void HttpEntranceExchange::do_continue() {
  client_write_ = "HTTP/1.1 100 Continue\r\n\r\n";
  asio::async_write(conn_->client(), asio::buffer(client_write_), [self = shared_from_this()](std::error_code ec, std::size_t) {
    if (self->cancelled_) return;
    if (ec) return self->abort("the client went away: " + ec.message(), kClientGone);
    self->do_token();
  });
}

// An Entra ID token may still be on its way (at start-up): wait for it within the connect timeout.
void HttpEntranceExchange::do_token() {
  auto& tokens = *owner_.relay().tokens;
  if (tokens.ready()) return do_connect();
  arm_timer(ms(owner_.config().connect_timeout), 502, "no relay token within the connect timeout");
  token_wait_ = tokens.when_ready([weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self || self->cancelled_ || self->finished_) return;
    self->token_wait_.reset();
    self->timer_.cancel();
    self->do_connect();
  });
}

void HttpEntranceExchange::do_connect() {
  upstream_ = conn_->take_upstream();
  reused_ = upstream_ && upstream_->is_open();
  if (reused_) return do_send_head();
  upstream_ = std::make_shared<RelayHttpConnection>(owner_.io(), owner_.relay(), ms(owner_.config().connect_timeout));
  upstream_->start([self = shared_from_this()](std::error_code ec, const std::string& problem) { self->on_connect(ec, problem); });
}

void HttpEntranceExchange::on_connect(std::error_code ec, const std::string& problem) {
  if (cancelled_) return;
  if (ec) return respond_error(502, "the relay could not be reached", problem);
  do_send_head();
}

void HttpEntranceExchange::do_send_head() {
  const std::string token =
      owner_.relay().tokens->token_for(owner_.forward().hc, static_cast<int64_t>(std::time(nullptr)));
  const auto headers = entrance_request_headers(head_.headers, framing_, owner_.relay().endpoint.authority(), token);
  up_write_ = net::http::build_request_head(head_.method, target_, headers);
  if (!early_.empty()) {
    std::string early;
    early.swap(early_);
    up_write_ += take_request_body(early.data(), early.size());
  }
  ++upstream_->uses;
  arm_timer(ms(owner_.forward().http.answer_timeout), 504, "no answer from the relay");
  upstream_->stream().async_write(asio::buffer(up_write_), [self = shared_from_this()](std::error_code ec, std::size_t) {
    self->on_head_sent(ec);
  });
  do_read_response_head();
}

// Passes `data` through the request body's framing: what belongs to the body is returned (for the relay), what
// follows it is the next request.
std::string HttpEntranceExchange::take_request_body(const char* data, std::size_t size) {
  std::string out;
  std::size_t used = 0;
  const auto status = request_body_.feed(data, size, used, out);
  if (status == net::http::ParseStatus::good) {
    request_done_ = true;
    next_request_.append(data + used, size - used);
  }
  return out;
}

void HttpEntranceExchange::on_head_sent(std::error_code ec) {
  if (cancelled_ || finished_) return;
  if (ec) return;  // the read side sees the broken connection and decides (retry, 502)
  if (request_body_.error().empty() && !request_done_) return do_read_request_body();
  if (!request_body_.error().empty()) respond_error(400, "bad chunked request body", request_body_.error());
}

void HttpEntranceExchange::do_read_request_body() {
  reading_client_ = true;
  auto& buf = conn_->read_buffer();
  conn_->client().async_read_some(asio::buffer(buf), [self = shared_from_this()](std::error_code ec, std::size_t n) {
    self->on_request_body(ec, n);
  });
}

// One read of the request body, written to the relay before the next read. After the answer is complete, what is
// left of the body is read and dropped until the connection ends.
void HttpEntranceExchange::on_request_body(std::error_code ec, std::size_t n) {
  reading_client_ = false;
  if (cancelled_) return;
  if (finished_) {
    if (!ec) do_read_request_body();
    return;
  }
  if (ec) return abort("the client ended in the middle of the request body: " + ec.message(), kClientGone);
  up_write_ = take_request_body(conn_->read_buffer().data(), n);
  if (!request_body_.error().empty()) return respond_error(400, "bad chunked request body", request_body_.error());
  arm_timer(ms(owner_.forward().http.answer_timeout), 504, "the request body stalled");
  upstream_->stream().async_write(asio::buffer(up_write_), [self = shared_from_this()](std::error_code wec, std::size_t) {
    // Once finished, no read of ours is pending: the entrance drains what is left of the body itself.
    if (self->cancelled_ || self->finished_) return;
    if (!wec && !self->request_done_) self->do_read_request_body();
  });
}

// ---- The answer ----

void HttpEntranceExchange::do_read_response_head() {
  upstream_->stream().async_read_some(asio::buffer(ubuf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
    self->on_response_head(ec, n);
  });
}

void HttpEntranceExchange::on_response_head(std::error_code ec, std::size_t n) {
  if (cancelled_ || finished_) return;
  if (ec) {
    if (retry_on_new_connection()) return;
    return respond_error(502, "the relay closed the connection without an answer",
                         eof_like(ec) ? "the relay closed the connection" : ec.message());
  }
  got_answer_bytes_ = true;
  std::size_t offset = 0;
  while (offset < n) {
    std::size_t used = 0;
    const auto status = parser_.feed(ubuf_.data() + offset, n - offset, used);
    offset += used;
    if (status == net::http::ParseStatus::bad)
      return respond_error(502, "bad answer from the relay", "bad answer from the relay: " + parser_.error());
    if (status == net::http::ParseStatus::need_more) break;
    if (parser_.head().status >= 200) return on_head_complete(offset, n);
    parser_ = net::http::ResponseParser();  // 100 Continue and other interim answers: the real one follows
  }
  do_read_response_head();
}

// A connection kept from the last request may have been closed by the relay meanwhile: a request without a body
// that got no answer at all is sent once more, on a new connection.
bool HttpEntranceExchange::retry_on_new_connection() {
  if (!reused_ || retried_ || got_answer_bytes_ || framing_.framing != net::http::BodyFraming::none) return false;
  retried_ = true;
  spdlog::debug("{}: request {}: the kept relay connection was closed meanwhile; sending it on a new one", owner_.name(), id_);
  upstream_->close();
  upstream_.reset();
  parser_ = net::http::ResponseParser();
  do_connect();
  return true;
}

void HttpEntranceExchange::on_head_complete(std::size_t used, std::size_t n) {
  const auto& head = parser_.head();
  const auto framing = relay_response_framing(head_.method, head);
  if (!framing.problem.empty()) return respond_error(502, "bad answer from the relay", framing.problem);
  const Framing out = client_framing(framing.framing, head_.version_minor);
  // Unless the whole request was read, what is left of it cannot be told from the next request: end the connection.
  close_after_ = !keep_alive_ || out == Framing::until_close || !request_done_;
  relay_keeps_ = head.version_minor >= 1 && framing.framing != Framing::until_close &&
                 !net::http::header_has_token(head.headers, "Connection", "close");
  response_body_ = BodyCopier(framing.framing, framing.length, out);
  status_ = head.status;
  answering_ = true;
  std::string data = entrance_response_head(head, out, framing.length, close_after_);
  std::size_t body_used = 0;
  response_body_.feed(ubuf_.data() + used, n - used, body_used, data);
  if (used + body_used < n) relay_keeps_ = false;  // more than the answer: the connection is not in a known state
  do_write_client(std::move(data));
}

void HttpEntranceExchange::do_write_client(std::string data) {
  client_write_ = std::move(data);
  arm_timer(ms(owner_.forward().http.answer_timeout), 0, "the client stopped taking the answer");
  asio::async_write(conn_->client(), asio::buffer(client_write_),
                    [self = shared_from_this()](std::error_code ec, std::size_t) { self->on_client_written(ec); });
}

void HttpEntranceExchange::on_client_written(std::error_code ec) {
  if (cancelled_ || finished_) return;
  if (ec) return abort("the client went away: " + ec.message(), kClientGone);
  if (!response_body_.error().empty()) return abort("bad answer from the relay: " + response_body_.error());
  if (response_body_.done()) return finish();
  do_read_response_body();
}

void HttpEntranceExchange::do_read_response_body() {
  arm_timer(ms(owner_.forward().http.answer_timeout), 0, "the answer's body stalled");
  upstream_->stream().async_read_some(asio::buffer(ubuf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
    self->on_response_body(ec, n);
  });
}

void HttpEntranceExchange::on_response_body(std::error_code ec, std::size_t n) {
  if (cancelled_ || finished_) return;
  std::string data;
  if (ec) {
    if (!eof_like(ec) || response_body_.end_of_input(data) != net::http::ParseStatus::good)
      return abort("the relay's answer broke off: " + (eof_like(ec) ? response_body_.error() : ec.message()));
    relay_keeps_ = false;
    return do_write_client(std::move(data));
  }
  std::size_t used = 0;
  response_body_.feed(ubuf_.data(), n, used, data);
  if (used < n) relay_keeps_ = false;
  do_write_client(std::move(data));
}

// ---- Endings ----

// No answer can come from the relay: ours, unless the relay's head is already on its way (then the answer is cut).
void HttpEntranceExchange::respond_error(int status, const std::string& text, const std::string& why) {
  if (answering_) return abort(why);
  timer_.cancel();
  spdlog::log(status >= 500 ? spdlog::level::warn : spdlog::level::info, "{}: request {} {} {}: answered {}: {}",
              owner_.name(), id_, head_.method, path_, status, why);
  if (upstream_) upstream_->close();
  relay_keeps_ = false;
  status_ = status;
  answering_ = true;
  close_after_ = !keep_alive_ || !request_done_;
  response_body_ = BodyCopier(Framing::none, 0, Framing::none);
  do_write_client(entrance_error_response(status, text + " (request " + id_ + ")", close_after_));
}

// The exchange cannot go on: log why, drop the relay connection and end the client's (a cut answer shows there).
void HttpEntranceExchange::abort(const std::string& why, int status) {
  spdlog::log(status == kClientGone ? spdlog::level::info : spdlog::level::warn, "{}: request {} {} {}: {}", owner_.name(), id_, head_.method, path_, why);
  if (upstream_) upstream_->close();
  relay_keeps_ = false;
  close_after_ = true;
  if (status_ == 0) status_ = status;
  finish();
}

void HttpEntranceExchange::arm_timer(std::chrono::milliseconds after, int status, const char* what) {
  timer_.expires_after(after);
  timer_.async_wait([weak = weak_from_this(), status, what](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->cancelled_ || self->finished_) return;
    if (status != 0 && !self->answering_) return self->respond_error(status, what, what);
    self->abort(what);
  });
}

void HttpEntranceExchange::finish() {
  finished_ = true;
  timer_.cancel();
  token_wait_.reset();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const uint64_t bytes_up = request_body_.payload(), bytes_down = response_body_.payload();
  const std::string& forward = owner_.name();
  auto& m = owner_.tunnels().metrics();
  m.add("hcbridge_http_requests_total", {{"forward", forward}, {"code", status_class(status_)}});
  m.observe("hcbridge_http_request_seconds", {{"forward", forward}}, seconds);
  m.add("hcbridge_http_bytes_total", {{"forward", forward}, {"direction", "to_relay"}}, static_cast<double>(bytes_up));
  m.add("hcbridge_http_bytes_total", {{"forward", forward}, {"direction", "from_relay"}}, static_cast<double>(bytes_down));
  // The query can carry what its owner would not want in a log; the path is enough to find the request.
  spdlog::info("{}: {} {} {} {} {} B {:.0f} ms", forward, id_, head_.method, path_, status_, bytes_down, seconds * 1000);
  const bool reusable = relay_keeps_ && request_done_ && upstream_ && upstream_->is_open();
  if (upstream_ && !reusable) upstream_->close();
  conn_->exchange_done(!close_after_, std::move(next_request_), reusable ? std::move(upstream_) : nullptr, reading_client_);
}

}  // namespace bridge
