#include "net/http_head.hpp"

#include "hc/crypto.hpp"
#include "hc/url.hpp"  // iequals

#include <algorithm>
#include <initializer_list>

namespace net::http {

namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::size_t kMaxReasonSize = 512;

using hc::iequals;

bool is_ctl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7F;
}

// RFC 7230 3.2.6 tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses "HTTP/1.x"; returns "" or the error text.
std::string parse_version(std::string_view v, int& minor) {
  const bool shaped = v.size() == 8 && v.substr(0, 5) == "HTTP/" && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
                      v[7] >= '0' && v[7] <= '9';
  if (!shaped) return "malformed HTTP version";
  if (v[5] != '1') return "not HTTP/1.x";
  minor = v[7] - '0';
  return {};
}

// Splits the collected head (which ends in CRLF CRLF and has no bare CR or LF) into its start line and headers.
std::string parse_fields(std::string_view text, std::string_view& start_line, Headers& headers) {
  std::size_t pos = text.find("\r\n");
  start_line = text.substr(0, pos);
  pos += 2;
  for (;;) {
    const std::size_t end = text.find("\r\n", pos);
    // A head of just "\r\n" has no blank line after the (empty) start line.
    if (end == std::string_view::npos) return {};
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) return {};
    // Folding is how requests get smuggled past proxies that unfold differently (RFC 7230 3.2.4).
    if (line.front() == ' ' || line.front() == '\t') return "obsolete line folding";
    if (headers.list.size() >= kMaxHeaders) return "too many headers";
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return "header line without ':'";
    const std::string_view name = line.substr(0, colon);
    if (name.empty()) return "empty header name";
    if (name.find_first_of(" \t") != std::string_view::npos) return "whitespace in header name";
    if (!is_token(name)) return "invalid header name";
    headers.add(std::string(name), std::string(trim_ows(line.substr(colon + 1))));
  }
}

std::string parse_request(std::string_view text, RequestHead& head) {
  std::string_view line;
  if (auto err = parse_fields(text, line, head.headers); !err.empty()) return err;
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return "malformed request line";
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return "malformed request line";
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!is_token(method) || target.empty()) return "malformed request line";
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return "malformed request line";
  }
  if (auto err = parse_version(line.substr(sp2 + 1), head.version_minor); !err.empty()) return err;
  head.method = std::string(method);
  head.target = std::string(target);
  return {};
}

std::string parse_response(std::string_view text, ResponseHead& head) {
  std::string_view line;
  if (auto err = parse_fields(text, line, head.headers); !err.empty()) return err;
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return "malformed status line";
  if (auto err = parse_version(line.substr(0, sp1), head.version_minor); !err.empty()) return err;
  const std::string_view rest = line.substr(sp1 + 1);
  if (rest.size() < 3) return "malformed status line";
  int status = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    if (rest[i] < '0' || rest[i] > '9') return "malformed status line";
    status = status * 10 + (rest[i] - '0');
  }
  if (status < 100) return "malformed status line";
  // RFC 7230 wants "SP reason-phrase" even when the phrase is empty, but some servers omit the space.
  if (rest.size() > 3 && rest[3] != ' ') return "malformed status line";
  head.status = status;
  head.reason = rest.size() > 4 ? std::string(rest.substr(4)) : std::string();
  return {};
}

bool is_safe_value(std::string_view value) {
  for (char c : value) {
    if (is_ctl(c) && c != '\t') return false;
  }
  return true;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  if (!is_token(name) || !is_safe_value(value)) return;
  out.append(name).append(": ").append(value).append("\r\n");
}

void append_extra(std::string& out, const Headers& extra, std::initializer_list<std::string_view> reserved) {
  for (const Header& h : extra.list) {
    bool clash = false;
    for (std::string_view r : reserved) clash = clash || iequals(h.name, r);
    if (!clash) append_header(out, h.name, h.value);
  }
}

