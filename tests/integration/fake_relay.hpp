// A scripted, hostile relay for the daemon's robustness tests: a plain TCP server on loopback that speaks just enough
// HTTP upgrade and RFC 6455 by hand to play the relay, and then misbehaves on purpose (oversized frames, bad close
// codes, endless handshakes, forged accept addresses...). Everything runs on the test's io_context.
#pragma once

#include "bridge_fixture.hpp"

#include "hc/control_message.hpp"
#include "hc/preamble.hpp"
#include "hc/url.hpp"
#include "net/http_head.hpp"
#include "net/ws_frame.hpp"

#include <array>
#include <deque>
#include <fstream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

namespace testing {

struct WireFrame {
  net::ws::Opcode opcode = net::ws::Opcode::binary;
  bool fin = true;
  std::string payload;
};

// A server frame (unmasked) with the given payload; `announced` overrides the length in the header (a header that
// lies about its payload, e.g. 2^40 bytes, followed by whatever the test streams after it).
inline std::string server_frame(net::ws::Opcode op, std::string_view payload, bool fin = true,
                                std::optional<uint64_t> announced = std::nullopt) {
  uint8_t h[net::ws::kMaxFrameHeaderSize];
  const std::size_t n = net::ws::encode_frame_header(h, fin, op, announced.value_or(payload.size()), nullptr);
  return std::string(reinterpret_cast<char*>(h), n) + std::string(payload);
}

// Stops `daemon` (waits up to 5 s for its shutdown), then drops every connection of `fake`, which a hostile relay may
// leave half-way (a handshake never answered, a close never returned), and lets the daemon's side see it, so nothing is
// left holding itself when the io_context goes (LeakSanitizer).
template <class Daemon, class Fake>
void stop_daemon_and_drop(asio::io_context& io, Daemon* daemon, Fake& fake) {
  if (daemon) {
    bool stopped = false;
    daemon->shutdown([&] { stopped = true; });
    run_until(io, [&] { return stopped; }, std::chrono::seconds(5));
  }
  for (auto& c : fake.conns) c->drop();
  for (int i = 0; i < 100; ++i) {
    io.restart();
    if (io.poll() == 0) break;
  }
}

inline std::string close_payload(uint16_t code, std::string_view reason = {}) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xff);
  p += reason;
  return p;
}

// Resident memory of this process in bytes (the daemon under test runs in-process).
inline std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

class FakeRelay {
 public:
  struct Conn : std::enable_shared_from_this<Conn> {
    explicit Conn(asio::ip::tcp::socket s) : sock(std::move(s)), opened(std::chrono::steady_clock::now()) {}
    asio::ip::tcp::socket sock;
    net::http::RequestParser parser;
    bool head_done = false;
    std::string action;  // sb-hc-action of the upgrade request
    std::string id;      // sb-hc-id
    std::string key;     // Sec-WebSocket-Key
    std::string in;      // bytes after the head
    std::size_t parsed = 0;
    std::vector<WireFrame> frames;  // the client's frames, unmasked, as far as they have arrived
    bool keep_frames = true;        // false: only count them (floods), and drop the parsed bytes
    std::map<net::ws::Opcode, std::size_t> counts;
    bool frame_error = false;       // the client sent something that is not a valid masked frame
    bool ended = false;             // our read side saw EOF or an error: the daemon closed or dropped us
    std::error_code end_error;
    std::chrono::steady_clock::time_point opened, ended_at;
    std::function<void()> on_drained;    // once, when everything queued so far is written
    std::function<void(Conn&)> on_data;  // after each read, once the head is in (scripts: echo, preamble reply)
    bool pause_reading = false;           // true: stop reading (a relay that does not take what the daemon sends)
    std::function<void()> resume_reading;  // set while paused: call to read again
    // Write side: one write at a time, in order.
    std::deque<std::shared_ptr<const std::string>> out;
    bool writing = false;
    uint64_t written = 0;
    bool write_failed = false;
    std::array<char, 65536> buf{};

    void send(std::string bytes) { send_shared(std::make_shared<const std::string>(std::move(bytes))); }
    void send_shared(std::shared_ptr<const std::string> bytes) {
      out.push_back(std::move(bytes));
      pump();
    }
    void pump() {
      if (writing || out.empty() || write_failed) return;
      writing = true;
      auto data = out.front();
      asio::async_write(sock, asio::buffer(*data), [self = shared_from_this(), data](std::error_code ec, std::size_t n) {
        self->writing = false;
        self->written += n;
        self->out.pop_front();
        if (ec) {
          self->write_failed = true;
          self->out.clear();
          if (auto cb = std::move(self->on_drained)) {
            self->on_drained = nullptr;
            cb();
          }
          return;
        }
        if (self->out.empty() && self->on_drained) {
          auto cb = std::move(self->on_drained);
          self->on_drained = nullptr;
          return cb();
        }
        self->pump();
      });
    }
    bool idle() const { return !writing && out.empty(); }

