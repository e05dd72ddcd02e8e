#include "net/ws_server.hpp"

#include <array>

namespace net {
namespace {

class RequestReader : public std::enable_shared_from_this<RequestReader> {
 public:
  using Handler = std::function<void(std::error_code, IncomingRequestPtr, std::string)>;

  RequestReader(std::unique_ptr<Stream> stream, std::chrono::milliseconds timeout, Handler handler)
      : request_(std::make_shared<IncomingRequest>()), timer_(stream->get_executor()), handler_(std::move(handler)) {
    request_->stream = std::move(stream);
    std::error_code ec;
    request_->peer = request_->stream->socket().remote_endpoint(ec);
    timer_.expires_after(timeout);
  }

  // A kept-alive connection: no handshake, and the bytes already read (a pipelined request) are parsed first.
  void start_continued(std::string buffered) {
    continued_ = true;
    if (buffered.empty()) return start();
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->finish(asio::error::timed_out, "idle connection timed out");
    });
    // Posted: the caller (an exchange finishing) must not see the next request start inside its own call.
    asio::post(timer_.get_executor(), [self = shared_from_this(), buffered = std::move(buffered)] {
      if (!self->done_) self->parse(buffered.data(), buffered.size());
    });
  }

  void start() {
    // A peer that never finishes its handshake must not hold a socket forever.
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->finish(asio::error::timed_out, "handshake timed out");
    });
    if (request_->stream->is_tls() && !continued_) {
      request_->stream->tls()->async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](std::error_code ec) {
        if (self->done_) return;
        if (ec) return self->finish(ec, "TLS handshake failed: " + ec.message());
        self->read();
      });
    } else {
      read();
    }
  }

 private:
  void read() {
    request_->stream->async_read_some(asio::buffer(buf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      if (self->done_) return;
      if (ec) return self->finish(ec, "connection closed before the request was complete");
      self->parse(self->buf_.data(), n);
    });
  }

  void parse(const char* data, std::size_t n) {
    std::size_t consumed = 0;
    const auto status = parser_.feed(data, n, consumed);
    if (status == http::ParseStatus::need_more) return read();
    if (status == http::ParseStatus::bad) return finish(make_error_code(std::errc::bad_message), parser_.error());
    request_->head = parser_.head();
    request_->leftover.assign(data + consumed, n - consumed);
    finish({}, {});
  }

  void finish(std::error_code ec, std::string problem) {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    auto handler = std::move(handler_);
    // On a bad head the stream is still handed over so the caller can answer 400.
    if (ec && ec != std::errc::bad_message) request_->stream->close();
    handler(ec, request_, std::move(problem));
  }

  IncomingRequestPtr request_;
  asio::steady_timer timer_;
  Handler handler_;
  std::array<char, 4096> buf_{};
  http::RequestParser parser_;
  bool done_ = false;
  bool continued_ = false;
};

}  // namespace

void async_read_request(std::unique_ptr<Stream> stream, std::chrono::milliseconds timeout,
                        std::function<void(std::error_code, IncomingRequestPtr, std::string)> handler) {
  auto reader = std::make_shared<RequestReader>(std::move(stream), timeout, std::move(handler));
  reader->start();
}

void async_read_next_request(std::unique_ptr<Stream> stream, std::string buffered, std::chrono::milliseconds timeout,
                             std::function<void(std::error_code, IncomingRequestPtr, std::string)> handler) {
  auto reader = std::make_shared<RequestReader>(std::move(stream), timeout, std::move(handler));
  reader->start_continued(std::move(buffered));
}

void async_accept_upgrade(IncomingRequestPtr request, const http::Headers& extra, WebSocket::Options options,
                          std::function<void(std::error_code, std::shared_ptr<WebSocket>)> handler) {
  const std::string* key = request->head.headers.find("Sec-WebSocket-Key");
  auto response = std::make_shared<std::string>(
      http::build_upgrade_response(http::websocket_accept_key(key ? *key : std::string()), extra));
  Stream& stream = *request->stream;
  stream.async_write(asio::buffer(*response), [request, response, options, handler = std::move(handler)](
                                                  std::error_code ec, std::size_t) {
    if (ec) {
      request->stream->close();
      return handler(ec, nullptr);
    }
    auto ws = std::make_shared<WebSocket>(std::move(request->stream), ws::Role::server, std::move(request->leftover),
                                          options);
    handler({}, std::move(ws));
  });
}

namespace {

// After an error response: stop sending, then read until the peer closes (or a short deadline). Closing with unread
// input would send a RST that can destroy the response before the client reads it.
struct Lingerer : std::enable_shared_from_this<Lingerer> {
  explicit Lingerer(IncomingRequestPtr r) : request(std::move(r)), timer(request->stream->get_executor()) {}
  void start() {
    request->stream->shutdown_send();
    timer.expires_after(std::chrono::seconds(2));
    timer.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->request->stream->close();
    });
    drain();
  }
  void drain() {
    request->stream->async_read_some(asio::buffer(sink), [self = shared_from_this()](std::error_code ec, std::size_t) {
      if (!ec) return self->drain();
      self->timer.cancel();
      self->request->stream->close();
    });
  }
  IncomingRequestPtr request;
  asio::steady_timer timer;
  std::array<char, 1024> sink{};
};

}  // namespace

void async_reject(IncomingRequestPtr request, int status, std::string_view reason, std::function<void()> done) {
  async_respond(std::move(request), http::build_response(status, reason), std::move(done));
}

void async_respond(IncomingRequestPtr request, std::string response_bytes, std::function<void()> done) {
  auto response = std::make_shared<std::string>(std::move(response_bytes));
  Stream& stream = *request->stream;
  stream.async_write(asio::buffer(*response), [request, response, done = std::move(done)](std::error_code ec, std::size_t) {
    if (ec) request->stream->close();
    else std::make_shared<Lingerer>(request)->start();
    if (done) done();
  });
}

}  // namespace net
