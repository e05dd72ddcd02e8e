// "host:port" as users type it: IPv4, a name, or an IPv6 literal in brackets ("[::1]:8080").
#pragma once

#include "hc/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace net {

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
};

// Port 0 is accepted only when allow_zero (let the system pick).
hc::Result<HostPort> parse_host_port(std::string_view text, bool allow_zero = false);
hc::Result<uint16_t> parse_port(std::string_view text, bool allow_zero = false);
// host for use in a URL or "host:port" text: brackets around IPv6 literals.
std::string host_for_url(const std::string& host);

}  // namespace net
