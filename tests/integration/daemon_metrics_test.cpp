// The daemon's /metrics label sets: known in advance from the start, and kept in step by a reload that adds and
// removes forwards (tests/ops/admin_endpoint checks the first scrape of the real binary against docs/operations.md).
#include "bridge_fixture.hpp"

using testing::BridgeSetup;
using testing::run_until;

namespace {

// `series` is a whole sample line: name, labels and value.
bool has_series(const std::string& text, const std::string& series) {
  return text.find("\n" + series + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("daemon metrics: a reload declares the new forward's series and forgets the removed forward's unused ones") {
  BridgeSetup s(false);
  testing::TargetServer echo(s.io, testing::TargetServer::Mode::echo);
  s.start(echo.port());
  auto client = s.client("counted");
  REQUIRE(run_until(s.io, [&] { return client->done; }));
  REQUIRE(run_until(s.io, [&] { return s.daemon->tunnels().size() == 0; }));

  std::string text = s.daemon->render_metrics();
  CHECK(has_series(text, "hcbridge_tunnels_failed_total{forward=\"L:tun\",reason=\"no_listener\"} 0"));
  CHECK(has_series(text, "hcbridge_control_channel_reconnects_total{forward=\"T:tun\",reason=\"bad_message\"} 0"));
  CHECK(has_series(text, "hcbridge_tunnels_opened_total{forward=\"T:tun\"} 1"));
  CHECK_FALSE(has_series(text, "hcbridge_tunnels_opened_total{forward=\"L:other\"} 0"));

  // The remote forward goes, a local forward on another hybrid connection comes.
  bridge::Config next = s.config;
  next.remote_forwards.clear();
  bridge::LocalForward other;
  other.hc = "other";
  other.bindings.push_back(testing::port_binding("127.0.0.1", 0, "web"));
  next.local_forwards.push_back(other);
  REQUIRE(s.daemon->reload(next));

  text = s.daemon->render_metrics();
  // The new forward: every series it can have, at 0.
  CHECK(has_series(text, "hcbridge_tunnels_opened_total{forward=\"L:other\"} 0"));
  CHECK(has_series(text, "hcbridge_tunnels_failed_total{forward=\"L:other\",reason=\"relay_unreachable\"} 0"));
  CHECK(has_series(text, "hcbridge_tunnels_closed_total{forward=\"L:other\",reason=\"idle_timeout\"} 0"));
  CHECK(has_series(text, "hcbridge_tunnel_setup_seconds_count{forward=\"L:other\"} 0"));
  CHECK(has_series(text, "hcbridge_forward_up{forward=\"L:other\"} 1"));
  // The removed forward: no state gauges, no series that never counted; what it counted stays.
  CHECK(text.find("hcbridge_forward_up{forward=\"T:tun\"}") == std::string::npos);
  CHECK(text.find("hcbridge_control_channel_up{forward=\"T:tun\"}") == std::string::npos);
  CHECK(text.find("reason=\"bad_message\"") == std::string::npos);
  CHECK(text.find("hcbridge_tunnels_failed_total{forward=\"T:tun\"") == std::string::npos);
  CHECK(has_series(text, "hcbridge_tunnels_opened_total{forward=\"T:tun\"} 1"));
  CHECK_FALSE(has_series(text, "hcbridge_token_renewals_total{forward=\"T:tun\",result=\"ok\"} 0"));
  // The kept forward is untouched.
  CHECK(has_series(text, "hcbridge_tunnels_opened_total{forward=\"L:tun\"} 1"));
  CHECK(has_series(text, "hcbridge_tunnels_failed_total{forward=\"L:tun\",reason=\"no_listener\"} 0"));
  // The families of -T forwards keep their HELP and TYPE with no forward left to label.
  CHECK(text.find("# TYPE hcbridge_control_channel_up gauge\n") != std::string::npos);
}

namespace {

// A local client that keeps its tunnel open once its "x" came back (echo target).
std::shared_ptr<asio::ip::tcp::socket> held_tunnel(BridgeSetup& s, const asio::ip::tcp::endpoint& forward) {
  auto sock = std::make_shared<asio::ip::tcp::socket>(s.io);
  sock->connect(forward);
  asio::write(*sock, asio::buffer(std::string("x")));
  auto got = std::make_shared<std::string>();
  auto buf = std::make_shared<std::array<char, 16>>();
  sock->async_read_some(asio::buffer(*buf), [got, buf](std::error_code ec, std::size_t n) {
    if (!ec) got->assign(buf->data(), n);
  });
  REQUIRE(run_until(s.io, [&] { return *got == "x"; }));
  return sock;
}

}  // namespace

TEST_CASE("daemon metrics: two local forwards on one hybrid connection keep their own names, limits and series") {
  BridgeSetup s(false, [](bridge::Config& c) {
    c.local_forwards[0].max_connections = 1;
    bridge::LocalForward second = c.local_forwards[0];
    second.bindings = {testing::port_binding("127.0.0.2", 0, "web")};
    second.origin = "second";
    c.local_forwards.push_back(second);
  });
  testing::TargetServer echo(s.io, testing::TargetServer::Mode::echo);
  s.start(echo.port());
  const auto& forwards = s.daemon->local_forwarders();
  REQUIRE(forwards.size() == 2);
  CHECK(forwards[0]->name() == "L:tun@127.0.0.1:0");
  CHECK(forwards[1]->name() == "L:tun@127.0.0.2:0");
  const auto states = s.daemon->forward_states();
  CHECK(std::count_if(states.begin(), states.end(), [](const auto& f) { return f.name.rfind("L:tun@", 0) == 0; }) == 2);

  // Each holds its one allowed tunnel: the first forward's tunnel does not count against the second's limit.
  auto first = held_tunnel(s, forwards[0]->local_endpoints().at(0));
  auto second = held_tunnel(s, forwards[1]->local_endpoints().at(0));
  const std::string text = s.daemon->render_metrics();
  CHECK(has_series(text, "hcbridge_tunnels_opened_total{forward=\"L:tun@127.0.0.1:0\"} 1"));
  CHECK(has_series(text, "hcbridge_tunnels_opened_total{forward=\"L:tun@127.0.0.2:0\"} 1"));
  CHECK(has_series(text, "hcbridge_tunnels_failed_total{forward=\"L:tun@127.0.0.2:0\",reason=\"limit\"} 0"));
  CHECK(text.find("forward=\"L:tun\"") == std::string::npos);
}