    void upgrade() {
      send(net::http::build_upgrade_response(net::http::websocket_accept_key(key), {}));
    }
    void send_frame(net::ws::Opcode op, std::string_view payload, bool fin = true) { send(server_frame(op, payload, fin)); }
    void send_text(std::string_view s) { send_frame(net::ws::Opcode::text, s); }
    void send_binary(std::string_view s) { send_frame(net::ws::Opcode::binary, s); }
    void send_close(uint16_t code, std::string_view reason = {}) { send_frame(net::ws::Opcode::close, close_payload(code, reason)); }

    // Parses the client's frames (masked, as RFC 6455 requires of a client) that have fully arrived.
    void parse() {
      while (!frame_error) {
        net::ws::FrameHeader h;
        const auto r = net::ws::parse_frame_header(reinterpret_cast<const uint8_t*>(in.data()) + parsed, in.size() - parsed,
                                                   net::ws::Role::server, 1ull << 32, h);
        if (r.status == net::ws::ParseStatus::bad) {
          frame_error = true;
          return;
        }
        if (r.status == net::ws::ParseStatus::need_more || in.size() - parsed - r.header_size < h.payload_size) return;
        WireFrame f;
        f.opcode = h.opcode;
        f.fin = h.fin;
        f.payload = in.substr(parsed + r.header_size, static_cast<std::size_t>(h.payload_size));
        net::ws::apply_mask(reinterpret_cast<uint8_t*>(f.payload.data()), f.payload.size(), h.mask, 0);
        parsed += r.header_size + static_cast<std::size_t>(h.payload_size);
        ++counts[f.opcode];
        if (keep_frames) frames.push_back(std::move(f));
      }
      if (!keep_frames) {
        in.erase(0, parsed);
        parsed = 0;
      }
    }
    // Concatenated payload of the client's data frames.
    std::string data() const {
      std::string s;
      for (const auto& f : frames)
        if (!net::ws::is_control(f.opcode)) s += f.payload;
      return s;
    }
    std::optional<uint16_t> close_code() const {
      for (const auto& f : frames)
        if (f.opcode == net::ws::Opcode::close)
          return f.payload.size() >= 2 ? static_cast<uint16_t>((uint8_t(f.payload[0]) << 8) | uint8_t(f.payload[1])) : 1005;
      return std::nullopt;
    }
    std::size_t count(net::ws::Opcode op) const {
      auto it = counts.find(op);
      return it == counts.end() ? 0 : it->second;
    }
    void drop() {
      std::error_code ignored;
      sock.close(ignored);
    }
  };
  using ConnPtr = std::shared_ptr<Conn>;
  // What to do with a connection once its head is read, per sb-hc-action. Default: upgrade.
  using Script = std::function<void(const ConnPtr&)>;

  explicit FakeRelay(asio::io_context& io, const std::string& address = "127.0.0.1")
      : io_(io), acceptor_(io, {asio::ip::make_address(address), 0}) {
    accept();
  }
  ~FakeRelay() {
    *alive_ = false;
    std::error_code ignored;
    acceptor_.close(ignored);
    for (auto& c : conns) c->drop();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  // Connections accepted from now on get small segments and a small fixed receive buffer (loopback's autotuned ones
  // absorb megabytes): what the daemon sends to a connection that stops reading backs up at the daemon after some
  // tens of KiB, at any build speed.
  void limit_buffers() {
    const int segment = 536, receive = 16384;
    REQUIRE(::setsockopt(acceptor_.native_handle(), IPPROTO_TCP, TCP_MAXSEG, &segment, sizeof segment) == 0);
    REQUIRE(::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_RCVBUF, &receive, sizeof receive) == 0);
  }
  std::string endpoint() const { return "ws://127.0.0.1:" + std::to_string(port()) + "/"; }
  // A rendezvous address on this fake (what a well-behaved relay would send).
  std::string accept_address(const std::string& id) const {
    return "ws://127.0.0.1:" + std::to_string(port()) + "/$hc/tun?sb-hc-action=accept&sb-hc-id=" + id;
  }

  std::map<std::string, Script> scripts;  // by action: "listen", "accept", "connect"
  std::vector<ConnPtr> conns;              // every connection, in arrival order

  std::vector<ConnPtr> with_action(const std::string& action) const {
    std::vector<ConnPtr> out;
    for (const auto& c : conns)
      if (c->head_done && c->action == action) out.push_back(c);
    return out;
  }
  ConnPtr latest(const std::string& action) const {
    auto v = with_action(action);
    return v.empty() ? nullptr : v.back();
  }
  // The control channel in use: the newest upgraded listen connection the daemon has not dropped.
  ConnPtr live_control() const {
    auto c = latest("listen");
    return c && !c->ended ? c : nullptr;
  }

