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
  other.bindings.push_back(bridge::LocalBinding{"127.0.0.1", 0, "web"});
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
