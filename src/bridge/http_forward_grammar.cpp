#include "bridge/http_forward_grammar.hpp"

#include "bridge/forward_grammar.hpp"
#include "hc/url.hpp"

#include <string>

namespace bridge {
namespace {

constexpr const char* kHttpSyntax =
    "expected hc:{http|https}/host[/base/path][:port], e.g. web:http/localhost:8080 or web:https/app.internal/api:8443";

std::string q(std::string_view s) { return hc::quote_for_message(s, 120); }

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

hc::Result<HttpTarget> parse_http_target_url(std::string_view url) {
  auto uri = hc::parse_uri(url);
  if (!uri) return hc::fail(q(url) + ": " + uri.error());
  if (uri->scheme != "http" && uri->scheme != "https")
    return hc::fail(q(url) + ": the web server's URL must start with http:// or https://");
  if (!uri->query.empty() || url.find('?') != std::string_view::npos)
    return hc::fail(q(url) + ": the web server's URL takes no query");
  if (!valid_host(uri->host)) return hc::fail(q(url) + ": " + q(uri->host) + " is not a valid host name or IP address");
  HttpTarget t;
  t.tls = uri->tls();
  t.host = uri->host;
  t.port = uri->port;
  t.base_path = uri->path;
  while (!t.base_path.empty() && t.base_path.back() == '/') t.base_path.pop_back();
  return t;
}

hc::Result<RemoteForward> parse_http_forward(std::string_view expr) {
  const std::size_t colon = expr.find(':');
  if (colon == std::string_view::npos) return hc::fail(q(expr) + ": missing ':' after the hc name; " + kHttpSyntax);
  RemoteForward f;
  f.hc = std::string(expr.substr(0, colon));
  if (!valid_hc_name(f.hc))
    return hc::fail(q(expr) + ": hybrid connection name " + q(f.hc) + " is invalid: " + hc_name_problem(f.hc));
  std::string_view rest = expr.substr(colon + 1);
  const std::size_t slash = rest.find('/');
  const std::string_view scheme = rest.substr(0, slash);
  if (slash == std::string_view::npos || (scheme != "http" && scheme != "https"))
    return hc::fail(q(expr) + ": the target must start with http/ or https/; " + kHttpSyntax);
  rest.remove_prefix(slash + 1);
  // azbridge's place for the port: after the path ("host/api:8080"). Move it after the host, where a URL has it.
  std::string_view port;
  const std::size_t last_colon = rest.rfind(':');
  const std::size_t path_start = rest.find('/', rest.empty() || rest.front() != '[' ? 0 : rest.find(']'));
  if (last_colon != std::string_view::npos && path_start != std::string_view::npos && last_colon > path_start) {
    port = rest.substr(last_colon + 1);
    if (!all_digits(port)) return hc::fail(q(expr) + ": " + q(port) + " is not a port number (expected 1-65535)");
    rest = rest.substr(0, last_colon);
  }
  std::string url = std::string(scheme) + "://";
  if (path_start == std::string_view::npos) {
    url.append(rest);
  } else {
    url.append(rest.substr(0, path_start));
    if (!port.empty()) url.append(":").append(port);
    url.append(rest.substr(path_start));
  }
  auto target = parse_http_target_url(url);
  if (!target) return hc::fail(q(expr) + ": " + target.error());
  f.http = std::move(target.value());
  return f;
}

}  // namespace bridge
