#include "bridge/remote_forwarder.hpp"

#include "bridge/accept_handshake.hpp"
#include "bridge/http_proxy_exchange.hpp"
#include "bridge/relay_dial.hpp"
#include "hc/guid.hpp"
#include "hc/rendezvous.hpp"
#include "hc/url.hpp"
#include "net/tls.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace bridge {
namespace {

int64_t now_unix() { return static_cast<int64_t>(std::time(nullptr)); }

bool is_number(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::chrono::seconds timer_delay(int64_t seconds) {
  // A timer's clock counts nanoseconds in 64 bits (about 292 years): a token expiry far in the future would overflow
  // the conversion. Nothing needs to wake up more than a year ahead.
  constexpr int64_t kMax = 365ll * 24 * 3600;
  return std::chrono::seconds(std::clamp<int64_t>(seconds, 0, kMax));
}

RemoteForwarder::RemoteForwarder(asio::io_context& io, std::shared_ptr<const Config> config, RemoteForward forward, RelayContext relay,
                                 std::shared_ptr<TunnelRegistry> tunnels)
    : io_(io),
      config_(std::move(config)),
      forward_(std::move(forward)),
      relay_(std::move(relay)),
      tunnels_(std::move(tunnels)),
      name_("T:" + forward_.hc),
      backoff_(config_->backoff_initial, config_->backoff_max),
      reconnect_timer_(io),
      keepalive_timer_(io),
      chunk_(16 * 1024) {}

void RemoteForwarder::set_up(bool up) {
  connected_ = up;
  tunnels_->metrics().set("hcbridge_control_channel_up", {{"forward", name_}}, up ? 1 : 0);
}

void RemoteForwarder::count_reconnect(const char* reason) {
  tunnels_->metrics().add("hcbridge_control_channel_reconnects_total", {{"forward", name_}, {"reason", reason}});
}

void RemoteForwarder::start() {
  set_up(false);
  if (forward_.http && forward_.http->tls) {
    auto tls = forward_.http->insecure ? net::make_unverified_client_tls_context()
                                       : net::make_client_tls_context(forward_.http->ca_file);
    if (tls) http_tls_ = std::move(tls.value());
    else spdlog::error("{}: no TLS for the web server: {}", name_, tls.error());
    if (forward_.http->insecure)
      spdlog::warn("{}: TLS verification of the web server {} is OFF (insecure)", name_, forward_.http->host);
  }
  if (auto fixed = relay_.tokens->fixed_expiry()) {
    const int64_t left = *fixed - now_unix();
    if (left <= 0)
      spdlog::error("{}: the pre-issued SAS token expired {} s ago; the relay will refuse it", name_, -left);
    else
      spdlog::warn("{}: the pre-issued SAS token cannot be renewed and expires in {} s; configure a key to renew", name_, left);
  }
  connect();
}

void RemoteForwarder::stop() {
  stopped_ = true;
  ++generation_;  // callbacks of the channel being closed must not reconnect or report
  reconnect_timer_.cancel();
  keepalive_timer_.cancel();
  renewal_.reset();
  token_ready_.reset();
  if (pending_connect_) pending_connect_->cancel();
  slots_->cancel_all();
  http_slots_->cancel_all();
  if (ws_) {
    ws_->send_close(1000, "listener shutting down");
    // Do not wait for the relay's answer longer than a moment. The timer owns the channel from here: the channel's
    // handlers hold this forwarder, so keeping it in ws_ as well would be a reference cycle until the timer fired.
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(2));
    timer->async_wait([timer, ws = std::move(ws_)](std::error_code) { ws->abort(); });
  }
  set_up(false);
}

void RemoteForwarder::connect() {
  if (stopped_) return;
  if (!relay_.tokens->ready()) {  // an Entra token is being fetched: connect once it is there
    token_ready_ = relay_.tokens->when_ready([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->connect();
    });
    return;
  }
  channel_id_ = hc::new_guid();
  const auto& ep = relay_.endpoint;
  const std::string url = hc::listen_url(ep.tls(), ep.host, ep.port, forward_.hc, channel_id_);
  auto options = relay_dial_options(relay_, *config_, *tunnels_);
  options.ws.keepalive = {};  // the control channel pings every keepalive seconds already
  const std::string token = relay_.tokens->token_for(forward_.hc, now_unix());
  if (!token.empty()) options.headers.add("ServiceBusAuthorization", token);
  spdlog::debug("{}: connecting control channel to {}://{}", name_, ep.tls() ? "wss" : "ws", ep.authority());
  pending_connect_ = net::async_ws_connect(io_, url, options,
                                           [self = shared_from_this()](std::error_code ec, net::ConnectResult r) {
                                             self->pending_connect_.reset();
                                             self->on_connect_result(ec, std::move(r));
                                           });
}

void RemoteForwarder::on_connect_result(std::error_code ec, net::ConnectResult result) {
  if (stopped_) {
    if (result.ws) result.ws->abort();
    return;
  }
  if (!ec) return on_connected(result.ws);
  auto delay = backoff_.next();
  const std::string why = describe_connect_failure(forward_.hc, ec, result);
  const char* proxy_word = net::proxy_error_word(ec);
  last_failure_ = *proxy_word                    ? proxy_word
                  : result.http_status == 401   ? "unauthorized"
                  : result.http_status == 404   ? "not_found"
                  : result.http_status != 0     ? "refused"
                                                : "connect_failed";
  count_reconnect(last_failure_);
  // A proxy's policy refusal (403) will not heal by itself soon: retry at the backoff cap, not in a tight loop.
  if (ec == net::ProxyError::forbidden) delay = config_->backoff_max;
  // 401/404 and proxy refusals need a human; network trouble usually heals by itself, but still deserves a warning.
  // 403 is a missing role (Entra ID) or right (SAS): it needs a human too.
  const bool needs_human = result.http_status == 401 || result.http_status == 403 || result.http_status == 404 ||
                           ec == net::ProxyError::forbidden ||
                           ec == net::ProxyError::auth_required || ec == net::ProxyError::auth_rejected ||
                           ec == net::ProxyError::auth_unsupported;
  if (needs_human)
    spdlog::error("{}: control channel refused: {}; retrying in {:.1f} s", name_, why, delay.count());
  else
    spdlog::warn("{}: control channel connect failed: {}; retrying in {:.1f} s", name_, why, delay.count());
  schedule_reconnect(delay);
}

void RemoteForwarder::schedule_reconnect(std::chrono::duration<double> delay) {
  if (stopped_) return;
  ++reconnects_;
  reconnect_timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay));
  reconnect_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec) self->connect();
  });
}

