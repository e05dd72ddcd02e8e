// Tokens whose expiry `se` lies at the far end of int64 (a valid SAS token: se is any non-negative integer). Turning
// "seconds left" into a timer wait must not overflow steady_clock's nanoseconds, in hcrelay (the control channel's
// expiry timer, also on renewToken) or in the daemon (a pre-issued token given with -s). Under UBSan an overflow
// aborts the test; in Release the wrapped wait is negative and the channel was closed at once as "expired".
#include "bridge_fixture.hpp"

#include <limits>

using testing::BridgeSetup;
using testing::ControlReader;
using testing::RelayFixture;
using testing::run_until;

namespace {

constexpr int64_t kFarExpiry = std::numeric_limits<int64_t>::max();

std::string far_token(const RelayFixture& f, const std::string& hc, int64_t se = kFarExpiry) {
  return hc::create_sas_token(hc::sas_resource_uri("127.0.0.1", hc), "root", f.key, se);
}

// A sender gets through to the listener behind `control`: the relay still routes to that control channel.
void expect_accept_reaches(RelayFixture& f, ControlReader& control, const std::string& hc) {
  const std::size_t before = control.messages.size();
  auto sender = f.connect(f.connect_url(hc), far_token(f, hc, kFarExpiry - 1));
  REQUIRE(run_until(f.io, [&] { return control.messages.size() > before || control.has_ended || sender->done; }));
  REQUIRE_FALSE(control.has_ended);
  REQUIRE(control.messages.size() > before);
  auto parsed = hc::parse_control_message(control.messages.back());
  REQUIRE(parsed.ok());
  auto listener = f.connect_and_wait(std::get<hc::AcceptMessage>(parsed.value()).address);
  REQUIRE_FALSE(listener->ec);
  REQUIRE(run_until(f.io, [&] { return sender->done; }));
  CHECK_FALSE(sender->ec);
}

}  // namespace

TEST_CASE("token expiry: hcrelay keeps a listener whose token expires at INT64_MAX, also after renewToken") {
  RelayFixture f;
  auto c = f.connect_and_wait(f.listen_url("far"), far_token(f, "far"));
  REQUIRE_FALSE(c->ec);
  auto control = std::make_shared<ControlReader>(c->result.ws);
  control->start();
  expect_accept_reaches(f, *control, "far");

  bool renew_written = false;
  control->ws->async_write_text(hc::build_renew_token_message(far_token(f, "far")),
                                [&](std::error_code ec) { renew_written = !ec; });
  REQUIRE(run_until(f.io, [&] { return renew_written; }));
  expect_accept_reaches(f, *control, "far");
  CHECK_FALSE(control->has_ended);
}

TEST_CASE("token expiry: the daemon runs a tunnel on a pre-issued SAS token that expires at INT64_MAX") {
  BridgeSetup setup(false, [](bridge::Config& config) {
    config.relay.key_name.clear();
    config.relay.key.clear();
    config.relay.sas = hc::create_sas_token(hc::sas_resource_uri("127.0.0.1", "tun"), "root", testing::kTestRelayKey,
                                            kFarExpiry);
  });
  testing::TargetServer target(setup.io, testing::TargetServer::Mode::echo);
  setup.start(target.port());
  auto client = setup.client(testing::random_payload(100000, 11));
  REQUIRE(run_until(setup.io, [&] { return client->done; }));
  CHECK(client->error == asio::error::eof);
  CHECK(client->received.size() == client->payload.size());
  const bool echoed_intact = client->received == client->payload;  // not expanded: 100 kB of binary
  CHECK(echoed_intact);
  CHECK(setup.listeners_up());
}
