// UDP end to end, in-process: UDP client -> -L 0U (UdpLocalForwarder) -> hcrelay -> -T (UdpRemoteTunnel) -> UDP echo
// server, in azbridge's datagram mode.
#include "bridge_fixture.hpp"

#include <fstream>
#include <map>

using testing::BridgeSetup;
using testing::run_until;

namespace {

using udp = asio::ip::udp;

// Sends back every datagram to its sender, or (sink) only counts them.
class UdpServer {
 public:
  UdpServer(asio::io_context& io, bool echo) : socket_(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), echo_(echo), buf_(65536) {
    socket_.set_option(asio::socket_base::receive_buffer_size(4 << 20));
    receive();
  }
  ~UdpServer() {
    *alive_ = false;
    std::error_code ignored;
    socket_.close(ignored);
  }
  uint16_t port() const { return socket_.local_endpoint().port(); }
  std::size_t received = 0;
  std::map<udp::endpoint, std::size_t> peers;  // datagrams per source address (one per route on the listener side)

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buf_), from_, [this, alive = alive_](std::error_code ec, std::size_t n) {
      if (!*alive || ec == asio::error::operation_aborted) return;
      if (!ec) {
        ++received;
        ++peers[from_];
        std::error_code ignored;
        if (echo_) socket_.send_to(asio::buffer(buf_.data(), n), from_, 0, ignored);
      }
      receive();
    });
  }
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  udp::socket socket_;
  bool echo_;
  std::vector<uint8_t> buf_;
  udp::endpoint from_;
};

// A client socket that records every datagram it receives.
struct UdpClient {
  UdpClient(asio::io_context& io, uint16_t to) : socket(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), target(asio::ip::make_address("127.0.0.1"), to), buf(65536) {
    receive();
  }
  ~UdpClient() {
    *alive = false;
    std::error_code ignored;
    socket.close(ignored);
  }
  void send(const std::string& payload) { socket.send_to(asio::buffer(payload), target); }
  void receive() {
    socket.async_receive_from(asio::buffer(buf), from, [this, a = alive](std::error_code ec, std::size_t n) {
      if (!*a || ec == asio::error::operation_aborted) return;
      if (!ec) got.emplace_back(reinterpret_cast<const char*>(buf.data()), n);
      receive();
    });
  }
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  udp::socket socket;
  udp::endpoint target, from;
  std::vector<uint8_t> buf;
  std::vector<std::string> got;
};

// -L 0U/dns:tun and -T tun:dns/127.0.0.1:<target>U
void udp_forwards(bridge::Config& c) {
  c.local_forwards[0].bindings = {testing::port_binding("127.0.0.1", 0, "dns", bridge::Protocol::udp)};
}
void start_udp(BridgeSetup& s, uint16_t target_port) {
  s.config.remote_forwards[0].targets = {testing::port_target("dns", "127.0.0.1", target_port, bridge::Protocol::udp)};
  s.start(0);
}
uint16_t udp_port(BridgeSetup& s) { return s.daemon->local_forwarders().at(0)->udp_endpoints().at(0).port(); }
double metric(BridgeSetup& s, const std::string& name, const ops::Labels& labels) {
  s.daemon->render_metrics();
  return s.daemon->metrics().value(name, labels);
}

std::string tagged(std::size_t size, int client, int seq) {
  std::string s = testing::random_payload(size, static_cast<uint64_t>(client) * 1000 + static_cast<uint64_t>(seq));
  const std::string tag = std::to_string(client) + ":" + std::to_string(seq) + ":";
  std::memcpy(&s[0], tag.data(), std::min(tag.size(), size));
  return s;
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

}  // namespace

