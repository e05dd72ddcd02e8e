// Pure helpers of the relay: what a request path and query ask for, and the service's error texts.
#pragma once

#include "hc/result.hpp"
#include "hc/url.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace relay {

enum class Action { listen, connect, accept, request };

struct HcRequest {
  Action action = Action::connect;
  std::string path;   // decoded path after "/$hc/", e.g. "myhc/api" (no leading '/')
  std::vector<hc::QueryParam> query;
  std::string app_query;  // the raw query minus every sb-hc-* pair (reference 1.1), forwarded to the listener
  std::string id;         // sb-hc-id, "" when absent
  std::string token;      // sb-hc-token, "" when absent
};

// Parses "/$hc/{path}?{query}". Error texts are what the relay answers with 400/404.
hc::Result<HcRequest> parse_hc_request(const std::string& target);

// Lower-cases an HC path for registry lookups (names are case-insensitive).
std::string hc_key(const std::string& path);

// Longest prefix of `path`, on a '/' boundary, for which `has_hc` is true. Empty when none.
template <class Pred>
std::string longest_hc_prefix(const std::string& path, Pred has_hc) {
  std::string best;
  for (std::size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      const std::string candidate = path.substr(0, i);
      if (!candidate.empty() && has_hc(candidate)) best = candidate;
    }
  }
  return best;
}

// "<text>. TrackingId:<id>, SystemTracker:sb://<ns>/<path>, Timestamp:<utc>" as the service phrases errors.
std::string service_error_text(const std::string& text, const std::string& tracking_id, const std::string& ns_host,
                               const std::string& path);

// The JSON body of service-generated HTTP errors: {"error":{"code":"<code>","message":"<message>"}} (reference 5.3).
std::string http_error_body(const std::string& code, const std::string& message);

// Host header -> host (lower-case, no brackets) and port (0 when absent).
std::pair<std::string, uint16_t> split_host_header(const std::string& host_header);

}  // namespace relay
