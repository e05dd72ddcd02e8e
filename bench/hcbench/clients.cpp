#include "clients.hpp"

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "pattern.hpp"
#include "report.hpp"
#include "round_trip.hpp"

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
int64_t ns_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

// ---- throughput ---------------------------------------------------------------------------------------------------

// Sends the header and `total` bytes of the pattern, then waits for the sink's verdict.
class Source : public std::enable_shared_from_this<Source> {
 public:
  using Handler = std::function<void(const std::string& error)>;
  Source(std::shared_ptr<Conn> conn, uint64_t total, std::size_t chunk)
      : conn_(std::move(conn)), total_(total), chunk_(std::min(chunk, Pattern::kMaxSpan)) {
    if (conn_->clobbers_writes()) scratch_.resize(chunk_);
  }

  void start(Handler done) {
    done_ = std::move(done);
    std::copy(kSinkMagic, kSinkMagic + 8, header_.begin());
    put_u64(header_.data() + 8, total_);
    conn_->write(asio::buffer(header_), [self = shared_from_this()](std::error_code ec) {
      if (ec) return self->done_("write: " + ec.message());
      self->send_next();
    });
  }

 private:
  void send_next() {
    if (sent_ == total_) return read_reply();
    const auto n = static_cast<std::size_t>(std::min<uint64_t>(chunk_, total_ - sent_));
    auto* data = const_cast<uint8_t*>(pattern().at(sent_));  // written from, never to, unless copied below
    if (!scratch_.empty()) data = static_cast<uint8_t*>(std::memcpy(scratch_.data(), data, n));
    sent_ += n;
    conn_->write(asio::buffer(data, n), [self = shared_from_this()](std::error_code ec) {
      if (ec) return self->done_("write: " + ec.message());
      self->send_next();
    });
  }

  void read_reply() {
    conn_->read_some(asio::buffer(reply_.data() + have_, reply_.size() - have_),
                     [self = shared_from_this()](std::error_code ec, std::size_t n) {
                       if (ec) return self->done_("reading the sink's verdict: " + ec.message());
                       self->have_ += n;
                       if (self->have_ < kHeaderSize) return self->read_reply();
                       const bool ok = std::equal(kReplyOk, kReplyOk + 8, self->reply_.begin());
                       const uint64_t got = get_u64(self->reply_.data() + 8);
                       if (!ok || got != self->total_)
                         return self->done_("sink saw " + std::to_string(got) + " of " + std::to_string(self->total_) +
                                            " bytes, " + (ok ? "pattern intact" : "pattern or length wrong"));
                       self->conn_->close();
                       self->done_({});
                     });
  }

  std::shared_ptr<Conn> conn_;
  uint64_t total_, sent_ = 0;
  std::size_t chunk_;
  std::vector<uint8_t> scratch_;
  std::array<uint8_t, kHeaderSize> header_{}, reply_{};
  std::size_t have_ = 0;
  Handler done_;
};

// ---- set-up and idle: a bounded number of workers pulling from a shared budget -------------------------------------

struct SetupRun {
  SetupOptions options;
  Dialer* dialer;
  Done done;
  Clock::time_point t0 = Clock::now();
  uint64_t started = 0, finished = 0;
  int active = 0;
  std::vector<int64_t> ns;
  ErrorTally errors;

  bool may_start() const { return started < options.count && seconds_since(t0) < options.seconds; }
};

void setup_worker(std::shared_ptr<SetupRun> run) {
  if (!run->may_start()) {
    if (--run->active == 0) {
      const double elapsed = seconds_since(run->t0);
      const auto ok = run->ns.size();
      JsonLine()
          .add("mode", "setup")
          .add("connections", static_cast<uint64_t>(ok))
          .add("failed", run->errors.total)
          .add("seconds", elapsed)
          .add("per_second", static_cast<double>(ok) / elapsed)
          .add("p50_us", percentile_us(run->ns, 50))
          .add("p99_us", percentile_us(run->ns, 99))
          .add("errors", run->errors.counts)
          .print();
      run->done(run->errors.total == 0 && ok > 0 ? 0 : 1);
    }
    return;
  }
  const uint64_t seq = run->started++;
  const auto t = Clock::now();
  run->dialer->dial([run, seq, t](std::error_code, const std::string& what, std::shared_ptr<Conn> conn) {
    if (!conn) {
      run->errors.add(what);
      return setup_worker(run);
    }
    auto rt = std::make_shared<RoundTrip>(conn, 64);
    rt->run(seq, [run, t, rt](const std::string& error) {
      rt->conn().close();
      if (error.empty())
        run->ns.push_back(ns_since(t));
      else
        run->errors.add(error);
      setup_worker(run);
    });
  });
}

