#include "bridge/local_forwarder.hpp"

#include "bridge/http_entrance.hpp"
#include "bridge/sender_handshake.hpp"
#include "net/address.hpp"
#include "net/tcp_connect.hpp"

#include <spdlog/spdlog.h>

#include <type_traits>

namespace bridge {
namespace {

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
  return net::host_for_url(ep.address().to_string()) + ":" + std::to_string(ep.port());
}

// Who connected, for logs: a TCP client's address; a Unix client is unnamed, so the socket path it came through.
std::string peer_text(asio::ip::tcp::socket& client, const LocalBinding&) {
  std::error_code ignored;
  return endpoint_text(client.remote_endpoint(ignored));
}

std::string peer_text(net::local_stream::socket&, const LocalBinding& b) { return binding_text(b); }

// The socket file settings of a binding, owner and group resolved (validation has checked that they resolve).
hc::Result<net::SocketFileOptions> socket_file_options(const LocalBinding& b) {
  net::SocketFileOptions options;
  options.mode = b.socket_file.mode;
  if (!b.socket_file.owner.empty()) {
    auto uid = net::lookup_user(b.socket_file.owner);
    if (!uid) return hc::fail(uid.error());
    options.owner = uid.value();
  }
  if (!b.socket_file.group.empty()) {
    auto gid = net::lookup_group(b.socket_file.group);
    if (!gid) return hc::fail(gid.error());
    options.group = gid.value();
  }
  return options;
}

}  // namespace

LocalForwarder::LocalForwarder(asio::io_context& io, std::shared_ptr<const Config> config, LocalForward forward, RelayContext relay,
                               std::shared_ptr<TunnelRegistry> tunnels)
    : io_(io), config_(std::move(config)), forward_(std::move(forward)), relay_(std::move(relay)), tunnels_(std::move(tunnels)) {
  name_ = local_forward_name(*config_, forward_);
}

hc::Result<std::shared_ptr<LocalForwarder::TcpBinding>> LocalForwarder::bind(const LocalBinding& b) {
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
  auto binding = std::make_shared<TcpBinding>(io_, b);
  auto& acceptor = binding->acceptor;
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec && ep.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return hc::fail(name_ + ": cannot listen on " + endpoint_text(ep) + ": " + ec.message());
  return binding;
}

hc::Result<std::shared_ptr<LocalForwarder::UnixBinding>> LocalForwarder::bind_unix(const LocalBinding& b) {
  auto options = socket_file_options(b);
  if (!options) return hc::fail(name_ + ": socket " + b.socket_path + ": " + options.error());
  auto binding = std::make_shared<UnixBinding>(io_, b);
  auto file = net::listen_unix(binding->acceptor, b.socket_path, options.value());
  if (!file) return hc::fail(name_ + ": " + file.error());
  binding->file = std::move(file.value());
  return binding;
}

hc::Result<bool> LocalForwarder::start() {
  close_bindings();
  for (const auto& b : forward_.bindings) {
    if (b.protocol != Protocol::unix_socket) continue;
    auto bound = bind_unix(b);
    if (!bound) {
      close_bindings();
      return hc::fail(bound.error());
    }
    spdlog::info("{}: listening on {} (mode {:04o}, port name '{}'{})", name_, binding_text(b), b.socket_file.mode,
                 b.port_name, forward_.raw ? ", raw" : "");
    unix_bindings_.push_back(bound.value());
  }
  for (const auto& b : forward_.bindings) {
    if (b.protocol != Protocol::tcp && b.protocol != Protocol::http) continue;
    auto bound = bind(b);
    if (!bound) {
      close_bindings();
      return hc::fail(bound.error());
    }
    const std::string where = endpoint_text(bound.value()->acceptor.local_endpoint());
    if (b.protocol == Protocol::http)
      spdlog::info("{}: listening on http://{}/ (HTTP entrance: its requests go to the hybrid connection)", name_, where);
    else
      spdlog::info("{}: listening on {} (port name '{}'{})", name_, where, b.port_name, forward_.raw ? ", raw" : "");
    bindings_.push_back(bound.value());
  }
  // UDP last: until accept_next() below nothing is pending, so a failure here leaves nothing behind.
  if (auto started = start_udp(); !started) {
    close_bindings();
    return started;
  }
  listening_ = true;
  for (auto& b : bindings_) accept_next(b);
  for (auto& b : unix_bindings_) accept_next(b);
  return true;
}

