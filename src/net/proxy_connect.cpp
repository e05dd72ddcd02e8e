#include "net/proxy_connect.hpp"

#include "hc/url.hpp"
#include "net/address.hpp"

#include <cctype>
#include <vector>

#ifndef HCBRIDGE_VERSION
#define HCBRIDGE_VERSION "0.1.0"
#endif

namespace net {
namespace {

class ProxyCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "proxy"; }
  std::string message(int e) const override {
    switch (static_cast<ProxyError>(e)) {
      case ProxyError::unreachable: return "proxy unreachable";
      case ProxyError::timeout: return "proxy did not answer in time";
      case ProxyError::auth_required: return "proxy requires authentication";
      case ProxyError::auth_rejected: return "proxy rejected the credentials";
      case ProxyError::auth_unsupported: return "proxy offers no authentication scheme hcbridge speaks";
      case ProxyError::forbidden: return "proxy refused the target by policy";
      case ProxyError::upstream_failed: return "proxy could not reach the target";
      case ProxyError::refused: return "proxy refused the CONNECT";
      case ProxyError::bad_response: return "invalid answer from the proxy";
    }
    return "proxy error";
  }
};

bool has_control(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// The scheme names a proxy offers: the first token of each Proxy-Authenticate / WWW-Authenticate challenge.
std::vector<std::string> offered_schemes(const http::Headers& headers) {
  std::vector<std::string> out;
  for (const auto& h : headers.list) {
    if (!hc::iequals(h.name, "Proxy-Authenticate") && !hc::iequals(h.name, "WWW-Authenticate")) continue;
    std::size_t i = 0;
    while (i < h.value.size()) {
      const auto comma = h.value.find(',', i);
      std::string_view item(h.value.data() + i, (comma == std::string::npos ? h.value.size() : comma) - i);
      i = comma == std::string::npos ? h.value.size() : comma + 1;
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      const auto space = item.find(' ');
      const std::string_view token = item.substr(0, space);
      // "realm=x" after a comma is a parameter of the previous challenge, not a scheme.
      if (token.empty() || token.find('=') != std::string_view::npos) continue;
      bool plain = token.size() <= 24;
      for (char c : token) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
      out.push_back(plain ? std::string(token) : hc::quote_for_message(token, 24));
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none named" : out;
}

ConnectVerdict judge_auth(const http::ResponseHead& head, const std::string& prefix, bool sent_credentials) {
  const auto schemes = offered_schemes(head.headers);
  bool basic = schemes.empty();  // no challenge at all: Basic is the only thing worth trying
  for (const auto& s : schemes) basic = basic || hc::iequals(s, "Basic");
  if (!basic)
    return {ProxyError::auth_unsupported,
            prefix + "wants authentication hcbridge does not speak (offers: " + join(schemes) +
                "); for NTLM/Negotiate proxies run a local helper such as cntlm and point the proxy setting at it"};
  if (sent_credentials)
    return {ProxyError::auth_rejected, prefix + "rejected the proxy credentials (offers: " + join(schemes) +
                                           "); check the user and password in the proxy URL or credentials file"};
  return {ProxyError::auth_required, prefix + "requires authentication (offers: " + join(schemes) +
                                         "); give credentials in the proxy URL or proxy.credentials_file"};
}

}  // namespace

const std::error_category& proxy_category() {
  static ProxyCategory category;
  return category;
}

const char* proxy_error_word(std::error_code ec) {
  if (ec.category() != proxy_category()) return "";
  switch (static_cast<ProxyError>(ec.value())) {
    case ProxyError::unreachable: return "proxy_unreachable";
    case ProxyError::timeout: return "proxy_timeout";
    case ProxyError::auth_required: return "proxy_auth_required";
    case ProxyError::auth_rejected: return "proxy_auth_rejected";
    case ProxyError::auth_unsupported: return "proxy_auth_unsupported";
    case ProxyError::forbidden: return "proxy_forbidden";
    case ProxyError::upstream_failed: return "proxy_upstream_failed";
    case ProxyError::refused: return "proxy_refused";
    case ProxyError::bad_response: return "proxy_bad_response";
  }
  return "proxy_error";
}

std::string build_connect_request(std::string_view host, uint16_t port, std::string_view authorization) {
  const std::string authority = has_control(host) ? std::string("invalid") : host_for_url(std::string(host)) + ":" + std::to_string(port);
  std::string out = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (!authorization.empty() && !has_control(authorization))
    out += "Proxy-Authorization: " + std::string(authorization) + "\r\n";
  out += "User-Agent: hcbridge/" HCBRIDGE_VERSION "\r\n\r\n";
  return out;
}

ConnectVerdict judge_connect_response(const http::ResponseHead& head, std::string_view proxy, std::string_view target,
                                      bool sent_credentials) {
  if (head.status >= 200 && head.status <= 299) return {};
  const std::string answer = std::to_string(head.status) + " " + hc::quote_for_message(head.reason, 60);
  const std::string prefix = "proxy " + std::string(proxy) + " answered " + answer + " to CONNECT " +
                             std::string(target) + ": it ";
  if (head.status == 407 || head.status == 401) return judge_auth(head, prefix, sent_credentials);
  if (head.status == 403)
    return {ProxyError::forbidden, prefix + "refuses this target by policy (ACL or allowed ports); ask the proxy's "
                                            "administrators to allow it or add the host to the no-proxy list"};
  if (head.status >= 500)
    return {ProxyError::upstream_failed, prefix + "could not reach the target (will retry)"};
  return {ProxyError::refused, prefix + "refused the tunnel"};
}

}  // namespace net
