// The pure part of the HTTP/1.1 upgrade handshake (RFC 7230 head syntax, RFC 6455 section 4): incremental head
// parsers, the upgrade checks and serialisers. Heads come from the network and from untrusted peers, so parsing is
// strict (CRLF only, no folding, no control characters) and serialisers never emit a header that could inject
// another one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace net::http {

struct Header {
  std::string name;
  std::string value;
};

struct Headers {
  std::vector<Header> list;
  // Case-insensitive, first match, nullptr if absent.
  const std::string* find(std::string_view name) const;
  void add(std::string name, std::string value);
};

struct RequestHead {
  std::string method;
  std::string target;
  int version_minor = 1;
  Headers headers;
};

struct ResponseHead {
  int status = 0;
  std::string reason;
  int version_minor = 1;
  Headers headers;
};

enum class ParseStatus { need_more, good, bad };

constexpr std::size_t kMaxHeadSize = 16 * 1024;
constexpr std::size_t kMaxHeaders = 100;

namespace detail {
// Collects head bytes up to the blank line, rejecting bad bytes as they arrive so a hostile peer is dropped early.
class HeadCollector {
 public:
  HeadCollector(std::size_t max_size, const char* too_large) : max_size_(max_size), too_large_(too_large) {}
  // Returns good once the blank line is in text(); `consumed` counts the bytes of this call that were taken.
  ParseStatus feed(const char* data, std::size_t size, std::size_t& consumed, std::string& error);
  const std::string& text() const { return buf_; }

 private:
  std::size_t max_size_;
  const char* too_large_;
  std::string buf_;
  std::size_t line_len_ = 0;
  char prev_ = 0;
};
}  // namespace detail

// Incremental parsers for an HTTP/1.1 head: feed() the bytes as they arrive. `consumed` says how many bytes of this
// call belong to the head; bytes after it are WebSocket data and are left alone. Once good or bad, further calls
// return the same status with consumed = 0. Line ends must be CRLF.
class RequestParser {
 public:
  explicit RequestParser(std::size_t max_size = kMaxHeadSize);
  ParseStatus feed(const char* data, std::size_t size, std::size_t& consumed);
  const RequestHead& head() const { return head_; }
  const std::string& error() const { return error_; }
  ParseStatus status() const { return status_; }

 private:
  detail::HeadCollector collector_;
  ParseStatus status_ = ParseStatus::need_more;
  RequestHead head_;
  std::string error_;
};

class ResponseParser {
 public:
  explicit ResponseParser(std::size_t max_size = kMaxHeadSize);
  ParseStatus feed(const char* data, std::size_t size, std::size_t& consumed);
  const ResponseHead& head() const { return head_; }
  const std::string& error() const { return error_; }
  ParseStatus status() const { return status_; }

 private:
  detail::HeadCollector collector_;
  ParseStatus status_ = ParseStatus::need_more;
  std::size_t prefix_seen_ = 0;   // bytes of "HTTP/1." checked so far
  std::size_t prefix_limit_ = 0;  // how many to check: all 7, or fewer when the head limit is smaller
  ResponseHead head_;
  std::string error_;
};

// base64(sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), RFC 6455 4.2.2.
std::string websocket_accept_key(std::string_view client_key);
// base64 of 16 random bytes, RFC 6455 4.1.
std::string new_websocket_key();

// True when any comma-separated element of any `name` header equals `token` (case-insensitive).
bool header_has_token(const Headers& headers, std::string_view name, std::string_view token);

// HTTP persistence (RFC 9112 9.3): "Connection: close" ends it; otherwise HTTP/1.1 keeps the connection, HTTP/1.0
// only with "Connection: keep-alive".
bool request_keeps_alive(const RequestHead& head);

// Returns "" when the request is a valid WebSocket upgrade, otherwise a short reason such as
// "missing Upgrade: websocket header".
std::string check_upgrade_request(const RequestHead& head);
// Same for a client checking the server's answer to a request that carried `sent_key`.
std::string check_upgrade_response(const ResponseHead& head, std::string_view sent_key);

// Serialisers. A header whose name is not a token or whose value holds a control character (CR and LF above all)
// is dropped, never emitted: that is what stops header injection. `extra` headers that would duplicate one the
// serialiser writes itself are dropped too.
std::string build_upgrade_request(std::string_view host, std::string_view target, std::string_view key,
                                  const Headers& extra);
// 101 Switching Protocols.
std::string build_upgrade_response(std::string_view accept_key, const Headers& extra);
// Non-101 answer (401, 403, 404, 410...). The reason phrase has CR/LF/control characters replaced by spaces and is
// capped at 512 bytes; the head carries Content-Length and "Connection: close". A status outside 100-999 becomes 500.
std::string build_response(int status, std::string_view reason, const Headers& extra = {}, std::string_view body = {});

// A request head for a proxied request: "METHOD TARGET HTTP/1.1", then `headers` in order (the caller's framing
// headers included), then the blank line. An unsafe header is dropped as above and the target is percent-encoded where
// it holds spaces or controls; the caller checks the method with is_token_text.
std::string build_request_head(std::string_view method, std::string_view target, const Headers& headers);
// An RFC 7230 token (methods, header names).
bool is_token_text(std::string_view s);

// Splits a request target "/path?query" into its raw path and raw query (without the '?').
std::pair<std::string, std::string> split_target(std::string_view target);

}  // namespace net::http
