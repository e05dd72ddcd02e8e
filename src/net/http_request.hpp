// One HTTP/1.1 request over TCP or TLS with a deadline and a cap on the answer: what the daemon's token flows need
// (Entra token endpoint, IMDS, Arc, App Service). TLS is verified like the relay's (the context comes from
// make_client_tls_context: system store, SSL_CERT_FILE, --ca-file). One request per connection ("Connection: close"),
// so the answer ends at Content-Length or at the peer's close; chunked answers are decoded.
#pragma once

#include "net/http_head.hpp"
#include "net/proxy_policy.hpp"
#include "net/stream.hpp"

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace net {

struct HttpRequestOptions {
  std::string method = "GET";
  std::string url;                          // http:// or https://
  http::Headers headers;                    // no Host, Content-Length or Connection: they are set here
  std::string body;
  std::chrono::milliseconds timeout{10000};  // the whole exchange
  std::size_t max_response = 64 * 1024;      // head plus body
  std::shared_ptr<asio::ssl::context> tls;   // required for https://
  std::shared_ptr<const ProxyPolicy> proxy;  // null: direct (IMDS, Arc and App Service never use one)
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  http::Headers headers;
  std::string body;
};

// `problem` says what went wrong (never the request's headers or body, which may carry secrets).
using HttpHandler = std::function<void(std::error_code, HttpResponse, std::string problem)>;

class HttpRequest : public std::enable_shared_from_this<HttpRequest> {
 public:
  static std::shared_ptr<HttpRequest> start(asio::io_context& io, HttpRequestOptions options, HttpHandler handler);
  // The handler then runs with operation_aborted (unless it already ran).
  void cancel();

  HttpRequest(asio::io_context& io, HttpRequestOptions options, HttpHandler handler);

 private:
  void do_connect();
  void on_connect(std::error_code ec, asio::ip::tcp::socket socket, std::string detail);
  void on_handshake(std::error_code ec);
  void do_write();
  void on_write(std::error_code ec);
  void do_read();
  void on_read(std::error_code ec, std::size_t n);
  bool body_complete() const;
  void finish(std::error_code ec, std::string problem);

  asio::io_context& io_;
  HttpRequestOptions options_;
  HttpHandler handler_;
  std::string host_, target_, authority_;
  uint16_t port_ = 0;
  bool tls_ = false;
  asio::steady_timer timer_;
  std::unique_ptr<Stream> stream_;
  std::string request_;
  std::array<char, 4096> rbuf_{};
  http::ResponseParser parser_;
  std::string body_;
  std::optional<std::size_t> content_length_;
  bool chunked_ = false;
  bool done_ = false;
};

// The payload of a complete chunked body (RFC 7230 4.1; extensions and trailers ignored); nullopt when malformed or
// incomplete. Pure.
std::optional<std::string> decode_chunked(std::string_view body);

}  // namespace net