struct IdleRun {
  IdleOptions options;
  Dialer* dialer;
  Done done;
  asio::io_context* io;
  Clock::time_point t0 = Clock::now();
  uint64_t started = 0, settled = 0;
  std::vector<std::shared_ptr<Conn>> open;
  ErrorTally errors;
  std::unique_ptr<asio::posix::stream_descriptor> stdin_watch;
  std::unique_ptr<asio::steady_timer> hold;
  char stdin_byte = 0;
};

void idle_release(const std::shared_ptr<IdleRun>& run) {
  for (auto& c : run->open) c->close();
  JsonLine().add("event", "released").add("closed", static_cast<uint64_t>(run->open.size())).print();
  run->open.clear();
  if (run->stdin_watch) run->stdin_watch->release();  // leave fd 0 itself alone
  if (run->hold) run->hold->cancel();
  run->done(run->errors.total == 0 ? 0 : 1);
}

void idle_wait_stdin(const std::shared_ptr<IdleRun>& run) {
  run->stdin_watch->async_read_some(asio::buffer(&run->stdin_byte, 1), [run](std::error_code ec, std::size_t) {
    if (ec) return idle_release(run);  // EOF: the harness has measured
    idle_wait_stdin(run);
  });
}

void idle_ready(const std::shared_ptr<IdleRun>& run) {
  JsonLine()
      .add("event", "ready")
      .add("mode", "idle")
      .add("open", static_cast<uint64_t>(run->open.size()))
      .add("failed", run->errors.total)
      .add("seconds", seconds_since(run->t0))
      .add("errors", run->errors.counts)
      .print();
  if (run->options.hold_seconds > 0) {
    run->hold = std::make_unique<asio::steady_timer>(
        *run->io,
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(run->options.hold_seconds)));
    run->hold->async_wait([run](std::error_code ec) {
      if (!ec) idle_release(run);
    });
  } else {
    run->stdin_watch = std::make_unique<asio::posix::stream_descriptor>(*run->io, 0);
    idle_wait_stdin(run);
  }
}

void idle_worker(std::shared_ptr<IdleRun> run) {
  if (run->started == run->options.count) return;
  const uint64_t seq = run->started++;
  run->dialer->dial([run, seq](std::error_code, const std::string& what, std::shared_ptr<Conn> conn) {
    auto settle = [run] {
      if (++run->settled == run->options.count)
        idle_ready(run);
      else
        idle_worker(run);
    };
    if (!conn) {
      run->errors.add(what);
      return settle();
    }
    auto rt = std::make_shared<RoundTrip>(conn, 64);
    rt->run(seq, [run, conn, settle](const std::string& error) {
      if (error.empty())
        run->open.push_back(conn);
      else
        run->errors.add(error), conn->close();
      settle();
    });
  });
}

// ---- latency: one connection, one message in flight, every round trip timed -----------------------------------------

class Pinger : public std::enable_shared_from_this<Pinger> {
 public:
  Pinger(std::shared_ptr<Conn> conn, LatencyOptions options, Done done)
      : rt_(std::make_shared<RoundTrip>(std::move(conn), options.size)), options_(options), done_(std::move(done)) {
    ns_.reserve(options.count);
  }

  void next() {
    if (ns_.size() >= options_.count || seconds_since(t0_) >= options_.seconds) return finish();
    const auto t = Clock::now();
    rt_->run(seq_, [self = shared_from_this(), t](const std::string& error) {
      if (!error.empty()) {
        self->rt_->conn().close();
        JsonLine().add("mode", "latency").add("error", error).print();
        return self->done_(1);
      }
      if (self->seq_++ >= self->options_.warmup) self->ns_.push_back(ns_since(t));
      self->next();
    });
  }