// Percent-encodes what may not appear in a request-target, so a stray space or CRLF cannot break the request line.
std::string encode_target(std::string_view target) {
  if (target.empty()) return "/";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(target.size());
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// "HTTP/1.1 STATUS REASON\r\n" with the reason capped at kMaxReasonSize and controls turned into spaces; a status
// outside 100-999 becomes 500.
std::string status_line(int status, std::string_view reason) {
  if (status < 100 || status > 999) status = 500;
  std::size_t n = std::min(reason.size(), kMaxReasonSize);
  // Do not leave half a UTF-8 sequence at the end of the cut.
  while (n > 0 && n < reason.size() && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  for (char c : reason.substr(0, n)) out.push_back(is_ctl(c) ? ' ' : c);
  out.append("\r\n");
  return out;
}

}  // namespace

const std::string* Headers::find(std::string_view name) const {
  for (const Header& h : list) {
    if (iequals(h.name, name)) return &h.value;
  }
  return nullptr;
}

void Headers::add(std::string name, std::string value) { list.push_back(Header{std::move(name), std::move(value)}); }

namespace detail {

ParseStatus HeadCollector::feed(const char* data, std::size_t size, std::size_t& consumed, std::string& error) {
  auto fail = [&](std::size_t used, const char* why) {
    consumed = used;
    error = why;
    return ParseStatus::bad;
  };
  for (std::size_t i = 0; i < size; ++i) {
    if (buf_.size() >= max_size_) return fail(i, too_large_);
    const char c = data[i];
    buf_.push_back(c);
    // Bare CR and bare LF are where parsers disagree about line ends; disagreement is what smuggling exploits.
    if (prev_ == '\r' && c != '\n') return fail(i + 1, "CR not followed by LF");
    if (c == '\n') {
      if (prev_ != '\r') return fail(i + 1, "LF without CR");
      // The line just ended held only its CR: that is the blank line closing the head.
      if (line_len_ == 1) {
        consumed = i + 1;
        return ParseStatus::good;
      }
      line_len_ = 0;
    } else {
      if (c == '\0') return fail(i + 1, "NUL byte in head");
      if (is_ctl(c) && c != '\t' && c != '\r') return fail(i + 1, "control character in head");
      ++line_len_;
    }
    prev_ = c;
  }
  consumed = size;
  return ParseStatus::need_more;
}

}  // namespace detail

RequestParser::RequestParser(std::size_t max_size) : collector_(max_size, "request head too large") {}

ParseStatus RequestParser::feed(const char* data, std::size_t size, std::size_t& consumed) {
  consumed = 0;
  if (status_ != ParseStatus::need_more) return status_;
  status_ = collector_.feed(data, size, consumed, error_);
  if (status_ == ParseStatus::good) {
    error_ = parse_request(collector_.text(), head_);
    if (!error_.empty()) status_ = ParseStatus::bad;
  }
  return status_;
}

ResponseParser::ResponseParser(std::size_t max_size)
    : collector_(max_size, "response head too large"), prefix_limit_(std::min<std::size_t>(max_size, 7)) {}

ParseStatus ResponseParser::feed(const char* data, std::size_t size, std::size_t& consumed) {
  consumed = 0;
  if (status_ != ParseStatus::need_more) return status_;
  // Whatever is not an HTTP/1.x answer is refused at its first wrong byte, not at a blank line that a peer speaking
  // something else may never send. Checked before the collector, so every split of the input gives the same verdict.
  static constexpr std::string_view kPrefix = "HTTP/1.";  // prefix_limit_ is at most its size
  for (std::size_t i = 0; i < size && prefix_seen_ < prefix_limit_; ++i, ++prefix_seen_) {
    if (data[i] != kPrefix[prefix_seen_]) {
      consumed = i + 1;
      error_ = "not an HTTP/1.x response";
      return status_ = ParseStatus::bad;
    }
  }
  status_ = collector_.feed(data, size, consumed, error_);
  if (status_ == ParseStatus::good) {
    error_ = parse_response(collector_.text(), head_);
    if (!error_.empty()) status_ = ParseStatus::bad;
  }
  return status_;
}

std::string websocket_accept_key(std::string_view client_key) {
  std::string input(client_key);
  input.append(kWebSocketGuid);
  return hc::base64_encode(hc::sha1(input));
}

std::string new_websocket_key() {
  char bytes[16];
  hc::random_bytes(bytes, sizeof bytes);
  return hc::base64_encode(std::string_view(bytes, sizeof bytes));
}

bool request_keeps_alive(const RequestHead& head) {
  if (header_has_token(head.headers, "Connection", "close")) return false;
  return head.version_minor >= 1 || header_has_token(head.headers, "Connection", "keep-alive");
}

bool header_has_token(const Headers& headers, std::string_view name, std::string_view token) {
  for (const Header& h : headers.list) {
    if (!iequals(h.name, name)) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      if (iequals(trim_ows(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::string check_upgrade_request(const RequestHead& head) {
  if (head.method != "GET") return "method is not GET";
  if (head.version_minor < 1) return "HTTP version is not 1.1";
  if (!header_has_token(head.headers, "Upgrade", "websocket")) return "missing Upgrade: websocket header";
  if (!header_has_token(head.headers, "Connection", "upgrade")) return "missing Connection: Upgrade header";
  const std::string* version = head.headers.find("Sec-WebSocket-Version");
  if (version == nullptr) return "missing Sec-WebSocket-Version header";
  if (*version != "13") return "unsupported Sec-WebSocket-Version (need 13)";
  const std::string* key = head.headers.find("Sec-WebSocket-Key");
  if (key == nullptr) return "missing Sec-WebSocket-Key header";
  const auto decoded = hc::base64_decode(*key);
  if (!decoded || decoded->size() != 16) return "Sec-WebSocket-Key is not base64 of 16 bytes";
  return {};
}

std::string check_upgrade_response(const ResponseHead& head, std::string_view sent_key) {
  if (head.status != 101) return "expected status 101, got " + std::to_string(head.status);
  if (head.version_minor < 1) return "HTTP version is not 1.1";
  if (!header_has_token(head.headers, "Upgrade", "websocket")) return "missing Upgrade: websocket header";
  if (!header_has_token(head.headers, "Connection", "upgrade")) return "missing Connection: Upgrade header";
  const std::string* accept = head.headers.find("Sec-WebSocket-Accept");
  if (accept == nullptr) return "missing Sec-WebSocket-Accept header";
  if (*accept != websocket_accept_key(sent_key)) return "Sec-WebSocket-Accept does not match the key sent";
  // We never offer extensions (and reject RSV bits), so a server that picks one would break every frame.
  const std::string* extensions = head.headers.find("Sec-WebSocket-Extensions");
  if (extensions != nullptr && !extensions->empty()) return "server selected an extension that was not offered";
  return {};
}

std::string build_upgrade_request(std::string_view host, std::string_view target, std::string_view key,
                                  const Headers& extra) {
  std::string out;
  out.reserve(256);
  out.append("GET ").append(encode_target(target)).append(" HTTP/1.1\r\n");
  append_header(out, "Host", host);
  out.append("Upgrade: websocket\r\nConnection: Upgrade\r\n");
  append_header(out, "Sec-WebSocket-Key", key);
  out.append("Sec-WebSocket-Version: 13\r\n");
  append_extra(out, extra, {"Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"});
  out.append("\r\n");
  return out;
}

std::string build_upgrade_response(std::string_view accept_key, const Headers& extra) {
  std::string out = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  append_header(out, "Sec-WebSocket-Accept", accept_key);
  append_extra(out, extra, {"Upgrade", "Connection", "Sec-WebSocket-Accept"});
  out.append("\r\n");
  return out;
}

std::string build_response(int status, std::string_view reason, const Headers& extra, std::string_view body) {
  std::string out = status_line(status, reason);
  // We write the framing headers ourselves; a second Content-Length or Transfer-Encoding invites smuggling.
  append_extra(out, extra, {"Content-Length", "Transfer-Encoding", "Connection"});
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\nConnection: close\r\n\r\n");
  out.append(body);
  return out;
}

std::pair<std::string, std::string> split_target(std::string_view target) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return {std::string(target), std::string()};
  return {std::string(target.substr(0, q)), std::string(target.substr(q + 1))};
}

std::string build_request_head(std::string_view method, std::string_view target, const Headers& headers) {
  std::string out;
  out.reserve(512);
  out.append(method).append(" ").append(encode_target(target)).append(" HTTP/1.1\r\n");
  append_extra(out, headers, {});
  out.append("\r\n");
  return out;
}

bool is_token_text(std::string_view s) { return is_token(s); }

}  // namespace net::http
