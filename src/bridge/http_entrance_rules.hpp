// The rules of a local HTTP entrance (-L http:PORT:hc): how a local client's request becomes an HC HTTP request to
// the relay, and how the relay's answer goes back to the client. Pure functions and a pure body copier: no I/O.
#pragma once

#include "hc/result.hpp"
#include "net/http_body.hpp"
#include "net/http_head.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bridge {

// The relay's request target: "/<hc>" followed by the client's target as it came (origin-form, byte-exact; no path
// prefix: an HC name may itself hold '/', so "hc/prefix" could not be told apart). Refused with the 400 text: a target
// that is not origin-form ("*", "http://host/x"), or holds spaces, controls or '#'.
hc::Result<std::string> entrance_request_target(std::string_view hc, std::string_view client_target);

// The request's headers for the relay: the client's end-to-end headers, without hop-by-hop headers (Connection and
// those it names, Keep-Alive, Proxy-*, TE, Trailer, Upgrade, Expect) and without any relay credential the client sent
// (ServiceBusAuthorization; Authorization is kept: it is the web app's). Host is the relay's, the token is ours (none
// when `token` is empty), "1.1 hcbridge" is appended to Via, and the framing header is `framing`'s (the body is passed
// on as it came: Content-Length, or chunked).
net::http::Headers entrance_request_headers(const net::http::Headers& in, const net::http::RequestFraming& framing,
                                            std::string_view relay_authority, std::string_view token);

// Whether the client asked for "100 Continue" before it sends the body.
bool expects_continue(const net::http::RequestHead& head);

// How a response body is framed on one side: none (HEAD, 204, 304), a known length, chunked, or until the close.
enum class Framing { none, length, chunked, until_close };

// The framing of the relay's answer to a request with `method`.
struct ResponseFraming {
  Framing framing = Framing::none;
  uint64_t length = 0;
  std::string problem;  // non-empty: the answer is malformed (conflicting lengths, an unknown transfer coding)
};
ResponseFraming relay_response_framing(std::string_view method, const net::http::ResponseHead& head);

// How the client gets the body: as the relay framed it when the client can read that; a body that ends at the close
// is re-framed as chunked for an HTTP/1.1 client (so its connection stays usable); an HTTP/1.0 client gets chunked
// bodies decoded and the connection closed after them.
Framing client_framing(Framing relay, int client_version_minor);

// The response head for the client: the relay's status, reason and end-to-end headers, then our framing header and
// "Connection: close" when `close`. Headers that would be unsafe to write are dropped.
std::string entrance_response_head(const net::http::ResponseHead& relay, Framing out, uint64_t length, bool close);

// A short plain-text answer of our own (502, 504, 400...), with Content-Length, and "Connection: close" when `close`.
std::string entrance_error_response(int status, std::string_view text, bool close);

// Copies one message body from one side to the other as it arrives, in pieces, finding where it ends: a known length,
// the last chunk (chunked coding is validated on the way), or the close. It re-frames where `out` differs from `in`
// (until_close -> chunked: each piece becomes a chunk; chunked -> until_close: decoded). Bytes after the end are left
// unconsumed (they belong to the next message).
class BodyCopier {
 public:
  BodyCopier(Framing in, uint64_t length, Framing out);
  // Takes what it can of `data`, appends what the other side gets to `out` and says how much of `data` it used.
  // good: the body is complete; bad: malformed chunked coding (error()).
  net::http::ParseStatus feed(const char* data, std::size_t size, std::size_t& consumed, std::string& out);
  // The connection ended: for a body that ends at the close, what is still to send (the last chunk) and good; for any
  // other unfinished body, bad.
  net::http::ParseStatus end_of_input(std::string& out);
  bool done() const { return status_ == net::http::ParseStatus::good; }
  const std::string& error() const { return error_; }
  // The body's own bytes so far (without chunked coding), for logs and metrics.
  uint64_t payload() const { return payload_; }

 private:
  Framing in_, out_;
  uint64_t left_ = 0;
  uint64_t payload_ = 0;
  net::http::ChunkedDecoder chunks_;
  std::string scratch_;
  net::http::ParseStatus status_ = net::http::ParseStatus::need_more;
  std::string error_;
};

}  // namespace bridge
