// Local TCP servers and clients for the daemon's end-to-end tests, all asynchronous on the test's io_context.
#pragma once

#include "relay_fixture.hpp"

#include "support/test_cert.hpp"
#include "support/tunnel_config.hpp"

#include "bridge/daemon.hpp"

#include <openssl/sha.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <dirent.h>

#include <mutex>
#include <random>

namespace testing {

inline std::string random_payload(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

inline std::string sha256(const std::string& s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof md);
}

// Open file descriptors of this process (the daemon, the fake relay and the targets all run in it).
inline std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

// Counts the log lines (at warn and above) that contain `needle` while it lives, on the default logger.
class LogCapture {
 public:
  explicit LogCapture(std::string needle) : sink_(std::make_shared<Sink>(std::move(needle))) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::size_t lines() const { return sink_->lines; }
  const std::string& last() const { return sink_->last; }

 private:
  struct Sink : spdlog::sinks::base_sink<std::mutex> {
    explicit Sink(std::string n) : needle(std::move(n)) {}
    void sink_it_(const spdlog::details::log_msg& msg) override {
      if (msg.level < spdlog::level::warn) return;
      const std::string_view text(msg.payload.data(), msg.payload.size());
      if (text.find(needle) == std::string_view::npos) return;
      ++lines;
      last.assign(text);
    }
    void flush_() override {}
    std::string needle;
    std::size_t lines = 0;
    std::string last;
  };
  std::shared_ptr<Sink> sink_;
};

// A target server. Echo mode writes back what it reads and half-closes on EOF. Reply mode reads the whole request
// until EOF and only then sends `reply` (so a reply can only arrive if the client's half-close crossed the tunnel).
// Decoy mode (the second constructor, on a given address and port) only counts connections to an address nobody
// should dial.
class TargetServer {
 public:
  enum class Mode { echo, reply_after_eof, decoy };
  TargetServer(asio::io_context& io, Mode mode, std::string reply = {})
      : acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}), mode_(mode), reply_(std::move(reply)) {
    accept();
  }
  TargetServer(asio::io_context& io, const std::string& address, uint16_t port)
      : acceptor_(io, {asio::ip::make_address(address), port}), mode_(Mode::decoy) {
    accept();
  }
  // The io_context outlives this object in the fixtures; pending handlers must see that it is gone.
  ~TargetServer() {
    *alive_ = false;
    std::error_code ignored;
    acceptor_.close(ignored);
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::size_t accepted = 0;
  std::vector<std::string> requests;  // reply mode: what each connection sent

 private:
  struct Conn : std::enable_shared_from_this<Conn> {
    explicit Conn(asio::ip::tcp::socket s) : sock(std::move(s)), buf(65536) {}
    asio::ip::tcp::socket sock;
    std::vector<char> buf;
    std::string got;
  };
  void accept() {
    acceptor_.async_accept([this, alive = alive_](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec || !*alive) return;
      ++accepted;
      auto c = std::make_shared<Conn>(std::move(s));
      if (mode_ == Mode::echo) echo(c);
      else if (mode_ == Mode::reply_after_eof) collect(c);
      accept();
    });
  }
  void echo(std::shared_ptr<Conn> c) {
    c->sock.async_read_some(asio::buffer(c->buf), [c, this, alive = alive_](std::error_code ec, std::size_t n) {
      if (!*alive) return;
      if (ec) {
        std::error_code e;
        c->sock.shutdown(asio::ip::tcp::socket::shutdown_send, e);
        return;
      }
      asio::async_write(c->sock, asio::buffer(c->buf.data(), n), [c, this, alive](std::error_code wec, std::size_t) {
        if (!wec && *alive) echo(c);
      });
    });
  }
  void collect(std::shared_ptr<Conn> c) {
    c->sock.async_read_some(asio::buffer(c->buf), [c, this, alive = alive_](std::error_code ec, std::size_t n) {
      if (!*alive) return;
      if (!ec) {
        c->got.append(c->buf.data(), n);
        return collect(c);
      }
      requests.push_back(c->got);
      auto data = std::make_shared<std::string>(reply_);
      asio::async_write(c->sock, asio::buffer(*data), [c, data](std::error_code, std::size_t) {
        std::error_code e;
        c->sock.shutdown(asio::ip::tcp::socket::shutdown_send, e);
      });
    });
  }
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  asio::ip::tcp::acceptor acceptor_;
  Mode mode_;
  std::string reply_;
};

