#include "relay/relay_server.hpp"

#include "relay/entra_auth.hpp"

#include "hc/guid.hpp"
#include "net/tcp_connect.hpp"
#include "net/tls.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace relay {
namespace {

constexpr const char* kNoListeners = "There are no listeners connected for the endpoint";
constexpr const char* kAcceptTimeout =
    "None of the connected listeners accepted the connection within the allowed timeout";
// Every listener holds max_queued_accepts unanswered accepts: the same 404 as a listener that did not accept in time.
constexpr const char* kListenersBusy =
    "None of the connected listeners can take the connection now: each has max_queued_accepts unanswered accepts";

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

}  // namespace

RelayServer::RelayServer(asio::io_context& io, RelayConfig config)
    : io_(io), config_(std::move(config)), acceptor_(io), rng_(std::random_device{}()),
      faults_(std::make_shared<FaultPlan>()) {}

RelayServer::~RelayServer() {
  // Connections may outlive the server in pending callbacks; the liveness token tells them it is gone.
  stop();
  alive_.reset();
}

hc::Result<asio::ip::tcp::endpoint> RelayServer::start() {
  if (!config_.tls_cert.empty() || !config_.tls_key.empty()) {
    if (config_.tls_cert.empty() || config_.tls_key.empty())
      return hc::fail("--tls-cert and --tls-key must be given together");
    auto ctx = net::make_server_tls_context(config_.tls_cert, config_.tls_key);
    if (!ctx) return hc::fail(ctx.error());
    tls_ = ctx.value();
  }
  std::error_code ec;
  acceptor_.open(config_.endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(config_.endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return hc::fail("cannot listen on " + endpoint_text(config_.endpoint) + ": " + ec.message());
  const auto local = acceptor_.local_endpoint(ec);
  do_accept();
  return local;
}

void RelayServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  http_.stop();
  drop_control_channels(1001, "relay shutting down");
  for (auto& [id, p] : pending_) {
    p.timer->cancel();
    net::async_reject(p.request, 503, "relay shutting down");
  }
  pending_.clear();
  for (auto& t : std::vector<std::shared_ptr<RelayTunnel>>(tunnels_.begin(), tunnels_.end()))
    t->close(1001, "relay shutting down");
  faults_->on_stop();
}

std::size_t RelayServer::drop_control_channels(uint16_t code, const std::string& reason) {
  std::size_t n = 0;
  for (auto& [key, channels] : listeners_) {
    for (auto& c : std::vector<std::shared_ptr<ControlChannel>>(channels)) {
      ++n;
      if (code == 0) c->abort();
      else c->close(code, reason);
    }
  }
  return n;
}

void RelayServer::set_fault_plan(std::shared_ptr<FaultPlan> plan) {
  faults_ = plan ? std::move(plan) : std::make_shared<FaultPlan>();
}

std::size_t RelayServer::listener_count() const {
  std::size_t n = 0;
  for (const auto& [k, v] : listeners_) n += v.size();
  return n;
}

std::size_t RelayServer::connection_count() const {
  return handshaking_ + pending_.size() + listener_count() + 2 * tunnels_.size() + http_.connections();
}

std::string RelayServer::next_conn_id() { return "c" + std::to_string(++conn_counter_); }

void RelayServer::do_accept() {
  acceptor_.async_accept([this, alive = liveness()](std::error_code ec, asio::ip::tcp::socket socket) {
    if (alive.expired()) return;
    if (ec == asio::error::operation_aborted || stopped_) return;
    if (ec) {
      // Out of descriptors and the like: log, pause briefly so we do not spin, and go on.
      spdlog::warn("relay: accept failed: {}", ec.message());
      auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      timer->async_wait([this, alive = liveness(), timer](std::error_code) {
        if (!alive.expired() && !stopped_) do_accept();
      });
      return;
    }
    if (faults_->on_accept_connection(socket)) return do_accept();
    std::error_code ignored;
    if (connection_count() >= config_.max_connections) {
      // Closed before reading a byte: no memory, no timer, and the descriptor is back at once.
      ++refused_;
      if (!full_) spdlog::warn("relay: {} connections held (max_connections); refusing new ones", connection_count());
      full_ = true;
      socket.close(ignored);
      return do_accept();
    }
    if (full_) spdlog::info("relay: accepting connections again ({} refused so far)", refused_);
    full_ = false;
    net::tune_tcp_socket(socket);
    ++handshaking_;
    auto stream = tls_ ? std::make_unique<net::Stream>(std::move(socket), *tls_)
                       : std::make_unique<net::Stream>(std::move(socket));
    net::async_read_request(std::move(stream), config_.handshake_timeout,
                            [this, alive = liveness()](std::error_code rec, net::IncomingRequestPtr request, std::string problem) {
                              if (alive.expired()) return;
                              --handshaking_;
                              on_request(rec, request, problem);
                            });
    do_accept();
  });
}

void RelayServer::reject(const net::IncomingRequestPtr& request, int status, const std::string& reason) {
  // Only the path: the query may carry sb-hc-token, and secrets never reach the logs.
  const std::string& target = request->head.target;
  spdlog::info("relay: {} {} -> {} {}", endpoint_text(request->peer), target.substr(0, std::min<std::size_t>(target.find('?'), 200)),
               status, reason);
  net::async_reject(request, status, reason);
}

void RelayServer::on_request(std::error_code ec, const net::IncomingRequestPtr& request, const std::string& problem) {
  if (stopped_) {
    if (!ec) net::async_reject(request, 503, "relay shutting down");
    return;
  }
  if (ec == std::errc::bad_message) return reject(request, 400, "Bad request: " + problem);
  if (ec) {
    spdlog::debug("relay: {}: {}", endpoint_text(request->peer), problem);
    return;
  }
  route(request);
}

void RelayServer::route(const net::IncomingRequestPtr& request) {
  if (stopped_) return net::async_reject(request, 503, "relay shutting down");
  const auto parsed = parse_hc_request(request->head.target);
  const std::string upgrade_problem = net::http::check_upgrade_request(request->head);
  if (!upgrade_problem.empty()) {
    if (parsed) return reject(request, 400, "This endpoint is only for web-socket requests");
    return http_.handle_request(request, tls_ != nullptr);  // HTTP request mode: https://HOST/HC[/suffix]
  }
  if (!parsed) {
    const std::string tracking = hc::new_guid() + "_G0";
    return reject(request, parsed.error().rfind("Invalid", 0) == 0 ? 400 : 404,
                  service_error_text(parsed.error(), tracking, "relay",
                                     request->head.target.substr(0, std::min<std::size_t>(request->head.target.find('?'), 200))));
  }
  const HcRequest& hcr = parsed.value();
  if (hcr.action != Action::request) {  // HTTP request rendezvous are not a fault point
    const auto fault = hcr.action == Action::accept ? faults_->on_rendezvous(request) : faults_->on_upgrade(hcr.action);
    if (fault.held) return;
    if (fault.status != 0) return reject(request, fault.status, fault.reason);
  }
  switch (hcr.action) {
    case Action::listen: {
      const std::string* host = request->head.headers.find("Host");
      const std::string ns_host = host ? split_host_header(*host).first : std::string();
      const auto check = check_token(request, hcr, ns_host, hcr.path);
      if (!check.ok())
        return reject(request, auth_status(check),
                      service_error_text(check.reason, (hcr.id.empty() ? hc::new_guid() : hcr.id) + "_G0", ns_host,
                                         hcr.path));
      return handle_listen(request, hcr, check);
    }
    case Action::connect:
      return handle_connect(request, hcr);
    case Action::accept:
      return handle_accept(request, hcr);
    case Action::request:
      return http_.handle_rendezvous(request, hcr, tunnel_options());
  }
}

hc::SasCheck RelayServer::check_token(const net::IncomingRequestPtr& request, const HcRequest& hcr,
                                      const std::string& ns_host, const std::string& hc_path) const {
  if (config_.no_auth) return hc::SasCheck{};
  const std::string* header = request->head.headers.find("ServiceBusAuthorization");
  const std::string token = header ? *header : hcr.token;
  return authorize(config_.keys, config_.entra.get(), token, ns_host, hc_path, hcr.action,
                   static_cast<int64_t>(std::time(nullptr)));
}

void RelayServer::handle_listen(const net::IncomingRequestPtr& request, const HcRequest& hcr, const hc::SasCheck& check) {
  const int64_t expiry = check.expiry;
  const std::string key = hc_key(hcr.path);
  const std::string id = hcr.id.empty() ? hc::new_guid() : hcr.id;
  const std::string* host = request->head.headers.find("Host");
  auto [ns_host, port] = split_host_header(host ? *host : std::string());
  // No entry is made here: the upgrade may still fail, and an entry exists only while it holds a listener.
  const auto found = listeners_.find(key);
  if (found != listeners_.end() && found->second.size() >= config_.max_listeners_per_hc) {
    return reject(request, 403,
                  service_error_text("QuotaExceeded: the number of listeners exceeds MaximumListenersPerEndpoint (" +
                                         std::to_string(config_.max_listeners_per_hc) + ")",
                                     id + "_G0", ns_host, hcr.path));
  }
  // Rendezvous addresses use the authority this listener reached us by, so it can always dial them back.
  if (port == 0) port = acceptor_.local_endpoint().port();
  const std::string host_for_url = ns_host.find(':') != std::string::npos ? "[" + ns_host + "]" : ns_host;
  const std::string authority = (ns_host.empty() ? endpoint_text(acceptor_.local_endpoint())
                                                 : host_for_url + ":" + std::to_string(port));
  const std::string path = hcr.path;
  const std::string conn = next_conn_id();
  auto verifier = [this, alive = liveness(), ns_host = ns_host, path, principal = check.principal](const std::string& token) {
    if (alive.expired()) return hc::SasCheck{hc::SasFailure::missing, "relay stopped", 0, {}, {}};
    if (config_.no_auth) return hc::SasCheck{};
    return authorize_renewal(config_.keys, config_.entra.get(), token, ns_host, path, principal,
                             static_cast<int64_t>(std::time(nullptr)));
  };
  net::WebSocket::Options control_options = tunnel_options();
  net::async_accept_upgrade(
      request, {}, control_options,
      [this, alive = liveness(), key, path, id, authority, expiry, verifier, conn, peer = request->peer](
          std::error_code ec, std::shared_ptr<net::WebSocket> ws) {
        if (ec || alive.expired() || stopped_) {
          if (ws) ws->abort();
          return;
        }
        if (faults_->on_listener_connected(ws)) return;
        register_listener(std::make_shared<ControlChannel>(ws, path, id, authority, expiry, verifier, config_.listener_ping),
                          key, conn, peer);
      });
}

void RelayServer::register_listener(const std::shared_ptr<ControlChannel>& channel, const std::string& key,
                                    const std::string& conn, const asio::ip::tcp::endpoint& peer) {
  auto& channels = listeners_[key];
  channels.push_back(channel);
  http_.attach(*channel);
  spdlog::info("relay: {} listener {} connected for '{}' from {} ({} on this HC)", conn, channel->id(), channel->hc(),
               endpoint_text(peer), channels.size());
  channel->start([this, alive = liveness(), key, conn](ControlChannel& c) {
    if (alive.expired()) return;
    http_.listener_gone(c);
    auto it = listeners_.find(key);
    if (it == listeners_.end()) return;
    auto& v = it->second;
    v.erase(std::remove_if(v.begin(), v.end(), [&c](const auto& p) { return p.get() == &c; }), v.end());
    spdlog::info("relay: {} listener {} for '{}' gone ({} left)", conn, c.id(), c.hc(), v.size());
    if (v.empty()) listeners_.erase(it);
  });
}

std::shared_ptr<ControlChannel> RelayServer::pick_listener(const std::string& key) {
  const auto it = listeners_.find(key);
  if (it == listeners_.end()) return nullptr;
  std::vector<const std::shared_ptr<ControlChannel>*> ready;
  for (const auto& c : it->second)
    if (c->can_take_accept(config_.max_queued_accepts)) ready.push_back(&c);
  if (ready.empty()) return nullptr;
  std::uniform_int_distribution<std::size_t> pick(0, ready.size() - 1);
  return *ready[pick(rng_)];
}

void RelayServer::handle_connect(const net::IncomingRequestPtr& request, const HcRequest& hcr) {
  const std::string* host = request->head.headers.find("Host");
  const std::string ns_host = host ? split_host_header(*host).first : std::string();
  const std::string hc_name =
      longest_hc_prefix(hcr.path, [this](const std::string& p) { return listeners_.count(hc_key(p)) > 0; });
  const std::string tracking = (hcr.id.empty() ? hc::new_guid() : hcr.id) + "_G0";
  // Authorise against the HC the sender names; when no listener exists the whole path stands for it.
  const auto check = check_token(request, hcr, ns_host, hc_name.empty() ? hcr.path : hc_name);
  if (!check.ok())
    return reject(request, auth_status(check), service_error_text(check.reason, tracking, ns_host, hcr.path));
  if (hc_name.empty()) return reject(request, 404, service_error_text(kNoListeners, tracking, ns_host, hcr.path));
  const std::string id = tracking + "_G1";
  if (pending_.count(id) > 0) {
    // Replacing the waiting sender would leave it unanswered; the id names the rendezvous, so it must be unique.
    return reject(request, 409,
                  service_error_text("Conflict: sb-hc-id '" + hcr.id +
                                         "' is already used by a sender waiting for its listener; give each "
                                         "connection its own sb-hc-id",
                                     tracking, ns_host, hcr.path));
  }
  const auto listener = pick_listener(hc_key(hc_name));
  if (!listener) return reject(request, 404, service_error_text(kListenersBusy, tracking, ns_host, hcr.path));
  const std::string suffix = hcr.path.substr(hc_name.size());

  hc::AcceptMessage accept;
  accept.id = id;
  accept.address = std::string(listener->tls() ? "wss" : "ws") + "://" + listener->accept_authority() + "/$hc/" +
                   hc::encode_hc_path(hc_name) + hc::encode_hc_path(suffix) + "?" +
                   (hcr.app_query.empty() ? "" : hcr.app_query + "&") + "sb-hc-action=accept&sb-hc-id=" +
                   hc::url_encode(id);
  for (const auto& h : request->head.headers.list) {
    // The relay's own credentials never reach the listener.
    if (hc_key(h.name) == "servicebusauthorization") continue;
    accept.connect_headers.emplace_back(h.name, h.value);
  }
  accept.remote_address = request->peer.address().to_string();
  accept.remote_port = request->peer.port();

  auto timer = std::make_shared<asio::steady_timer>(io_, config_.accept_timeout);
  timer->async_wait([this, alive = liveness(), id, ns_host, path = hcr.path, timer](std::error_code ec) {
    if (alive.expired()) return;
    if (ec) return;
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.timer != timer) return;  // answered, and the id taken again since
    auto req = it->second.request;
    pending_.erase(it);
    reject(req, 404, service_error_text(kAcceptTimeout, id, ns_host, path));
  });
  spdlog::debug("relay: sender {} for '{}' from {} offered to listener {}", id, hc_name, endpoint_text(request->peer),
                listener->id());
  pending_[id] = PendingSender{request, timer, hc_name, listener->send_accept(accept)};
}

