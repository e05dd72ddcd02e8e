// The daemon end to end, in-process: client -> local forward -> hcrelay -> remote forward -> target.
#include "bridge_fixture.hpp"

#include "support/test_cert.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <array>

using testing::BridgeSetup;
using testing::Client;
using testing::random_payload;
using testing::run_until;
using testing::sha256;
using testing::TargetServer;

namespace {
#ifdef HCB_SANITIZED_BUILD
constexpr std::size_t kBigPayload = 8u << 20;  // sanitizers slow the data path ~10x
#else
constexpr std::size_t kBigPayload = 64u << 20;
#endif
}  // namespace

TEST_CASE("bridge: a large stream crosses -L, hcrelay over TLS and -T byte-exact both ways") {
  BridgeSetup s(true);
  TargetServer target(s.io, TargetServer::Mode::echo);
  s.start(target.port());
  auto c = s.client(random_payload(kBigPayload, 42));
  REQUIRE(run_until(s.io, [&] { return c->done; }, std::chrono::seconds(90)));
  CHECK(c->error == asio::error::eof);
  CHECK(c->received.size() == c->payload.size());
  CHECK(sha256(c->received) == sha256(c->payload));
}

TEST_CASE("bridge: 200 concurrent connections each get their own bytes back") {
  BridgeSetup s(true);
  TargetServer target(s.io, TargetServer::Mode::echo);
  s.start(target.port());
  std::vector<std::shared_ptr<Client>> clients;
  for (int i = 0; i < 200; ++i) clients.push_back(s.client(random_payload(1000 + 997 * static_cast<std::size_t>(i), 1000 + i)));
  REQUIRE(run_until(s.io, [&] {
    return std::all_of(clients.begin(), clients.end(), [](const auto& c) { return c->done; });
  }, std::chrono::seconds(60)));
  int exact = 0;
  for (const auto& c : clients) exact += (c->error == asio::error::eof && c->received == c->payload) ? 1 : 0;
  CHECK(exact == 200);
  CHECK(target.accepted == 200);
  REQUIRE(run_until(s.io, [&] { return s.daemon->tunnels().size() == 0; }));
}

TEST_CASE("bridge: a client that half-closes after its request still receives the whole reply") {
  BridgeSetup s(false);
  const std::string reply = random_payload(3u << 20, 7);
  TargetServer target(s.io, TargetServer::Mode::reply_after_eof, reply);
  s.start(target.port());
  auto c = s.client("GET / HTTP/1.0\r\n\r\n");
  REQUIRE(run_until(s.io, [&] { return c->done; }, std::chrono::seconds(30)));
  CHECK(c->error == asio::error::eof);
  REQUIRE(target.requests.size() == 1);
  CHECK(target.requests[0] == "GET / HTTP/1.0\r\n\r\n");
  CHECK(c->received == reply);
}

TEST_CASE("bridge: raw mode carries bytes without a preamble") {
  BridgeSetup s(false, [](bridge::Config& c) {
    c.local_forwards[0].raw = true;
    c.remote_forwards[0].raw = true;
  });
  TargetServer target(s.io, TargetServer::Mode::echo);
  s.start(target.port());
  auto c = s.client(random_payload(200000, 3));
  REQUIRE(run_until(s.io, [&] { return c->done; }));
  CHECK(c->received == c->payload);
}

TEST_CASE("bridge: an unknown port name closes the client promptly and nothing reaches a target") {
  BridgeSetup s(false, [](bridge::Config& c) { c.local_forwards[0].bindings[0].port_name = "nope"; });
  TargetServer target(s.io, TargetServer::Mode::echo);
  s.config.remote_forwards[0].targets.push_back(testing::port_target("web", "127.0.0.1", target.port()));
  s.config.remote_forwards[0].targets.push_back(testing::port_target("db", "127.0.0.1", target.port()));
  s.start(target.port());
  auto c = s.client("hello");
  REQUIRE(run_until(s.io, [&] { return c->done; }));
  CHECK(c->received.empty());
  CHECK(target.accepted == 0);
}

TEST_CASE("bridge: a single-target listener takes any numeric port name") {
  BridgeSetup s(false, [](bridge::Config& c) { c.local_forwards[0].bindings[0].port_name = "8080"; });
  TargetServer target(s.io, TargetServer::Mode::echo);
  s.start(target.port());
  auto c = s.client("ping");
  REQUIRE(run_until(s.io, [&] { return c->done; }));
  CHECK(c->received == "ping");
}

