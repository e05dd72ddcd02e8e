#include "net/address.hpp"

#include <algorithm>
#include <cctype>

namespace net {

hc::Result<uint16_t> parse_port(std::string_view text, bool allow_zero) {
  if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return hc::fail("invalid port '" + std::string(text) + "' (expected a number from " + (allow_zero ? "0" : "1") +
                    " to 65535)");
  const unsigned long v = std::stoul(std::string(text));
  if (v > 65535 || (v == 0 && !allow_zero))
    return hc::fail("invalid port '" + std::string(text) + "' (expected a number from " + (allow_zero ? "0" : "1") +
                    " to 65535)");
  return static_cast<uint16_t>(v);
}

hc::Result<HostPort> parse_host_port(std::string_view text, bool allow_zero) {
  HostPort hp;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return hc::fail("'" + std::string(text) + "': missing ']' after IPv6 address");
    hp.host = std::string(text.substr(1, close - 1));
    if (close + 1 >= text.size() || text[close + 1] != ':')
      return hc::fail("'" + std::string(text) + "': expected ':port' after ']'");
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return hc::fail("'" + std::string(text) + "': expected host:port");
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.find(':') != std::string::npos)
      return hc::fail("'" + std::string(text) + "': put IPv6 addresses in brackets, e.g. [::1]:8080");
    port_text = text.substr(colon + 1);
  }
  if (hp.host.empty()) return hc::fail("'" + std::string(text) + "': empty host");
  auto port = parse_port(port_text, allow_zero);
  if (!port) return hc::fail("'" + std::string(text) + "': " + port.error());
  hp.port = port.value();
  return hp;
}

std::string host_for_url(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace net