TEST_CASE("udp: datagrams of 1 to 65507 bytes keep their boundaries and come back to the right client") {
  BridgeSetup s(false, udp_forwards);
  UdpServer echo(s.io, true);
  start_udp(s, echo.port());
  const std::vector<std::size_t> sizes = {1, 512, 1472, 8192, 65507};
  constexpr int kClients = 6;
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (int c = 0; c < kClients; ++c) clients.push_back(std::make_unique<UdpClient>(s.io, udp_port(s)));
  // Ping-pong per client (each waits for its echo), all clients at once.
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    for (int c = 0; c < kClients; ++c) clients[c]->send(tagged(sizes[i], c, static_cast<int>(i)));
    REQUIRE(run_until(s.io, [&] {
      for (auto& cl : clients)
        if (cl->got.size() < i + 1) return false;
      return true;
    }));
  }
  for (int c = 0; c < kClients; ++c) {
    REQUIRE(clients[c]->got.size() == sizes.size());
    for (std::size_t i = 0; i < sizes.size(); ++i) CHECK(clients[c]->got[i] == tagged(sizes[i], c, static_cast<int>(i)));
  }
  // One route (rendezvous) per client address, so one UDP source per client at the target.
  CHECK(metric(s, "hcbridge_udp_routes_open", {{"forward", "L:tun"}}) == kClients);
  CHECK(echo.peers.size() == kClients);
  CHECK(metric(s, "hcbridge_datagrams_total", {{"forward", "L:tun"}, {"direction", "to_relay"}}) == kClients * 5);
  CHECK(metric(s, "hcbridge_datagrams_total", {{"forward", "T:tun"}, {"direction", "from_relay"}}) == kClients * 5);
}

TEST_CASE("udp: many clients at once, each datagram in order within its route") {
  BridgeSetup s(false, udp_forwards);
  UdpServer echo(s.io, true);
  start_udp(s, echo.port());
  constexpr int kClients = 40, kPerClient = 25;
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (int c = 0; c < kClients; ++c) clients.push_back(std::make_unique<UdpClient>(s.io, udp_port(s)));
  // A burst per client before any route is up: the first datagrams wait in the set-up queue (16), so send in two
  // rounds: one datagram, then the rest once the route answered.
  for (int c = 0; c < kClients; ++c) clients[c]->send(tagged(100, c, 0));
  REQUIRE(run_until(s.io, [&] {
    for (auto& cl : clients)
      if (cl->got.empty()) return false;
    return true;
  }));
  for (int seq = 1; seq < kPerClient; ++seq)
    for (int c = 0; c < kClients; ++c) clients[c]->send(tagged(100, c, seq));
  REQUIRE(run_until(s.io, [&] {
    for (auto& cl : clients)
      if (cl->got.size() < kPerClient) return false;
    return true;
  }));
  for (int c = 0; c < kClients; ++c)
    for (int seq = 0; seq < kPerClient; ++seq) CHECK(clients[c]->got[seq] == tagged(100, c, seq));
  CHECK(metric(s, "hcbridge_udp_routes_opened_total", {{"forward", "L:tun"}}) == kClients);
}

TEST_CASE("udp: datagrams sent while the route is set up are queued up to the bound, the rest dropped and counted") {
  BridgeSetup s(false, udp_forwards);
  UdpServer echo(s.io, true);
  start_udp(s, echo.port());
  UdpClient client(s.io, udp_port(s));
  constexpr int kBurst = 40;  // all before the event loop runs, so before the route exists
  for (int i = 0; i < kBurst; ++i) client.send(tagged(64, 0, i));
  const auto queue = static_cast<int>(bridge::UdpLocalForwarder::kSetupQueueDatagrams);
  REQUIRE(run_until(s.io, [&] {
    return client.got.size() == static_cast<std::size_t>(queue) &&
           metric(s, "hcbridge_datagrams_dropped_total", {{"forward", "L:tun"}, {"reason", "setup_queue_full"}}) ==
               kBurst - queue;
  }));
  for (int i = 0; i < queue; ++i) CHECK(client.got[i] == tagged(64, 0, i));  // the first ones, in order
}

