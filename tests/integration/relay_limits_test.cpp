// hcrelay against listeners and senders that misbehave: a listener that vanishes during its upgrade, a listener that
// stops reading its control channel, a sender that reuses another one's id. Each case must leave the relay serving.
#include "relay_fixture.hpp"

#include "hc/guid.hpp"

#include <sys/socket.h>

using testing::ControlReader;
using testing::RelayFixture;
using testing::run_until;

namespace {

// Sends a complete listen request, then resets the connection (SO_LINGER 0) before the relay could answer it, so the
// relay's 101 cannot be written.
void listen_and_reset(RelayFixture& f, const std::string& hc) {
  asio::ip::tcp::socket s(f.io);
  s.connect({asio::ip::make_address("127.0.0.1"), f.port});
  const std::string head = "GET /$hc/" + hc + "?sb-hc-action=listen&sb-hc-id=" + hc::new_guid() +
                           " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(f.port) +
                           "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nServiceBusAuthorization: " +
                           f.token(hc) + "\r\n\r\n";
  asio::write(s, asio::buffer(head));
  s.set_option(asio::socket_base::linger(true, 0));
  s.close();
}

// A listener whose control channel is read (so it answers pings) and which dials every accept it gets.
struct DialingListener {
  DialingListener(RelayFixture& f, const std::string& hc) : f(f) {
    auto c = f.connect_and_wait(f.listen_url(hc), f.token(hc));
    REQUIRE_FALSE(c->ec);
    control = std::make_shared<ControlReader>(c->result.ws);
    control->start();
  }
  // Dials the accepts that arrived since the last call; returns how many rendezvous completed.
  std::size_t dial_new() {
    std::vector<std::shared_ptr<testing::ConnectOutcome>> dials;
    for (; handled < control->messages.size(); ++handled) {
      auto parsed = hc::parse_control_message(control->messages[handled]);
      REQUIRE(parsed.ok());
      dials.push_back(f.connect(std::get<hc::AcceptMessage>(parsed.value()).address));
    }
    REQUIRE(run_until(f.io, [&] {
      for (auto& d : dials)
        if (!d->done) return false;
      return true;
    }));
    std::size_t ok = 0;
    for (auto& d : dials) {
      if (d->ec) continue;
      ++ok;
      tunnels.push_back(d->result.ws);
    }
    return ok;
  }
  RelayFixture& f;
  std::shared_ptr<ControlReader> control;
  std::size_t handled = 0;
  std::vector<std::shared_ptr<net::WebSocket>> tunnels;
};

}  // namespace

TEST_CASE("relay limits: a listener that resets before its 101 leaves no empty entry, senders get 404") {
  RelayFixture f;
  for (int i = 0; i < 3; i++) listen_and_reset(f, "gone");
  // Every reset listener's handshake must be finished (read and failed) before the sender comes.
  REQUIRE(run_until(f.io, [&] { return f.server->connection_count() == 0; }));
  auto c = f.connect_and_wait(f.connect_url("gone"), f.token("gone"));
  CHECK(c->ec == net::ConnectError::http_status);
  CHECK(c->result.http_status == 404);
  CHECK_THAT(c->result.reason, Catch::Contains("There are no listeners connected for the endpoint"));
  CHECK(f.server->listener_count() == 0);
  CHECK(f.server->idle());
  // The name is still usable: a real listener registers and takes a sender.
  DialingListener l(f, "gone");
  auto s = f.connect(f.connect_url("gone"), f.token("gone"));
  REQUIRE(run_until(f.io, [&] { return l.control->messages.size() == 1; }));
  CHECK(l.dial_new() == 1);
  REQUIRE(run_until(f.io, [&] { return s->done; }));
  CHECK_FALSE(s->ec);
}

TEST_CASE("relay limits: a sender reusing a pending sender's sb-hc-id gets 409, the first one proceeds") {
  RelayFixture f([](relay::RelayConfig& c) { c.accept_timeout = std::chrono::seconds(3); });
  DialingListener l(f, "dup");
  const std::string id = hc::new_guid();
  const std::string url = hc::connect_url(false, "127.0.0.1", f.port, "dup", id);
  auto first = f.connect(url, f.token("dup"));
  REQUIRE(run_until(f.io, [&] { return l.control->messages.size() == 1; }));
  auto second = f.connect_and_wait(url, f.token("dup"));
  CHECK(second->ec == net::ConnectError::http_status);
  CHECK(second->result.http_status == 409);
  CHECK_THAT(second->result.reason, Catch::Contains("sb-hc-id"));
  CHECK_THAT(second->result.reason, Catch::Contains(id));
  CHECK(l.control->messages.size() == 1);  // the duplicate never reached the listener
  CHECK(l.dial_new() == 1);
  REQUIRE(run_until(f.io, [&] { return first->done; }));
  CHECK_FALSE(first->ec);
  // Once the first has its tunnel, the id is free again.
  auto third = f.connect(url, f.token("dup"));
  REQUIRE(run_until(f.io, [&] { return l.control->messages.size() == 2; }));
  CHECK(l.dial_new() == 1);
  REQUIRE(run_until(f.io, [&] { return third->done; }));
  CHECK_FALSE(third->ec);
}