void RemoteForwarder::on_connected(std::shared_ptr<net::WebSocket> ws) {
  ws_ = std::move(ws);
  ++generation_;
  set_up(true);
  connected_at_ = std::chrono::steady_clock::now();
  awaiting_pong_ = false;
  message_.clear();
  utf8_.reset();
  const auto gen = generation_;
  ws_->set_pong_handler([self = shared_from_this(), gen] {
    if (self->generation_ == gen) self->awaiting_pong_ = false;
  });
  spdlog::info("{}: control channel connected to {} (id {})", name_, relay_.endpoint.authority(), channel_id_);
  read_control();
  keepalive_timer_.expires_after(ms(config_->keepalive));
  keepalive_timer_.async_wait([self = shared_from_this(), gen](std::error_code ec) {
    if (!ec && self->generation_ == gen) self->keepalive_tick();
  });
  schedule_renewal();
}

void RemoteForwarder::keepalive_tick() {
  if (!connected_ || !ws_) return;
  if (awaiting_pong_) {
    spdlog::warn("{}: no answer to the keep-alive ping within {:.0f} s; reconnecting", name_, config_->keepalive.count());
    ws_->abort();  // the read loop sees the abort and reconnects
    return;
  }
  awaiting_pong_ = true;
  ws_->send_ping();
  const auto gen = generation_;
  keepalive_timer_.expires_after(ms(config_->keepalive));
  keepalive_timer_.async_wait([self = shared_from_this(), gen](std::error_code ec) {
    if (!ec && self->generation_ == gen) self->keepalive_tick();
  });
}

void RemoteForwarder::schedule_renewal() {
  const auto gen = generation_;
  renewal_ = relay_.tokens->when_renewal_due(forward_.hc, now_unix(), [weak = weak_from_this(), gen] {
    auto self = weak.lock();
    if (!self || self->generation_ != gen || !self->connected_) return;
    const std::string token = self->relay_.tokens->token_for(self->forward_.hc, now_unix());
    self->ws_->async_write_text(hc::build_renew_token_message(token), [self, gen](std::error_code wec) {
      self->tunnels_->metrics().add("hcbridge_token_renewals_total",
                                   {{"forward", self->name_}, {"result", wec ? "failed" : "ok"}});
      if (wec || self->generation_ != gen) return;
      spdlog::debug("{}: token renewed", self->name_);
      self->schedule_renewal();
    });
  });
}

