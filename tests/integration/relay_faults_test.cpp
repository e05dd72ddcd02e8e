// hcrelay's fault hooks (tests only, docs/testing.md) in-process: what each does to new requests, and the
// fault-control command parser.
#include "relay/fault_control.hpp"
#include "relay_fixture.hpp"

using testing::RelayFixture;
using testing::run_until;

TEST_CASE("relay faults: upgrade-status answers the next N listen/connect requests, then stops") {
  RelayFixture f;
  f.faults().set_upgrade_status(429, 2, {});
  for (int i = 0; i < 2; i++) {
    auto c = f.connect_and_wait(f.listen_url("hc"), f.token("hc"));
    CHECK(c->result.http_status == 429);
  }
  auto ok = f.connect_and_wait(f.listen_url("hc"), f.token("hc"));
  REQUIRE(!ok->ec);
  CHECK(f.server->listener_count() == 1);
  CHECK(f.faults().faults().upgrade_status == 0);
}

TEST_CASE("relay faults: refused listeners get 503, senders still get their normal answer") {
  RelayFixture f;
  f.faults().set_refuse_listeners(true);
  CHECK(f.connect_and_wait(f.listen_url("hc"), f.token("hc"))->result.http_status == 503);
  CHECK(f.connect_and_wait(f.connect_url("hc"), f.token("hc"))->result.http_status == 404);
  f.faults().set_refuse_listeners(false);
  CHECK(!f.connect_and_wait(f.listen_url("hc"), f.token("hc"))->ec);
}

TEST_CASE("relay faults: a black hole holds new connections until lifted, then closes them") {
  RelayFixture f;
  f.faults().set_blackhole(true);
  auto c = f.connect(f.listen_url("hc"), f.token("hc"));
  REQUIRE(run_until(f.io, [&] { return f.faults().held_count() == 1; }));
  CHECK(!c->done);
  f.faults().set_blackhole(false);
  REQUIRE(run_until(f.io, [&] { return c->done; }));
  CHECK(c->ec);
  CHECK(f.faults().held_count() == 0);
}

TEST_CASE("relay faults: drop_control_channels counts what it ended") {
  RelayFixture f;
  auto a = f.connect_and_wait(f.listen_url("a"), f.token("a"));  // held: the channels stay open
  auto b = f.connect_and_wait(f.listen_url("b"), f.token("b"));
  REQUIRE(!a->ec);
  REQUIRE(!b->ec);
  REQUIRE(run_until(f.io, [&] { return f.server->listener_count() == 2; }));
  CHECK(f.server->drop_control_channels(1011) == 2);
}

TEST_CASE("relay faults: fault-control commands are parsed strictly") {
  RelayFixture f;
  relay::FaultControl control(f.io, *f.server, f.faults(), asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  CHECK(control.handle("POST", "/faults/upgrade-status?status=401&count=3").first == 200);
  CHECK(f.faults().faults().upgrade_status == 401);
  CHECK(control.handle("POST", "/faults/upgrade-status?status=401").first == 400);              // neither count nor seconds
  CHECK(control.handle("POST", "/faults/upgrade-status?status=401&count=1&seconds=1").first == 400);
  CHECK(control.handle("POST", "/faults/upgrade-status?status=200&count=1").first == 400);
  CHECK(control.handle("POST", "/faults/drop-control?code=abc").first == 400);
  CHECK(control.handle("POST", "/faults/refuse-listeners?on=2").first == 400);
  CHECK(control.handle("GET", "/faults/reset").first == 400);
  CHECK(control.handle("POST", "/faults/what").first == 404);
  CHECK(control.handle("POST", "/faults/reset").first == 200);
  CHECK(f.faults().faults().upgrade_status == 0);
  relay::FaultControl outside(f.io, *f.server, f.faults(), asio::ip::tcp::endpoint(asio::ip::make_address("0.0.0.0"), 0));
  CHECK(!outside.start());
}
