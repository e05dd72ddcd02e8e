#include "bridge/origin_request.hpp"

#include "bridge/http_mapping.hpp"
#include "net/tls.hpp"

namespace bridge {
namespace {

constexpr std::size_t kReadSize = 64 * 1024;

bool eof_like(std::error_code ec) { return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated; }

}  // namespace

OriginRequest::OriginRequest(asio::io_context& io, OriginOptions options)
    : io_(io), options_(std::move(options)), timer_(io), rbuf_(kReadSize) {}

void OriginRequest::start(std::string head, std::string method, HeadHandler handler) {
  method_ = std::move(method);
  head_handler_ = std::move(handler);
  writes_.push_back({std::move(head), nullptr});
  arm_timer("no response head");
  do_connect();
}

void OriginRequest::cancel() {
  done_ = true;
  timer_.cancel();
  if (dial_) dial_->cancel();
  if (stream_) stream_->close();
  // The handlers hold their owner, which holds this request: let them go, or the pair would keep itself alive.
  head_handler_ = nullptr;
  body_handler_ = nullptr;
  while (writes_.size() > (writing_ ? 1u : 0u)) writes_.pop_back();  // the one being written keeps its buffer
  if (!writes_.empty()) writes_.front().handler = nullptr;
}

void OriginRequest::arm_timer(const char* what) {
  timer_.expires_after(options_.response_timeout);
  timer_.async_wait([weak = weak_from_this(), what](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->fail(true, std::string(what) + " within " + std::to_string(self->options_.response_timeout.count()) + " ms");
  });
}

void OriginRequest::fail(bool timeout, std::string problem) {
  if (done_) return;
  auto head = std::move(head_handler_);
  auto body = std::move(body_handler_);
  cancel();
  OriginFailure failure{timeout, std::move(problem)};
  if (head) return head(&failure);
  if (body) return body(&failure, {}, true);
}

void OriginRequest::do_connect() {
  dial_ = net::async_tcp_connect(io_, options_.host, options_.port, options_.connect_timeout,
                                 [self = shared_from_this()](std::error_code ec, asio::ip::tcp::socket s) {
                                   self->on_connect(ec, std::move(s));
                                 });
}

void OriginRequest::on_connect(std::error_code ec, asio::ip::tcp::socket socket) {
  dial_.reset();
  if (done_) return;
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  if (ec == asio::error::timed_out) return fail(true, "connect to " + where + " timed out");
  if (ec) return fail(false, "cannot connect to " + where + ": " + ec.message());
  if (!options_.tls) {
    stream_ = std::make_unique<net::Stream>(std::move(socket));
    connected_ = true;
    do_write();
    return do_read_head();
  }
  stream_ = std::make_unique<net::Stream>(std::move(socket), *options_.tls);
  auto prepared = net::prepare_client_tls(stream_->tls()->native_handle(), options_.host, options_.port);
  if (!prepared) return fail(false, prepared.error());
  stream_->tls()->async_handshake(asio::ssl::stream_base::client,
                                  [self = shared_from_this()](std::error_code e) { self->on_handshake(e); });
}

void OriginRequest::on_handshake(std::error_code ec) {
  if (done_) return;
  if (ec) return fail(false, "TLS handshake with " + options_.host + " failed: " + ec.message());
  connected_ = true;
  do_write();
  do_read_head();
}

void OriginRequest::write(std::string data, std::function<void(std::error_code)> handler) {
  writes_.push_back({std::move(data), std::move(handler)});
  do_write();
}

void OriginRequest::do_write() {
  if (writing_ || !connected_ || done_ || writes_.empty()) return;
  writing_ = true;
  stream_->async_write(asio::buffer(writes_.front().data),
                       [self = shared_from_this()](std::error_code ec, std::size_t) { self->on_write(ec); });
}

void OriginRequest::on_write(std::error_code ec) {
  writing_ = false;
  if (writes_.empty()) return;
  auto handler = std::move(writes_.front().handler);
  writes_.pop_front();
  // A server may answer (and close) before it read the whole request body: its answer still counts, so a failed
  // write is reported to the writer only, and the read side decides.
  if (handler) handler(ec);
  if (!ec) do_write();
}

void OriginRequest::do_read_head() {
  stream_->async_read_some(asio::buffer(rbuf_),
                           [self = shared_from_this()](std::error_code ec, std::size_t n) { self->on_read_head(ec, n); });
}

void OriginRequest::on_read_head(std::error_code ec, std::size_t n) {
  if (done_) return;
  if (ec) return fail(false, eof_like(ec) ? "the web server closed without an answer" : "reading the answer: " + ec.message());
  if (!take_head(n)) return;
  if (parser_.status() == net::http::ParseStatus::need_more) return do_read_head();
  timer_.cancel();
  const auto& head = parser_.head();
  if (!response_has_body(method_, head.status)) {
    body_length_ = 0;
  } else {
    const auto framing = net::http::response_framing(head.headers);
    if (framing.framing == net::http::BodyFraming::invalid) return fail(false, "bad answer: " + framing.problem);
    chunked_ = framing.framing == net::http::BodyFraming::chunked;
    if (framing.framing == net::http::BodyFraming::length) body_length_ = framing.length;
    body_left_ = framing.length;
  }
  auto handler = std::move(head_handler_);
  handler(nullptr);
}

// Feeds `n` read bytes to the head parser, skipping interim (1xx) answers; bytes after the head are body.
bool OriginRequest::take_head(std::size_t n) {
  std::string_view data(rbuf_.data(), n);
  while (!data.empty()) {
    std::size_t used = 0;
    const auto status = parser_.feed(data.data(), data.size(), used);
    if (status == net::http::ParseStatus::bad) {
      fail(false, "bad answer from the web server: " + parser_.error());
      return false;
    }
    data.remove_prefix(used);
    if (status == net::http::ParseStatus::need_more) return true;
    const int code = parser_.head().status;
    if (code >= 200 || code == 101) {
      early_body_.assign(data);
      return true;
    }
    parser_ = net::http::ResponseParser();  // 100 Continue, 103 Early Hints: the real answer follows
  }
  return true;
}

void OriginRequest::read_body(BodyHandler handler) {
  body_handler_ = std::move(handler);
  decoded_.clear();
  if (body_length_ && body_left_ == 0 && !chunked_) {
    auto h = std::move(body_handler_);
    return h(nullptr, {}, true);
  }
  if (!early_body_.empty()) {
    std::string early;
    early.swap(early_body_);
    const bool last = decode(early.data(), early.size());
    if (done_) return;  // decode failed and reported
    if (last || !decoded_.empty()) {
      auto h = std::move(body_handler_);
      return h(nullptr, decoded_, last);
    }
  }
  arm_timer("the web server's body stalled: nothing");
  do_read_body();
}

void OriginRequest::do_read_body() {
  stream_->async_read_some(asio::buffer(rbuf_),
                           [self = shared_from_this()](std::error_code ec, std::size_t n) { self->on_read_body(ec, n); });
}

void OriginRequest::on_read_body(std::error_code ec, std::size_t n) {
  if (done_) return;
  if (ec && !eof_like(ec)) return fail(false, "reading the body: " + ec.message());
  if (ec) {  // the server closed: the end of a body without a length, a failure for the others
    if (chunked_ || body_length_) return fail(false, "the web server closed in the middle of the body");
    timer_.cancel();
    auto h = std::move(body_handler_);
    return h(nullptr, {}, true);
  }
  const bool last = decode(rbuf_.data(), n);
  if (done_) return;
  if (!last && decoded_.empty()) return do_read_body();
  timer_.cancel();
  auto h = std::move(body_handler_);
  h(nullptr, decoded_, last);
}

// Appends the payload in `data` to decoded_; true once the body is complete. Bytes past the body are ignored (one
// request per connection).
bool OriginRequest::decode(const char* data, std::size_t size) {
  if (chunked_) {
    std::size_t used = 0;
    const auto status = chunks_.feed(data, size, used, decoded_);
    if (status == net::http::ParseStatus::bad) {
      fail(false, "bad chunked body from the web server: " + chunks_.error());
      return false;
    }
    return status == net::http::ParseStatus::good;
  }
  if (!body_length_) {
    decoded_.append(data, size);
    return false;
  }
  const std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(body_left_, size));
  decoded_.append(data, take);
  body_left_ -= take;
  return body_left_ == 0;
}

}  // namespace bridge
