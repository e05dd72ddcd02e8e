// The parts of the process that can meet on several threads, for ThreadSanitizer (scripts/test.sh runs the [threads]
// tests in build-tsan/). Each object lives on one io_context, but a process may hold several: here a relay, a daemon
// and the targets each run their own loop on their own thread, with blocking clients on further threads, so shared
// state (logging, OpenSSL, the CSPRNG, error categories, Asio's resolver thread) is exercised concurrently.
#include "bridge_fixture.hpp"

#include "support/test_cert.hpp"
#include "support/tunnel_config.hpp"

#include <algorithm>
#include <future>
#include <thread>

using namespace std::chrono_literals;

namespace {

// One io_context on its own thread. call() runs a function on it and waits for the result.
class LoopThread {
 public:
  LoopThread() : guard_(asio::make_work_guard(io)), thread_([this] { io.run(); }) {}
  ~LoopThread() { join(); }
  void join() {
    if (!thread_.joinable()) return;
    guard_.reset();
    io.stop();
    thread_.join();
  }
  template <typename F>
  auto call(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io, [&task] { task(); });
    return result.get();
  }
  // Polls `done` on the loop until it holds or `timeout` passes (a bounded wait, not a sleep standing in for sync).
  bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!call(done)) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }
  asio::io_context io;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// A blocking round trip through the local forward: write `payload`, half-close, read to EOF.
std::string round_trip(uint16_t port, const std::string& payload) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(s, asio::buffer(payload));
  s.shutdown(asio::ip::tcp::socket::shutdown_send);
  std::string got;
  std::error_code ec;
  std::array<char, 65536> buf{};
  while (!ec) {
    const std::size_t n = s.read_some(asio::buffer(buf), ec);
    got.append(buf.data(), n);
  }
  return got;
}

}  // namespace

// Catch2 assertions are not thread-safe: the loops only compute, the main thread asserts.
TEST_CASE("threads: relay, daemon and targets on their own threads, clients on four more", "[threads]") {
  const auto cert = testing::make_test_cert();
  LoopThread relay_loop, daemon_loop, target_loop;

  std::shared_ptr<relay::RelayServer> relay;
  const uint16_t relay_port = relay_loop.call([&]() -> uint16_t {
    relay::RelayConfig rc;
    rc.keys["root"] = testing::kTestRelayKey;
    rc.tls_cert = cert.cert_file;
    rc.tls_key = cert.key_file;
    relay = std::make_shared<relay::RelayServer>(relay_loop.io, rc);
    auto ep = relay->start();
    return ep.ok() ? ep->port() : 0;
  });
  REQUIRE(relay_port != 0);

  std::unique_ptr<testing::TargetServer> target;
  const uint16_t target_port = target_loop.call([&] {
    target = std::make_unique<testing::TargetServer>(target_loop.io, testing::TargetServer::Mode::echo);
    return target->port();
  });

  // "localhost" makes the daemon resolve, which Asio does on a thread of its own.
  bridge::Config config = testing::tunnel_pair_config("wss://localhost:" + std::to_string(relay_port) + "/",
                                                      testing::kTestRelayKey, "threads");
  config.relay.ca_file = cert.cert_file;
  config.remote_forwards[0].targets.push_back(testing::port_target("web", "localhost", target_port));

  std::unique_ptr<bridge::Daemon> daemon;
  const bool started = daemon_loop.call([&] {
    daemon = std::make_unique<bridge::Daemon>(daemon_loop.io, config);
    return !daemon->start().has_value();
  });
  REQUIRE(started);
  REQUIRE(daemon_loop.wait_for([&] { return daemon->remote_forwarders()[0]->connected(); }));
  const uint16_t local_port = daemon_loop.call([&] { return daemon->local_forwarders()[0]->local_endpoints().at(0).port(); });

  // Four client threads, five round trips each; meanwhile the main thread reads metrics and status on the loop, as
  // the admin endpoint does.
  std::vector<std::future<int>> clients;
  for (int t = 0; t < 4; ++t) {
    clients.push_back(std::async(std::launch::async, [t, local_port] {
      int exact = 0;
      for (int i = 0; i < 5; ++i) {
        const std::string payload = testing::random_payload(20000 + 1000 * static_cast<std::size_t>(t * 5 + i),
                                                            static_cast<uint64_t>(t * 100 + i));
        exact += round_trip(local_port, payload) == payload ? 1 : 0;
      }
      return exact;
    }));
  }
  // Each scrape records what it saw: a complete exposition (families with HELP, the status line, and the tunnel
  // counter's samples once a tunnel opened) and the tunnels opened so far. They must overlap the traffic (some scrape sees 0 < opened < 40) and never see the
  // counter go back.
  struct Scrape {
    bool complete;
    uint64_t opened;
  };
  std::vector<Scrape> scrapes;
  while (std::any_of(clients.begin(), clients.end(), [](auto& f) { return f.wait_for(0ms) != std::future_status::ready; })) {
    scrapes.push_back(daemon_loop.call([&] {
      const std::string text = daemon->metrics().render();
      const uint64_t opened = daemon->tunnels().opened();
      const bool complete = text.find("# HELP hcbridge_") != std::string::npos && !daemon->status_line().empty() &&
                            (opened == 0 || text.find("hcbridge_tunnels_opened_total{") != std::string::npos);
      return Scrape{complete, opened};
    }));
    std::this_thread::sleep_for(2ms);
  }
  int exact = 0;
  for (auto& f : clients) exact += f.get();
  CHECK(exact == 20);
  REQUIRE(!scrapes.empty());
  const auto incomplete = std::count_if(scrapes.begin(), scrapes.end(), [](const Scrape& s) { return !s.complete; });
  const auto during =
      std::count_if(scrapes.begin(), scrapes.end(), [](const Scrape& s) { return s.opened > 0 && s.opened < 40; });
  const bool monotonic = std::is_sorted(scrapes.begin(), scrapes.end(),
                                        [](const Scrape& a, const Scrape& b) { return a.opened < b.opened; });
  INFO("scrapes " << scrapes.size() << ", during the traffic " << during);
  CHECK(incomplete == 0);
  CHECK(during >= 1);
  CHECK(monotonic);
  CHECK(daemon_loop.call([&] { return daemon->tunnels().opened(); }) == 40);  // 20 per side

  // Shut everything down on its own loop.
  std::promise<void> stopped;
  daemon_loop.call([&] {
    daemon->shutdown([&] { stopped.set_value(); });
    return 0;
  });
  REQUIRE(stopped.get_future().wait_for(10s) == std::future_status::ready);
  relay_loop.call([&] {
    relay->stop();
    return 0;
  });
  REQUIRE(relay_loop.wait_for([&] { return relay->idle(); }, 5s));
  daemon_loop.call([&] {
    daemon.reset();
    return 0;
  });
  target_loop.call([&] {
    target.reset();
    return 0;
  });
  relay_loop.call([&] {
    relay.reset();
    return 0;
  });
  daemon_loop.join();
  relay_loop.join();
  target_loop.join();
}

// Hidden: proves the TSan stage of scripts/test.sh can fail. It races on purpose, so a ThreadSanitizer build must
// report it (test.sh expects this run to fail with "ThreadSanitizer: data race").
TEST_CASE("threads: TSan self-test, a deliberate data race", "[.tsan_selftest]") {
  int shared = 0;
  std::thread writer([&shared] { shared = 1; });
  const int seen = shared;  // unsynchronised read while the writer may write
  writer.join();
  CHECK(seen + shared >= 1);
}
