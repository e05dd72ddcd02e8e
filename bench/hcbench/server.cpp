#include "server.hpp"

#include <array>
#include <vector>

#include "pattern.hpp"

namespace bench {
namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Conn> conn, ServerStats& stats) : conn_(std::move(conn)), stats_(stats) {}
  void start() { read_header(); }

 private:
  // The first 16 bytes decide: a sink header, or the start of an echo conversation.
  void read_header() {
    conn_->read_some(asio::buffer(buf_.data() + have_, buf_.size() - have_),
                     [self = shared_from_this()](std::error_code ec, std::size_t n) {
                       if (ec) return self->conn_->close();
                       self->have_ += n;
                       if (self->have_ < kHeaderSize) return self->read_header();
                       if (std::equal(kSinkMagic, kSinkMagic + 8, self->buf_.begin())) {
                         self->expected_ = get_u64(self->buf_.data() + 8);
                         ++self->stats_.sink_streams;
                         self->buf_.resize(Pattern::kMaxSpan);  // big reads only for bulk streams
                         self->take(self->buf_.data() + kHeaderSize, self->have_ - kHeaderSize);
                         return self->sink_next();
                       }
                       ++self->stats_.echo_connections;
                       self->echo_write(self->have_);
                     });
  }

  void take(const uint8_t* data, std::size_t n) {
    if (received_ + n > expected_ || !pattern().matches(received_, data, n)) good_ = false;
    received_ += n;
    stats_.sink_bytes += n;
  }

  void sink_next() {
    if (received_ >= expected_) return reply();
    conn_->read_some(asio::buffer(buf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      if (ec) {  // the stream ended early: nothing to answer, the client reports the failure
        ++self->stats_.sink_bad;
        return self->conn_->close();
      }
      self->take(self->buf_.data(), n);
      self->sink_next();
    });
  }

  void reply() {
    if (!good_) ++stats_.sink_bad;
    std::copy(good_ ? kReplyOk : kReplyBad, (good_ ? kReplyOk : kReplyBad) + 8, reply_.begin());
    put_u64(reply_.data() + 8, received_);
    conn_->write(asio::buffer(reply_), [self = shared_from_this()](std::error_code ec) {
      if (ec) return self->conn_->close();
      self->drain();
    });
  }

  // After the reply the client closes; anything more it sends is a protocol error but harmless.
  void drain() {
    conn_->read_some(asio::buffer(buf_), [self = shared_from_this()](std::error_code ec, std::size_t) {
      if (ec) return self->conn_->close();
      self->drain();
    });
  }

  void echo_write(std::size_t n) {
    conn_->write(asio::buffer(buf_.data(), n), [self = shared_from_this()](std::error_code ec) {
      if (ec) return self->conn_->close();
      self->echo_read();
    });
  }
  void echo_read() {
    conn_->read_some(asio::buffer(buf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      if (ec) return self->conn_->close();
      self->echo_write(n);
    });
  }

  std::shared_ptr<Conn> conn_;
  ServerStats& stats_;
  // Echo conversations are small messages: 4 KiB keeps 10,000 idle ones cheap; a sink grows it.
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(4096);
  std::size_t have_ = 0;
  uint64_t expected_ = 0, received_ = 0;
  bool good_ = true;
  std::array<uint8_t, kHeaderSize> reply_{};
};

}  // namespace

void serve(std::shared_ptr<Conn> conn, ServerStats& stats) {
  std::make_shared<Session>(std::move(conn), stats)->start();
}

}  // namespace bench
