// A malicious or broken relay, played by FakeRelay (fake_relay.hpp), against the real daemon in-process: the
// listener side (control channel, rendezvous dial, tunnels) and the sender side (relay connect, tunnels). Every case
// checks that the damage stays bounded in time (and in memory where a naive implementation would buffer), that only
// the affected connection dies, and that the daemon still works afterwards: the control channel reconnects and a
// normal tunnel crosses the same fake relay.
#include "fake_relay.hpp"

#include "ops/logging.hpp"
#include "support/test_cert.hpp"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <limits>

using testing::FakeRelay;
using testing::resident_bytes;
using testing::run_until;
using testing::server_frame;
using Op = net::ws::Opcode;
using namespace std::chrono_literals;

namespace {

#ifdef HCB_SANITIZED_BUILD
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
// What the daemon may grow by while a hostile peer pushes tens of MiB at it. Resident memory is only meaningful
// without sanitizers (ASan keeps freed memory in quarantine).
constexpr std::size_t kRssSlack = 16u << 20;

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

// Measured times go to stdout (ctest keeps them in LastTest.log) for the record; the bounds are asserted separately.
void note(const std::string& what, double ms) { std::printf("hostile-timing: %s: %.0f ms\n", what.c_str(), ms); }

// Counts the bytes a target receives and throws them away (a sink whose own memory stays flat).
class SinkTarget {
 public:
  explicit SinkTarget(asio::io_context& io) : acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}) { accept(); }
  ~SinkTarget() {
    *alive_ = false;
    std::error_code ignored;
    acceptor_.close(ignored);
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  uint64_t bytes = 0;
  bool eof = false;

 private:
  struct Conn {
    explicit Conn(asio::ip::tcp::socket s) : sock(std::move(s)) {}
    asio::ip::tcp::socket sock;
    std::array<char, 65536> buf{};
  };
  void accept() {
    acceptor_.async_accept([this, alive = alive_](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec || !*alive) return;
      read(std::make_shared<Conn>(std::move(s)));
      accept();
    });
  }
  void read(std::shared_ptr<Conn> c) {
    c->sock.async_read_some(asio::buffer(c->buf), [this, c, alive = alive_](std::error_code ec, std::size_t n) {
      if (!*alive) return;
      bytes += n;
      if (ec) {
        eof = true;
        return;
      }
      read(c);
    });
  }
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The daemon under test with a remote forward (T:tun, targets "web" -> echo and "sink" -> sink) and a local forward
// (port name "web", named after its address), both pointed at the fake relay.
struct Hostile {
  explicit Hostile(const std::function<void(bridge::Config&)>& tweak = {}) {
    config = testing::tunnel_pair_config(fake.endpoint(), testing::kTestRelayKey);
    config.connect_timeout = bridge::Seconds(5);
    config.preamble_timeout = bridge::Seconds(5);
    config.remote_forwards[0].targets.push_back(testing::port_target("web", "127.0.0.1", echo.port()));
    config.remote_forwards[0].targets.push_back(testing::port_target("sink", "127.0.0.1", sink.port()));
    if (tweak) tweak(config);
  }
  ~Hostile() { testing::stop_daemon_and_drop(io, daemon.get(), fake); }
  // Starts the daemon; with `wait_control`, until the control channel is up on the fake.
  void start(bool wait_control = true) {
    daemon = std::make_unique<bridge::Daemon>(io, config);
    REQUIRE_FALSE(daemon->start().has_value());
    if (wait_control) REQUIRE(run_until(io, [this] { return control_up(); }));
  }
  bool control_up() const { return fake.live_control() != nullptr && daemon->remote_forwarders().at(0)->connected(); }
  uint16_t local_port() const { return daemon->local_forwarders().at(0)->local_endpoints().at(0).port(); }
  std::string local_name() const { return daemon->local_forwarders().at(0)->name(); }
  double failed(const std::string& forward, const std::string& reason) {
    return daemon->metrics().value("hcbridge_tunnels_failed_total", {{"forward", forward}, {"reason", reason}});
  }
  double reconnects(const std::string& reason) {
    return daemon->metrics().value("hcbridge_control_channel_reconnects_total", {{"forward", "T:tun"}, {"reason", reason}});
  }

  asio::io_context io;
  FakeRelay fake{io};
  testing::TargetServer echo{io, testing::TargetServer::Mode::echo};
  SinkTarget sink{io};
  bridge::Config config;
  std::unique_ptr<bridge::Daemon> daemon;
};

std::string accept_json(const std::string& address, const std::string& id) {
  hc::AcceptMessage a;
  a.address = address;
  a.id = id;
  a.remote_address = "127.0.0.1";
  a.remote_port = 40000;
  return hc::build_accept_message(a);
}

// Sends a valid accept on the live control channel and waits for the daemon to dial it; returns the rendezvous.
FakeRelay::ConnPtr offer(Hostile& h, const std::string& id, std::chrono::milliseconds timeout = 10s) {
  FakeRelay::ConnPtr control;
  REQUIRE(run_until(h.io, [&] { return (control = h.fake.live_control()) != nullptr && h.control_up(); }, timeout));
  control->send_text(accept_json(h.fake.accept_address(id), id));
  FakeRelay::ConnPtr rv;
  REQUIRE(run_until(h.io, [&] {
    for (const auto& c : h.fake.with_action("accept"))
      if (c->id == id) rv = c;
    return rv != nullptr;
  }, timeout));
  return rv;
}

// A tunnel from the fake (as the sender) to the echo target: preamble, payload, and back comes reply + payload.
FakeRelay::ConnPtr open_tunnel(Hostile& h, const std::string& id, const std::string& payload) {
  auto rv = offer(h, id);
  FakeRelay::play_sender(rv, "web", payload);
  const std::string want = hc::preamble_reply_accepted(hc::PreambleMode::stream) + payload;
  REQUIRE(run_until(h.io, [&] {
    rv->parse();
    return rv->data() == want;
  }));
  return rv;
}

// The listener side still works: the control channel is (back) up and a tunnel crosses it.
void prove_listener_alive(Hostile& h, const std::string& tag) {
  const auto t0 = Clock::now();
  std::string id = "alive-" + tag;
  for (char& ch : id)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '-';
  auto rv = open_tunnel(h, id, "alive:" + tag);
  rv->send_close(1000);
  note(tag + ": listener recovered (reconnect + new tunnel)", ms_since(t0));
}

// The sender side still works: a local client's bytes cross the fake relay (playing an echoing listener) and back.
void prove_sender_alive(Hostile& h, const std::string& tag) {
  h.fake.scripts["connect"] = [](const FakeRelay::ConnPtr& c) {
    c->upgrade();
    FakeRelay::play_echo_listener(c);
  };
  auto client = std::make_shared<testing::Client>(h.io, h.local_port(), "alive:" + tag);
  client->start();
  REQUIRE(run_until(h.io, [&] { return client->done; }));
  CHECK(client->error == asio::error::eof);
  CHECK(client->received == client->payload);
}

