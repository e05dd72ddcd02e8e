#include "net/no_proxy.hpp"

#include "hc/url.hpp"
#include "net/address.hpp"

#include <array>
#include <cctype>

namespace net {
namespace {

std::string normalise_host(std::string_view host) {
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return hc::ascii_lower(host);
}

bool parse_ip(const std::string& text, asio::ip::address& out) {
  std::error_code ec;
  out = asio::ip::make_address(text, ec);
  if (ec) return false;
  if (out.is_v6() && out.to_v6().is_v4_mapped()) out = asio::ip::make_address_v4(asio::ip::v4_mapped, out.to_v6());
  return true;
}

bool in_network(const asio::ip::address& ip, const asio::ip::address& net, unsigned prefix) {
  if (ip.is_v4() != net.is_v4()) return false;
  std::array<unsigned char, 16> a{}, b{};
  std::size_t size = 4;
  if (ip.is_v4()) {
    const auto x = ip.to_v4().to_bytes(), y = net.to_v4().to_bytes();
    std::copy(x.begin(), x.end(), a.begin());
    std::copy(y.begin(), y.end(), b.begin());
  } else {
    a = ip.to_v6().to_bytes();
    b = net.to_v6().to_bytes();
    size = 16;
  }
  for (std::size_t i = 0; i < size && prefix > 0; ++i) {
    const unsigned bits = prefix >= 8 ? 8 : prefix;
    const unsigned char mask = static_cast<unsigned char>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) return false;
    prefix -= bits;
  }
  return true;
}

// Splits "host:port" / "[v6]:port"; a bare IPv6 literal (several ':') has no port.
hc::Result<std::pair<std::string_view, uint16_t>> split_port(std::string_view text) {
  const auto colon = text.rfind(':');
  const bool bracketed = !text.empty() && text.front() == '[';
  if (colon == std::string_view::npos || (!bracketed && text.find(':') != colon) ||
      (bracketed && (colon == 0 || text[colon - 1] != ']')))
    return std::make_pair(text, uint16_t{0});
  auto port = parse_port(text.substr(colon + 1));
  if (!port) return hc::fail(port.error());
  return std::make_pair(text.substr(0, colon), port.value());
}

}  // namespace

hc::Result<NoProxy::Entry> NoProxy::parse_entry(std::string_view text) {
  Entry e;
  if (text == "*") {
    e.kind = Entry::Kind::any;
    e.text = "*";
    return e;
  }
  const auto slash = text.find('/');
  if (slash != std::string_view::npos) {
    const std::string prefix_text(text.substr(slash + 1));
    auto prefix = parse_port(prefix_text, true);  // digits only, small number
    if (!parse_ip(normalise_host(text.substr(0, slash)), e.address) || !prefix ||
        prefix.value() > (e.address.is_v4() ? 32u : 128u))
      return hc::fail("no-proxy entry " + hc::quote_for_message(text) + " is not a valid CIDR block");
    e.kind = Entry::Kind::network;
    e.prefix = prefix.value();
    e.text = e.address.to_string() + "/" + std::to_string(e.prefix);
    return e;
  }
  auto split = split_port(text);
  if (!split) return hc::fail("no-proxy entry " + hc::quote_for_message(text) + ": " + split.error());
  std::string_view host = split->first;
  e.port = split->second;
  if (host.size() >= 2 && host.substr(0, 2) == "*.") host.remove_prefix(1);  // "*.example.com" = ".example.com"
  while (!host.empty() && host.front() == '.') host.remove_prefix(1);       // union: the domain and its subdomains
  e.domain = normalise_host(host);
  // Anything but an IP address must be a DNS name (letters, digits, '-', '_', '.'): stray ':' (".example.com::"),
  // IPv6 zone ids ("fd00::%8", an interface of this host) and the like can never match a relay host and did not print
  // back the same (found by fuzz_proxy).
  // Brackets only ever enclose an IPv6 address ("[.example]" is no name).
  const bool bracketed = !host.empty() && host.front() == '[';
  const bool is_address = !e.domain.empty() && parse_ip(e.domain, e.address);
  if (is_address && e.domain.find('%') == std::string::npos) {
    e.kind = Entry::Kind::address;
  } else if (bracketed || e.domain.empty() || e.domain.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                              "0123456789-_.") != std::string::npos) {
    return hc::fail("no-proxy entry " + hc::quote_for_message(text) + " is not a host, domain, address or CIDR block");
  }
  e.text = (e.kind == Entry::Kind::address ? host_for_url(e.address.to_string()) : e.domain) +
           (e.port ? ":" + std::to_string(e.port) : "");
  return e;
}

hc::Result<NoProxy> NoProxy::parse(std::string_view list) {
  NoProxy out;
  std::size_t i = 0;
  while (i < list.size()) {
    const auto end = list.find_first_of(", \t\r\n", i);
    const std::string_view item = list.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
    i = end == std::string_view::npos ? list.size() : end + 1;
    if (item.empty()) continue;
    auto entry = parse_entry(item);
    if (!entry) return hc::fail(entry.error());
    out.entries_.push_back(std::move(entry.value()));
  }
  return out;
}

bool NoProxy::entry_matches(const Entry& e, const std::string& host, const asio::ip::address* ip, uint16_t port) {
  if (e.port != 0 && e.port != port) return false;
  switch (e.kind) {
    case Entry::Kind::any: return true;
    case Entry::Kind::address: return ip && *ip == e.address;
    case Entry::Kind::network: return ip && in_network(*ip, e.address, e.prefix);
    case Entry::Kind::domain:
      if (host == e.domain) return true;
      if (ip) return false;  // "0.1" is no domain of "10.0.0.1"

      return host.size() > e.domain.size() && host.compare(host.size() - e.domain.size(), e.domain.size(), e.domain) == 0 &&
             host[host.size() - e.domain.size() - 1] == '.';
  }
  return false;
}

bool NoProxy::matches(std::string_view host, uint16_t port) const {
  const std::string h = normalise_host(host);
  asio::ip::address ip;
  const bool is_ip = parse_ip(h, ip);
  for (const auto& e : entries_) {
    if (entry_matches(e, h, is_ip ? &ip : nullptr, port)) return true;
  }
  return false;
}

std::string NoProxy::to_string() const {
  std::string out;
  for (const auto& e : entries_) out += (out.empty() ? "" : ",") + e.text;
  return out;
}

}  // namespace net