TEST_CASE("udp: clients beyond the forward's route cap are dropped and counted, the routes in use go on") {
  BridgeSetup s(false, [](bridge::Config& c) {
    udp_forwards(c);
    c.local_forwards[0].max_connections = 2;  // the route cap (one route per client address)
  });
  UdpServer echo(s.io, true);
  start_udp(s, echo.port());
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (int c = 0; c < 4; ++c) clients.push_back(std::make_unique<UdpClient>(s.io, udp_port(s)));
  for (int c = 0; c < 2; ++c) clients[c]->send(tagged(100, c, 0));
  REQUIRE(run_until(s.io, [&] { return clients[0]->got.size() == 1 && clients[1]->got.size() == 1; }));
  // Two more client addresses, 3 datagrams each: no route for them, each datagram dropped and counted.
  for (int c = 2; c < 4; ++c)
    for (int i = 0; i < 3; ++i) clients[c]->send(tagged(100, c, i));
  const ops::Labels limit_drops = {{"forward", "L:tun"}, {"reason", "route_limit"}};
  REQUIRE(run_until(s.io, [&] { return metric(s, "hcbridge_datagrams_dropped_total", limit_drops) == 6; }));
  // The two routes keep working; nothing reached the target from the others, nor came back to them.
  for (int c = 0; c < 2; ++c) clients[c]->send(tagged(100, c, 1));
  REQUIRE(run_until(s.io, [&] { return clients[0]->got.size() == 2 && clients[1]->got.size() == 2; }));
  CHECK(clients[2]->got.empty());
  CHECK(clients[3]->got.empty());
  CHECK(echo.peers.size() == 2);
  CHECK(echo.received == 4);
  CHECK(metric(s, "hcbridge_udp_routes_open", {{"forward", "L:tun"}}) == 2);
  CHECK(metric(s, "hcbridge_udp_routes_opened_total", {{"forward", "L:tun"}}) == 2);
  CHECK(metric(s, "hcbridge_datagrams_dropped_total", limit_drops) == 6);
  CHECK(metric(s, "hcbridge_tunnels_failed_total", {{"forward", "L:tun"}, {"reason", "limit"}}) == 6);
}

TEST_CASE("udp: an idle route expires on both sides and the next datagram opens a new one") {
  BridgeSetup s(false, [](bridge::Config& c) {
    udp_forwards(c);
    c.udp_idle_timeout = bridge::Seconds(0.4);
  });
  UdpServer echo(s.io, true);
  start_udp(s, echo.port());
  UdpClient client(s.io, udp_port(s));
  client.send("one");
  REQUIRE(run_until(s.io, [&] { return client.got.size() == 1; }));
  CHECK(s.daemon->tunnels().datagrams()->count("L:tun") == 1);
  REQUIRE(run_until(s.io, [&] { return s.daemon->tunnels().datagrams()->size() == 0; }, std::chrono::seconds(5)));
  CHECK(metric(s, "hcbridge_udp_routes_closed_total", {{"forward", "L:tun"}, {"reason", "idle_timeout"}}) >= 1);
  client.send("two");
  REQUIRE(run_until(s.io, [&] { return client.got.size() == 2; }));
  CHECK(client.got[1] == "two");
  CHECK(metric(s, "hcbridge_udp_routes_opened_total", {{"forward", "L:tun"}}) == 2);
}

TEST_CASE("udp: a flood faster than the relay drops and counts instead of growing memory") {
  BridgeSetup s(false, udp_forwards);
  UdpServer sink(s.io, false);
  start_udp(s, sink.port());
  UdpClient client(s.io, udp_port(s));
  client.send("hello");
  REQUIRE(run_until(s.io, [&] { return sink.received == 1; }));
  const long before = rss_kib();
  long peak = before;
  const std::string datagram(8192, 'f');
  // 160 MiB offered in bursts of 64 datagrams (what the forwarder reads per wake-up), turning the loop once between.
  for (int burst = 0; burst < 320; ++burst) {
    for (int i = 0; i < 64; ++i) client.send(datagram);
    s.io.restart();
    s.io.poll();
    peak = std::max(peak, rss_kib());
  }
  REQUIRE(run_until(s.io, [&] { return sink.received > 1; }));
  const double dropped = metric(s, "hcbridge_datagrams_dropped_total", {{"forward", "L:tun"}, {"reason", "relay_slow"}});
  INFO("RSS grew by " << (peak - before) << " KiB; dropped (relay_slow) " << dropped << "; target got " << sink.received);
  CHECK(dropped > 0);
  // Per route at most 256 KiB queued towards the relay; 160 MiB offered. 32 MiB leaves room for the relay's and the
  // listener's buffers (all in this process) and for allocator slack. Resident memory means nothing under ASan (freed
  // memory stays in its quarantine), so there only the drops are checked.
#ifndef HCB_SANITIZED_BUILD
  CHECK(peak - before < 32 * 1024);
#endif
}
