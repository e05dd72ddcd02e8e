// One request/response exchange on a Conn: write `size` bytes of the pattern, read the same bytes back, compare.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "conn.hpp"
#include "pattern.hpp"

namespace bench {

class RoundTrip : public std::enable_shared_from_this<RoundTrip> {
 public:
  using Handler = std::function<void(const std::string& error)>;  // empty error: done and verified

  RoundTrip(std::shared_ptr<Conn> conn, std::size_t size) : conn_(std::move(conn)), out_(size), in_(size) {}

  // `seed` picks where in the pattern the message comes from, so consecutive messages differ.
  void run(uint64_t seed, Handler handler) {
    handler_ = std::move(handler);
    expected_ = pattern().at(seed * 61);
    std::memcpy(out_.data(), expected_, out_.size());  // the write may mask the bytes in place
    have_ = 0;
    conn_->write(asio::buffer(out_), [self = shared_from_this()](std::error_code ec) {
      if (ec) return self->finish("write: " + ec.message());
      self->read();
    });
  }
  Conn& conn() { return *conn_; }

 private:
  // The handler may start the next run() on this object, which replaces handler_: call a moved-out copy.
  void finish(const std::string& error) {
    auto handler = std::move(handler_);
    handler(error);
  }

  void read() {
    conn_->read_some(asio::buffer(in_.data() + have_, in_.size() - have_),
                     [self = shared_from_this()](std::error_code ec, std::size_t n) {
                       if (ec) return self->finish("read: " + ec.message());
                       self->have_ += n;
                       if (self->have_ < self->in_.size()) return self->read();
                       if (std::memcmp(self->in_.data(), self->expected_, self->in_.size()) != 0)
                         return self->finish("echo differs from what was sent");
                       self->finish({});
                     });
  }

  std::shared_ptr<Conn> conn_;
  std::vector<uint8_t> out_, in_;
  const uint8_t* expected_ = nullptr;
  std::size_t have_ = 0;
  Handler handler_;
};

}  // namespace bench
