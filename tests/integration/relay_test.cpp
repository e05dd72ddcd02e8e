// hcrelay behaviour that the Node SDK cannot show: per-direction close, backpressure, drops, quotas, reject form.
#include "relay_fixture.hpp"

#include "hc/guid.hpp"
#include "net/ws_server.hpp"

#include <random>

using testing::Collector;
using testing::ControlReader;
using testing::RelayFixture;
using testing::run_until;

namespace {

struct Pair {
  std::shared_ptr<ControlReader> control;
  std::shared_ptr<net::WebSocket> sender;
  std::shared_ptr<net::WebSocket> listener;
};

std::shared_ptr<ControlReader> open_listener(RelayFixture& f, const std::string& hc) {
  auto c = f.connect_and_wait(f.listen_url(hc), f.token(hc));
  REQUIRE_FALSE(c->ec);
  auto reader = std::make_shared<ControlReader>(c->result.ws);
  reader->start();
  return reader;
}

hc::AcceptMessage next_accept(RelayFixture& f, ControlReader& control, std::size_t index) {
  REQUIRE(run_until(f.io, [&] { return control.messages.size() > index; }));
  auto parsed = hc::parse_control_message(control.messages[index]);
  REQUIRE(parsed.ok());
  REQUIRE(std::holds_alternative<hc::AcceptMessage>(parsed.value()));
  return std::get<hc::AcceptMessage>(parsed.value());
}

Pair open_pair(RelayFixture& f, const std::string& hc) {
  Pair p;
  p.control = open_listener(f, hc);
  auto sender = f.connect(f.connect_url(hc), f.token(hc));
  const auto accept = next_accept(f, *p.control, 0);
  auto listener = f.connect_and_wait(accept.address);
  REQUIRE_FALSE(listener->ec);
  REQUIRE(run_until(f.io, [&] { return sender->done; }));
  REQUIRE_FALSE(sender->ec);
  p.sender = sender->result.ws;
  p.listener = listener->result.ws;
  return p;
}

void write_all(RelayFixture& f, net::WebSocket& ws, std::string data) {
  bool done = false;
  std::error_code result;
  ws.async_write(asio::buffer(data), net::ws::Opcode::binary, true, [&](std::error_code ec) {
    result = ec;
    done = true;
  });
  REQUIRE(run_until(f.io, [&] { return done; }));
  REQUIRE_FALSE(result);
}

std::string random_bytes(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace

TEST_CASE("relay: a sender with no listener gets 404 naming the endpoint") {
  RelayFixture f;
  auto c = f.connect_and_wait(f.connect_url("nobody"), f.token("nobody"));
  CHECK(c->ec == net::ConnectError::http_status);
  CHECK(c->result.http_status == 404);
  CHECK_THAT(c->result.reason, Catch::Contains("There are no listeners connected for the endpoint"));
  CHECK_THAT(c->result.reason, Catch::Contains("TrackingId:"));
  CHECK_THAT(c->result.reason, Catch::Contains("nobody"));
}

TEST_CASE("relay: bad, expired, foreign and missing tokens get 401") {
  RelayFixture f;
  SECTION("wrong key") {
    auto c = f.connect_and_wait(f.listen_url("hc1"), f.token("hc1", 3600, "d3JvbmdrZXk="));
    CHECK(c->result.http_status == 401);
    CHECK_THAT(c->result.reason, Catch::Contains("invalid signature"));
  }
  SECTION("expired") {
    auto c = f.connect_and_wait(f.listen_url("hc1"), f.token("hc1", -10));
    CHECK(c->result.http_status == 401);
    CHECK_THAT(c->result.reason, Catch::Contains("expired"));
  }
  SECTION("token for another hybrid connection") {
    auto c = f.connect_and_wait(f.listen_url("hc1"), f.token("other"));
    CHECK(c->result.http_status == 401);
    CHECK_THAT(c->result.reason, Catch::Contains("InvalidAudience"));
  }
  SECTION("no token") {
    auto c = f.connect_and_wait(f.listen_url("hc1"));
    CHECK(c->result.http_status == 401);
  }
  SECTION("the key never appears in the answer") {
    auto c = f.connect_and_wait(f.listen_url("hc1"), f.token("hc1", 3600, "c2VjcmV0c2VjcmV0"));
    CHECK(c->result.reason.find("c2VjcmV0c2VjcmV0") == std::string::npos);
    CHECK(c->result.reason.find(f.key) == std::string::npos);
  }
}

TEST_CASE("relay: data crosses both ways, and a close ends only its own direction") {
  RelayFixture f;
  auto p = open_pair(f, "half");
  auto at_listener = std::make_shared<Collector>(p.listener);
  auto at_sender = std::make_shared<Collector>(p.sender);
  at_listener->start();
  at_sender->start();

  const std::string request = random_bytes(300000, 1);
  write_all(f, *p.sender, request);
  p.sender->send_close(1000, "Shutdown");
  REQUIRE(run_until(f.io, [&] { return at_listener->has_ended; }));
  CHECK(at_listener->ended == net::WsError::closed);
  CHECK(at_listener->data == request);
  CHECK(p.listener->close_code() == 1000);

  // The listener's direction is still open after the sender's close.
  const std::string reply = random_bytes(500000, 2);
  write_all(f, *p.listener, reply);
  p.listener->send_close(1000, "done");
  REQUIRE(run_until(f.io, [&] { return at_sender->has_ended; }));
  CHECK(at_sender->ended == net::WsError::closed);
  CHECK(at_sender->data == reply);
  REQUIRE(run_until(f.io, [&] { return f.server->tunnel_count() == 0; }));
}

TEST_CASE("relay: a TCP drop on one side drops the other without a close frame") {
  RelayFixture f;
  auto p = open_pair(f, "drop");
  auto at_sender = std::make_shared<Collector>(p.sender);
  at_sender->start();
  p.listener->abort();
  REQUIRE(run_until(f.io, [&] { return at_sender->has_ended; }));
  CHECK(at_sender->ended != net::WsError::closed);
  CHECK_FALSE(p.sender->close_received());
  REQUIRE(run_until(f.io, [&] { return f.server->tunnel_count() == 0; }));
}

TEST_CASE("relay: a reader that does not read slows the writer instead of growing buffers") {
  RelayFixture f;
  auto p = open_pair(f, "slow");
  // The listener reads nothing. Keep writing 64 KiB frames until writes stop completing.
  constexpr uint64_t kTotal = 128ull << 20;
  std::vector<uint8_t> chunk(64 * 1024, 0x5a);
  uint64_t written = 0;
  bool in_flight = false;
  bool failed = false;
  std::function<void()> pump = [&] {
    in_flight = true;
    std::vector<uint8_t>& buf = chunk;
    p.sender->async_write(asio::buffer(buf), net::ws::Opcode::binary, true, [&](std::error_code ec) {
      in_flight = false;
      if (ec) {
        failed = true;
        return;
      }
      written += buf.size();
      if (written < kTotal) pump();
    });
  };
  pump();
  // Writes stall: nothing completes for a while although the loop keeps turning.
  uint64_t last = 0;
  auto stalled = [&] {
    if (written != last) {
      last = written;
      return false;
    }
    return written > 0;
  };
  for (int i = 0; i < 400 && !stalled(); ++i) run_until(f.io, [] { return false; }, std::chrono::milliseconds(25));
  CHECK_FALSE(failed);
  INFO("bytes the sender could write while the listener read nothing: " << written);
  // Kernel socket buffers on both hops plus one 64 KiB chunk in the relay; far from the 128 MiB we offered.
  CHECK(written < (32ull << 20));
  const uint64_t at_stall = written;

  // Now the listener drains; everything written arrives and the writer resumes.
  auto at_listener = std::make_shared<Collector>(p.listener);
  at_listener->start();
  REQUIRE(run_until(f.io, [&] { return at_listener->data.size() == kTotal; }, std::chrono::seconds(30)));
  CHECK(written == kTotal);
  CHECK(at_stall < kTotal);
  CHECK_FALSE(in_flight);
}

TEST_CASE("relay: pings are answered") {
  RelayFixture f;
  auto control = open_listener(f, "ping");
  bool pong = false;
  control->ws->set_pong_handler([&] { pong = true; });
  control->ws->send_ping("hi");
  REQUIRE(run_until(f.io, [&] { return pong; }));
}

TEST_CASE("relay: the reject form answers 410 to the listener and the listener's status to the sender") {
  RelayFixture f;
  auto control = open_listener(f, "rej");
  auto sender = f.connect(f.connect_url("rej"), f.token("rej"));
  const auto accept = next_accept(f, *control, 0);
  auto listener = f.connect_and_wait(hc::reject_url(accept.address, 401, "Go away please"));
  CHECK(listener->result.http_status == 410);
  REQUIRE(run_until(f.io, [&] { return sender->done; }));
  CHECK(sender->result.http_status == 401);
  CHECK(sender->result.reason == "Go away please");
}

TEST_CASE("relay: an unknown or used rendezvous id gets 403") {
  RelayFixture f;
  auto p = open_pair(f, "once");
  const auto accept = next_accept(f, *p.control, 0);
  auto again = f.connect_and_wait(accept.address);
  CHECK(again->result.http_status == 403);
  auto unknown = f.connect_and_wait(
      "ws://127.0.0.1:" + std::to_string(f.port) + "/$hc/once?sb-hc-action=accept&sb-hc-id=" + hc::new_guid());
  CHECK(unknown->result.http_status == 403);
}

TEST_CASE("relay: the accept message carries the sender's headers but not its token") {
  RelayFixture f;
  auto control = open_listener(f, "hdr");
  net::ClientOptions options;
  options.headers.add("ServiceBusAuthorization", f.token("hdr"));
  options.headers.add("X-Custom", "v1");
  bool done = false;
  net::async_ws_connect(f.io, f.connect_url("hdr") + "&app=1", options, [&](std::error_code, net::ConnectResult) { done = true; });
  const auto accept = next_accept(f, *control, 0);
  bool custom = false, auth = false;
  for (const auto& [k, v] : accept.connect_headers) {
    if (k == "X-Custom" && v == "v1") custom = true;
    if (relay::hc_key(k) == "servicebusauthorization") auth = true;
  }
  CHECK(custom);
  CHECK_FALSE(auth);
  CHECK_THAT(accept.address, Catch::Contains("app=1"));
  CHECK_THAT(accept.address, Catch::Contains("sb-hc-action=accept"));
  CHECK(accept.remote_address == "127.0.0.1");
  auto l = f.connect_and_wait(accept.address);
  REQUIRE(run_until(f.io, [&] { return done; }));
}

TEST_CASE("relay: the 26th listener on one hybrid connection is refused") {
  RelayFixture f;
  std::vector<std::shared_ptr<ControlReader>> listeners;
  for (int i = 0; i < 25; ++i) listeners.push_back(open_listener(f, "quota"));
  CHECK(f.server->listener_count() == 25);
  auto extra = f.connect_and_wait(f.listen_url("quota"), f.token("quota"));
  CHECK(extra->result.http_status == 403);
  CHECK_THAT(extra->result.reason, Catch::Contains("MaximumListenersPerEndpoint"));
}

TEST_CASE("relay: senders are spread across listeners") {
  RelayFixture f;
  auto a = open_listener(f, "spread");
  auto b = open_listener(f, "spread");
  std::vector<std::shared_ptr<testing::ConnectOutcome>> senders;
  for (int i = 0; i < 40; ++i) senders.push_back(f.connect(f.connect_url("spread"), f.token("spread")));
  REQUIRE(run_until(f.io, [&] { return a->messages.size() + b->messages.size() == 40; }));
  CHECK(a->messages.size() > 0);
  CHECK(b->messages.size() > 0);
}

TEST_CASE("relay: a sender whose listener never dials gets 404 after the accept timeout") {
  RelayFixture f([](relay::RelayConfig& c) { c.accept_timeout = std::chrono::milliseconds(300); });
  auto control = open_listener(f, "lazy");
  auto sender = f.connect_and_wait(f.connect_url("lazy"), f.token("lazy"));
  CHECK(sender->result.http_status == 404);
  CHECK_THAT(sender->result.reason, Catch::Contains("accepted the connection within the allowed timeout"));
}

TEST_CASE("relay: a control channel whose token expires is closed with 1008, renewal keeps it") {
  RelayFixture f;
  auto expiring = open_listener(f, "exp");
  auto renewed = f.connect_and_wait(f.listen_url("exp2"), f.token("exp2", 2));
  REQUIRE_FALSE(renewed->ec);
  auto renewed_reader = std::make_shared<ControlReader>(renewed->result.ws);
  renewed_reader->start();
  // Replace the first listener by one with a 2-second token.
  expiring->ws->send_close(1000, "");
  auto short_lived = f.connect_and_wait(f.listen_url("exp"), f.token("exp", 2));
  auto short_reader = std::make_shared<ControlReader>(short_lived->result.ws);
  short_reader->start();
  bool renew_sent = false;
  renewed_reader->ws->async_write_text(hc::build_renew_token_message(f.token("exp2", 3600)),
                                       [&](std::error_code ec) { renew_sent = !ec; });
  REQUIRE(run_until(f.io, [&] { return short_reader->has_ended; }, std::chrono::seconds(6)));
  CHECK(short_reader->ended == net::WsError::closed);
  CHECK(short_reader->ws->close_code() == 1008);
  CHECK(renew_sent);
  // The renewed channel outlives its original 2-second token.
  run_until(f.io, [] { return false; }, std::chrono::milliseconds(1500));
  CHECK_FALSE(renewed_reader->has_ended);
}

TEST_CASE("relay: a renewToken with a bad token closes the channel with 1008") {
  RelayFixture f;
  auto control = open_listener(f, "badrenew");
  control->ws->async_write_text(hc::build_renew_token_message(f.token("badrenew", 3600, "YmFka2V5")), [](std::error_code) {});
  REQUIRE(run_until(f.io, [&] { return control->has_ended; }));
  CHECK(control->ws->close_code() == 1008);
}

TEST_CASE("relay: a plain HTTP request to $hc gets 400") {
  RelayFixture f;
  asio::ip::tcp::socket s(f.io);
  s.connect({asio::ip::make_address("127.0.0.1"), f.port});
  const std::string req = "GET /$hc/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::string response;
  std::error_code ec;
  char buf[1024];
  bool done = false;
  std::function<void()> rd = [&] {
    s.async_read_some(asio::buffer(buf), [&](std::error_code e, std::size_t n) {
      response.append(buf, n);
      if (e) done = true;
      else rd();
    });
  };
  rd();
  REQUIRE(run_until(f.io, [&] { return done; }));
  CHECK_THAT(response, Catch::StartsWith("HTTP/1.1 400"));
  CHECK_THAT(response, Catch::Contains("only for web-socket requests"));
}

TEST_CASE("relay: a client that never finishes its handshake is dropped") {
  RelayFixture f([](relay::RelayConfig& c) { c.handshake_timeout = std::chrono::milliseconds(200); });
  asio::ip::tcp::socket s(f.io);
  s.connect({asio::ip::make_address("127.0.0.1"), f.port});
  asio::write(s, asio::buffer(std::string("GET /$hc/x HTTP/1.1\r\n")));
  char buf[64];
  bool closed = false;
  s.async_read_some(asio::buffer(buf), [&](std::error_code e, std::size_t) { closed = static_cast<bool>(e); });
  REQUIRE(run_until(f.io, [&] { return closed; }, std::chrono::seconds(3)));
}
