#include "relay/routing.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace relay {
namespace {

bool starts_with_ci(const std::string& s, const std::string& prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) return false;
  return true;
}

}  // namespace

hc::Result<HcRequest> parse_hc_request(const std::string& target) {
  const auto q = target.find('?');
  const std::string raw_path = target.substr(0, q);
  const std::string raw_query = q == std::string::npos ? std::string() : target.substr(q + 1);
  const std::string path = hc::url_decode(raw_path, false);
  if (!starts_with_ci(path, "/$hc/")) return hc::fail("Endpoint does not exist");
  HcRequest r;
  r.path = path.substr(5);
  while (!r.path.empty() && r.path.back() == '/') r.path.pop_back();
  if (r.path.empty()) return hc::fail("Endpoint does not exist");
  r.query = hc::parse_query(raw_query);
  const auto action = hc::find_param(r.query, "sb-hc-action");
  if (!action || *action == "connect") {
    r.action = Action::connect;  // the service treats a missing action as connect
  } else if (*action == "listen") {
    r.action = Action::listen;
  } else if (*action == "accept") {
    r.action = Action::accept;
  } else if (*action == "request") {
    r.action = Action::request;  // a listener dialling the rendezvous of an HTTP request
  } else {
    return hc::fail("Invalid sb-hc-action '" + *action + "'");
  }
  r.id = hc::find_param(r.query, "sb-hc-id").value_or("");
  r.token = hc::find_param(r.query, "sb-hc-token").value_or("");
  // Keep the application's own query, drop protocol pairs: a key starting with sb-hc- AND having '=' is removed.
  std::string app;
  std::size_t start = 0;
  while (start <= raw_query.size() && !raw_query.empty()) {
    const auto amp = raw_query.find('&', start);
    const std::string pair = raw_query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    const bool protocol = starts_with_ci(pair, "sb-hc-") && pair.find('=') != std::string::npos;
    if (!pair.empty() && !protocol) {
      if (!app.empty()) app += '&';
      app += pair;
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  r.app_query = app;
  return r;
}

std::string hc_key(const std::string& path) {
  std::string k = path;
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return k;
}

std::string service_error_text(const std::string& text, const std::string& tracking_id, const std::string& ns_host,
                               const std::string& path) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = text;
  if (!out.empty() && out.back() != '.') out += '.';
  out += " TrackingId:" + tracking_id + ", SystemTracker:sb://" + ns_host + "/" + path + ", Timestamp:" + ts;
  return out;
}

std::string http_error_body(const std::string& code, const std::string& message) {
  std::string out = "{\"error\":{\"code\":\"";
  for (const std::string* field : {&code, &message}) {
    for (char c : *field) {
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) out += c;  // control characters never reach the JSON
    }
    out += field == &code ? "\",\"message\":\"" : "\"}}";
  }
  return out;
}

std::pair<std::string, uint16_t> split_host_header(const std::string& host_header) {
  std::string host = host_header;
  uint16_t port = 0;
  std::size_t colon = std::string::npos;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close != std::string::npos) {
      if (close + 1 < host.size() && host[close + 1] == ':') colon = close + 1;
      host = host_header.substr(1, close - 1);
    }
  } else {
    colon = host.rfind(':');
    if (colon != std::string::npos) host = host_header.substr(0, colon);
  }
  if (colon != std::string::npos) {
    const std::string p = host_header.substr(colon + 1);
    if (!p.empty() && p.size() <= 5 && std::all_of(p.begin(), p.end(), ::isdigit)) {
      const unsigned long v = std::stoul(p);
      if (v > 0 && v < 65536) port = static_cast<uint16_t>(v);
    }
  }
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return {host, port};
}

}  // namespace relay
