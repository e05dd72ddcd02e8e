#include "bridge/local_forwarder.hpp"

#include "bridge/preamble_exchange.hpp"
#include "hc/guid.hpp"
#include "hc/url.hpp"
#include "net/address.hpp"
#include "net/ws_client.hpp"

#include <spdlog/spdlog.h>

#include <ctime>

namespace bridge {
namespace {

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
  return net::host_for_url(ep.address().to_string()) + ":" + std::to_string(ep.port());
}

}  // namespace

LocalForwarder::LocalForwarder(asio::io_context& io, std::shared_ptr<const Config> config, LocalForward forward, RelayContext relay,
                               std::shared_ptr<TunnelRegistry> tunnels)
    : io_(io), config_(std::move(config)), forward_(std::move(forward)), relay_(std::move(relay)), tunnels_(std::move(tunnels)) {
  name_ = "L:" + forward_.hc;
}

hc::Result<bool> LocalForwarder::start() {
  // Also used to restart after stop() (a reload that had to roll back).
  bindings_.clear();
  stopped_ = false;
  for (const auto& b : forward_.bindings) {
    auto binding = std::make_unique<Binding>();
    binding->config = b;
    std::error_code ec;
    std::string host = b.bind_host == "*" ? "0.0.0.0" : b.bind_host;
    asio::ip::address address = asio::ip::make_address(host, ec);
    if (ec) {
      // A name (e.g. "localhost"): bind its first address.
      asio::ip::tcp::resolver resolver(io_);
      auto results = resolver.resolve(host, std::to_string(b.port), ec);
      if (ec || results.empty()) return hc::fail("cannot resolve bind address '" + host + "': " + ec.message());
      address = results.begin()->endpoint().address();
    }
    const asio::ip::tcp::endpoint ep(address, b.port);
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io_);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec && ep.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return hc::fail(name_ + ": cannot listen on " + endpoint_text(ep) + ": " + ec.message());
    binding->acceptor = std::move(acceptor);
    spdlog::info("{}: listening on {} (port name '{}'{})", name_, endpoint_text(binding->acceptor->local_endpoint()),
                 b.port_name, forward_.raw ? ", raw" : "");
    bindings_.push_back(std::move(binding));
  }
  listening_ = true;
  for (auto& b : bindings_) accept_next(*b);
  return true;
}

void LocalForwarder::stop() {
  stopped_ = true;
  listening_ = false;
  for (auto& b : bindings_) {
    std::error_code ignored;
    b->acceptor->close(ignored);
  }
}

std::vector<asio::ip::tcp::endpoint> LocalForwarder::local_endpoints() const {
  std::vector<asio::ip::tcp::endpoint> out;
  for (const auto& b : bindings_) {
    std::error_code ec;
    auto ep = b->acceptor->local_endpoint(ec);
    if (!ec) out.push_back(ep);
  }
  return out;
}

void LocalForwarder::accept_next(Binding& binding) {
  binding.acceptor->async_accept([self = shared_from_this(), &binding](std::error_code ec, asio::ip::tcp::socket client) {
    if (self->stopped_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Usually EMFILE: pause a little instead of spinning, then go on accepting.
      spdlog::warn("{}: accept failed: {}", self->name_, ec.message());
      auto timer = std::make_shared<asio::steady_timer>(self->io_, std::chrono::milliseconds(200));
      timer->async_wait([self, &binding, timer](std::error_code) {
        if (!self->stopped_) self->accept_next(binding);
      });
      return;
    }
    const std::size_t limit = self->forward_.max_connections.value_or(self->config_->max_connections);
    const std::size_t open = self->tunnels_->count(self->name_) + self->handshakes_;
    if (open >= limit) {
      std::error_code ignored;
      self->tunnels_->failed(self->name_, "limit");
      spdlog::warn("{}: refusing a client from {}: {} connections open (max_connections {})", self->name_,
                   endpoint_text(client.remote_endpoint(ignored)), open, limit);
      client.close(ignored);
    } else {
      self->open_tunnel(std::move(client), binding.config.port_name);
    }
    self->accept_next(binding);
  });
}

void LocalForwarder::open_tunnel(asio::ip::tcp::socket client, const std::string& port_name) {
  ++handshakes_;
  const auto setup_started = std::chrono::steady_clock::now();
  std::error_code ignored;
  client.set_option(asio::ip::tcp::no_delay(true), ignored);
  const std::string peer = endpoint_text(client.remote_endpoint(ignored));
  const std::string id = tunnels_->next_id();
  const std::string tracking = hc::new_guid();
  const auto& ep = relay_.endpoint;
  net::ClientOptions options;
  options.tls = relay_.tls;
  options.ws.pool = tunnels_->buffers();
  options.timeout = ms(config_->connect_timeout);
  options.proxy = relay_.proxy;
  const std::string token = relay_.tokens->token_for(forward_.hc, static_cast<int64_t>(std::time(nullptr)));
  if (!token.empty()) options.headers.add("ServiceBusAuthorization", token);
  auto holder = std::make_shared<asio::ip::tcp::socket>(std::move(client));
  auto self = shared_from_this();
  auto done = [self] { --self->handshakes_; };
  auto fail = [self, holder, peer, done](const char* kind, const std::string& why) {
    done();
    self->tunnels_->failed(self->name_, kind);
    spdlog::warn("{}: client {}: cannot open a tunnel: {}", self->name_, peer, why);
    // A reset, not a FIN: the client may already have sent its request, and a clean end would read as "the service
    // answered nothing" instead of "the tunnel failed" (the same rule as an aborted tunnel).
    std::error_code e;
    holder->set_option(asio::socket_base::linger(true, 0), e);
    holder->close(e);
  };
  net::async_ws_connect(
      io_, hc::connect_url(ep.tls(), ep.host, ep.port, forward_.hc, tracking), options,
      [self, holder, peer, id, tracking, port_name, done, fail, setup_started](std::error_code ec, net::ConnectResult r) {
        if (ec) {
          if (ec == net::ConnectError::http_status)
            return fail(r.http_status == 404 ? "no_listener" : "relay_refused", std::to_string(r.http_status) + " " + r.reason);
          const char* proxy_word = net::proxy_error_word(ec);
          return fail(*proxy_word ? proxy_word : "relay_unreachable", r.reason.empty() ? ec.message() : r.reason);
        }
        auto ws = r.ws;
        auto open = [self, holder, peer, id, tracking, ws, done, setup_started](std::string leftover) {
          done();
          TunnelInfo info{id, self->name_, self->forward_.hc, peer, tracking, setup_started};
          const Seconds idle = self->forward_.idle_timeout.value_or(self->config_->idle_timeout);
          self->tunnels_->open(info, std::move(*holder), ws, std::move(leftover), ms(idle));
        };
        if (self->forward_.raw) return open({});
        async_send_preamble(ws, port_name, ms(self->config_->preamble_timeout),
                            [ws, open, fail](std::error_code pec, std::string leftover, std::string refusal) {
                              if (pec) {
                                ws->abort();
                                return fail("preamble_failed", "preamble exchange failed: " + pec.message());
                              }
                              if (!refusal.empty()) {
                                ws->abort();
                                return fail("preamble_refused", refusal);
                              }
                              open(std::move(leftover));
                            });
      });
}

}  // namespace bridge
