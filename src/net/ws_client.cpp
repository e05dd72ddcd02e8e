#include "net/ws_client.hpp"

#include "net/tcp_connect.hpp"

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

class Connector : public PendingConnect, public std::enable_shared_from_this<Connector> {
 public:
  Connector(asio::io_context& io, hc::Uri uri, ClientOptions options, ConnectHandler handler)
      : uri_(std::move(uri)),
        options_(std::move(options)),
        handler_(std::move(handler)),
        resolver_(io),
        socket_(io),
        timer_(io) {}

  void start() {
    timer_.expires_after(options_.timeout);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->finish(asio::error::timed_out, "timed out after " + std::to_string(self->options_.timeout.count()) + " ms");
    });
    async_resolve_host(resolver_, uri_.host, uri_.port,
                       [self = shared_from_this()](std::error_code ec, tcp::resolver::results_type results) {
                         if (ec) return self->finish(ec, "cannot resolve " + self->uri_.host + ": " + ec.message());
                         self->connect(results);
                       });
  }

  void cancel() override {
    asio::post(timer_.get_executor(), [self = shared_from_this()] { self->finish(asio::error::operation_aborted, "cancelled"); });
  }

 private:
  void connect(const tcp::resolver::results_type& results) {
    asio::async_connect(socket_, results, [self = shared_from_this()](std::error_code ec, const tcp::endpoint&) {
      if (self->done_) return;
      if (ec) return self->finish(ec, "cannot connect to " + self->uri_.authority() + ": " + ec.message());
      std::error_code ignored;
      self->socket_.set_option(tcp::no_delay(true), ignored);
      if (self->uri_.tls()) {
        self->stream_ = std::make_unique<Stream>(std::move(self->socket_), *self->options_.tls);
        auto prepared = prepare_client_tls(*self->stream_->tls(), self->uri_.host, self->uri_.port);
        if (!prepared) return self->finish(make_error_code(ConnectError::bad_handshake), prepared.error());
        self->stream_->tls()->async_handshake(asio::ssl::stream_base::client, [self](std::error_code ec2) {
          if (self->done_) return;
          if (ec2) return self->finish(ec2, "TLS handshake with " + self->uri_.host + " failed: " + ec2.message());
          self->send_request();
        });
      } else {
        self->stream_ = std::make_unique<Stream>(std::move(self->socket_));
        self->send_request();
      }
    });
  }

  void send_request() {
    key_ = http::new_websocket_key();
    request_ = http::build_upgrade_request(uri_.authority(), uri_.target(), key_, options_.headers);
    stream_->async_write(asio::buffer(request_), [self = shared_from_this()](std::error_code ec, std::size_t) {
      if (self->done_) return;
      if (ec) return self->finish(ec, "cannot send upgrade request: " + ec.message());
      self->read_response();
    });
  }

  void read_response() {
    stream_->async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      if (self->done_) return;
      if (ec) return self->finish(ec, "connection lost during upgrade: " + ec.message());
      std::size_t consumed = 0;
      const auto status = self->parser_.feed(self->rbuf_.data(), n, consumed);
      if (status == http::ParseStatus::need_more) return self->read_response();
      if (status == http::ParseStatus::bad)
        return self->finish(make_error_code(ConnectError::bad_handshake), "bad upgrade response: " + self->parser_.error());
      const auto& head = self->parser_.head();
      self->result_.http_status = head.status;
      self->result_.reason = head.reason;
      self->result_.response_headers = head.headers;
      if (head.status != 101) return self->finish(make_error_code(ConnectError::http_status), head.reason);
      const std::string problem = http::check_upgrade_response(head, self->key_);
      if (!problem.empty()) return self->finish(make_error_code(ConnectError::bad_handshake), problem);
      std::string leftover(self->rbuf_.data() + consumed, n - consumed);
      self->result_.ws = std::make_shared<WebSocket>(std::move(self->stream_), ws::Role::client, std::move(leftover),
                                                     self->options_.ws);
      self->finish({}, head.reason);
    });
  }

  void finish(std::error_code ec, std::string reason) {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    resolver_.cancel();
    if (ec) {
      std::error_code ignored;
      socket_.close(ignored);
      if (stream_) stream_->close();
      if (result_.http_status == 0 || reason.size()) result_.reason = std::move(reason);
    }
    auto handler = std::move(handler_);
    handler(ec, std::move(result_));
  }

  hc::Uri uri_;
  ClientOptions options_;
  ConnectHandler handler_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer timer_;
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
