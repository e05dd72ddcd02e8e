#include "net/http_request.hpp"

#include "hc/url.hpp"
#include "net/stream.hpp"
#include "net/dialer.hpp"
#include "net/tls.hpp"

namespace net {

namespace {

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

std::optional<std::string> decode_chunked(std::string_view body) {
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) return std::nullopt;
    std::string_view size_text = body.substr(pos, eol - pos);
    size_text = size_text.substr(0, size_text.find(';'));
    if (size_text.empty() || size_text.size() > 8) return std::nullopt;
    std::size_t size = 0;
    for (char c : size_text) {
      const int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (v < 0) return std::nullopt;
      size = size * 16 + static_cast<std::size_t>(v);
    }
    pos = eol + 2;
    if (size == 0) return out;  // trailers, if any, are ignored
    if (body.size() < pos + size + 2 || body.substr(pos + size, 2) != "\r\n") return std::nullopt;
    out.append(body.substr(pos, size));
    pos += size + 2;
  }
}

std::shared_ptr<HttpRequest> HttpRequest::start(asio::io_context& io, HttpRequestOptions options, HttpHandler handler) {
  auto request = std::make_shared<HttpRequest>(io, std::move(options), std::move(handler));
  request->do_connect();
  return request;
}

HttpRequest::HttpRequest(asio::io_context& io, HttpRequestOptions options, HttpHandler handler)
    : io_(io), options_(std::move(options)), handler_(std::move(handler)), timer_(io) {}

void HttpRequest::cancel() {
  asio::post(io_, [self = shared_from_this()] { self->finish(asio::error::operation_aborted, "cancelled"); });
}

void HttpRequest::do_connect() {
  auto uri = hc::parse_uri(options_.url);
  std::string problem;
  if (!uri) problem = uri.error();
  else if (uri->scheme != "http" && uri->scheme != "https") problem = "the URL must be http:// or https://";
  else if (uri->tls() && !options_.tls) problem = "https URL but no TLS context";
  for (const auto& h : options_.headers.list)
    if (has_line_break(h.name) || has_line_break(h.value)) problem = "a request header contains a line break";
  if (!problem.empty()) {
    return asio::post(io_, [self = shared_from_this(), problem] { self->finish(make_error_code(std::errc::invalid_argument), problem); });
  }
  host_ = uri->host;
  port_ = uri->port;
  tls_ = uri->tls();
  target_ = uri->target();
  authority_ = uri->authority();
  timer_.expires_after(options_.timeout);
  timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec) self->finish(asio::error::timed_out, "no complete answer within " + std::to_string(self->options_.timeout.count()) + " ms");
  });
  // Through the proxy when the policy names one for this host (NO_PROXY honoured there); direct otherwise.
  async_dial(io_, host_, port_, DialOptions{options_.proxy, options_.timeout},
             [self = shared_from_this()](std::error_code ec, asio::ip::tcp::socket s, std::string detail) {
               self->on_connect(ec, std::move(s), std::move(detail));
             });
}

void HttpRequest::on_connect(std::error_code ec, asio::ip::tcp::socket socket, std::string detail) {
  if (done_) return;
  if (ec) return finish(ec, "cannot connect to " + authority_ + ": " + (detail.empty() ? ec.message() : detail));
  if (!tls_) {
    stream_ = std::make_unique<Stream>(std::move(socket));
    return do_write();
  }
  stream_ = std::make_unique<Stream>(std::move(socket), *options_.tls);
  auto prepared = prepare_client_tls(stream_->tls()->native_handle(), host_, port_);
  if (!prepared) return finish(make_error_code(std::errc::protocol_error), prepared.error());
  stream_->tls()->async_handshake(asio::ssl::stream_base::client,
                                  [self = shared_from_this()](std::error_code e) { self->on_handshake(e); });
}

void HttpRequest::on_handshake(std::error_code ec) {
  if (done_) return;
  if (ec) return finish(ec, "TLS handshake with " + host_ + " failed: " + ec.message());
  do_write();
}

void HttpRequest::do_write() {
  request_ = options_.method + " " + target_ + " HTTP/1.1\r\nHost: " + authority_ + "\r\n";
  for (const auto& h : options_.headers.list) request_ += h.name + ": " + h.value + "\r\n";
  if (!options_.body.empty() || options_.method == "POST")
    request_ += "Content-Length: " + std::to_string(options_.body.size()) + "\r\n";
  request_ += "Connection: close\r\n\r\n" + options_.body;
  stream_->async_write(asio::buffer(request_),
                       [self = shared_from_this()](std::error_code ec, std::size_t) { self->on_write(ec); });
}

void HttpRequest::on_write(std::error_code ec) {
  if (done_) return;
  if (ec) return finish(ec, "cannot send the request to " + authority_ + ": " + ec.message());
  do_read();
}

void HttpRequest::do_read() {
  stream_->async_read_some(asio::buffer(rbuf_),
                           [self = shared_from_this()](std::error_code ec, std::size_t n) { self->on_read(ec, n); });
}

bool HttpRequest::body_complete() const { return content_length_ && body_.size() >= *content_length_; }

void HttpRequest::on_read(std::error_code ec, std::size_t n) {
  if (done_) return;
  const bool eof = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
  if (ec && !eof) return finish(ec, "connection to " + authority_ + " lost: " + ec.message());
  std::size_t consumed = 0;
  if (parser_.status() == http::ParseStatus::need_more && n > 0) {
    if (parser_.feed(rbuf_.data(), n, consumed) == http::ParseStatus::bad)
      return finish(make_error_code(std::errc::protocol_error), "bad HTTP answer from " + authority_ + ": " + parser_.error());
    if (parser_.status() == http::ParseStatus::good) {
      const auto& headers = parser_.head().headers;
      chunked_ = http::header_has_token(headers, "Transfer-Encoding", "chunked");
      if (const std::string* cl = headers.find("Content-Length"); cl && !chunked_) {
        try {
          content_length_ = static_cast<std::size_t>(std::stoull(*cl));
        } catch (...) {
          return finish(make_error_code(std::errc::protocol_error), "bad Content-Length from " + authority_);
        }
      }
    }
  }
  body_.append(rbuf_.data() + consumed, n - consumed);
  if (body_.size() > options_.max_response || (content_length_ && *content_length_ > options_.max_response))
    return finish(make_error_code(std::errc::message_size), "the answer from " + authority_ + " is larger than " +
                                                                std::to_string(options_.max_response) + " bytes");
  if (parser_.status() == http::ParseStatus::good && (body_complete() || (eof && !content_length_))) return finish({}, {});
  if (eof) return finish(make_error_code(std::errc::connection_reset), "connection to " + authority_ + " closed mid-answer");
  do_read();
}

void HttpRequest::finish(std::error_code ec, std::string problem) {
  if (done_) return;
  done_ = true;
  timer_.cancel();
  if (stream_) stream_->close();
  HttpResponse response;
  if (!ec) {
    response.status = parser_.head().status;
    response.reason = parser_.head().reason;
    response.headers = parser_.head().headers;
    if (chunked_) {
      auto decoded = decode_chunked(body_);
      if (!decoded) {
        ec = make_error_code(std::errc::protocol_error);
        problem = "bad chunked answer from " + authority_;
      } else {
        response.body = std::move(*decoded);
      }
    } else {
      response.body = content_length_ ? body_.substr(0, *content_length_) : std::move(body_);
    }
  }
  auto handler = std::move(handler_);
  handler(ec, std::move(response), std::move(problem));
}

}  // namespace net
