#include "bridge/http_entrance.hpp"

#include "bridge/http_entrance_exchange.hpp"
#include "bridge/http_entrance_rules.hpp"

#include <spdlog/spdlog.h>

namespace bridge {
namespace {

constexpr std::size_t kReadSize = 64 * 1024;
// How long a kept-alive connection may wait for its next request (and a new one for its first head).
constexpr std::chrono::seconds kIdleTimeout{60};
// After the last answer of a connection: how long the client may take to see the end before the socket is closed.
// Closing while its unread request bytes are still here would reset the connection and could lose the answer.
constexpr std::chrono::seconds kLinger{2};

}  // namespace

HttpEntrance::HttpEntrance(std::shared_ptr<LocalForwarder> owner, LocalStream client, std::string peer, HandshakeSlot slot)
    : owner_(std::move(owner)), client_(std::move(client)), peer_(std::move(peer)), slot_(std::move(slot)),
      timer_(owner_->io()), rbuf_(kReadSize) {}

void HttpEntrance::start() {
  slot_.attach(weak_from_this());
  do_read_head();
}

void HttpEntrance::cancel() {
  cancelled_ = true;
  if (exchange_) exchange_->cancel();
  exchange_.reset();
  close();
}

void HttpEntrance::close() {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  std::error_code ignored;
  client_.close(ignored);
  if (upstream_) upstream_->close();
  upstream_.reset();
}

void HttpEntrance::arm_timer(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([weak = weak_from_this()](std::error_code ec) {
    if (auto self = weak.lock(); self && !ec) self->close();
  });
}

void HttpEntrance::do_read_head() {
  if (!leftover_.empty()) {
    // A pipelined request, already read with the last one.
    std::string data;
    data.swap(leftover_);
    if (take_head(data.data(), data.size())) return;
  }
  arm_timer(kIdleTimeout);
  client_.async_read_some(asio::buffer(rbuf_),
                          [self = shared_from_this()](std::error_code ec, std::size_t n) { self->on_read_head(ec, n); });
}

void HttpEntrance::on_read_head(std::error_code ec, std::size_t n) {
  if (cancelled_ || closed_) return;
  if (ec) return close();  // the client is done (or gone) between requests
  if (!take_head(rbuf_.data(), n)) do_read_head();
}

// Feeds head bytes to the parser; true once the head is complete (an exchange runs) or refused.
bool HttpEntrance::take_head(const char* data, std::size_t size) {
  std::size_t used = 0;
  const auto status = parser_.feed(data, size, used);
  if (status == net::http::ParseStatus::need_more) return false;
  timer_.cancel();
  if (status == net::http::ParseStatus::bad) {
    const bool too_large = parser_.error().find("large") != std::string::npos;
    refuse(too_large ? 431 : 400, "bad request: " + parser_.error());
    return true;
  }
  net::http::RequestHead head = parser_.head();
  parser_ = net::http::RequestParser();
  exchange_ = std::make_shared<HttpEntranceExchange>(shared_from_this(), std::move(head), std::string(data + used, size - used));
  exchange_->start();
  return true;
}

// A request that never became an exchange (its head was malformed): answer, then end the connection.
void HttpEntrance::refuse(int status, const std::string& text) {
  spdlog::info("{}: a request from {} refused with {}: {}", owner_->name(), peer_, status, text);
  write_buf_ = entrance_error_response(status, text, true);
  asio::async_write(client_, asio::buffer(write_buf_), [self = shared_from_this()](std::error_code ec, std::size_t) {
    if (ec) return self->close();
    self->do_end(false);
  });
}

void HttpEntrance::exchange_done(bool keep_alive, std::string leftover, std::shared_ptr<RelayHttpConnection> upstream,
                                 bool reading_client) {
  exchange_.reset();
  if (upstream && upstream->is_open() && !closed_) upstream_ = std::move(upstream);
  else if (upstream) upstream->close();
  if (cancelled_ || closed_) return;
  if (!keep_alive) return do_end(reading_client);
  leftover_ = std::move(leftover);
  do_read_head();
}

// The last answer is written: send our end, and close once the client has seen it (or after kLinger). Unless the
// exchange still reads what is left of the request body, drain it here.
void HttpEntrance::do_end(bool reading_client) {
  if (upstream_) upstream_->close();
  upstream_.reset();
  std::error_code ignored;
  client_.shutdown(asio::socket_base::shutdown_send, ignored);
  arm_timer(kLinger);
  if (!reading_client) do_drain();
}

void HttpEntrance::do_drain() {
  client_.async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](std::error_code ec, std::size_t) {
    if (self->closed_) return;
    if (ec) return self->close();
    self->do_drain();
  });
}

}  // namespace bridge
