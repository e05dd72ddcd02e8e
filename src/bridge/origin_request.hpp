// One HTTP/1.1 request to a published web server (-H), streamed both ways, in the shape of Asio's HTTP server
// `connection`: connect -> TLS handshake (https) -> write the head -> read the response head -> read the body on
// demand. The body is handed over as it is read (chunked coding decoded), one piece per read_body() call, so the
// caller's pace is the server's pace (backpressure) and memory stays at one read buffer. One request per connection
// ("Connection: close" is the caller's header), so a body without a length ends at the server's close.
#pragma once

#include "net/http_body.hpp"
#include "net/http_head.hpp"
#include "net/stream.hpp"
#include "net/tcp_connect.hpp"

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace bridge {

struct OriginOptions {
  std::string host;
  uint16_t port = 0;
  std::shared_ptr<asio::ssl::context> tls;  // set for https
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds response_timeout{55000};  // to the response head, and between body reads
};

// Why the web server gave no usable answer: `gateway_timeout` (504) or not (502); `problem` is for the log.
struct OriginFailure {
  bool gateway_timeout = false;
  std::string problem;
};

class OriginRequest : public std::enable_shared_from_this<OriginRequest> {
 public:
  using HeadHandler = std::function<void(const OriginFailure*)>;  // null: the head is in response()
  // `last` marks the end of the body; a failure ends it too (then `failure` is set).
  using BodyHandler = std::function<void(const OriginFailure* failure, std::string_view data, bool last)>;

  OriginRequest(asio::io_context& io, OriginOptions options);
  // Sends `head` (and whatever body bytes follow it in the same string) and reports the response head. `method`
  // decides whether the response has a body (HEAD has none).
  void start(std::string head, std::string method, HeadHandler handler);
  // More request body, written in order after the head; the handler runs once it is written.
  void write(std::string data, std::function<void(std::error_code)> handler);
  void read_body(BodyHandler handler);
  const net::http::ResponseHead& response() const { return parser_.head(); }
  // The body's length when the server said it (Content-Length), 0 when there is none (HEAD, 204, 304).
  std::optional<uint64_t> body_length() const { return body_length_; }
  void cancel();

 private:
  void do_connect();
  void on_connect(std::error_code ec, asio::ip::tcp::socket socket);
  void on_handshake(std::error_code ec);
  void do_write();
  void on_write(std::error_code ec);
  void do_read_head();
  void on_read_head(std::error_code ec, std::size_t n);
  bool take_head(std::size_t n);
  void do_read_body();
  void on_read_body(std::error_code ec, std::size_t n);
  bool decode(const char* data, std::size_t size);
  void arm_timer(const char* what);
  void fail(bool timeout, std::string problem);

  asio::io_context& io_;
  OriginOptions options_;
  std::string method_;
  HeadHandler head_handler_;
  BodyHandler body_handler_;
  asio::steady_timer timer_;
  std::shared_ptr<net::PendingDial> dial_;
  std::unique_ptr<net::Stream> stream_;
  struct Write {
    std::string data;
    std::function<void(std::error_code)> handler;
  };
  std::deque<Write> writes_;
  bool writing_ = false;
  bool connected_ = false;
  std::vector<char> rbuf_;
  net::http::ResponseParser parser_;
  std::string early_body_;  // body bytes that came with the head
  std::optional<uint64_t> body_length_;
  uint64_t body_left_ = 0;
  bool chunked_ = false;
  net::http::ChunkedDecoder chunks_;
  std::string decoded_;
  bool done_ = false;
};

}  // namespace bridge