template <class Protocol>
void LocalForwarder::Binding<Protocol>::close() {
  if (closed) return;
  closed = true;
  std::error_code ignored;
  acceptor.close(ignored);
  retry.cancel();
  file.remove();
}

void LocalForwarder::close_bindings() {
  for (auto& b : bindings_) b->close();
  for (auto& b : unix_bindings_) b->close();
  bindings_.clear();
  unix_bindings_.clear();
}

hc::Result<bool> LocalForwarder::start_udp() {
  LocalForward udp = forward_;
  udp.bindings.clear();
  for (const auto& b : forward_.bindings)
    if (b.protocol == Protocol::udp) udp.bindings.push_back(b);
  if (udp.bindings.empty()) return true;
  udp_ = std::make_shared<UdpLocalForwarder>(io_, config_, std::move(udp), relay_, tunnels_, tunnels_->datagrams());
  return udp_->start();
}

void LocalForwarder::stop() {
  listening_ = false;
  if (udp_) udp_->stop();
  for (auto& b : bindings_) b->close();  // still listed until a restart: they accept nothing more
  for (auto& b : unix_bindings_) b->close();
  slots_->cancel_all();
}

std::vector<asio::ip::udp::endpoint> LocalForwarder::udp_endpoints() const {
  return udp_ ? udp_->local_endpoints() : std::vector<asio::ip::udp::endpoint>{};
}

std::vector<std::string> LocalForwarder::socket_paths() const {
  std::vector<std::string> out;
  for (const auto& b : unix_bindings_)
    if (!b->closed) out.push_back(b->config.socket_path);
  return out;
}

std::vector<asio::ip::tcp::endpoint> LocalForwarder::local_endpoints() const {
  std::vector<asio::ip::tcp::endpoint> out;
  for (const auto& b : bindings_) {
    std::error_code ec;
    auto ep = b->acceptor.local_endpoint(ec);
    if (!ec) out.push_back(ep);
  }
  return out;
}

template <class Protocol>
void LocalForwarder::accept_next(const std::shared_ptr<Binding<Protocol>>& binding) {
  binding->acceptor.async_accept(
      [self = shared_from_this(), binding](std::error_code ec, typename Protocol::socket client) {
        self->on_accept(binding, ec, std::move(client));
      });
}

template <class Protocol>
void LocalForwarder::on_accept(const std::shared_ptr<Binding<Protocol>>& binding, std::error_code ec,
                               typename Protocol::socket client) {
  if (binding->closed || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Usually EMFILE: pause a little instead of spinning, then go on accepting.
    if (const auto n = accept_warnings_.hit()) spdlog::warn("{}: accept failed: {}{}", name_, ec.message(), repeats(n));
    binding->retry.expires_after(std::chrono::milliseconds(200));
    binding->retry.async_wait([self = shared_from_this(), binding](std::error_code tec) {
      if (!tec && !binding->closed) self->accept_next(binding);
    });
    return;
  }
  if constexpr (std::is_same_v<Protocol, asio::ip::tcp>) net::tune_tcp_socket(client);
  std::string peer = peer_text(client, binding->config);
  hand_over(std::move(client), std::move(peer), binding->config);
  accept_next(binding);
}

void LocalForwarder::hand_over(LocalStream client, std::string peer, const LocalBinding& binding) {
  const std::size_t limit = forward_.max_connections.value_or(config_->max_connections);
  const std::size_t open = tunnels_->count(name_) + slots_->in_use();
  if (open >= limit) {
    std::error_code ignored;
    tunnels_->failed(name_, "limit");
    if (const auto n = limit_warnings_.hit())
      spdlog::warn("{}: refusing a client from {}: {} connections open (max_connections {}){}", name_, peer, open, limit,
                   repeats(n));
    client.close(ignored);
    return;
  }
  if (binding.protocol == Protocol::http) {
    // A local HTTP entrance: the connection counts toward max_connections for as long as it is open.
    std::make_shared<HttpEntrance>(shared_from_this(), std::move(client), std::move(peer), HandshakeSlot(slots_))->start();
    return;
  }
  std::make_shared<SenderHandshake>(shared_from_this(), std::move(client), std::move(peer), binding.port_name,
                                    HandshakeSlot(slots_))
      ->start();
}

}  // namespace bridge
