#include "relay/relay_tunnel.hpp"

#include <spdlog/spdlog.h>

namespace relay {
namespace {
constexpr std::size_t kChunkSize = 64 * 1024;
}

RelayTunnel::RelayTunnel(std::string id, std::shared_ptr<net::WebSocket> sender,
                         std::shared_ptr<net::WebSocket> listener, std::function<void(RelayTunnel&)> on_finished)
    : id_(std::move(id)),
      to_listener_{sender, listener, std::vector<uint8_t>(kChunkSize), "sender->listener"},
      to_sender_{listener, sender, std::vector<uint8_t>(kChunkSize), "listener->sender"},
      on_finished_(std::move(on_finished)) {}

void RelayTunnel::start() {
  auto self = shared_from_this();
  to_listener_.from->set_finished_handler([self] { self->on_socket_finished(); });
  to_sender_.from->set_finished_handler([self] { self->on_socket_finished(); });
  pump(to_listener_);
  pump(to_sender_);
}

void RelayTunnel::pump(Direction& d) {
  d.from->async_read(asio::buffer(d.buffer), [self = shared_from_this(), &d](std::error_code ec, net::ReadChunk chunk) {
    if (ec == net::WsError::closed) {
      // The peer finished this direction: pass its close on, the other direction keeps flowing.
      spdlog::debug("tunnel {}: {} closed ({})", self->id_, d.name, d.from->close_code());
      d.to->send_close(d.from->close_code(), d.from->close_reason());
      return;
    }
    if (ec) {
      if (ec != asio::error::operation_aborted)
        spdlog::debug("tunnel {}: {} dropped: {}", self->id_, d.name, ec.message());
      self->abort();
      return;
    }
    d.to->async_write(asio::buffer(d.buffer.data(), chunk.size), chunk.opcode, chunk.message_end,
                      [self, &d](std::error_code wec) {
                        if (wec) return self->abort();
                        self->pump(d);
                      });
  });
}

void RelayTunnel::abort() {
  to_listener_.from->abort();
  to_sender_.from->abort();
}

void RelayTunnel::close(uint16_t code, const std::string& reason) {
  to_listener_.from->send_close(code, reason);
  to_sender_.from->send_close(code, reason);
}

void RelayTunnel::on_socket_finished() {
  if (--sockets_open_ > 0) {
    return;
  }
  if (on_finished_) {
    auto cb = std::move(on_finished_);
    cb(*this);
  }
}

}  // namespace relay
