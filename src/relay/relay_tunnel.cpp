#include "relay/relay_tunnel.hpp"

#include <spdlog/spdlog.h>

namespace relay {
namespace {
constexpr std::size_t kChunkSize = net::BufferPool::kPayload;
}

RelayTunnel::RelayTunnel(std::string id, std::shared_ptr<net::WebSocket> sender,
                         std::shared_ptr<net::WebSocket> listener, std::function<void(RelayTunnel&)> on_finished)
    : id_(std::move(id)),
      to_listener_{sender, listener, "sender->listener"},
      to_sender_{listener, sender, "listener->sender"},
      on_finished_(std::move(on_finished)) {}

void RelayTunnel::start() {
  auto self = shared_from_this();
  to_listener_.from->set_finished_handler([self] { self->on_socket_finished(); });
  to_sender_.from->set_finished_handler([self] { self->on_socket_finished(); });
  pump(to_listener_);
  pump(to_sender_);
}

void RelayTunnel::pump(Direction& d) {
  d.from->async_read_view(kChunkSize, [self = shared_from_this(), &d](std::error_code ec, net::ReadView chunk) {
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
    // Sent on from the reading side's block: the frame header goes into the room in front of the payload.
    d.to->async_write_in_place(asio::buffer(chunk.data, chunk.size), chunk.opcode, chunk.message_end,
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