 private:
  void finish() {
    rt_->conn().close();
    if (ns_.empty()) {
      JsonLine().add("mode", "latency").add("error", "no round trip measured: the warm-up used all the time").print();
      return done_(1);
    }
    JsonLine()
        .add("mode", "latency")
        .add("size", static_cast<uint64_t>(options_.size))
        .add("round_trips", static_cast<uint64_t>(ns_.size()))
        .add("p50_us", percentile_us(ns_, 50))
        .add("p90_us", percentile_us(ns_, 90))
        .add("p99_us", percentile_us(ns_, 99))
        .add("max_us", percentile_us(ns_, 100))
        .print();
    done_(0);
  }

  std::shared_ptr<RoundTrip> rt_;
  LatencyOptions options_;
  Done done_;
  std::vector<int64_t> ns_;
  uint64_t seq_ = 0;
  Clock::time_point t0_ = Clock::now();
};

}  // namespace

void run_throughput(asio::io_context&, Dialer& dialer, ThroughputOptions options, Done done) {
  struct State {
    std::vector<std::shared_ptr<Conn>> conns;
    int dialed = 0, finished = 0;
    ErrorTally errors;
    Clock::time_point t0;
  };
  auto st = std::make_shared<State>();
  st->conns.resize(options.streams);
  auto report = [st, options, done] {
    const double elapsed = seconds_since(st->t0);
    const uint64_t bytes = st->errors.total ? 0 : options.bytes_per_stream * static_cast<uint64_t>(options.streams);
    JsonLine()
        .add("mode", "throughput")
        .add("streams", options.streams)
        .add("bytes", bytes)
        .add("seconds", elapsed)
        .add("mb_per_s", st->errors.total ? 0.0 : static_cast<double>(bytes) / elapsed / 1e6)
        .add("verified", st->errors.total == 0)
        .add("errors", st->errors.counts)
        .print();
    done(st->errors.total == 0 ? 0 : 1);
  };
  // Connect every stream first, then start the clock and send on all of them at once.
  for (int i = 0; i < options.streams; ++i) {
    dialer.dial([st, i, options, report](std::error_code, const std::string& what, std::shared_ptr<Conn> conn) {
      if (!conn) st->errors.add(what);
      st->conns[i] = conn;
      if (++st->dialed < options.streams) return;
      st->t0 = Clock::now();
      if (st->errors.total) return report();
      for (auto& c : st->conns) {
        auto source = std::make_shared<Source>(c, options.bytes_per_stream, options.chunk);
        source->start([st, options, report](const std::string& error) {
          if (!error.empty()) st->errors.add(error);
          if (++st->finished == options.streams) report();
        });
      }
      st->conns.clear();
    });
  }
}

void run_latency(asio::io_context&, Dialer& dialer, LatencyOptions options, Done done) {
  dialer.dial([options, done](std::error_code, const std::string& what, std::shared_ptr<Conn> conn) {
    if (!conn) {
      JsonLine().add("mode", "latency").add("error", what).print();
      return done(1);
    }
    std::make_shared<Pinger>(conn, options, done)->next();
  });
}

void run_setup(asio::io_context&, Dialer& dialer, SetupOptions options, Done done) {
  auto run = std::make_shared<SetupRun>();
  run->options = options;
  run->dialer = &dialer;
  run->done = std::move(done);
  run->active = options.concurrency;
  for (int i = 0; i < options.concurrency; ++i) setup_worker(run);
}

void run_idle(asio::io_context& io, Dialer& dialer, IdleOptions options, Done done) {
  auto run = std::make_shared<IdleRun>();
  run->options = options;
  run->dialer = &dialer;
  run->done = std::move(done);
  run->io = &io;
  run->open.reserve(options.count);
  if (options.count == 0) return idle_ready(run);
  for (int i = 0; i < options.concurrency; ++i) idle_worker(run);
}

}  // namespace bench