// A raw local client that keeps its socket and records when the daemon ends it. Always held by shared_ptr (its
// pending read keeps it alive past the test's scope).
struct RawClient : std::enable_shared_from_this<RawClient> {
  static std::shared_ptr<RawClient> connect(asio::io_context& io, uint16_t port) {
    auto c = std::make_shared<RawClient>(io);
    c->sock.connect({asio::ip::make_address("127.0.0.1"), port});
    c->read();
    return c;
  }
  explicit RawClient(asio::io_context& io) : sock(io) {}
  void read() {
    sock.async_read_some(asio::buffer(buf), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      self->received.append(self->buf.data(), n);
      if (ec) {
        self->ended = true;
        self->ended_at = Clock::now();
        self->error = ec;
        return;
      }
      self->read();
    });
  }
  asio::ip::tcp::socket sock;
  std::array<char, 4096> buf{};
  std::string received;
  bool ended = false;
  std::error_code error;
  Clock::time_point ended_at;
};

}  // namespace

// ------------------------------------------------------------------------------------------------ rendezvous (SSRF)

TEST_CASE("hostile relay: accepts pointing at another host, port or scheme are refused and never dialled") {
  Hostile h;
  h.start();
  const std::string port = std::to_string(h.fake.port());
  testing::TargetServer other_port(h.io, "127.0.0.1", 0);  // decoys: count connections nobody should make
  testing::TargetServer other_host(h.io, "127.0.0.2", h.fake.port());  // same port, another loopback address
  const std::string q = "/$hc/tun?sb-hc-action=accept&sb-hc-id=evil";
  const std::vector<std::string> forged = {
      "ws://127.0.0.2:" + port + q,                                // another host
      "ws://127.0.0.1:" + std::to_string(other_port.port()) + q,   // another port
      "ws://localhost:" + port + q,                                // another name for the same host: still not the relay's host
      "ws://127.0.0.1:" + port + "@127.0.0.2:" + port + q,         // userinfo trick
      "ws://2130706434:" + port + q,                               // 127.0.0.2 as one decimal number
      "ws://[::ffff:127.0.0.2]:" + port + q,                       // IPv4-mapped IPv6
      "ws://127.0.0.1.nip.io:" + port + q,                         // a name that merely starts like the relay
      "ws://127.0.0.1" + q,                                        // default port 80
      "http://127.0.0.1:" + port + q,                              // other schemes
      "sb://127.0.0.1:" + port + q,
      "file:///etc/passwd",
      "//127.0.0.2:" + port + q,
      "",
      "not a url at all",
  };
  auto control = h.fake.live_control();
  REQUIRE(control);
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < forged.size(); ++i) control->send_text(accept_json(forged[i], "evil-" + std::to_string(i)));
  // Messages are handled in order: once the valid accept that follows is dialled, every forged one was handled.
  prove_listener_alive(h, "ssrf");
  note("ssrf: " + std::to_string(forged.size()) + " forged accepts refused", ms_since(t0));
  CHECK(h.failed("T:tun", "bad_rendezvous_address") == static_cast<double>(forged.size()));
  CHECK(h.fake.with_action("accept").size() == 1);  // only the valid one
  CHECK(other_port.accepted == 0);
  CHECK(other_host.accepted == 0);
  CHECK(h.fake.with_action("listen").size() == 1);  // the control channel itself was never dropped
  CHECK(h.daemon->remote_forwarders()[0]->reconnects() == 0);
}

// ------------------------------------------------------------------------------------------------ control channel

TEST_CASE("hostile relay: oversized frames and messages on the control channel drop it with bounded memory") {
  constexpr uint64_t kTotal = 48ull << 20;  // what the fake tries to push; far more than the socket buffers hold
  const std::string kb(1024, 'a');
  struct Variant {
    const char* name;
    std::string first;
    std::string chunk;
    uint64_t total;  // bytes of `chunk`s streamed after `first`
  };
  std::string fragments;
  for (int i = 0; i < 60; ++i) fragments += server_frame(Op::continuation, kb, false);
  const std::vector<Variant> variants = {
      {"header announcing 2^40 bytes, then 48 MiB", server_frame(Op::text, "", true, 1ull << 40), std::string(65536, 'a'), kTotal},
      {"one 32 MiB text frame (under the frame limit)", server_frame(Op::text, "", true, 32ull << 20), std::string(65536, 'a'), kTotal},
      {"a text message in 1 KiB fragments, never ending", server_frame(Op::text, kb, false), fragments, kTotal},
      {"a binary message in 1 KiB fragments", server_frame(Op::binary, kb, false), fragments, kTotal},
      {"header announcing 2^40 bytes alone", server_frame(Op::binary, "", true, 1ull << 40), "", 0},
  };
  const auto v = GENERATE(0, 1, 2, 3, 4);
  const Variant& variant = variants.at(static_cast<std::size_t>(v));
  INFO(variant.name);
  Hostile h;
  h.start();
  auto control = h.fake.live_control();
  const auto rss0 = resident_bytes();
  const auto t0 = Clock::now();
  auto st = FakeRelay::stream(control, variant.first, std::make_shared<const std::string>(variant.chunk), variant.total);
  REQUIRE(run_until(h.io, [&] { return control->ended && st->finished; }, 10s));
  const auto rss1 = resident_bytes();
  note(std::string("control channel, ") + variant.name + ": dropped", ms_between(t0, control->ended_at));
  CHECK(ms_between(t0, control->ended_at) < 2000);
  if (variant.total > 0) {
    CHECK(st->failed);  // the daemon closed its socket before we got everything out
    CHECK(control->written < variant.total);
  }
  if (!kSanitized) CHECK(rss1 < rss0 + kRssSlack);
  control->parse();
  // The daemon says 1009, and the close frame leaves before the daemon drops the socket (the drop resets the
  // connection, but what was sent before the reset is still read here).
  CHECK(control->close_code() == uint16_t{1009});
  CHECK(h.reconnects("bad_message") + h.reconnects("connection_lost") == 1);
  prove_listener_alive(h, std::string("oversized control ") + std::to_string(v));
}

TEST_CASE("hostile relay: invalid UTF-8 in a control-channel text message fails the channel with 1007") {
  const auto v = GENERATE(0, 1);
  Hostile h;
  h.start();
  auto control = h.fake.live_control();
  // A valid accept whose id carries a broken sequence: it must not be acted on.
  std::string json = accept_json(h.fake.accept_address("bad-utf8"), "bad-utf8");
  json.replace(json.find("bad-utf8\""), 8, "bad\xC3\x28utf");
  const auto t0 = Clock::now();
  if (v == 0) {
    control->send_text(json);
  } else {
    // The broken sequence split across two fragments: \xE2\x82 | \x28.
    control->send(server_frame(Op::text, "{\"accept\":{\"id\":\"\xE2\x82", false));
    control->send(server_frame(Op::continuation, "\x28\"}}", true));
  }
  REQUIRE(run_until(h.io, [&] { return control->ended; }, 5s));
  note("control channel, invalid UTF-8 " + std::string(v ? "(split)" : "(one frame)") + ": dropped", ms_between(t0, control->ended_at));
  control->parse();
  CHECK(control->close_code() == 1007);
  CHECK(h.reconnects("bad_message") == 1);
  prove_listener_alive(h, "utf8");
  CHECK(h.fake.with_action("accept").size() == 1);  // only prove_listener_alive's
}

