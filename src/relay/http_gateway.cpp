#include "relay/http_gateway.hpp"

#include "hc/guid.hpp"
#include "hc/sas.hpp"
#include "hc/url.hpp"
#include "relay/control_channel.hpp"
#include "relay/entra_auth.hpp"
#include "relay/http_exchange.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace relay {
namespace {

constexpr std::size_t kControlBodyLimit = 64 * 1024;  // larger or unknown-length bodies go over a rendezvous
constexpr std::size_t kControlJsonLimit = 32 * 1024;
constexpr const char* kNoListeners = "There are no listeners connected for the endpoint";

// What the service drops from the sender's request before the listener sees it (reference 5.3), plus what only
// made sense on the sender's own connection (Expect: we answer 100-continue ourselves).
bool dropped_request_header(const std::string& name) {
  for (const char* h : {"connection", "content-length", "te", "trailer", "transfer-encoding", "upgrade", "keep-alive",
                        "proxy-connection", "expect", "servicebusauthorization"})
    if (hc::iequals(name, h)) return true;
  return false;
}

// The listener's copy of the request headers: repeats comma-joined, our hop added to Via.
hc::HeaderList listener_headers(const net::http::Headers& in, bool drop_authorization, const std::string& via) {
  hc::HeaderList out;
  bool via_seen = false;
  for (const auto& h : in.list) {
    if (dropped_request_header(h.name) || (drop_authorization && hc::iequals(h.name, "authorization"))) continue;
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& p) { return hc::iequals(p.first, h.name); });
    if (same != out.end()) {
      same->second += ", " + h.value;
      continue;
    }
    out.emplace_back(h.name, h.value);
  }
  for (auto& [name, value] : out) {
    if (!hc::iequals(name, "via")) continue;
    value += ", " + via;
    via_seen = true;
  }
  if (!via_seen) out.emplace_back("Via", via);
  return out;
}

}  // namespace

HttpGateway::HttpGateway(const RelayConfig& config, const Listeners& listeners, NextRequest next_request)
    : config_(config), listeners_(listeners), next_request_(std::move(next_request)) {}

HttpGateway::~HttpGateway() {
  alive_.reset();
  stop();
}

void HttpGateway::answer_error(const net::IncomingRequestPtr& request, int status, const char* code,
                               const std::string& message) {
  const std::string& target = request->head.target;
  spdlog::info("relay: http {} {} -> {} {}", request->head.method,
               target.substr(0, std::min<std::size_t>(target.find('?'), 200)), status, code);
  net::http::Headers extra;
  extra.add("Content-Type", "application/json; charset=utf-8");
  net::async_respond(request, net::http::build_response(status, message, extra, http_error_body(code, message)));
}

std::shared_ptr<ControlChannel> HttpGateway::pick_listener(const std::string& hc_name) {
  auto it = listeners_.find(hc_key(hc_name));
  if (it == listeners_.end()) return nullptr;
  std::vector<std::shared_ptr<ControlChannel>> open;
  for (const auto& c : it->second)
    if (per_listener_[c.get()] < config_.max_http_per_listener) open.push_back(c);
  if (open.empty()) return nullptr;
  std::uniform_int_distribution<std::size_t> pick(0, open.size() - 1);
  return open[pick(rng_)];
}