void RelayServer::handle_accept(const net::IncomingRequestPtr& request, const HcRequest& hcr) {
  auto it = pending_.find(hcr.id);
  if (it == pending_.end())
    return reject(request, 403,
                  service_error_text("The rendezvous address is invalid or has expired", hcr.id, "relay", hcr.path));
  PendingSender sender = it->second;
  pending_.erase(it);
  sender.timer->cancel();

  const auto status_param = hc::find_param(hcr.query, "sb-hc-statusCode");
  if (status_param) {
    int status = 0;
    try {
      status = std::stoi(*status_param);
    } catch (...) {
      status = 0;
    }
    if (status < 100 || status > 599) {
      net::async_reject(sender.request, 502, "The listener rejected the connection with an invalid status");
      return reject(request, 400, "Invalid sb-hc-statusCode");
    }
    const std::string description = hc::find_param(hcr.query, "sb-hc-statusDescription").value_or("");
    spdlog::info("relay: listener rejected {} with {} {}", hcr.id, status, description);
    net::async_reject(sender.request, status, description);
    net::async_reject(request, 410, "Gone");
    return;
  }

  // The listener's chosen subprotocol (if any) is returned to both ends.
  net::http::Headers extra;
  if (const std::string* proto = request->head.headers.find("Sec-WebSocket-Protocol")) {
    const std::string chosen = proto->substr(0, proto->find(','));
    extra.add("Sec-WebSocket-Protocol", chosen);
  }
  const std::string id = hcr.id;
  net::async_accept_upgrade(request, extra, tunnel_options(), [this, alive = liveness(), sender, extra, id](
                                                                            std::error_code ec,
                                                                            std::shared_ptr<net::WebSocket> listener_ws) {
    if (ec || alive.expired()) {
      sender.request->stream->close();
      if (listener_ws) listener_ws->abort();
      return;
    }
    net::async_accept_upgrade(sender.request, extra, tunnel_options(),
                              [this, alive = liveness(), listener_ws, id](std::error_code ec2, std::shared_ptr<net::WebSocket> sender_ws) {
                                if (alive.expired()) {
                                  listener_ws->abort();
                                  if (sender_ws) sender_ws->abort();
                                  return;
                                }
                                if (ec2 || stopped_) {
                                  listener_ws->abort();
                                  if (sender_ws) sender_ws->abort();
                                  return;
                                }
                                auto tunnel = std::make_shared<RelayTunnel>(
                                    id, sender_ws, listener_ws, [this, alive = liveness()](RelayTunnel& t) {
                                      if (alive.expired()) return;
                                      spdlog::debug("relay: tunnel {} finished", t.id());
                                      auto found = std::find_if(tunnels_.begin(), tunnels_.end(),
                                                                [&t](const auto& p) { return p.get() == &t; });
                                      if (found != tunnels_.end()) tunnels_.erase(found);
                                    });
                                tunnels_.insert(tunnel);
                                spdlog::debug("relay: tunnel {} open", id);
                                tunnel->start();
                              });
  });
}

}  // namespace relay