TEST_CASE("relay limits: a listener that stops reading is skipped at its accept cap, then dropped with 1008") {
  constexpr std::size_t kCap = 4;
  RelayFixture f([](relay::RelayConfig& c) {
    c.max_queued_accepts = kCap;
    c.listener_ping = std::chrono::milliseconds(400);
    c.accept_timeout = std::chrono::seconds(20);  // the senders offered to the stuck listener stay pending meanwhile
  });
  // The stuck listener: its control channel is open but nobody reads it (no accept taken, no ping answered).
  auto stuck = f.connect_and_wait(f.listen_url("q"), f.token("q"));
  REQUIRE_FALSE(stuck->ec);
  DialingListener good(f, "q");
  REQUIRE(f.server->listener_count() == 2);

  // 30 senders: the good listener takes what the stuck one cannot, and the stuck one is never offered more than kCap.
  std::vector<std::shared_ptr<testing::ConnectOutcome>> senders;
  std::size_t tunnels = 0;
  auto& stuck_socket = stuck->result.ws->stream().socket();
  for (int i = 0; i < 30; i++) {
    // Each accept lands either in the good listener's reader or, unread, in the stuck one's receive buffer.
    const std::size_t stuck_bytes = stuck_socket.available();
    senders.push_back(f.connect(f.connect_url("q"), f.token("q")));
    REQUIRE(run_until(f.io, [&] {
      return good.control->messages.size() > good.handled || stuck_socket.available() > stuck_bytes;
    }));
    const std::size_t dialed = good.dial_new();
    tunnels += dialed;
    // A sender given to the good listener is pending until its rendezvous arrives: wait for it, so that what stays
    // pending is only what was offered to the stuck listener.
    if (dialed > 0) REQUIRE(run_until(f.io, [&] { return senders.back()->done; }));
    CHECK(f.server->pending_count() <= kCap);
  }
  CHECK(f.server->pending_count() == kCap);  // exactly the ones offered to the stuck listener
  CHECK(tunnels == 30 - kCap);

  // Two ping intervals without a pong: the stuck listener is closed (1008), its senders are answered, the good one stays.
  REQUIRE(run_until(f.io, [&] { return f.server->listener_count() == 1; }, std::chrono::seconds(5)));
  auto stuck_reader = std::make_shared<ControlReader>(stuck->result.ws);
  stuck_reader->start();
  REQUIRE(run_until(f.io, [&] { return stuck_reader->has_ended; }));
  CHECK(stuck_reader->messages.size() == kCap);
  if (stuck_reader->ended == net::WsError::closed) CHECK(stuck->result.ws->close_code() == 1008);
  else CHECK(stuck_reader->ended);  // the close frame may be lost to the drop that follows it

  auto late = f.connect(f.connect_url("q"), f.token("q"));
  REQUIRE(run_until(f.io, [&] { return good.control->messages.size() > good.handled; }));
  CHECK(good.dial_new() == 1);
  REQUIRE(run_until(f.io, [&] { return late->done; }));
  CHECK_FALSE(late->ec);
}

TEST_CASE("relay limits: when every listener is at its accept cap, a sender gets 404 at once") {
  RelayFixture f([](relay::RelayConfig& c) { c.max_queued_accepts = 2; });
  auto stuck = f.connect_and_wait(f.listen_url("full"), f.token("full"));
  REQUIRE_FALSE(stuck->ec);
  auto a = f.connect(f.connect_url("full"), f.token("full"));
  auto b = f.connect(f.connect_url("full"), f.token("full"));
  REQUIRE(run_until(f.io, [&] { return f.server->pending_count() == 2; }));
  const auto t0 = std::chrono::steady_clock::now();
  auto c = f.connect_and_wait(f.connect_url("full"), f.token("full"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));  // not the 30 s accept timeout
  CHECK(c->result.http_status == 404);
  CHECK_THAT(c->result.reason, Catch::Contains("None of the connected listeners can take the connection"));
  CHECK_FALSE(a->done);
  CHECK_FALSE(b->done);
}
