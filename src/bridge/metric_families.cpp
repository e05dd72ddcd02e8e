#include "bridge/metric_families.hpp"

#include "bridge/datagram_tunnel.hpp"
#include "bridge/tunnel.hpp"

#include <initializer_list>

namespace bridge {
namespace {

using Words = std::initializer_list<const char*>;

// The fixed words the forwarders count with (keep in step with them and with docs/operations.md).
constexpr Words kReconnectReasons = {"unauthorized",    "not_found",         "refused",         "connect_failed",
                                     "closed_by_relay", "keepalive_timeout", "connection_lost", "bad_message",
                                     // net::proxy_error_word(): dials through an HTTP proxy
                                     "proxy_unreachable", "proxy_timeout", "proxy_auth_required", "proxy_auth_rejected",
                                     "proxy_auth_unsupported", "proxy_forbidden", "proxy_upstream_failed",
                                     "proxy_refused", "proxy_bad_response"};
constexpr Words kLocalFailures = {"no_listener",      "relay_refused",   "relay_unreachable",
                                  "preamble_refused", "preamble_failed", "limit", "no_token",
                                  "proxy_unreachable", "proxy_timeout", "proxy_auth_required", "proxy_auth_rejected",
                                  "proxy_auth_unsupported", "proxy_forbidden", "proxy_upstream_failed",
                                  "proxy_refused", "proxy_bad_response"};
constexpr Words kRemoteFailures = {"target_unreachable", "unknown_port_name",      "bad_preamble", "preamble_failed",
                                   "rendezvous_failed",  "bad_rendezvous_address", "limit"};
constexpr Words kDroppedMessages = {"too_many_requests", "malformed"};
constexpr Words kDirections = {"to_relay", "from_relay"};
constexpr Words kResults = {"ok", "failed"};
constexpr Words kStatusClasses = {"1xx", "2xx", "3xx", "4xx", "5xx"};  // HttpProxyExchange's and HttpEntranceExchange's code label
constexpr Words kHttpAborts = {"relay_write_timeout", "relay_gone"};     // HttpProxyExchange::abort_answer

// One series per word, beside the forward label; `apply` is Metrics::declare or Metrics::remove_unused.
template <typename Apply>
void per_word(Apply apply, const char* family, const std::string& forward, const char* label, Words words) {
  for (const char* w : words) apply(family, ops::Labels{{"forward", forward}, {label, w}});
}

// Calls apply(family, labels) for every series of a forward that is known in advance.
template <typename Apply>
void for_each_forward_series(const std::string& forward, ForwardSide side, Apply apply) {
  const ops::Labels just_forward{{"forward", forward}};
  for (const char* family : {"hcbridge_forward_up", "hcbridge_tunnels_opened_total", "hcbridge_tunnels_open",
                             "hcbridge_tunnel_setup_seconds"})
    apply(family, just_forward);
  for (const CloseKind kind : kAllCloseKinds)
    apply("hcbridge_tunnels_closed_total", ops::Labels{{"forward", forward}, {"reason", close_kind_name(kind)}});
  per_word(apply, "hcbridge_tunnels_failed_total", forward, "reason",
           side == ForwardSide::local ? kLocalFailures : kRemoteFailures);
  per_word(apply, "hcbridge_bytes_total", forward, "direction", kDirections);
  per_word(apply, "hcbridge_backpressure_stalls_total", forward, "direction", kDirections);
  // UDP: declared for every forward (the kind of each binding may change on a reload; a TCP-only forward's stay 0).
  for (const char* family : {"hcbridge_udp_routes_open", "hcbridge_udp_routes_opened_total"}) apply(family, just_forward);
  for (const CloseKind kind : kAllCloseKinds)
    apply("hcbridge_udp_routes_closed_total", ops::Labels{{"forward", forward}, {"reason", close_kind_name(kind)}});
  per_word(apply, "hcbridge_datagrams_total", forward, "direction", kDirections);
  for (const DropReason reason : kAllDropReasons)
    apply("hcbridge_datagrams_dropped_total", ops::Labels{{"forward", forward}, {"reason", drop_reason_name(reason)}});
  // HTTP requests: a remote forward's published web server (-H) and a local forward's HTTP entrance (declared for
  // every forward, as UDP: a binding may become HTTP on a reload).
  per_word(apply, "hcbridge_http_requests_total", forward, "code", kStatusClasses);
  apply("hcbridge_http_request_seconds", just_forward);
  per_word(apply, "hcbridge_http_bytes_total", forward, "direction", kDirections);
  if (side == ForwardSide::local) return;
  apply("hcbridge_control_channel_up", just_forward);
  per_word(apply, "hcbridge_http_aborted_total", forward, "reason", kHttpAborts);  // -H only
  per_word(apply, "hcbridge_control_channel_reconnects_total", forward, "reason", kReconnectReasons);
  per_word(apply, "hcbridge_token_renewals_total", forward, "result", kResults);
  per_word(apply, "hcbridge_control_messages_dropped_total", forward, "reason", kDroppedMessages);
}

}  // namespace

void describe_metric_families(ops::Metrics& m) {
  m.describe_gauge("hcbridge_build_info", "Always 1; the version is a label.");
  m.describe_gauge("hcbridge_start_time_seconds", "Start time of the process, seconds since the epoch.");
  m.describe_gauge("hcbridge_forward_up", "1 when the forward is up (bound, or control channel connected).");
  m.describe_counter("hcbridge_config_reloads_total", "Configuration reloads, by result.");
  m.describe_gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  m.describe_gauge("process_open_fds", "Number of open file descriptors.");
  m.describe_gauge("process_max_fds", "Maximum number of open file descriptors (the soft RLIMIT_NOFILE).");
  m.describe_gauge("hcbridge_control_channel_up", "1 when the forward's control channel is connected, else 0.");
  m.describe_counter("hcbridge_control_channel_reconnects_total", "Control-channel reconnects, per forward and reason.");
  m.describe_counter("hcbridge_token_renewals_total", "renewToken messages sent, per forward and result.");
  m.describe_counter("hcbridge_control_messages_dropped_total",
                     "Control messages from the relay not acted on, per forward and reason.");
  m.describe_gauge("hcbridge_token_expiry_seconds",
                   "Unix time at which the current Entra ID token expires, per credential kind (0 before the first).");
  m.describe_counter("hcbridge_token_fetches_total", "Entra ID token fetches, per credential kind and result.");
  // Fixed label words, exported from the first scrape (EntraTokenSource uses the same words).
  for (const char* kind : {"client_secret", "client_certificate", "workload_identity", "managed_identity"}) {
    m.declare("hcbridge_token_expiry_seconds", {{"credential", kind}});
    for (const char* result : kResults) m.declare("hcbridge_token_fetches_total", {{"credential", kind}, {"result", result}});
  }
  m.describe_counter("hcbridge_tunnels_opened_total", "Tunnels opened, per forward.");
  m.describe_counter("hcbridge_tunnels_closed_total", "Tunnels closed, per forward and reason.");
  m.describe_counter("hcbridge_tunnels_failed_total", "Connections that could not be set up, per forward and reason.");
  m.describe_gauge("hcbridge_tunnels_open", "Tunnels open now, per forward.");
  m.describe_counter("hcbridge_bytes_total", "Bytes carried, per forward and direction (to_relay, from_relay).");
  m.describe_counter("hcbridge_backpressure_stalls_total",
                     "Writes that waited over 100 ms for the far side to drain, per forward and direction.");
  m.describe_gauge("hcbridge_udp_routes_open", "UDP routes (one rendezvous per client address) open now, per forward.");
  m.describe_counter("hcbridge_udp_routes_opened_total", "UDP routes opened, per forward.");
  m.describe_counter("hcbridge_udp_routes_closed_total", "UDP routes closed, per forward and reason.");
  m.describe_counter("hcbridge_datagrams_total", "UDP datagrams carried, per forward and direction (to_relay, from_relay).");
  m.describe_counter("hcbridge_datagrams_dropped_total", "UDP datagrams dropped, per forward and reason.");
  m.describe_histogram("hcbridge_tunnel_setup_seconds", "Time from a new connection to its tunnel carrying data, per forward.",
                       {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  m.describe_counter("hcbridge_http_requests_total",
                     "HTTP requests answered for a published web server (-H) or through a local HTTP entrance, per "
                     "forward and status class.");
  m.describe_histogram("hcbridge_http_request_seconds", "Time from an HTTP request to the end of its answer, per forward.",
                       {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
  m.describe_counter("hcbridge_http_bytes_total",
                     "HTTP body bytes of a published web server or a local HTTP entrance, per forward and direction "
                     "(to_relay, from_relay).");
  m.describe_counter("hcbridge_http_aborted_total",
                     "Streamed HTTP answers cut off because the relay stopped taking them, per forward and reason.");
  for (const char* result : kResults) m.declare("hcbridge_config_reloads_total", {{"result", result}});
}

void declare_forward_metrics(ops::Metrics& m, const std::string& forward, ForwardSide side) {
  for_each_forward_series(forward, side, [&m](const char* family, const ops::Labels& labels) { m.declare(family, labels); });
}

void forget_forward_metrics(ops::Metrics& m, const std::string& forward, ForwardSide side) {
  m.remove("hcbridge_forward_up", {{"forward", forward}});
  if (side == ForwardSide::remote) m.remove("hcbridge_control_channel_up", {{"forward", forward}});
  for_each_forward_series(forward, side,
                          [&m](const char* family, const ops::Labels& labels) { m.remove_unused(family, labels); });
}

}  // namespace bridge