TEST_CASE("hostile relay: bad close frames on the control channel fail it with 1002, and it reconnects") {
  struct Variant {
    const char* name;
    std::string payload;
  };
  const std::vector<Variant> variants = {
      {"code 999", testing::close_payload(999)},   {"code 1004", testing::close_payload(1004)},
      {"code 1005 on the wire", testing::close_payload(1005)},
      {"code 1006 on the wire", testing::close_payload(1006)},
      {"code 1015 on the wire", testing::close_payload(1015)},
      {"code 5000", testing::close_payload(5000)}, {"1-byte payload", std::string(1, '\x03')},
      {"reason not UTF-8", testing::close_payload(1000, "\xFF\xFE")},
      {"126-byte payload", testing::close_payload(1000, std::string(124, 'r'))},
  };
  const auto v = GENERATE(range(0, 9));
  const Variant& variant = variants.at(static_cast<std::size_t>(v));
  INFO(variant.name);
  Hostile h;
  h.start();
  auto control = h.fake.live_control();
  const auto t0 = Clock::now();
  control->send(server_frame(Op::close, variant.payload));  // over 125 bytes: a control frame with a 16-bit length
  REQUIRE(run_until(h.io, [&] { return control->ended; }, 5s));
  note(std::string("control channel, bad close (") + variant.name + "): dropped", ms_between(t0, control->ended_at));
  CHECK(ms_between(t0, control->ended_at) < 1000);
  control->parse();
  CHECK(control->close_code() == 1002);
  CHECK(h.reconnects("connection_lost") == 1);
  prove_listener_alive(h, std::string("bad close ") + variant.name);
}

TEST_CASE("hostile relay: frames after a close on the control channel are never acted on") {
  Hostile h;
  h.start();
  auto control = h.fake.live_control();
  // One write: close, then an accept (valid address), a ping and a binary frame.
  control->send(server_frame(Op::close, testing::close_payload(1000, "bye")) +
                server_frame(Op::text, accept_json(h.fake.accept_address("after-close"), "after-close")) +
                server_frame(Op::ping, "p") + server_frame(Op::binary, "junk"));
  const auto t0 = Clock::now();
  REQUIRE(run_until(h.io, [&] { return control->ended; }, 5s));
  note("control channel, frames after close: dropped", ms_between(t0, control->ended_at));
  control->parse();
  CHECK(control->close_code() == 1000);
  CHECK(control->count(Op::pong) == 0);  // the ping after the close was not answered either
  CHECK(h.reconnects("closed_by_relay") == 1);
  prove_listener_alive(h, "after close");
  for (const auto& c : h.fake.with_action("accept")) CHECK(c->id != "after-close");
}

TEST_CASE("hostile relay: a ping flood on the control channel leaves the daemon responsive with flat memory") {
  Hostile h;
  h.start();
  auto control = h.fake.live_control();
  control->keep_frames = false;
  control->on_data = [](FakeRelay::Conn& c) { c.parse(); };  // count the pongs, keep nothing
  std::string pings;
  for (int i = 0; i < 500; ++i) pings += server_frame(Op::ping, std::string(125, 'p'));
  const uint64_t total = kSanitized ? (4ull << 20) : (16ull << 20);  // ~33000 / ~130000 pings
  const uint64_t count = (total + pings.size() - 1) / pings.size() * 500;
  const auto rss0 = resident_bytes();
  const auto t0 = Clock::now();
  auto st = FakeRelay::stream(control, "", std::make_shared<const std::string>(pings), total);
  // An accept right behind the flood is still handled.
  REQUIRE(run_until(h.io, [&] { return st->finished; }, 60s));
  REQUIRE_FALSE(st->failed);
  auto rv = offer(h, "after-flood");
  note("control channel, " + std::to_string(count) + " pings then an accept: accept dialled", ms_since(t0));
  const auto rss1 = resident_bytes();
  CHECK(control->count(Op::pong) <= count);
  CHECK(control->count(Op::pong) > 0);
  if (!kSanitized) CHECK(rss1 < rss0 + kRssSlack);
  CHECK_FALSE(control->ended);
  CHECK(h.daemon->remote_forwarders()[0]->reconnects() == 0);
}

// ------------------------------------------------------------------------------------------------ handshakes

namespace {
enum class Stall { silent, trickle };
// What a relay that never finishes a handshake does with a connection.
FakeRelay::Script stall_script(Stall how) {
  return [how](const FakeRelay::ConnPtr& c) {
    if (how == Stall::trickle) FakeRelay::trickle(c, "HTTP/1.1 101 Switching Protocols\r\nX-Slow: ", 50ms);
  };
}
constexpr double kShortTimeout = 0.5;  // connect_timeout in the handshake tests (default 20 s)
}  // namespace

TEST_CASE("hostile relay: a control-channel handshake that never finishes times out, and the daemon retries") {
  const auto how = GENERATE(Stall::silent, Stall::trickle);
  const char* what = how == Stall::silent ? "never answers" : "answers one byte per 50 ms";
  INFO(what);
  Hostile h([](bridge::Config& c) { c.connect_timeout = bridge::Seconds(kShortTimeout); });
  h.fake.scripts["listen"] = stall_script(how);
  h.start(false);
  REQUIRE(run_until(h.io, [&] { return !h.fake.with_action("listen").empty() && h.fake.with_action("listen")[0]->ended; }, 5s));
  const auto first = h.fake.with_action("listen")[0];
  const double took = ms_between(first->opened, first->ended_at);
  note(std::string("control channel handshake that ") + what + ": given up", took);
  CHECK(took >= kShortTimeout * 1000 / 2);
  CHECK(took < kShortTimeout * 1000 + 1000);
  CHECK_FALSE(h.daemon->remote_forwarders()[0]->connected());
  h.fake.scripts.erase("listen");
  prove_listener_alive(h, std::string("control handshake ") + what);
  CHECK(h.reconnects("connect_failed") >= 1);
}

TEST_CASE("hostile relay: a rendezvous handshake that never finishes times out and frees its slot") {
  const auto how = GENERATE(Stall::silent, Stall::trickle);
  const char* what = how == Stall::silent ? "never answers" : "answers one byte per 50 ms";
  INFO(what);
  Hostile h([](bridge::Config& c) {
    c.connect_timeout = bridge::Seconds(kShortTimeout);
    c.remote_forwards[0].max_connections = 1;  // a leaked handshake would block the next accept
  });
  h.start();
  h.fake.scripts["accept"] = stall_script(how);
  auto rv = offer(h, "stalled");
  REQUIRE(run_until(h.io, [&] { return rv->ended; }, 5s));
  const double took = ms_between(rv->opened, rv->ended_at);
  note(std::string("rendezvous handshake that ") + what + ": given up", took);
  CHECK(took < kShortTimeout * 1000 + 1000);
  CHECK(h.failed("T:tun", "rendezvous_failed") == 1);
  h.fake.scripts.erase("accept");
  prove_listener_alive(h, std::string("rendezvous handshake ") + what);
  CHECK(h.failed("T:tun", "limit") == 0);
  CHECK(h.daemon->remote_forwarders()[0]->reconnects() == 0);  // the control channel was not affected
}