  // Streams `first` and then `chunk` over and over until `total` bytes of chunks went out or a write fails (the daemon
  // dropped us), one write at a time so our own memory stays flat.
  struct Stream : std::enable_shared_from_this<Stream> {
    ConnPtr c;
    std::shared_ptr<const std::string> chunk;
    uint64_t total = 0;
    uint64_t sent = 0;
    bool finished = false;
    bool failed = false;
    void step() {
      if (c->write_failed || sent >= total) {
        failed = c->write_failed;
        finished = true;
        return;
      }
      sent += chunk->size();
      asio::async_write(c->sock, asio::buffer(*chunk), [self = shared_from_this()](std::error_code ec, std::size_t n) {
        self->c->written += n;
        if (ec) self->c->write_failed = true;
        self->step();
      });
    }
  };
  static std::shared_ptr<Stream> stream(const ConnPtr& c, std::string first, std::shared_ptr<const std::string> chunk,
                                        uint64_t total) {
    auto st = std::make_shared<Stream>();
    st->c = c;
    st->chunk = std::move(chunk);
    st->total = total;
    c->on_drained = [st] { st->step(); };  // once the head and `first` are out
    c->send(std::move(first));
    return st;
  }

  // Sends `prefix`, then one byte every `interval`, until the connection ends (a handshake that never finishes: the
  // daemon must give up on its own).
  struct Trickle : std::enable_shared_from_this<Trickle> {
    ConnPtr c;
    asio::steady_timer timer;
    std::chrono::milliseconds interval;
    Trickle(ConnPtr conn, std::chrono::milliseconds i) : c(std::move(conn)), timer(c->sock.get_executor()), interval(i) {}
    void tick() {
      if (c->ended || c->write_failed) return;
      c->send("a");
      timer.expires_after(interval);
      timer.async_wait([self = shared_from_this()](std::error_code ec) {
        if (!ec) self->tick();
      });
    }
  };
  static void trickle(const ConnPtr& c, std::string prefix, std::chrono::milliseconds interval) {
    c->send(std::move(prefix));
    std::make_shared<Trickle>(c, interval)->tick();
  }

  // The sender's part of a normal tunnel on a rendezvous connection, used to prove the daemon still works: sends the
  // azbridge preamble for `port_name` and `payload` in one message.
  static void play_sender(const ConnPtr& c, const std::string& port_name, const std::string& payload) {
    c->send_binary(hc::encode_preamble(hc::PreambleMode::stream, port_name) + payload);
  }

  // The listener's part of a tunnel on a sender's connection (what a well-behaved relay + listener would do): answer
  // the preamble with "accepted", echo every data frame, answer a close with a close.
  static void play_echo_listener(const ConnPtr& c) {
    auto state = std::make_shared<std::size_t>(0);  // frames handled
    auto preamble_done = std::make_shared<bool>(false);
    c->on_data = [state, preamble_done](Conn& conn) {
      conn.parse();
      for (; *state < conn.frames.size(); ++*state) {
        const auto& f = conn.frames[*state];
        if (f.opcode == net::ws::Opcode::close) {
          conn.send_close(1000);
          continue;
        }
        if (net::ws::is_control(f.opcode)) continue;
        std::string payload = f.payload;
        if (!*preamble_done) {
          // {1,0,0,len} + name, then payload.
          if (payload.size() < 4) continue;
          const std::size_t len = static_cast<uint8_t>(payload[3]);
          *preamble_done = true;
          conn.send_binary(hc::preamble_reply_accepted(hc::PreambleMode::stream));
          payload = payload.substr(std::min(payload.size(), 4 + len));
        }
        if (!payload.empty()) conn.send_binary(payload);
      }
    };
  }

 private:
  void accept() {
    acceptor_.async_accept([this, alive = alive_](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec || !*alive) return;
      auto c = std::make_shared<Conn>(std::move(s));
      conns.push_back(c);
      read(c);
      accept();
    });
  }
  void read(const ConnPtr& c) {
    c->sock.async_read_some(asio::buffer(c->buf), [this, c, alive = alive_](std::error_code ec, std::size_t n) {
      if (!*alive) return;
      if (ec) {
        c->ended = true;
        c->end_error = ec;
        c->ended_at = std::chrono::steady_clock::now();
        return;
      }
      std::size_t used = 0;
      if (!c->head_done) {
        const auto st = c->parser.feed(c->buf.data(), n, used);
        if (st == net::http::ParseStatus::bad) {
          c->drop();
          return;
        }
        if (st == net::http::ParseStatus::good) {
          c->head_done = true;
          const auto& head = c->parser.head();
          if (const std::string* k = head.headers.find("Sec-WebSocket-Key")) c->key = *k;
          const auto [path, query] = net::http::split_target(head.target);
          const auto params = hc::parse_query(query);
          c->action = hc::find_param(params, "sb-hc-action").value_or("");
          c->id = hc::find_param(params, "sb-hc-id").value_or("");
          c->in.append(c->buf.data() + used, n - used);
          auto it = scripts.find(c->action);
          if (it != scripts.end() && it->second) it->second(c);
          else c->upgrade();
          if (c->on_data) c->on_data(*c);
        }
      } else {
        c->in.append(c->buf.data(), n);
        if (c->on_data) c->on_data(*c);
      }
      if (c->pause_reading) {
        // Weak: the connection owns this function, and a strong capture would keep it alive for ever.
        c->resume_reading = [this, weak = std::weak_ptr<Conn>(c), alive] {
          auto conn = weak.lock();
          if (!conn) return;
          conn->pause_reading = false;
          if (*alive) read(conn);
        };
        return;
      }
      read(c);
    });
  }

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace testing
