#include "bridge/udp_remote_tunnel.hpp"

#include "hc/datagram.hpp"
#include "net/address.hpp"

namespace bridge {
namespace {
constexpr int kDatagramsPerWakeup = 64;

// One datagram read at a time on the event loop's thread: one buffer serves every route.
std::vector<uint8_t>& receive_buffer() {
  static thread_local std::vector<uint8_t> buffer(hc::kMaxDatagram + 1);
  return buffer;
}
}  // namespace

UdpRemoteTunnel::UdpRemoteTunnel(asio::io_context& io, std::shared_ptr<DatagramRegistry> registry, TunnelInfo info,
                                 std::shared_ptr<net::WebSocket> ws, std::string leftover, RemoteTarget target,
                                 DatagramLimits limits, SetupDone done)
    : io_(io),
      registry_(std::move(registry)),
      info_(std::move(info)),
      ws_(std::move(ws)),
      leftover_(std::move(leftover)),
      target_(std::move(target)),
      limits_(limits),
      done_(std::move(done)),
      resolver_(io),
      socket_(io) {}

void UdpRemoteTunnel::start() { do_resolve(); }

void UdpRemoteTunnel::do_resolve() {
  resolver_.async_resolve(target_.host, std::to_string(target_.port),
                          [self = shared_from_this()](std::error_code ec, asio::ip::udp::resolver::results_type r) {
                            self->on_resolve(ec, std::move(r));
                          });
}

void UdpRemoteTunnel::on_resolve(std::error_code ec, asio::ip::udp::resolver::results_type results) {
  if (ec || results.empty()) return fail("target_unreachable", "cannot resolve " + target_.host + ": " + ec.message());
  // A connected socket: only the target's answers come back, and sends need no address.
  for (const auto& entry : results) {
    std::error_code cec;
    socket_.close(cec);
    socket_.open(entry.endpoint().protocol(), cec);
    if (!cec) socket_.connect(entry.endpoint(), cec);
    if (!cec) socket_.non_blocking(true, cec);
    if (!cec) {
      info_.peer += " -> " + net::host_for_url(entry.endpoint().address().to_string()) + ":" +
                    std::to_string(entry.endpoint().port()) + "/udp";
      return do_reply();
    }
    ec = cec;
  }
  fail("target_unreachable", "cannot connect a UDP socket to " + target_.host + ": " + ec.message());
}

void UdpRemoteTunnel::do_reply() {
  reply_ = std::make_shared<std::string>(hc::preamble_answer(hc::PreambleMode::datagram, true));
  ws_->async_write(asio::buffer(*reply_), net::ws::Opcode::binary, true,
                   [self = shared_from_this()](std::error_code ec) { self->on_reply(ec); });
}

void UdpRemoteTunnel::on_reply(std::error_code ec) {
  reply_.reset();
  if (ec) {
    ws_->abort();
    return fail("preamble_failed", "sending the reply failed: " + ec.message());
  }
  auto self = shared_from_this();
  auto send_local = [weak = std::weak_ptr<UdpRemoteTunnel>(self)](const uint8_t* data, std::size_t size) {
    auto s = weak.lock();
    if (!s) return false;
    std::error_code sec;
    s->socket_.send(asio::buffer(data, size), 0, sec);  // non-blocking: a full socket buffer drops
    return !sec;
  };
  tunnel_ = registry_->open(info_, std::move(ws_), std::move(leftover_), limits_, send_local,
                            [self](const DatagramSummary&) {
                              std::error_code ignored;
                              self->socket_.close(ignored);  // ends the receive loop, which releases this object
                              self->tunnel_.reset();
                            });
  if (auto done = std::move(done_)) done(true, nullptr, {});
  receive_next();
}

void UdpRemoteTunnel::receive_next() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [self = shared_from_this()](std::error_code ec) {
    if (ec == asio::error::operation_aborted || !self->socket_.is_open()) return;
    self->drain_socket();
  });
}

void UdpRemoteTunnel::drain_socket() {
  auto& buffer = receive_buffer();
  for (int i = 0; i < kDatagramsPerWakeup && tunnel_; ++i) {
    std::error_code ec;
    const std::size_t n = socket_.receive(asio::buffer(buffer), 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    // ECONNREFUSED: the target's port is closed (ICMP); UDP goes on, the next datagram may find it listening.
    if (ec) continue;
    tunnel_->send_to_relay(buffer.data(), n);
  }
  if (tunnel_) receive_next();
}

void UdpRemoteTunnel::fail(const char* kind, const std::string& why) {
  if (ws_) ws_->send_close(1011, "target unreachable: " + why);
  if (auto done = std::move(done_)) done(false, kind, why);
}

}  // namespace bridge