void RemoteForwarder::read_control() {
  const auto gen = generation_;
  ws_->async_read(asio::buffer(chunk_), [self = shared_from_this(), gen](std::error_code ec, net::ReadChunk chunk) {
    if (self->generation_ != gen) return;
    if (ec == net::WsError::closed) {
      const uint16_t code = self->ws_->close_code();
      const std::string reason = self->ws_->close_reason();
      self->ws_->send_close(1000, "");
      // 1001 (HC deleted or relay going down), 1008 (token), 1011 (relay recycle) mean "come back now".
      const bool immediate = code == 1001 || code == 1008 || code == 1011;
      self->count_reconnect("closed_by_relay");
      return self->on_disconnected("relay closed the control channel (" + std::to_string(code) +
                                       (reason.empty() ? "" : " " + reason) + ")",
                                   immediate);
    }
    if (ec) {
      const bool keepalive = ec == asio::error::operation_aborted;
      self->count_reconnect(keepalive ? "keepalive_timeout" : "connection_lost");
      return self->on_disconnected(keepalive ? "keep-alive timed out" : ec.message(), false);
    }
    self->awaiting_pong_ = false;  // any traffic proves the channel alive
    self->message_.append(reinterpret_cast<const char*>(self->chunk_.data()), chunk.size);
    if (self->message_.size() > hc::kMaxControlMessageSize)
      return self->fail_channel(1009, "control message over " + std::to_string(hc::kMaxControlMessageSize) + " bytes");
    if (chunk.opcode == net::ws::Opcode::text &&
        (!self->utf8_.feed(self->chunk_.data(), chunk.size) || (chunk.message_end && !self->utf8_.complete())))
      return self->fail_channel(1007, "control message is not valid UTF-8");
    if (chunk.message_end) {
      std::string text;
      text.swap(self->message_);
      self->utf8_.reset();
      if (chunk.opcode == net::ws::Opcode::text) self->on_control_message(text);
      else self->on_control_body(std::move(text));
    }
    self->read_control();
  });
}

void RemoteForwarder::fail_channel(uint16_t code, const std::string& why) {
  spdlog::warn("{}: {}; reconnecting", name_, why);
  count_reconnect("bad_message");
  auto ws = std::move(ws_);  // on_disconnected() must not drop it before the close frame is out
  ws->send_close(code, why);
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(1));
  timer->async_wait([timer, ws](std::error_code) { ws->abort(); });
  on_disconnected(why, false);
}

void RemoteForwarder::on_disconnected(const std::string& why, bool immediate) {
  ++generation_;
  set_up(false);
  awaiting_body_.reset();  // its body will not come on another channel
  keepalive_timer_.cancel();
  renewal_.reset();
  if (ws_) ws_->abort();
  ws_.reset();
  if (stopped_) return;
  const auto up_for = std::chrono::steady_clock::now() - connected_at_;
  // A channel that stayed up a while resets the backoff; one that keeps dying at once keeps backing off.
  if (up_for > std::chrono::seconds(10)) backoff_.reset();
  const auto delay = (immediate && up_for > std::chrono::seconds(1)) ? std::chrono::duration<double>(0) : backoff_.next();
  spdlog::warn("{}: control channel lost: {}; reconnecting in {:.1f} s", name_, why, delay.count());
  schedule_reconnect(delay);
}

void RemoteForwarder::on_control_message(const std::string& text) {
  if (awaiting_body_) {  // the relay owed the body of the last request: that request cannot be answered
    awaiting_body_.reset();
    count_dropped("malformed");
  }
  auto parsed = hc::parse_control_message(text);
  if (!parsed) {
    count_dropped("malformed");
    if (const auto n = malformed_warnings_.hit())
      spdlog::warn("{}: ignoring a malformed control message: {}{}", name_, parsed.error(), repeats(n));
    return;
  }
  if (auto* accept = std::get_if<hc::AcceptMessage>(&parsed.value())) return handle_accept(*accept);
  if (auto* request = std::get_if<hc::RequestMessage>(&parsed.value())) return handle_request(std::move(*request));
  spdlog::debug("{}: ignoring an unknown control message", name_);
}