TEST_CASE("hostile relay: a sender connect that never finishes times out, and -L caps pending handshakes") {
  const auto how = GENERATE(Stall::silent, Stall::trickle);
  const char* what = how == Stall::silent ? "never answers" : "answers one byte per 50 ms";
  INFO(what);
  Hostile h([](bridge::Config& c) {
    c.connect_timeout = bridge::Seconds(kShortTimeout);
    c.local_forwards[0].max_connections = 3;
  });
  h.fake.scripts["connect"] = stall_script(how);
  h.start();
  // Ten local clients that connect and send nothing: three are being set up, seven are refused at once.
  const auto t0 = Clock::now();
  std::vector<std::shared_ptr<RawClient>> clients;
  for (int i = 0; i < 10; ++i) clients.push_back(RawClient::connect(h.io, h.local_port()));
  const auto ended = [&] {
    return static_cast<std::size_t>(std::count_if(clients.begin(), clients.end(), [](const auto& c) { return c->ended; }));
  };
  REQUIRE(run_until(h.io, [&] { return ended() >= 7; }, 5s));
  const auto refused_at = Clock::now();
  CHECK(h.failed(h.local_name(), "limit") == 7);
  REQUIRE(run_until(h.io, [&] { return ended() == 10; }, 5s));
  note(std::string("10 silent clients, relay connect that ") + what + ": 7 refused", ms_between(t0, refused_at));
  note(std::string("10 silent clients, relay connect that ") + what + ": all closed", ms_since(t0));
  CHECK(ms_since(t0) < kShortTimeout * 1000 + 1500);
  CHECK(h.fake.with_action("connect").size() == 3);
  CHECK(h.failed(h.local_name(), "relay_unreachable") == 3);
  for (const auto& c : h.fake.with_action("connect")) CHECK(c->ended);
  for (const auto& c : clients) CHECK(c->received.empty());
  prove_sender_alive(h, std::string("sender handshake ") + what);
}

// ------------------------------------------------------------------------------------------------ floods

namespace {
// A flood is 100,000 messages; the sanitizer builds send fewer (each message costs them far more), enough to pass
// every cap many times over.
constexpr std::size_t kFlood = kSanitized ? 20000 : 100000;
constexpr std::size_t kFloodBatch = 500;  // messages per write of the fake
// Warnings a rate-limited flood may log: one at once, then one per 10 s interval.
std::size_t allowed_lines(Clock::time_point t0) { return 2 + static_cast<std::size_t>(ms_since(t0) / 10000); }
}  // namespace

TEST_CASE("hostile relay: a flood of HTTP requests is answered a few at a time, the rest dropped and counted") {
  Hostile h;
  h.fake.limit_buffers();  // the answers back up after tens of KiB, not megabytes
  h.start();
  testing::LogCapture warnings("an HTTP request arrived");
  auto control = h.fake.live_control();
  control->keep_frames = false;
  control->on_data = [](FakeRelay::Conn& c) { c.parse(); };  // counts the 501 answers, keeps nothing
  // The fake takes none of the answers while it floods: they back up at the daemon, which must not queue them all.
  control->pause_reading = true;
  hc::RequestMessage request;
  request.address = h.fake.accept_address("req");
  request.id = "req";
  request.request_target = "/";
  request.method = "GET";
  std::string batch;
  for (std::size_t i = 0; i < kFloodBatch; ++i) batch += server_frame(Op::text, hc::build_request_message(request));
  const auto fds0 = testing::open_fds();
  const auto rss0 = resident_bytes();
  const auto t0 = Clock::now();
  auto st = FakeRelay::stream(control, "", std::make_shared<const std::string>(batch), kFlood / kFloodBatch * batch.size());
  const auto dropped = [&] {
    return h.daemon->metrics().value("hcbridge_control_messages_dropped_total",
                                     {{"forward", "T:tun"}, {"reason", "too_many_requests"}});
  };
  const auto answered = [&] { return static_cast<double>(control->count(Op::text)); };
  // Paused, the fake's small buffers fill after some hundreds of answers: from then on the daemon must drop (a daemon
  // that queued every answer would never drop, and this wait would fail).
  REQUIRE(run_until(h.io, [&] { return st->finished && dropped() > 0; }, 60s));
  const auto rss1 = resident_bytes();
  const auto fds1 = testing::open_fds();
  // Now take the answers: every request was answered or dropped.
  if (control->resume_reading) control->resume_reading();
  REQUIRE(run_until(h.io, [&] { return answered() + dropped() == kFlood; }, 30s));
  note(std::to_string(kFlood) + " HTTP requests: " + std::to_string(static_cast<uint64_t>(answered())) + " answered 501, " +
           std::to_string(static_cast<uint64_t>(dropped())) + " dropped",
       ms_since(t0));
  CHECK_FALSE(st->failed);
  CHECK(dropped() > 0);
  CHECK(answered() > 0);
  if (!kSanitized) CHECK(rss1 < rss0 + kRssSlack);
  CHECK(fds1 <= fds0 + 2);
  CHECK(warnings.lines() >= 1);
  CHECK(warnings.lines() <= allowed_lines(t0));
  CHECK_FALSE(control->ended);
  CHECK(h.daemon->remote_forwarders()[0]->reconnects() == 0);
  prove_listener_alive(h, "request flood");
}

TEST_CASE("hostile relay: a flood of accepts over the limit dials a bounded number of rejects, counted and quiet") {
  Hostile h([](bridge::Config& c) {
    c.remote_forwards[0].max_connections = 2;
    c.connect_timeout = bridge::Seconds(120);  // the hanging dials hold their places for the whole flood
  });
  h.start();
  auto held = open_tunnel(h, "held", "x");  // one of the two places
  h.fake.scripts["accept"] = stall_script(Stall::silent);  // every dial from here (accept or 503) hangs
  testing::LogCapture warnings("refusing connection");
  std::string batch;
  for (std::size_t i = 0; i < kFloodBatch; ++i) batch += server_frame(Op::text, accept_json(h.fake.accept_address("flood"), "flood"));
  auto control = h.fake.live_control();
  const auto fds0 = testing::open_fds();
  const auto rss0 = resident_bytes();
  const auto t0 = Clock::now();
  auto st = FakeRelay::stream(control, "", std::make_shared<const std::string>(batch), kFlood / kFloodBatch * batch.size());
  // The first accept takes the second place; every other one is over the limit.
  REQUIRE(run_until(h.io, [&] { return st->finished && h.failed("T:tun", "limit") == kFlood - 1; }, 60s));
  note(std::to_string(kFlood) + " accepts over the limit: counted", ms_since(t0));
  const auto dials = h.fake.with_action("accept").size();  // the held tunnel, the accepted one, at most one 503
  CHECK(dials <= 3);
  CHECK(testing::open_fds() <= fds0 + 2 * 2);  // each hanging dial is two sockets of this process
  if (!kSanitized) CHECK(resident_bytes() < rss0 + kRssSlack);
  CHECK(warnings.lines() >= 1);
  CHECK(warnings.lines() <= allowed_lines(t0));
  CHECK_FALSE(st->failed);
  CHECK(h.daemon->remote_forwarders()[0]->reconnects() == 0);
  // Free the places (the held tunnel ends, the hanging dials are dropped) and a new tunnel works.
  held->send_close(1000);
  for (const auto& c : h.fake.with_action("accept"))
    if (c->id == "flood") c->drop();
  h.fake.scripts.erase("accept");
  REQUIRE(run_until(h.io, [&] { return h.daemon->tunnels().count("T:tun") == 0; }));
  prove_listener_alive(h, "accept flood");
}

