// The pure part of HTTP/1.1 message bodies (RFC 9112 section 6-7): which framing a request uses, and an incremental
// decoder for chunked transfer coding. Bodies come from untrusted senders, so sizes are bounded and anything odd
// (bad hex, missing CRLF, oversized chunk-size line or trailers) is `bad`, never guessed at.
#pragma once

#include "net/http_head.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace net::http {

enum class BodyFraming { none, length, chunked, invalid };

struct RequestFraming {
  BodyFraming framing = BodyFraming::none;
  uint64_t length = 0;  // with BodyFraming::length
  std::string problem;  // with BodyFraming::invalid
};

// Transfer-Encoding: chunked wins; any other transfer coding, or a Content-Length that is not one decimal number (or
// conflicting repeats), is invalid. No Content-Length and no Transfer-Encoding means no body (requests, RFC 9112 6.3).
RequestFraming request_framing(const Headers& headers);

// The same rules for an answer, where no framing header means the body runs to the close (RFC 9112 6.3): `none` is
// only that, and "Content-Length: 0" is `length` with length 0 (a request reads both as `none`).
RequestFraming response_framing(const Headers& headers);

// One chunk of chunked transfer coding: the size in hex, CRLF, `data`, CRLF (never the last, empty chunk: that is
// "0\r\n\r\n", written by whoever ends the body).
std::string chunk_encoded(std::string_view data);

// Decodes chunked transfer coding. feed() takes bytes as they arrive; the decoded payload of this call is appended to
// `out` and `consumed` says how many input bytes were used (bytes after the last chunk and trailers belong to the next
// message). Returns good once the last chunk and the trailers are read, bad on malformed input (see error()).
class ChunkedDecoder {
 public:
  ParseStatus feed(const char* data, std::size_t size, std::size_t& consumed, std::string& out);
  ParseStatus status() const { return status_; }
  const std::string& error() const { return error_; }

 private:
  enum class State { size, size_ext, size_lf, data, data_cr, data_lf, trailer, trailer_lf };
  ParseStatus fail(const char* why);

  State state_ = State::size;
  ParseStatus status_ = ParseStatus::need_more;
  uint64_t chunk_left_ = 0;
  std::size_t size_digits_ = 0;
  std::size_t line_len_ = 0;      // bytes of the current chunk-size or trailer line
  std::size_t trailer_bytes_ = 0;
  std::string error_;
};

}  // namespace net::http