TEST_CASE("bridge: a refused target closes the client promptly") {
  // A port that was free a moment ago: nothing listens there.
  asio::io_context scratch;
  asio::ip::tcp::acceptor probe(scratch, {asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t dead_port = probe.local_endpoint().port();
  probe.close();
  BridgeSetup s(false);
  s.start(dead_port);
  const auto t0 = std::chrono::steady_clock::now();
  auto c = s.client("anyone there?");
  REQUIRE(run_until(s.io, [&] { return c->done; }, std::chrono::seconds(5)));
  CHECK(c->received.empty());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
}

TEST_CASE("bridge: the listener survives relay restarts, and new tunnels work afterwards") {
  BridgeSetup s(false);
  TargetServer target(s.io, TargetServer::Mode::echo);
  s.start(target.port());
  auto& relay = s.relay_fixture;
  for (int round = 0; round < 3; ++round) {
    const uint64_t before = s.daemon->remote_forwarders()[0]->reconnects();
    relay.server->stop();
    relay.server.reset();
    relay::RelayConfig config;
    config.keys["root"] = relay.key;
    config.endpoint = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), relay.port);
    relay.server = std::make_unique<relay::RelayServer>(relay.io, config);
    REQUIRE(relay.server->start().ok());
    REQUIRE(run_until(s.io, [&] { return s.daemon->remote_forwarders()[0]->reconnects() > before && s.listeners_up(); },
                      std::chrono::seconds(10)));
    auto c = s.client("after restart " + std::to_string(round));
    REQUIRE(run_until(s.io, [&] { return c->done; }));
    CHECK(c->received == c->payload);
  }
}

TEST_CASE("bridge: open tunnels survive a control-channel reconnect") {
  BridgeSetup s(false);
  const std::string reply = random_payload(100000, 9);
  TargetServer target(s.io, TargetServer::Mode::reply_after_eof, reply);
  s.start(target.port());
  // Open a tunnel but keep the request open (no half-close yet).
  auto sock = std::make_shared<asio::ip::tcp::socket>(s.io);
  sock->connect({asio::ip::make_address("127.0.0.1"), s.local_port()});
  asio::write(*sock, asio::buffer(std::string("part one;")));
  REQUIRE(run_until(s.io, [&] { return s.daemon->tunnels().count(s.daemon->local_forwarders()[0]->name()) == 1 && s.daemon->tunnels().count("T:tun") == 1; }));
  const uint64_t before = s.daemon->remote_forwarders()[0]->reconnects();
  s.relay_fixture.server->drop_control_channels(1011);
  REQUIRE(run_until(s.io, [&] { return s.daemon->remote_forwarders()[0]->reconnects() > before && s.listeners_up(); }));
  CHECK(s.daemon->tunnels().count(s.daemon->local_forwarders()[0]->name()) == 1);
  CHECK(s.daemon->tunnels().count("T:tun") == 1);
  asio::write(*sock, asio::buffer(std::string("part two")));
  sock->shutdown(asio::ip::tcp::socket::shutdown_send);
  CHECK(testing::read_to_end(s.io, *sock) == reply);
  REQUIRE(target.requests.size() == 1);
  CHECK(target.requests[0] == "part one;part two");
}

TEST_CASE("bridge: a relay that stops answering pings is noticed within two keep-alive intervals") {
  BridgeSetup s(false, [](bridge::Config& c) { c.keepalive = bridge::Seconds(0.3); });
  s.relay_fixture.faults().set_silent_listeners(true);
  TargetServer target(s.io, TargetServer::Mode::echo);
  s.start(target.port());
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run_until(s.io, [&] { return s.daemon->remote_forwarders()[0]->reconnects() > 0; }, std::chrono::seconds(3)));
  const auto noticed = std::chrono::steady_clock::now() - t0;
  CHECK(noticed <= std::chrono::milliseconds(700));  // 2 x 300 ms plus scheduling slack
}