// ------------------------------------------------------------------------------------------------ handshake ends

TEST_CASE("hostile relay: shutting down cancels the handshakes in progress on both sides") {
  Hostile h;  // connect_timeout 5 s: an end within a second is the cancel, not the timeout
  h.fake.scripts["accept"] = stall_script(Stall::silent);
  h.fake.scripts["connect"] = stall_script(Stall::silent);
  h.start();
  auto rv = offer(h, "pending");
  auto client = RawClient::connect(h.io, h.local_port());
  REQUIRE(run_until(h.io, [&] { return h.fake.latest("connect") != nullptr; }));
  auto sender = h.fake.latest("connect");
  const auto t0 = Clock::now();
  bool stopped = false;
  h.daemon->shutdown([&] { stopped = true; });
  REQUIRE(run_until(h.io, [&] { return stopped && rv->ended && sender->ended && client->ended; }, 10s));
  note("shutdown with a rendezvous and a sender connect pending: both ended", ms_since(t0));
  CHECK(ms_since(t0) < 2000);
  CHECK(client->received.empty());
  CHECK(h.failed("T:tun", "rendezvous_failed") == 0);  // a cancel is not a failure
  CHECK(h.failed(h.local_name(), "relay_unreachable") == 0);
  h.daemon.reset();
}

TEST_CASE("hostile relay: a preamble reply that cannot be sent counts as a failed tunnel") {
  Hostile h;
  h.start();
  // The sender's part in one write, then a reset: the daemon reads the preamble, connects the target, and its reply
  // meets a dead socket.
  h.fake.scripts["accept"] = [](const FakeRelay::ConnPtr& c) {
    c->upgrade();
    FakeRelay::play_sender(c, "web", "");
    c->on_drained = [c] {
      std::error_code ignored;
      c->sock.set_option(asio::socket_base::linger(true, 0), ignored);
      c->sock.close(ignored);
    };
  };
  auto rv = offer(h, "reply-fails");
  REQUIRE(run_until(h.io, [&] { return h.failed("T:tun", "preamble_failed") == 1; }, 5s));
  CHECK(h.daemon->tunnels().count("T:tun") == 0);
  h.fake.scripts.erase("accept");
  prove_listener_alive(h, "reply fails");
}

TEST_CASE("hostile relay: a pre-issued token that expires near the end of time keeps the listener up") {
  testing::LogCapture expiry("pre-issued SAS token");
  Hostile h([](bridge::Config& c) {
    c.relay.sas = hc::create_sas_token(hc::sas_resource_uri("127.0.0.1", "tun"), "root", testing::kTestRelayKey,
                                       std::numeric_limits<int64_t>::max());
    c.relay.key_name.clear();
    c.relay.key.clear();
  });
  h.start();
  CHECK(expiry.lines() == 1);
  CHECK_THAT(expiry.last(), Catch::Contains("expires in 92233720"));
  // No timer fires early: the channel stays, and a tunnel crosses it.
  asio::steady_timer wait(h.io, 1s);
  bool waited = false;
  wait.async_wait([&](std::error_code) { waited = true; });
  REQUIRE(run_until(h.io, [&] { return waited; }));
  CHECK(h.control_up());
  CHECK(h.daemon->remote_forwarders()[0]->reconnects() == 0);
  prove_listener_alive(h, "huge token expiry");
}

// ------------------------------------------------------------------------------------------------ bad HTTP answers

