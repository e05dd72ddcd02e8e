#include "net/ws_client.hpp"

#include "hc/url.hpp"
#include "net/tls.hpp"

#include <array>

namespace net {
namespace {

class ConnectCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "ws-connect"; }
  std::string message(int e) const override {
    switch (static_cast<ConnectError>(e)) {
      case ConnectError::http_status: return "upgrade refused by the server";
      case ConnectError::bad_handshake: return "invalid upgrade response";
      case ConnectError::bad_url: return "invalid WebSocket URL";
    }
    return "unknown connect error";
  }
};

// dial (directly or through the proxy) -> TLS handshake (wss) -> write the upgrade -> read the answer head.
class Connector : public PendingConnect, public std::enable_shared_from_this<Connector> {
 public:
  Connector(asio::io_context& io, hc::Uri uri, ClientOptions options, ConnectHandler handler)
      : io_(io), uri_(std::move(uri)), options_(std::move(options)), handler_(std::move(handler)), timer_(io) {}

  void start() {
    timer_.expires_after(options_.timeout);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->finish(asio::error::timed_out, "timed out after " + std::to_string(self->options_.timeout.count()) + " ms");
    });
    dial_ = async_dial(io_, uri_.host, uri_.port, DialOptions{options_.proxy, options_.timeout},
                       [self = shared_from_this()](std::error_code ec, tcp::socket socket, std::string detail) {
                         self->on_dialed(ec, std::move(socket), std::move(detail));
                       });
  }

  void cancel() override {
    if (dial_) dial_->cancel();  // at once: a dial not yet started never starts
    asio::post(io_, [self = shared_from_this()] { self->finish(asio::error::operation_aborted, "cancelled"); });
  }

 private:
  void on_dialed(std::error_code ec, tcp::socket socket, std::string detail) {
    dial_.reset();
    if (done_) return;
    if (ec) return finish(ec, std::move(detail));
    if (!uri_.tls()) {
      stream_ = std::make_unique<Stream>(std::move(socket));
      return do_write_request();
    }
    stream_ = std::make_unique<Stream>(std::move(socket), *options_.tls);
    // SNI and the certificate check name the relay host, also through a proxy (which only sees CONNECT host:port).
    auto prepared = prepare_client_tls(stream_->tls()->native_handle(), uri_.host, uri_.port);
    if (!prepared) return finish(make_error_code(ConnectError::bad_handshake), prepared.error());
    do_tls_handshake();
  }

  void do_tls_handshake() {
    stream_->tls()->async_handshake(asio::ssl::stream_base::client,
                                    [self = shared_from_this()](std::error_code ec) { self->on_tls_handshake(ec); });
  }

  void on_tls_handshake(std::error_code ec) {
    if (done_) return;
    if (ec) return finish(ec, "TLS handshake with " + uri_.host + " failed: " + ec.message());
    do_write_request();
  }

  void do_write_request() {
    key_ = http::new_websocket_key();
    request_ = http::build_upgrade_request(uri_.authority(), uri_.target(), key_, options_.headers);
    stream_->async_write(asio::buffer(request_),
                         [self = shared_from_this()](std::error_code ec, std::size_t) { self->on_write_request(ec); });
  }

  void on_write_request(std::error_code ec) {
    if (done_) return;
    if (ec) return finish(ec, "cannot send upgrade request: " + ec.message());
    do_read_response();
  }

  void do_read_response() {
    stream_->async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      self->on_read_response(ec, n);
    });
  }

  void on_read_response(std::error_code ec, std::size_t n) {
    if (done_) return;
    if (ec) return finish(ec, "connection lost during upgrade: " + ec.message());
    std::size_t consumed = 0;
    const auto status = parser_.feed(rbuf_.data(), n, consumed);
    if (status == http::ParseStatus::need_more) return do_read_response();
    if (status == http::ParseStatus::bad)
      return finish(make_error_code(ConnectError::bad_handshake), "bad upgrade response: " + parser_.error());
    const auto& head = parser_.head();
    result_.http_status = head.status;
    result_.reason = head.reason;
    result_.response_headers = head.headers;
    if (head.status != 101) return finish(make_error_code(ConnectError::http_status), head.reason);
    const std::string problem = http::check_upgrade_response(head, key_);
    if (!problem.empty()) return finish(make_error_code(ConnectError::bad_handshake), problem);
    std::string leftover(rbuf_.data() + consumed, n - consumed);
    result_.ws = std::make_shared<WebSocket>(std::move(stream_), ws::Role::client, std::move(leftover), options_.ws);
    finish({}, head.reason);
  }

  void finish(std::error_code ec, std::string reason) {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    if (dial_) dial_->cancel();
    if (ec) {
      if (stream_) stream_->close();
      if (result_.http_status == 0 || reason.size()) result_.reason = std::move(reason);
    }
    auto handler = std::move(handler_);
    handler(ec, std::move(result_));
  }

  asio::io_context& io_;
  hc::Uri uri_;
  ClientOptions options_;
  ConnectHandler handler_;
  asio::steady_timer timer_;
  std::shared_ptr<PendingDial> dial_;
  std::unique_ptr<Stream> stream_;
  std::string key_;
  std::string request_;
  std::array<char, 4096> rbuf_{};
  http::ResponseParser parser_;
  ConnectResult result_;
  bool done_ = false;
};

}  // namespace

const std::error_category& connect_category() {
  static ConnectCategory category;
  return category;
}

std::shared_ptr<PendingConnect> async_ws_connect(asio::io_context& io, const std::string& url, ClientOptions options,
                                                 ConnectHandler handler) {
  auto uri = hc::parse_uri(url);
  std::string problem;
  if (!uri) problem = uri.error();
  else if (uri->scheme != "ws" && uri->scheme != "wss") problem = "scheme must be ws or wss";
  else if (uri->scheme == "wss" && !options.tls) problem = "wss URL but no TLS context";
  if (!problem.empty()) {
    asio::post(io, [h = std::move(handler), problem] {
      ConnectResult r;
      r.reason = problem;
      h(make_error_code(ConnectError::bad_url), std::move(r));
    });
    return nullptr;
  }
  auto c = std::make_shared<Connector>(io, std::move(uri.value()), std::move(options), std::move(handler));
  c->start();
  return c;
}

}  // namespace net
