// The pure part of an HTTP CONNECT tunnel (RFC 9110 9.3.6): the request, and what the proxy's answer means. The answer
// head is read with http::ResponseParser (size-capped, incremental, leaves bytes after the head alone).
#pragma once

#include "net/http_head.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace net {

// Why a dial through a proxy failed. The enumerator names are the fixed reason words of metrics and /readyz
// (proxy_error_word()).
enum class ProxyError {
  unreachable = 1,    // TCP to the proxy failed
  timeout,            // the proxy did not answer the CONNECT in time
  auth_required,      // 407/401 and we sent no credentials
  auth_rejected,      // 407/401 although we sent credentials
  auth_unsupported,   // 407/401 offering only schemes we do not speak (NTLM, Negotiate...)
  forbidden,          // 403: the proxy's policy (ACL, allowed ports) refuses the target: a human must act
  upstream_failed,    // 5xx: the proxy could not reach the target (DNS, connect): transient
  refused,            // any other non-2xx answer
  bad_response,       // not HTTP, head too large, closed early, or bytes after the head before TLS
};
const std::error_category& proxy_category();
inline std::error_code make_error_code(ProxyError e) { return {static_cast<int>(e), proxy_category()}; }
// "proxy_auth_required", "proxy_forbidden"... for metrics labels; "" for an error of another category.
const char* proxy_error_word(std::error_code ec);

// "CONNECT host:port HTTP/1.1" with Host, User-Agent and, when `authorization` is not empty, Proxy-Authorization.
// IPv6 hosts in brackets. A host or authorization with control characters is never written (header injection).
std::string build_connect_request(std::string_view host, uint16_t port, std::string_view authorization);

struct ConnectVerdict {
  std::error_code error;  // empty: the tunnel is open
  std::string message;    // for logs; names the proxy (masked) and the target, never a credential
};
// Any 2xx opens the tunnel (Content-Length and Transfer-Encoding are ignored, RFC 9110 9.3.6). `proxy` is the masked
// name used in messages, `sent_credentials` whether the request carried Proxy-Authorization.
ConnectVerdict judge_connect_response(const http::ResponseHead& head, std::string_view proxy, std::string_view target,
                                      bool sent_credentials);

}  // namespace net

namespace std {
template <>
struct is_error_code_enum<net::ProxyError> : true_type {};
}  // namespace std
