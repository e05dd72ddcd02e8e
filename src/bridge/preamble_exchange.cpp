#include "bridge/preamble_exchange.hpp"

#include <array>

namespace bridge {
namespace {

// Reads chunks from the WebSocket and feeds a consumer until it says stop, under a deadline that aborts the socket.
class ChunkReader : public std::enable_shared_from_this<ChunkReader> {
 public:
  // consume(data, size) returns true when it has what it needs.
  using Consume = std::function<bool(const uint8_t*, std::size_t)>;
  using Done = std::function<void(std::error_code)>;

  ChunkReader(std::shared_ptr<net::WebSocket> ws, std::chrono::milliseconds timeout, Consume consume, Done done)
      : ws_(std::move(ws)), timer_(ws_->stream().get_executor()), consume_(std::move(consume)), done_(std::move(done)) {
    timer_.expires_after(timeout);
  }
  void start() {
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec || self->finished_) return;
      self->timed_out_ = true;
      self->ws_->abort();
    });
    read();
  }

 private:
  void read() {
    ws_->async_read(asio::buffer(buf_), [self = shared_from_this()](std::error_code ec, net::ReadChunk chunk) {
      if (ec) return self->finish(self->timed_out_ ? std::error_code(asio::error::timed_out) : ec);
      if (self->consume_(self->buf_.data(), chunk.size)) return self->finish({});
      self->read();
    });
  }
  void finish(std::error_code ec) {
    finished_ = true;
    timer_.cancel();
    done_(ec);
  }

  std::shared_ptr<net::WebSocket> ws_;
  asio::steady_timer timer_;
  Consume consume_;
  Done done_;
  std::array<uint8_t, 4096> buf_{};
  bool finished_ = false;
  bool timed_out_ = false;
};

}  // namespace

void async_read_preamble(const std::shared_ptr<net::WebSocket>& ws, std::chrono::milliseconds timeout,
                         std::function<void(std::error_code, PreambleRequest)> handler) {
  auto parser = std::make_shared<hc::PreambleParser>();
  auto request = std::make_shared<PreambleRequest>();
  auto consume = [parser, request](const uint8_t* data, std::size_t size) {
    std::size_t consumed = 0;
    const auto status = parser->feed(data, size, consumed);
    if (status == hc::ParseStatus::need_more) return false;
    if (status == hc::ParseStatus::bad) {
      request->error = parser->error();
      request->reply_on_error = parser->bad_reply();
      return true;
    }
    request->mode = parser->mode();
    request->port_name = parser->port_name();
    request->leftover.assign(reinterpret_cast<const char*>(data) + consumed, size - consumed);
    return true;
  };
  auto reader = std::make_shared<ChunkReader>(ws, timeout, consume, [request, handler](std::error_code ec) {
    handler(ec, std::move(*request));
  });
  reader->start();
}

void async_send_preamble(const std::shared_ptr<net::WebSocket>& ws, const std::string& port_name,
                         std::chrono::milliseconds timeout,
                         std::function<void(std::error_code, std::string, std::string)> handler,
                         hc::PreambleMode mode) {
  // The client role masks in place, so the bytes live in a buffer owned until the write completes.
  auto message = std::make_shared<std::string>(hc::encode_preamble(mode, port_name));
  auto reply = std::make_shared<std::string>();
  auto leftover = std::make_shared<std::string>();
  ws->async_write(asio::buffer(*message), net::ws::Opcode::binary, true,
                  [ws, message, reply, leftover, timeout, handler, mode](std::error_code wec) {
                    if (wec) return handler(wec, {}, {});
                    auto consume = [reply, leftover](const uint8_t* data, std::size_t size) {
                      const std::size_t take = std::min<std::size_t>(3 - reply->size(), size);
                      reply->append(reinterpret_cast<const char*>(data), take);
                      if (reply->size() < 3) return false;
                      leftover->assign(reinterpret_cast<const char*>(data) + take, size - take);
                      return true;
                    };
                    auto reader = std::make_shared<ChunkReader>(
                        ws, timeout, consume, [ws, reply, leftover, handler, mode](std::error_code ec) {
                          if (ec == net::WsError::closed) {
                            // Our listener says why (e.g. "target unreachable: ..."); azbridge closes silently.
                            const std::string& why = ws->close_reason();
                            return handler({}, {}, why.empty() ? "the listener closed the connection without a reply "
                                                                 "(unknown port name?)"
                                                               : "the listener refused: " + why);
                          }
                          if (ec) return handler(ec, {}, {});
                          const auto* r = reinterpret_cast<const uint8_t*>(reply->data());
                          switch (hc::classify_preamble_reply(r, mode)) {
                            case hc::PreambleReply::accepted: return handler({}, std::move(*leftover), {});
                            case hc::PreambleReply::bad_version: return handler({}, {}, "the listener does not support preamble version 1.0");
                            case hc::PreambleReply::need_datagram: return handler({}, {}, "the listener's port is UDP");
                            case hc::PreambleReply::need_stream: return handler({}, {}, "the listener's port is not UDP (TCP or Unix socket)");
                            case hc::PreambleReply::invalid: break;
                          }
                          return handler({}, {}, "the listener sent an invalid preamble reply");
                        });
                    reader->start();
                  });
}

void async_send_reply(const std::shared_ptr<net::WebSocket>& ws, std::string reply,
                      std::function<void(std::error_code)> handler) {
  auto message = std::make_shared<std::string>(std::move(reply));
  ws->async_write(asio::buffer(*message), net::ws::Opcode::binary, true,
                  [message, handler](std::error_code ec) { handler(ec); });
}

}  // namespace bridge