// Connects to a local forward, writes `payload`, half-closes, and reads until EOF or error.
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& io, uint16_t port, std::string payload) : sock(io), port_(port), payload(std::move(payload)), buf(65536) {}
  void start() {
    sock.async_connect({asio::ip::make_address("127.0.0.1"), port_}, [self = shared_from_this()](std::error_code ec) {
      if (ec) return self->end(ec);
      asio::async_write(self->sock, asio::buffer(self->payload), [self](std::error_code wec, std::size_t) {
        if (wec) return;
        std::error_code e;
        self->sock.shutdown(asio::ip::tcp::socket::shutdown_send, e);
        self->wrote_all = true;
      });
      self->read();
    });
  }
  asio::ip::tcp::socket sock;
  std::string received;
  bool done = false;
  bool wrote_all = false;
  std::error_code error;  // eof on a clean end

 private:
  void read() {
    sock.async_read_some(asio::buffer(buf), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      if (ec) return self->end(ec);
      self->received.append(self->buf.data(), n);
      self->read();
    });
  }
  void end(std::error_code ec) {
    error = ec;
    done = true;
  }
  uint16_t port_;
 public:
  std::string payload;
 private:
  std::vector<char> buf;
};

// Reads `socket` until EOF or an error, turning the loop; returns what arrived.
inline std::string read_to_end(asio::io_context& io, asio::ip::tcp::socket& socket,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  std::string got;
  std::vector<char> buf(65536);
  bool done = false;
  std::function<void()> next = [&] {
    socket.async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t n) {
      got.append(buf.data(), n);
      if (ec) done = true;
      else next();
    });
  };
  next();
  REQUIRE(run_until(io, [&] { return done; }, timeout));
  return got;
}

// A relay plus a daemon with one local and one remote forward on the same hybrid connection.
struct BridgeSetup {
  explicit BridgeSetup(bool tls, std::function<void(bridge::Config&)> tweak = {},
                       std::function<void(relay::RelayConfig&)> relay_tweak = {})
      : relay_fixture([&](relay::RelayConfig& c) {
          if (tls) {
            const auto cert = make_test_cert();
            c.tls_cert = cert.cert_file;
            c.tls_key = cert.key_file;
          }
          if (relay_tweak) relay_tweak(c);
        }),
        io(relay_fixture.io),
        config(tunnel_pair_config(std::string(tls ? "wss" : "ws") + "://127.0.0.1:" +
                                      std::to_string(relay_fixture.port) + "/",
                                  relay_fixture.key)) {
    if (tls) config.relay.ca_file = make_test_cert().cert_file;
    if (tweak) tweak(config);
  }

  // Starts the daemon with the remote forward pointing at `target_port` (unless the tweak set targets already).
  void start(uint16_t target_port) {
    for (auto& r : config.remote_forwards)
      if (r.targets.empty()) r.targets.push_back(testing::port_target("web", "127.0.0.1", target_port));
    daemon = std::make_unique<bridge::Daemon>(io, config);
    auto error = daemon->start();
    REQUIRE_FALSE(error.has_value());
    REQUIRE(run_until(io, [this] { return listeners_up(); }));
  }

  bool listeners_up() const {
    for (const auto& r : daemon->remote_forwarders())
      if (!r->connected()) return false;
    return true;
  }

  uint16_t local_port(std::size_t forward = 0) const {
    return daemon->local_forwarders().at(forward)->local_endpoints().at(0).port();
  }

  std::shared_ptr<Client> client(std::string payload) {
    auto c = std::make_shared<Client>(io, local_port(), std::move(payload));
    c->start();
    return c;
  }

  ~BridgeSetup() {
    if (daemon) {
      bool stopped = false;
      daemon->shutdown([&] { stopped = true; });
      run_until(io, [&] { return stopped; }, std::chrono::seconds(5));
    }
  }

  RelayFixture relay_fixture;
  asio::io_context& io;
  bridge::Config config;
  std::unique_ptr<bridge::Daemon> daemon;
};

}  // namespace testing
