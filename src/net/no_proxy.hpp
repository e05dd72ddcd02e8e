// The proxy bypass list (NO_PROXY), as the union of the forms curl, Go and .NET accept, so a value written for any of
// them works here: "*" (everything), "example.com" / ".example.com" / "*.example.com" (the domain and its
// subdomains), IPv4/IPv6 literals and CIDR blocks ("10.0.0.0/8", "fd00::/8"), and "host:port" / "[v6]:port" (only
// that port). Entries are separated by commas or whitespace; matching is case-insensitive and ignores a trailing dot.
// Loopback is not bypassed unless listed. Pure: no I/O.
#pragma once

#include "hc/result.hpp"

#include <asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace net {

class NoProxy {
 public:
  // An entry that cannot mean anything (a bad CIDR prefix, a bad port) is an error naming it.
  static hc::Result<NoProxy> parse(std::string_view list);

  // True when a dial to host:port must not use the proxy. `host` as dialled: a name or an IP literal.
  bool matches(std::string_view host, uint16_t port) const;
  bool empty() const { return entries_.empty(); }
  // The entries, normalised, comma-separated (for check-config).
  std::string to_string() const;

 private:
  struct Entry {
    enum class Kind { any, domain, address, network } kind = Kind::domain;
    std::string domain;  // lower-case, no leading/trailing dot (Kind::domain)
    asio::ip::address address;  // Kind::address and Kind::network
    unsigned prefix = 0;        // Kind::network
    uint16_t port = 0;          // 0 = any port
    std::string text;           // normalised, for to_string()
  };
  static hc::Result<Entry> parse_entry(std::string_view text);
  static bool entry_matches(const Entry& e, const std::string& host, const asio::ip::address* ip, uint16_t port);
  std::vector<Entry> entries_;
};

}  // namespace net