TEST_CASE("bridge: a relay that is down at start-up is retried until it comes up") {
  // Reserve a port for the relay, start the daemon against it, and only then start the relay.
  testing::RelayFixture holder;  // provides io and a key; its own relay is not used
  holder.server->stop();
  asio::ip::tcp::acceptor probe(holder.io, {asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t port = probe.local_endpoint().port();
  probe.close();
  bridge::Config config;
  config.relay.endpoint = "ws://127.0.0.1:" + std::to_string(port) + "/";
  config.relay.key_name = "root";
  config.relay.key = holder.key;
  config.backoff_initial = bridge::Seconds(0.05);
  config.backoff_max = bridge::Seconds(0.2);
  bridge::RemoteForward r;
  r.hc = "late";
  r.targets.push_back(testing::port_target("1", "127.0.0.1", 1));
  config.remote_forwards.push_back(r);
  bridge::Daemon daemon(holder.io, config);
  REQUIRE_FALSE(daemon.start().has_value());
  REQUIRE(run_until(holder.io, [&] { return daemon.remote_forwarders()[0]->reconnects() >= 3; }, std::chrono::seconds(5)));
  CHECK_FALSE(daemon.remote_forwarders()[0]->connected());
  relay::RelayConfig rc;
  rc.keys["root"] = holder.key;
  rc.endpoint = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port);
  relay::RelayServer late(holder.io, rc);
  REQUIRE(late.start().ok());
  REQUIRE(run_until(holder.io, [&] { return daemon.remote_forwarders()[0]->connected(); }, std::chrono::seconds(5)));
  bool stopped = false;
  daemon.shutdown([&] { stopped = true; });
  REQUIRE(run_until(holder.io, [&] { return stopped; }));
  late.stop();
  run_until(holder.io, [&] { return late.idle(); }, std::chrono::seconds(3));
}

TEST_CASE("bridge: max_connections refuses extra clients cleanly") {
  BridgeSetup s(false, [](bridge::Config& c) { c.local_forwards[0].max_connections = 2; });
  const std::string reply = "ok";
  TargetServer target(s.io, TargetServer::Mode::reply_after_eof, reply);
  s.start(target.port());
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> held;
  for (int i = 0; i < 2; ++i) {
    auto sock = std::make_shared<asio::ip::tcp::socket>(s.io);
    sock->connect({asio::ip::make_address("127.0.0.1"), s.local_port()});
    held.push_back(sock);
  }
  REQUIRE(run_until(s.io, [&] { return s.daemon->tunnels().count(s.daemon->local_forwarders()[0]->name()) == 2 && s.daemon->tunnels().count("T:tun") == 2; }));
  auto third = s.client("x");
  REQUIRE(run_until(s.io, [&] { return third->done; }));
  CHECK(third->received.empty());
  CHECK(s.daemon->tunnels().count(s.daemon->local_forwarders()[0]->name()) == 2);
}

TEST_CASE("bridge: an idle tunnel is closed after the idle timeout") {
  BridgeSetup s(false, [](bridge::Config& c) { c.idle_timeout = bridge::Seconds(0.3); });
  TargetServer target(s.io, TargetServer::Mode::echo);
  s.start(target.port());
  auto sock = std::make_shared<asio::ip::tcp::socket>(s.io);
  sock->connect({asio::ip::make_address("127.0.0.1"), s.local_port()});
  REQUIRE(run_until(s.io, [&] { return s.daemon->tunnels().count("T:tun") == 1; }));
  REQUIRE(run_until(s.io, [&] { return s.daemon->tunnels().size() == 0; }, std::chrono::seconds(3)));
}

TEST_CASE("bridge: shutdown lets an open tunnel finish within the grace period") {
  BridgeSetup s(false, [](bridge::Config& c) { c.grace_period = bridge::Seconds(5); });
  const std::string reply = random_payload(500000, 11);
  TargetServer target(s.io, TargetServer::Mode::reply_after_eof, reply);
  s.start(target.port());
  auto sock = std::make_shared<asio::ip::tcp::socket>(s.io);
  sock->connect({asio::ip::make_address("127.0.0.1"), s.local_port()});
  asio::write(*sock, asio::buffer(std::string("request")));
  REQUIRE(run_until(s.io, [&] { return s.daemon->tunnels().count(s.daemon->local_forwarders()[0]->name()) == 1 && s.daemon->tunnels().count("T:tun") == 1; }));
  bool stopped = false;
  s.daemon->shutdown([&] { stopped = true; });
  // New clients are no longer accepted...
  CHECK(s.daemon->local_forwarders()[0]->listening() == false);
  // ...but the open one completes.
  sock->shutdown(asio::ip::tcp::socket::shutdown_send);
  CHECK(testing::read_to_end(s.io, *sock, std::chrono::seconds(8)) == reply);
  REQUIRE(run_until(s.io, [&] { return stopped; }, std::chrono::seconds(8)));
  s.daemon.reset();
}

TEST_CASE("bridge: quiet open tunnels hold no I/O buffers at the daemon or the relay, busy ones give them back") {
  BridgeSetup s(false);
  TargetServer target(s.io, TargetServer::Mode::echo);
  s.start(target.port());
  constexpr std::size_t kTunnels = 20;
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> socks;
  std::vector<std::string> got(kTunnels);
  std::vector<std::vector<char>> bufs(kTunnels, std::vector<char>(1 << 16));
  // Reads on socket i until `want` bytes arrived in got[i].
  std::function<void(std::size_t, std::size_t)> read_until = [&](std::size_t i, std::size_t want) {
    socks[i]->async_read_some(asio::buffer(bufs[i]), [&, i, want](std::error_code ec, std::size_t n) {
      if (ec) return;
      got[i].append(bufs[i].data(), n);
      if (got[i].size() < want) read_until(i, want);
    });
  };
  for (std::size_t i = 0; i < kTunnels; ++i) {
    socks.push_back(std::make_unique<asio::ip::tcp::socket>(s.io));
    socks[i]->connect({asio::ip::make_address("127.0.0.1"), s.local_port()});
    asio::write(*socks[i], asio::buffer("hello " + std::to_string(i)));
    read_until(i, 6 + std::to_string(i).size());
  }
  REQUIRE(run_until(s.io, [&] {
    for (std::size_t i = 0; i < kTunnels; ++i)
      if (got[i] != "hello " + std::to_string(i)) return false;
    return true;
  }));
  // Both ends of all 20 tunnels (40 in this one daemon) and the relay's 40 sockets are open and quiet.
  CHECK(s.daemon->tunnels().size() == 2 * kTunnels);
  CHECK(s.relay_fixture.server->tunnel_count() == kTunnels);
  CHECK(run_until(s.io, [&] {
    return s.daemon->tunnels().buffers()->in_use() == 0 && s.relay_fixture.server->buffers_in_use() == 0;
  }));

  // A burst through one tunnel takes blocks and gives them all back once it is quiet again.
  const std::string burst = testing::random_payload(4u << 20, 5);
  got[3].clear();
  asio::async_write(*socks[3], asio::buffer(burst), [](std::error_code, std::size_t) {});
  read_until(3, burst.size());
  bool saw_blocks = false;
  REQUIRE(run_until(s.io, [&] {
    saw_blocks = saw_blocks || s.daemon->tunnels().buffers()->in_use() > 0;
    return got[3].size() == burst.size();
  }, std::chrono::seconds(30)));
  CHECK(got[3] == burst);
  CHECK(saw_blocks);
  CHECK(run_until(s.io, [&] {
    return s.daemon->tunnels().buffers()->in_use() == 0 && s.relay_fixture.server->buffers_in_use() == 0;
  }));
  CHECK(s.daemon->tunnels().buffers()->free_blocks() <= 32);
}

namespace {
// Lowest file descriptor number not in use: with RLIMIT_NOFILE set to it, the next socket fails with EMFILE.
int lowest_free_fd() {
  const int fd = ::dup(0);
  ::close(fd);
  return fd;
}
}  // namespace

namespace {
// A configuration whose local forward changed and cannot bind (`taken` is in use): reload() stops the old forward,
// fails to start the new one and rolls back, restarting the old one.
bridge::Config rollback_config(const bridge::Config& current, uint16_t taken) {
  bridge::Config next = current;
  next.local_forwards[0].bindings[0].port = taken;
  return next;
}
}  // namespace

TEST_CASE("bridge: a reload rolled back while an accept completion is queued touches no freed binding") {
  BridgeSetup s(false, [](bridge::Config& c) { c.local_forwards[0].max_connections = 0; });  // refuse, and count
  TargetServer target(s.io, TargetServer::Mode::echo);
  s.start(target.port());
  asio::ip::tcp::acceptor taken(s.io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto refused = [&] {
    return s.daemon->metrics().value("hcbridge_tunnels_failed_total",
                                     {{"forward", s.daemon->local_forwarders().at(0)->name()}, {"reason", "limit"}});
  };
  // Three clients wait in the backlog. Once the first is handled, the accept that follows completes at once and its
  // handler is queued: the reload runs right then, between the two.
  std::vector<asio::ip::tcp::socket> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back(s.io);
    clients.back().connect({asio::ip::make_address("127.0.0.1"), s.local_port()});
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (refused() < 1 && std::chrono::steady_clock::now() < deadline) s.io.run_one_for(std::chrono::milliseconds(20));
  REQUIRE(refused() == 1);
  auto result = s.daemon->reload(rollback_config(s.config, taken.local_endpoint().port()));
  REQUIRE_FALSE(result.ok());
  // The queued completion runs now (on freed memory before the fix: ASan reports it), and the restored forward works.
  const double before = refused();
  asio::ip::tcp::socket late(s.io);
  late.connect({asio::ip::make_address("127.0.0.1"), s.local_port()});
  REQUIRE(run_until(s.io, [&] { return refused() >= before + 1; }));
  CHECK(s.daemon->local_forwarders().at(0)->listening());
}

TEST_CASE("bridge: a reload rolled back while the accept retry timer is pending touches no freed binding") {
  BridgeSetup s(false);
  TargetServer target(s.io, TargetServer::Mode::echo);
  s.start(target.port());
  asio::ip::tcp::acceptor taken(s.io, {asio::ip::make_address("127.0.0.1"), 0});
  testing::LogCapture accept_failed("accept failed");
  // Run what is already due (the control channel's finished connector is released by its cancelled timer) before
  // the descriptors run out: UBSan's vptr check of a type it has not seen yet opens a pipe, and under EMFILE it
  // reports a valid object as one with an invalid vptr.
  for (int round = 0; round < 100 && s.io.poll() > 0; ++round) {
  }
  // A client in the backlog, then no descriptor left for the daemon to accept it with: the accept fails (EMFILE) and
  // the forwarder arms its retry timer.
  asio::ip::tcp::socket client(s.io);
  client.connect({asio::ip::make_address("127.0.0.1"), s.local_port()});
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free_fd());
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  const bool failed = run_until(s.io, [&] { return accept_failed.lines() >= 1; }, std::chrono::seconds(5));
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
  REQUIRE(failed);
  // Roll a reload back while the timer is pending; when it fires (200 ms) it must not reach the freed binding.
  auto result = s.daemon->reload(rollback_config(s.config, taken.local_endpoint().port()));
  REQUIRE_FALSE(result.ok());
  testing::LogCapture retried("accept failed");
  auto c = s.client("after the rollback");
  REQUIRE(run_until(s.io, [&] { return c->done; }));
  CHECK(c->received == c->payload);
  // Past the old timer's expiry: nothing happened on the freed binding (ASan would have stopped the test).
  asio::steady_timer wait(s.io, std::chrono::milliseconds(400));
  bool waited = false;
  wait.async_wait([&](std::error_code) { waited = true; });
  REQUIRE(run_until(s.io, [&] { return waited; }));
  CHECK(retried.lines() == 0);
  CHECK(s.daemon->local_forwarders().at(0)->listening());
}

// Every relay dial goes through the proxy policy, so a reload that changes the proxy settings restarts every forward
// (it used to keep them all, still dialling the old proxy); one that changes nothing keeps them.
TEST_CASE("bridge: a reload that changes the proxy settings restarts the forwards") {
  BridgeSetup s(false);
  testing::TargetServer echo(s.io, testing::TargetServer::Mode::echo);
  s.start(echo.port());
  auto same = s.daemon->reload(s.config);
  REQUIRE(same);
  CHECK(same.value() == "2 forward(s) unchanged, 0 stopped, 0 started");
  bridge::Config next = s.config;
  next.proxy.no_proxy = "relay.example";
  auto changed = s.daemon->reload(next);
  REQUIRE(changed);
  CHECK(changed.value() == "0 forward(s) unchanged, 2 stopped, 2 started");
}