namespace {
struct BadAnswer {
  const char* name;
  std::function<void(const FakeRelay::ConnPtr&)> act;
};
std::vector<BadAnswer> bad_answers() {
  const auto upgrade_with = [](std::string accept_key) {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
           accept_key + "\r\n\r\n";
  };
  return {
      {"not HTTP", [](const FakeRelay::ConnPtr& c) { c->send("SSH-2.0-OpenSSH_9.2\r\n"); }},
      {"binary junk", [](const FakeRelay::ConnPtr& c) { c->send(std::string("\x16\x03\x01\x00\xff\x00\x00\r\n\r\n", 11)); }},
      {"200 instead of 101", [](const FakeRelay::ConnPtr& c) { c->send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); }},
      {"101 with a wrong Sec-WebSocket-Accept",
       [upgrade_with](const FakeRelay::ConnPtr& c) { c->send(upgrade_with("dGhlIHNhbXBsZSBub25jZQ==")); }},
      {"101 without Sec-WebSocket-Accept",
       [](const FakeRelay::ConnPtr& c) { c->send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"); }},
      {"101 without Upgrade",
       [](const FakeRelay::ConnPtr& c) {
         c->send("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                 net::http::websocket_accept_key(c->key) + "\r\n\r\n");
       }},
      {"a head larger than 16 KiB",
       [](const FakeRelay::ConnPtr& c) {
         std::string head = "HTTP/1.1 101 Switching Protocols\r\n";
         for (int i = 0; i < 400; ++i) head += "X-Filler-" + std::to_string(i) + ": " + std::string(60, 'f') + "\r\n";
         c->send(head);  // no blank line: only the size limit can end it before the timeout
       }},
      {"header injection in the status line", [](const FakeRelay::ConnPtr& c) { c->send("HTTP/1.1 101 OK\rSet: x\r\n\r\n"); }},
      {"a masked frame right after the 101",
       [](const FakeRelay::ConnPtr& c) {
         uint8_t h[net::ws::kMaxFrameHeaderSize];
         const uint8_t mask[4] = {1, 2, 3, 4};
         const std::size_t n = net::ws::encode_frame_header(h, true, Op::text, 2, mask);
         c->upgrade();
         c->send(std::string(reinterpret_cast<char*>(h), n) + "hi");
       }},
  };
}
}  // namespace

TEST_CASE("hostile relay: garbage answers to the control-channel upgrade are refused at once") {
  const auto v = GENERATE(range(0, 9));
  const auto answers = bad_answers();
  const auto& bad = answers.at(static_cast<std::size_t>(v));
  INFO(bad.name);
  Hostile h;  // connect_timeout 5 s: "at once" must not be the timeout
  auto first = std::make_shared<bool>(true);
  h.fake.scripts["listen"] = [first, act = bad.act](const FakeRelay::ConnPtr& c) {
    if (*first) {
      *first = false;
      act(c);
    } else {
      c->upgrade();
    }
  };
  h.start(false);
  REQUIRE(run_until(h.io, [&] { return !h.fake.with_action("listen").empty() && h.fake.with_action("listen")[0]->ended; }, 5s));
  const auto c = h.fake.with_action("listen")[0];
  note(std::string("control channel upgrade answered with ") + bad.name + ": dropped", ms_between(c->opened, c->ended_at));
  CHECK(ms_between(c->opened, c->ended_at) < 1000);
  prove_listener_alive(h, std::string("bad answer ") + bad.name);
  CHECK(h.daemon->remote_forwarders()[0]->reconnects() >= 1);
}

TEST_CASE("hostile relay: garbage answers to a rendezvous dial or a sender connect fail only that connection") {
  const auto v = GENERATE(range(0, 9));
  const auto answers = bad_answers();
  const auto& bad = answers.at(static_cast<std::size_t>(v));
  INFO(bad.name);
  Hostile h;
  h.start();
  // Rendezvous.
  h.fake.scripts["accept"] = bad.act;
  auto rv = offer(h, "garbage");
  REQUIRE(run_until(h.io, [&] { return rv->ended; }, 5s));
  note(std::string("rendezvous answered with ") + bad.name + ": dropped", ms_between(rv->opened, rv->ended_at));
  CHECK(ms_between(rv->opened, rv->ended_at) < 1000);
  h.fake.scripts.erase("accept");
  prove_listener_alive(h, std::string("rendezvous bad answer ") + bad.name);
  CHECK(h.daemon->remote_forwarders()[0]->reconnects() == 0);
  // Sender connect.
  h.fake.scripts["connect"] = bad.act;
  auto client = RawClient::connect(h.io, h.local_port());
  const auto t0 = Clock::now();
  REQUIRE(run_until(h.io, [&] { return client->ended; }, 5s));
  note(std::string("sender connect answered with ") + bad.name + ": client closed", ms_between(t0, client->ended_at));
  CHECK(ms_between(t0, client->ended_at) < 1000);
  CHECK(client->received.empty());
  prove_sender_alive(h, std::string("sender bad answer ") + bad.name);
}

// ------------------------------------------------------------------------------------------------ data path

TEST_CASE("hostile relay: an oversized frame on a tunnel kills that tunnel only (listener and sender side)") {
  Hostile h;
  h.start();
  const auto junk = std::make_shared<const std::string>(65536, 'j');
  SECTION("listener side") {
    auto rv = open_tunnel(h, "big", "hello");
    REQUIRE(h.daemon->tunnels().count("T:tun") == 1);
    const auto t0 = Clock::now();
    auto st = FakeRelay::stream(rv, server_frame(Op::binary, "", true, 1ull << 40), junk, 32ull << 20);
    REQUIRE(run_until(h.io, [&] { return rv->ended && st->finished && h.daemon->tunnels().count("T:tun") == 0; }, 10s));
    note("tunnel (listener side), frame header announcing 2^40 bytes: tunnel closed", ms_between(t0, rv->ended_at));
    rv->parse();
    CHECK(rv->close_code() == uint16_t{1009});
    CHECK(st->failed);
    CHECK(h.daemon->metrics().value("hcbridge_tunnels_closed_total", {{"forward", "T:tun"}, {"reason", "relay_error"}}) == 1);
    prove_listener_alive(h, "oversized tunnel frame");
  }
  SECTION("listener side, the header alone: the daemon answers 1009") {
    auto rv = open_tunnel(h, "big", "hello");
    rv->send(server_frame(Op::binary, "", true, 1ull << 40));
    REQUIRE(run_until(h.io, [&] { return rv->ended && h.daemon->tunnels().count("T:tun") == 0; }, 5s));
    rv->parse();
    CHECK(rv->close_code() == uint16_t{1009});
    prove_listener_alive(h, "oversized tunnel frame header");
  }
  SECTION("sender side") {
    h.fake.scripts["connect"] = [](const FakeRelay::ConnPtr& c) {
      c->upgrade();
      FakeRelay::play_echo_listener(c);
    };
    auto client = RawClient::connect(h.io, h.local_port());
    asio::write(client->sock, asio::buffer(std::string("hello")));
    REQUIRE(run_until(h.io, [&] { return client->received == "hello"; }));
    auto conn = h.fake.latest("connect");
    conn->on_data = nullptr;
    const auto t0 = Clock::now();
    auto st = FakeRelay::stream(conn, server_frame(Op::binary, "", true, 1ull << 40), junk, 32ull << 20);
    REQUIRE(run_until(h.io, [&] { return client->ended && conn->ended && st->finished; }, 10s));
    note("tunnel (sender side), frame header announcing 2^40 bytes: client reset", ms_between(t0, client->ended_at));
    CHECK(client->error != asio::error::eof);  // an abort is a reset, not a clean end
    CHECK(h.daemon->tunnels().count(h.local_name()) == 0);
    prove_sender_alive(h, "oversized tunnel frame");
  }
}

TEST_CASE("hostile relay: a huge message in tiny fragments streams through a tunnel with flat memory") {
  Hostile h;
  h.start();
  auto rv = offer(h, "fragments");
  FakeRelay::play_sender(rv, "sink", "");
  REQUIRE(run_until(h.io, [&] {
    rv->parse();
    return rv->data() == hc::preamble_reply_accepted(hc::PreambleMode::stream);
  }));
  const std::string kb(1024, 'f');
  std::string chunk;
  for (int i = 0; i < 60; ++i) chunk += server_frame(Op::continuation, kb, false);
  const uint64_t total = kSanitized ? (8ull << 20) : (64ull << 20);
  const uint64_t fragments = (total + chunk.size() - 1) / chunk.size() * 60;
  const auto rss0 = resident_bytes();
  const auto t0 = Clock::now();
  auto st = FakeRelay::stream(rv, server_frame(Op::binary, kb, false), std::make_shared<const std::string>(chunk), total);
  const uint64_t want = 1024 + fragments * 1024;
  REQUIRE(run_until(h.io, [&] { return st->finished && h.sink.bytes == want; }, 60s));
  note("tunnel, one message of " + std::to_string(fragments + 1) + " 1 KiB fragments: delivered", ms_since(t0));
  const auto rss1 = resident_bytes();
  CHECK_FALSE(st->failed);
  if (!kSanitized) CHECK(rss1 < rss0 + kRssSlack);
  // End the message and the direction; the target sees EOF.
  rv->send(server_frame(Op::continuation, "", true));
  rv->send_close(1000);
  REQUIRE(run_until(h.io, [&] { return h.sink.eof; }));
  CHECK(h.sink.bytes == want);
}

TEST_CASE("hostile relay: frames after a close on a tunnel never reach the target") {
  Hostile h;
  h.start();
  auto rv = offer(h, "after-close");
  // Preamble + "before", then close, then "AFTER" and a ping, in one write.
  rv->send(server_frame(Op::binary, hc::encode_preamble(hc::PreambleMode::stream, "web") + "before") +
           server_frame(Op::close, testing::close_payload(1000)) + server_frame(Op::binary, "AFTER") +
           server_frame(Op::ping, "p"));
  const std::string want = hc::preamble_reply_accepted(hc::PreambleMode::stream) + "before";
  // The echo target sees "before" then EOF, echoes and half-closes; the tunnel ends cleanly.
  REQUIRE(run_until(h.io, [&] {
    rv->parse();
    return rv->ended && rv->close_code().has_value();
  }, 5s));
  CHECK(rv->data() == want);
  CHECK(rv->count(Op::pong) == 0);
  CHECK(h.daemon->tunnels().count("T:tun") == 0);
  CHECK(h.daemon->metrics().value("hcbridge_tunnels_closed_total", {{"forward", "T:tun"}, {"reason", "closed"}}) == 1);
  prove_listener_alive(h, "tunnel frames after close");
}

TEST_CASE("hostile relay: a bad close code on a tunnel aborts that tunnel only") {
  Hostile h;
  h.start();
  auto rv = open_tunnel(h, "bad-close", "hello");
  const auto t0 = Clock::now();
  rv->send(server_frame(Op::close, testing::close_payload(5000)));
  REQUIRE(run_until(h.io, [&] { return rv->ended && h.daemon->tunnels().count("T:tun") == 0; }, 5s));
  note("tunnel, close code 5000: tunnel aborted", ms_between(t0, rv->ended_at));
  rv->parse();
  CHECK(rv->close_code() == 1002);
  CHECK(h.daemon->metrics().value("hcbridge_tunnels_closed_total", {{"forward", "T:tun"}, {"reason", "relay_error"}}) == 1);
  prove_listener_alive(h, "tunnel bad close");
}

TEST_CASE("hostile relay: a text message that is not UTF-8 on a tunnel fails it with 1007 (listener and sender side)") {
  Hostile h;
  h.start();
  const std::string reply = hc::preamble_reply_accepted(hc::PreambleMode::stream);
  auto closed_as_relay_error = [&](const std::string& forward) {
    return h.daemon->metrics().value("hcbridge_tunnels_closed_total", {{"forward", forward}, {"reason", "relay_error"}});
  };
  SECTION("listener side: a code point that a later frame, in a later read, breaks") {
    auto rv = open_tunnel(h, "utf8-split", "hello");
    rv->send(server_frame(Op::text, "ok \xE2\x82", false));  // valid so far: forwarded, and echoed back
    REQUIRE(run_until(h.io, [&] {
      rv->parse();
      return rv->data() == reply + "hello" + "ok \xE2\x82";
    }));
    const auto t0 = Clock::now();
    rv->send(server_frame(Op::continuation, "(", true));  // 0x28 cannot continue E2 82
    REQUIRE(run_until(h.io, [&] { return rv->ended && h.daemon->tunnels().count("T:tun") == 0; }, 5s));
    note("tunnel, text message not UTF-8: failed with 1007", ms_between(t0, rv->ended_at));
    rv->parse();
    CHECK(rv->close_code() == uint16_t{1007});
    CHECK(closed_as_relay_error("T:tun") == 1);
    prove_listener_alive(h, "tunnel text not UTF-8");
  }
  SECTION("listener side: a text message that ends inside a code point") {
    auto rv = open_tunnel(h, "utf8-end", "hello");
    rv->send(server_frame(Op::text, "abc\xF0\x9F", true));
    REQUIRE(run_until(h.io, [&] { return rv->ended && h.daemon->tunnels().count("T:tun") == 0; }, 5s));
    rv->parse();
    CHECK(rv->close_code() == uint16_t{1007});
    CHECK(closed_as_relay_error("T:tun") == 1);
  }
  SECTION("listener side: valid text split inside a code point, and binary that is not UTF-8, pass untouched") {
    auto rv = open_tunnel(h, "utf8-ok", "hello");
    rv->send(server_frame(Op::text, "h\xC3", false));
    REQUIRE(run_until(h.io, [&] {
      rv->parse();
      return rv->data() == reply + "hello" + "h\xC3";
    }));
    rv->send(server_frame(Op::continuation, "\xA9llo \xF0\x9F\x98\x80", true) + server_frame(Op::binary, "\xff\xfe\xC0"));
    const std::string want = reply + "hello" + "h\xC3\xA9llo \xF0\x9F\x98\x80" + "\xff\xfe\xC0";
    REQUIRE(run_until(h.io, [&] {
      rv->parse();
      return rv->data() == want;
    }));
    CHECK_FALSE(rv->ended);
    CHECK(h.daemon->tunnels().count("T:tun") == 1);
    rv->send_close(1000);
    REQUIRE(run_until(h.io, [&] { return h.daemon->tunnels().count("T:tun") == 0; }));
    CHECK(closed_as_relay_error("T:tun") == 0);
  }
  SECTION("sender side: the local client is reset") {
    h.fake.scripts["connect"] = [](const FakeRelay::ConnPtr& c) {
      c->upgrade();
      FakeRelay::play_echo_listener(c);
    };
    auto client = RawClient::connect(h.io, h.local_port());
    asio::write(client->sock, asio::buffer(std::string("hello")));
    REQUIRE(run_until(h.io, [&] { return client->received == "hello"; }));
    auto conn = h.fake.latest("connect");
    conn->on_data = nullptr;
    conn->send(server_frame(Op::text, "\xC0\xAF"));  // an overlong '/'
    REQUIRE(run_until(h.io, [&] { return client->ended && conn->ended; }, 5s));
    CHECK(client->error != asio::error::eof);  // a reset, not a clean end
    CHECK(client->received == "hello");
    conn->parse();
    CHECK(conn->close_code() == uint16_t{1007});
    CHECK(h.daemon->tunnels().count("L:tun") == 0);
    CHECK(closed_as_relay_error("L:tun") == 1);
    prove_sender_alive(h, "tunnel text not UTF-8");
  }
}

// ------------------------------------------------------------------------------------------------ log lines

namespace {

// What the process writes to stderr (the daemon's log, in `format`), captured into a file for the test to read.
class CapturedLog {
 public:
  explicit CapturedLog(const char* format) : previous_(spdlog::default_logger()) {
    char name[] = "/tmp/hcb-log-XXXXXX";
    const int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    path_ = name;
    std::fflush(stderr);
    saved_stderr_ = ::dup(2);
    ::dup2(fd, 2);
    ::close(fd);
    REQUIRE(ops::setup_logging("info", format));
  }
  ~CapturedLog() {
    std::fflush(stderr);
    ::dup2(saved_stderr_, 2);
    ::close(saved_stderr_);
    (void)ops::setup_logging("info", "text");
    spdlog::set_default_logger(previous_);
    std::remove(path_.c_str());
  }
  std::vector<std::string> lines() const {
    std::fflush(stderr);
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::string path_;
  int saved_stderr_ = -1;
};

// A tunnel from the fake (as the sender) to the echo target whose accept carries `id` and `remote_address`, closed
// cleanly by both sides.
void tunnel_with_accept(Hostile& h, const std::string& id, const std::string& remote_address) {
  hc::AcceptMessage a;
  a.address = h.fake.accept_address("rv1");
  a.id = id;
  a.remote_address = remote_address;
  a.remote_port = 40000;
  FakeRelay::ConnPtr control, rv;
  REQUIRE(run_until(h.io, [&] { return (control = h.fake.live_control()) != nullptr; }));
  control->send_text(hc::build_accept_message(a));
  REQUIRE(run_until(h.io, [&] { return (rv = h.fake.latest("accept")) != nullptr; }));
  FakeRelay::play_sender(rv, "web", "hello");
  rv->send_close(1000);
  REQUIRE(run_until(h.io, [&] { return h.daemon->tunnels().opened() == 1 && h.daemon->tunnels().size() == 0; }));
}

}  // namespace

TEST_CASE("hostile relay: ids and addresses from the relay are escaped in text log lines") {
  CapturedLog log("text");
  Hostile h;
  h.start();
  const std::string evil = "evil \"id\"\r\n2026-01-01T00:00:00.000Z error forged\x1b[31m\\";
  tunnel_with_accept(h, evil, "1.2.3.4 x");
  // An accept that is refused logs the id too (a free-text line, not key=value).
  h.fake.live_control()->send_text(accept_json("ws://10.9.9.9:1/$hc/tun?sb-hc-id=x", evil));
  REQUIRE(run_until(h.io, [&] { return h.failed("T:tun", "bad_rendezvous_address") == 1; }));
  const auto lines = log.lines();
  std::size_t opens = 0, closes = 0, refusals = 0;
  for (const auto& line : lines) {
    CHECK(line.find_first_of("\r\x1b") == std::string::npos);
    CHECK(line.rfind("2026-01-01T00:00:00.000Z", 0) != 0);  // no line forged by the relay
    if (line.find("tunnel t1 open:") != std::string::npos) {
      ++opens;
      CHECK_THAT(line, Catch::Contains(R"( tracking_id="evil \"id\"\r\n2026-01-01T00:00:00.000Z error forged\x1b[31m\\")"));
      CHECK_THAT(line, Catch::Contains(" peer=\"1.2.3.4 x:40000 -> 127.0.0.1:"));
    }
    if (line.find("tunnel t1 closed:") != std::string::npos) {
      ++closes;
      CHECK_THAT(line, Catch::Contains(" reason=\"closed\" "));
    }
    if (line.find("refusing to dial") != std::string::npos) {
      ++refusals;
      CHECK_THAT(line, Catch::Contains(R"(evil "id"\r\n2026-01-01T00:00:00.000Z error forged\x1b[31m\)"));
    }
  }
  CHECK(opens == 1);
  CHECK(closes == 1);
  CHECK(refusals == 1);
}

TEST_CASE("tunnel log lines in JSON carry numbers as numbers and escape what the relay sent") {
  CapturedLog log("json");
  Hostile h;
  h.start();
  tunnel_with_accept(h, "id \"quoted\"\n", "1.2.3.4");
  std::size_t opens = 0, closes = 0;
  for (const auto& line : log.lines()) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    REQUIRE_FALSE(d.HasParseError());
    REQUIRE(d.IsObject());
    CHECK(d["time"].IsString());
    CHECK(d["level"].IsString());
    REQUIRE(d["msg"].IsString());
    const std::string msg = d["msg"].GetString();
    if (msg != "tunnel open" && msg != "tunnel closed") continue;
    for (const char* key : {"tunnel_id", "forward", "hc", "peer", "tracking_id"}) {
      REQUIRE(d.HasMember(key));
      CHECK(d[key].IsString());
    }
    CHECK(std::string(d["tracking_id"].GetString()) == "id \"quoted\"\n");
    if (msg == "tunnel open") {
      ++opens;
      continue;
    }
    ++closes;
    CHECK(std::string(d["reason"].GetString()) == "closed");
    for (const char* key : {"duration_ms", "bytes_to_relay", "bytes_from_relay"}) {
      REQUIRE(d.HasMember(key));
      CHECK(d[key].IsUint64());
    }
    CHECK(d["bytes_to_relay"].GetUint64() == 5);  // the echo of "hello" (the preamble reply is not counted)
    CHECK(d["bytes_from_relay"].GetUint64() == 5);
  }
  CHECK(opens == 1);
  CHECK(closes == 1);
}

// ------------------------------------------------------------------------------------------------ TLS

TEST_CASE("hostile relay: TLS with a certificate for another name, or from an untrusted CA, is refused") {
  const auto cert = testing::make_test_cert();  // for 127.0.0.1, ::1 and localhost
  const bool wrong_name = GENERATE(true, false);
  INFO((wrong_name ? "certificate for another name" : "untrusted CA"));
  testing::RelayFixture relay([&](relay::RelayConfig& c) {
    c.tls_cert = cert.cert_file;
    c.tls_key = cert.key_file;
    if (wrong_name) c.endpoint = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.2"), 0);
  });
  bridge::Config config;
  config.relay.endpoint = std::string("wss://") + (wrong_name ? "127.0.0.2" : "127.0.0.1") + ":" + std::to_string(relay.port) + "/";
  config.relay.key_name = "root";
  config.relay.key = relay.key;
  if (wrong_name) config.relay.ca_file = cert.cert_file;  // trusted, but not for this address
  config.backoff_initial = bridge::Seconds(0.05);
  config.backoff_max = bridge::Seconds(0.2);
  bridge::RemoteForward r;
  r.hc = "tun";
  r.targets.push_back(testing::port_target("web", "127.0.0.1", 1));
  config.remote_forwards.push_back(r);
  bridge::Daemon daemon(relay.io, config);
  REQUIRE_FALSE(daemon.start().has_value());
  const auto reconnects = [&] {
    return daemon.metrics().value("hcbridge_control_channel_reconnects_total", {{"forward", "T:tun"}, {"reason", "connect_failed"}});
  };
  REQUIRE(run_until(relay.io, [&] { return reconnects() >= 2; }, 5s));
  CHECK_FALSE(daemon.remote_forwarders()[0]->connected());
  CHECK(relay.server->listener_count() == 0);
  bool stopped = false;
  daemon.shutdown([&] { stopped = true; });
  REQUIRE(run_until(relay.io, [&] { return stopped; }));
}

// ------------------------------------------------------------------------------------------------ hcrelay limits

TEST_CASE("hcrelay: connections beyond max_connections are closed at once, and handshake timeouts free their slots") {
  testing::RelayFixture f([](relay::RelayConfig& c) {
    c.max_connections = 3;
    c.handshake_timeout = 300ms;
  });
  // Three clients that connect and never send a byte hold the three slots...
  std::vector<std::shared_ptr<RawClient>> silent;
  for (int i = 0; i < 3; ++i) silent.push_back(RawClient::connect(f.io, f.port));
  REQUIRE(run_until(f.io, [&] { return f.server->connection_count() == 3; }));
  // ...so a fourth is closed at once, without an answer and long before the handshake timeout.
  const auto t0 = Clock::now();
  auto extra = RawClient::connect(f.io, f.port);
  REQUIRE(run_until(f.io, [&] { return extra->ended; }, 2s));
  note("hcrelay: connection over max_connections closed", ms_between(t0, extra->ended_at));
  CHECK(ms_between(t0, extra->ended_at) < 200);
  CHECK(extra->received.empty());
  CHECK(f.server->refused_connections() == 1);
  for (const auto& c : silent) CHECK_FALSE(c->ended);
  // The handshake timeout drops the silent ones and gives their slots back.
  REQUIRE(run_until(f.io, [&] { return std::all_of(silent.begin(), silent.end(), [](const auto& c) { return c->ended; }); }, 3s));
  for (const auto& c : silent) {
    const double held = ms_between(t0, c->ended_at);
    CHECK(held < 1000);
  }
  note("hcrelay: silent connections dropped by the handshake timeout (300 ms)", ms_since(t0));
  REQUIRE(run_until(f.io, [&] { return f.server->connection_count() == 0; }));
  auto listener = f.connect_and_wait(f.listen_url("cap"), f.token("cap"));
  CHECK_FALSE(listener->ec);
  CHECK(f.server->connection_count() == 1);
  if (listener->result.ws) listener->result.ws->abort();
}