void RemoteForwarder::count_dropped(const char* reason) {
  tunnels_->metrics().add("hcbridge_control_messages_dropped_total", {{"forward", name_}, {"reason", reason}});
}

void RemoteForwarder::handle_request(hc::RequestMessage request) {
  if (!forward_.http) {
    answer_request(request, 501, "this listener publishes no web server (hcbridge -H)");
    if (const auto n = request_warnings_.hit())
      spdlog::warn("{}: an HTTP request arrived but this forward publishes no web server (answered 501; see -H){}",
                   name_, repeats(n));
    return;
  }
  // The body of a control-channel request is the very next message (reference 3.2).
  if (request.body && !request.rendezvous_only) {
    awaiting_body_ = std::move(request);
    return;
  }
  start_http_exchange(std::move(request), {});
}

void RemoteForwarder::on_control_body(std::string body) {
  if (!awaiting_body_) return;  // hyco-style stray empty message, or junk: nothing expects it
  auto request = std::move(*awaiting_body_);
  awaiting_body_.reset();
  start_http_exchange(std::move(request), std::move(body));
}

void RemoteForwarder::start_http_exchange(hc::RequestMessage request, std::string body) {
  if (http_slots_->in_use() >= forward_.http->max_requests) {
    if (const auto n = limit_warnings_.hit())
      spdlog::warn("{}: refusing HTTP request {}: {} requests in flight (http max_requests){}", name_, request.id,
                   http_slots_->in_use(), repeats(n));
    if (request.rendezvous_only) return count_dropped("too_many_requests");  // it waits for a dial; the relay times it out
    return answer_request(request, 503, "too many requests in flight");
  }
  std::make_shared<HttpProxyExchange>(shared_from_this(), ws_, std::move(request), std::move(body),
                                      HandshakeSlot(http_slots_))
      ->start();
}

// A direct answer on the control channel. A relay that sends requests faster than it takes the answers gets no more
// than a few answers queued.
void RemoteForwarder::answer_request(const hc::RequestMessage& request, int status, const char* description) {
  if (!ws_ || pending_request_replies_ >= kMaxPendingRequestReplies) return count_dropped("too_many_requests");
  hc::ResponseMessage response;
  response.request_id = request.id;
  response.status_code = status;
  response.status_description = description;
  ++pending_request_replies_;
  ws_->async_write_text(hc::build_response_message(response),
                        [self = shared_from_this()](std::error_code) { --self->pending_request_replies_; });
}

const RemoteTarget* RemoteForwarder::pick_target(const std::string& port_name) const {
  for (const auto& t : forward_.targets)
    if (t.port_name == port_name) return &t;
  // azbridge: a listener with a single target takes any numeric port name.
  if (forward_.targets.size() == 1 && is_number(port_name)) return &forward_.targets.front();
  return nullptr;
}

// An accept over the limit is answered 503 when the budget of handshakes has room for the dial; otherwise it is only
// counted (the relay times the sender out), so a flood of accepts cannot make the daemon dial without bound.
void RemoteForwarder::reject(const hc::AcceptMessage& accept, std::size_t open, std::size_t limit) {
  tunnels_->failed(name_, "limit");
  if (const auto n = limit_warnings_.hit())
    spdlog::warn("{}: refusing connection {}: {} connections open (max_connections {}){}", name_, accept.id, open, limit,
                 repeats(n));
  if (slots_->in_use() >= limit) return;
  std::make_shared<RejectHandshake>(shared_from_this(), hc::reject_url(accept.address, 503, "Too many connections"),
                                    HandshakeSlot(slots_))
      ->start();
}

void RemoteForwarder::handle_accept(const hc::AcceptMessage& accept) {
  auto checked = hc::check_rendezvous_address(relay_.endpoint, accept.address);
  if (!checked) {
    tunnels_->failed(name_, "bad_rendezvous_address");
    if (const auto n = bad_address_warnings_.hit())
      spdlog::warn("{}: refusing to dial the rendezvous address of connection {}: {}{}", name_, accept.id,
                   checked.error(), repeats(n));
    return;
  }
  const std::size_t limit = forward_.max_connections.value_or(config_->max_connections);
  const std::size_t open = tunnels_->count(name_) + tunnels_->datagrams()->count(name_) + slots_->in_use();
  if (open >= limit) return reject(accept, open, limit);
  std::make_shared<AcceptHandshake>(shared_from_this(), accept, HandshakeSlot(slots_))->start();
}

}  // namespace bridge
