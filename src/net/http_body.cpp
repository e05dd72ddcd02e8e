#include "net/http_body.hpp"

#include "hc/url.hpp"

#include <cstdio>

namespace net::http {
namespace {

constexpr std::size_t kMaxSizeLine = 1024;     // chunk size plus extensions
constexpr std::size_t kMaxTrailers = 16 * 1024;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_length(const std::string& text, uint64_t& out) {
  if (text.empty() || text.size() > 18) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::string chunk_encoded(std::string_view data) {
  char size[20];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out(size, static_cast<std::size_t>(n));
  out.append(data).append("\r\n");
  return out;
}

RequestFraming request_framing(const Headers& headers) {
  RequestFraming f = response_framing(headers);
  if (f.framing == BodyFraming::length && f.length == 0) f.framing = BodyFraming::none;
  return f;
}

RequestFraming response_framing(const Headers& headers) {
  RequestFraming f;
  const std::string* te = headers.find("Transfer-Encoding");
  if (te) {
    if (!hc::iequals(*te, "chunked")) return {BodyFraming::invalid, 0, "unsupported Transfer-Encoding"};
    f.framing = BodyFraming::chunked;
    return f;
  }
  bool seen = false;
  for (const auto& h : headers.list) {
    if (!hc::iequals(h.name, "Content-Length")) continue;
    uint64_t n = 0;
    if (!parse_length(h.value, n)) return {BodyFraming::invalid, 0, "bad Content-Length"};
    if (seen && n != f.length) return {BodyFraming::invalid, 0, "conflicting Content-Length headers"};
    seen = true;
    f.length = n;
  }
  f.framing = seen ? BodyFraming::length : BodyFraming::none;
  return f;
}

ParseStatus ChunkedDecoder::fail(const char* why) {
  error_ = why;
  status_ = ParseStatus::bad;
  return status_;
}

ParseStatus ChunkedDecoder::feed(const char* data, std::size_t size, std::size_t& consumed, std::string& out) {
  consumed = 0;
  while (status_ == ParseStatus::need_more && consumed < size) {
    const char c = data[consumed];
    if (state_ == State::data) {
      const std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(chunk_left_, size - consumed));
      out.append(data + consumed, take);
      consumed += take;
      chunk_left_ -= take;
      if (chunk_left_ == 0) state_ = State::data_cr;
      continue;
    }
    ++consumed;
    if (state_ == State::size || state_ == State::size_ext) {
      if (++line_len_ > kMaxSizeLine) return fail("chunk-size line too long");
      if (c == '\r') {
        if (size_digits_ == 0) return fail("missing chunk size");
        state_ = State::size_lf;
      } else if (state_ == State::size_ext) {
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return fail("control character in chunk extension");
      } else if (c == ';' || c == ' ' || c == '\t') {
        if (size_digits_ == 0) return fail("missing chunk size");
        state_ = State::size_ext;
      } else {
        const int v = hex_value(c);
        if (v < 0) return fail("bad chunk size");
        if (++size_digits_ > 15) return fail("chunk size too large");
        chunk_left_ = chunk_left_ * 16 + static_cast<uint64_t>(v);
      }
    } else if (state_ == State::size_lf) {
      if (c != '\n') return fail("chunk-size line not ended by CRLF");
      line_len_ = 0;
      size_digits_ = 0;
      state_ = chunk_left_ == 0 ? State::trailer : State::data;
    } else if (state_ == State::data_cr) {
      if (c != '\r') return fail("chunk data not followed by CRLF");
      state_ = State::data_lf;
    } else if (state_ == State::data_lf) {
      if (c != '\n') return fail("chunk data not followed by CRLF");
      state_ = State::size;
    } else if (state_ == State::trailer) {
      if (++trailer_bytes_ > kMaxTrailers) return fail("trailers too large");
      if (c == '\r') {
        state_ = State::trailer_lf;
      } else {
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return fail("control character in trailer");
        ++line_len_;
      }
    } else {  // trailer_lf
      if (c != '\n') return fail("trailer line not ended by CRLF");
      if (line_len_ == 0) status_ = ParseStatus::good;  // the empty line after the trailers
      line_len_ = 0;
      state_ = State::trailer;
    }
  }
  return status_;
}

}  // namespace net::http
