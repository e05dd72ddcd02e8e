// The HTTP proxy a dial may go through, as users write it (curl's and Go's conventions): "http://user:pass@host:port",
// "host:port" (no scheme means http://), userinfo percent-encoded UTF-8. Pure: no I/O.
#pragma once

#include "hc/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace net {

struct ProxyUrl {
  std::string host;  // lower-cased; IPv6 without brackets
  uint16_t port = 80;
  std::string user;      // percent-decoded; empty when there are no credentials
  std::string password;  // percent-decoded secret: never print it, use masked()
  bool has_credentials() const { return !user.empty() || !password.empty(); }
  // "http://host:port", or "http://user:***@host:port": the only form that may reach logs, errors or metrics.
  std::string masked() const;
  // "host:port" (IPv6 in brackets), for messages that name the proxy.
  std::string authority() const;
  // "Basic base64(user:password)" (RFC 7617, UTF-8), or "" without credentials.
  std::string basic_authorization() const;
};

// Errors name what is wrong without echoing the password. https:// (TLS to the proxy) and socks proxies are refused:
// only plain HTTP CONNECT proxies are supported (the tunnel through them still carries TLS to the relay).
hc::Result<ProxyUrl> parse_proxy_url(std::string_view text);

// Credentials kept off the command line: the first line of a file, "user:password" (not percent-encoded).
hc::Result<bool> apply_proxy_credentials(ProxyUrl& proxy, std::string_view file_text);

}  // namespace net
