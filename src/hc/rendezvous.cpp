#include "hc/rendezvous.hpp"

#include <algorithm>
#include <cctype>

namespace hc {
namespace {

bool is_ip_literal(const std::string& host) {
  if (host.find(':') != std::string::npos) return true;  // IPv6
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<Uri> check_rendezvous_address(const Uri& relay, std::string_view address) {
  auto parsed = parse_uri(address);
  if (!parsed) return fail("rendezvous address is not a valid URI: " + parsed.error());
  const Uri& a = parsed.value();
  if (a.scheme != "ws" && a.scheme != "wss") return fail("rendezvous address has scheme '" + a.scheme + "', expected ws or wss");
  if (relay.tls() && a.scheme != "wss") return fail("rendezvous address downgrades to plain ws:// from a TLS relay");
  const uint16_t relay_port = relay.port;
  if (a.port != relay_port)
    return fail("rendezvous address port " + std::to_string(a.port) + " differs from the relay's port " + std::to_string(relay_port));
  if (a.host == relay.host) return parsed;
  if (!is_ip_literal(relay.host) && std::count(relay.host.begin(), relay.host.end(), '.') >= 2) {
    const std::string parent = relay.host.substr(relay.host.find('.'));  // ".servicebus.windows.net"
    if (ends_with(a.host, parent) && a.host.size() > parent.size()) return parsed;
  }
  return fail("rendezvous host '" + a.host + "' is neither the relay host '" + relay.host + "' nor in its domain");
}

}  // namespace hc
