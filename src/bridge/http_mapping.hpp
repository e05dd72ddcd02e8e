// The rules by which a published web server (-H) sees an HTTP request that came through the relay, and by which the
// relay sees its answer (docs/security.md, "Published web servers"). Pure functions: no I/O.
#pragma once

#include "hc/control_message.hpp"
#include "hc/result.hpp"
#include "net/http_head.hpp"

#include <string>
#include <string_view>

namespace bridge {

// The request target for the web server: base_path + what follows the HC name in the relay's request target, kept
// byte-exact (nothing is unescaped), plus the query as it came. The HC name is matched case-insensitively and only as
// a whole segment ("/api" does not match "/apiv2"). Refused (the error is the 400 text): a target that does not start
// with "/<hc>", holds spaces, controls or '#', or a remainder that could leave the base path or name another host:
// "//" or "/\" at its start (also percent-encoded: "/%2F", "%5C"), or a "." or ".." segment (also "%2e").
hc::Result<std::string> map_request_target(std::string_view hc, std::string_view base_path, std::string_view request_target);

struct ForwardedFor {
  std::string target_authority;  // Host for the web server ("host" or "host:port")
  bool preserve_host = false;    // keep the sender's Host instead
  std::string remote_address;    // the sender as the relay saw it ("" when the relay did not say)
  std::string proto;             // what the sender spoke to the relay: "https" (Azure) or "http"
};

// The request's headers as the web server gets them: hop-by-hop headers (Connection and those it names, Keep-Alive,
// Proxy-Connection, Proxy-Authorization, TE, Trailer, Transfer-Encoding, Upgrade, Expect), framing (Content-Length),
// relay credentials (ServiceBusAuthorization) and the sender's own Forwarded/X-Forwarded-* are dropped; Host,
// X-Forwarded-For/-Proto/-Host are set and "1.1 hcbridge" is appended to Via. Framing headers are the caller's.
net::http::Headers map_request_headers(const hc::HeaderList& in, const ForwardedFor& fwd);

// The web server's response headers as the relay gets them: hop-by-hop and framing headers dropped, repeats joined
// with ", " (the response message holds one string per name), "1.1 hcbridge" appended to Via.
hc::HeaderList map_response_headers(const net::http::Headers& in);

// Whether a response to `method` with `status` has a body at all (HEAD, 1xx, 204, 304 have none).
bool response_has_body(std::string_view method, int status);

}  // namespace bridge