void HttpGateway::handle_request(const net::IncomingRequestPtr& request, bool tls) {
  const auto& head = request->head;
  if (head.target.empty() || head.target[0] != '/' || hc::iequals(head.method, "CONNECT"))
    return answer_error(request, 400, "BadRequest", "Only origin-form requests other than CONNECT are relayed");
  // The HTTP form has no "$hc" segment; parse it as if it had, to share the query rules of the WebSocket path.
  auto parsed = parse_hc_request("/$hc" + head.target);
  const std::string* host = head.headers.find("Host");
  const std::string ns_host = host ? split_host_header(*host).first : std::string();
  if (!parsed) return answer_error(request, 404, "EndpointNotFound", service_error_text(parsed.error(), hc::new_guid() + "_G0", ns_host, ""));
  const HcRequest& hcr = parsed.value();
  const std::string hc_name = longest_hc_prefix(hcr.path, [this](const std::string& p) { return listeners_.count(hc_key(p)) > 0; });
  const std::string tracking = (hcr.id.empty() ? hc::new_guid() : hcr.id) + "_G0";

  const std::string* header_token = head.headers.find("ServiceBusAuthorization");
  const std::string* authorization = head.headers.find("Authorization");
  const bool token_in_authorization = !header_token && hcr.token.empty() && authorization;
  if (!config_.no_auth) {
    const std::string token = header_token ? *header_token : !hcr.token.empty() ? hcr.token : authorization ? *authorization : "";
    // SAS, or (with --entra-jwks) an Entra ID token that must hold the Sender role: as for WebSocket senders.
    const auto check = authorize(config_.keys, config_.entra.get(), token, ns_host, hc_name.empty() ? hcr.path : hc_name,
                                 Action::connect, static_cast<int64_t>(std::time(nullptr)));
    if (!check.ok()) {
      const int status = auth_status(check);
      return answer_error(request, status, status == 403 ? "Forbidden" : "TokenMissingOrInvalid",
                          service_error_text(check.reason, tracking, ns_host, hcr.path));
    }
  }
  // 404 as for WebSocket senders (reference 4.3); the documentation's 502/503 for HTTP is contradictory.
  if (hc_name.empty()) return answer_error(request, 404, "EndpointNotFound", service_error_text(kNoListeners, tracking, ns_host, hcr.path));
  const auto framing = net::http::request_framing(head.headers);
  if (framing.framing == net::http::BodyFraming::invalid)
    return answer_error(request, 400, "BadRequest", "Invalid request body framing: " + framing.problem);
  auto listener = exchanges_.size() < config_.max_http_in_flight ? pick_listener(hc_name) : nullptr;
  if (!listener)
    return answer_error(request, 503, "ServerBusy", service_error_text("Too many requests in flight for the endpoint", tracking, ns_host, hcr.path));

  HttpExchangeSetup setup;
  setup.id = tracking + "_G1";
  setup.address = std::string(tls ? "wss" : "ws") + "://" + listener->accept_authority() + "/$hc/" +
                  hc::encode_hc_path(hc_name) + "?sb-hc-action=request&sb-hc-id=" + hc::url_encode(setup.id);
  setup.via = "1.1 " + (ns_host.empty() ? std::string("hcrelay") : ns_host);
  const std::string raw_path = net::http::split_target(head.target).first;
  setup.message.request_target = raw_path + (hcr.app_query.empty() ? "" : "?" + hcr.app_query);
  setup.message.method = head.method;
  // As the service: the sender's address, which a listener turns into X-Forwarded-For (hcbridge -H).
  setup.message.remote_address = request->peer.address().to_string();
  setup.message.remote_port = request->peer.port();
  setup.message.request_headers = listener_headers(head.headers, token_in_authorization, setup.via);
  setup.framing = framing;
  setup.expect_continue = head.headers.find("Expect") != nullptr;
  setup.timeout = config_.request_timeout;
  // Persistence as the request asks (RFC 9112 9.3); zero idle time turns it off.
  setup.http11 = head.version_minor >= 1;
  setup.keep_alive = config_.http_idle_timeout.count() > 0 && net::http::request_keeps_alive(head);
  const std::size_t json_size = hc::build_request_message(setup.message).size() + setup.address.size() + 64;
  const bool small = framing.framing == net::http::BodyFraming::none ||
                     (framing.framing == net::http::BodyFraming::length && framing.length <= kControlBodyLimit);
  setup.use_rendezvous = config_.http_path == RelayConfig::HttpPath::rendezvous ||
                         (config_.http_path == RelayConfig::HttpPath::automatic &&
                          (!small || setup.expect_continue || json_size > kControlJsonLimit)) ||
                         framing.framing == net::http::BodyFraming::chunked;

  spdlog::debug("relay: http {} {} for '{}' via {} to listener {}", setup.id, head.method, hc_name,
                setup.use_rendezvous ? "rendezvous" : "control channel", listener->id());
  const std::string id = setup.id;
  ++per_listener_[listener.get()];
  auto exchange = std::make_shared<HttpExchange>(
      request, std::move(setup), listener,
      [this, alive = std::weak_ptr<int>(alive_)](HttpExchange& x) {
        if (!alive.expired()) finished(x);
      },
      [this, alive = std::weak_ptr<int>(alive_)](net::IncomingRequestPtr sender) {
        if (alive.expired()) return sender->stream->close();
        keep(std::move(sender));
      });
  exchanges_[id] = exchange;
  exchange->start();
}

void HttpGateway::finished(HttpExchange& exchange) {
  auto it = per_listener_.find(exchange.listener());
  if (it != per_listener_.end() && --it->second == 0) per_listener_.erase(it);
  exchanges_.erase(exchange.id());
}

// The answer is out and the connection persists: wait (at most the idle timeout) for the next request, whose first
// bytes may already be in `leftover`. One request at a time per connection, so pipelined ones are answered in order.
void HttpGateway::keep(net::IncomingRequestPtr sender) {
  ++kept_;
  net::async_read_next_request(std::move(sender->stream), std::move(sender->leftover), config_.http_idle_timeout,
                               [this, alive = std::weak_ptr<int>(alive_)](std::error_code ec, net::IncomingRequestPtr next,
                                                                          std::string problem) {
                                 if (alive.expired()) return;
                                 --kept_;
                                 next_request_(ec, next, problem);
                               });
}

void HttpGateway::handle_rendezvous(const net::IncomingRequestPtr& request, const HcRequest& hcr,
                                    net::WebSocket::Options options) {
  auto it = exchanges_.find(hcr.id);
  if (it == exchanges_.end()) {
    // hyco-https has no error handler on this socket; a refusal crashes it. Only unknown ids get here.
    spdlog::info("relay: http rendezvous for unknown request {}", hcr.id);
    return net::async_reject(request, 404, "The request rendezvous address is invalid or has expired");
  }
  std::weak_ptr<HttpExchange> weak = it->second;
  net::async_accept_upgrade(request, {}, options, [weak](std::error_code ec, std::shared_ptr<net::WebSocket> ws) {
    auto exchange = weak.lock();
    if (ec || !exchange) {
      if (ws) ws->send_close(1001, "request gone");
      return;
    }
    exchange->on_rendezvous(std::move(ws));
  });
}

void HttpGateway::attach(ControlChannel& channel) {
  channel.set_response_handler([this, alive = std::weak_ptr<int>(alive_)](const hc::ResponseMessage& response, std::string body) {
    if (alive.expired()) return;
    auto it = exchanges_.find(response.request_id);
    if (it == exchanges_.end()) return;  // late (after our 504) or unknown: dropped, body included
    auto exchange = it->second;
    exchange->on_control_response(response, std::move(body));
  });
}

void HttpGateway::listener_gone(const ControlChannel& channel) {
  std::vector<std::shared_ptr<HttpExchange>> affected;
  for (auto& [id, x] : exchanges_)
    if (x->listener() == &channel && !x->responded()) affected.push_back(x);  // streaming ones go on
  for (auto& x : affected) x->abort("the listener's control channel closed");
}

void HttpGateway::stop() {
  auto all = exchanges_;
  for (auto& [id, x] : all) x->abort("relay shutting down");
}

}  // namespace relay
