// The WebSocket connection itself, over a real loopback TCP pair: reading payload in place (views), writing frames
// whose header sits in the room in front of the payload, and the rule that a quiet connection holds no buffer.
#include "bridge_fixture.hpp"

#include "net/buffer_pool.hpp"
#include "net/tls.hpp"
#include "net/websocket.hpp"
#include "support/test_cert.hpp"

#include <catch2/catch.hpp>

using testing::random_payload;
using testing::run_until;

namespace {

struct SocketPair {
  explicit SocketPair(asio::io_context& io) : a(io), b(io) {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
  }
  asio::ip::tcp::socket a, b;
};

std::shared_ptr<net::WebSocket> make_ws(asio::ip::tcp::socket socket, net::ws::Role role,
                                        std::shared_ptr<net::BufferPool> pool) {
  net::WebSocket::Options o;
  o.pool = std::move(pool);
  return std::make_shared<net::WebSocket>(std::make_unique<net::Stream>(std::move(socket)), role, std::string(), o);
}

// Reads views until `want` bytes arrived, appending them to `out`.
void read_views(const std::shared_ptr<net::WebSocket>& ws, std::string& out, std::size_t want, std::error_code& error) {
  ws->async_read_view(64 * 1024, [ws, &out, want, &error](std::error_code ec, net::ReadView v) {
    if (ec) {
      error = ec;
      return;
    }
    out.append(reinterpret_cast<const char*>(v.data), v.size);
    if (out.size() < want) read_views(ws, out, want, error);
  });
}

}  // namespace

TEST_CASE("websocket: payload written in place arrives byte-exact through view reads, and is relayed on in place") {
  asio::io_context io;
  auto pool = net::BufferPool::create(8);
  SocketPair p1(io), p2(io);
  // client -> [server | client2]-> server2: the middle forwards each view in place, as the relay's splice does.
  auto client = make_ws(std::move(p1.a), net::ws::Role::client, pool);
  auto middle_in = make_ws(std::move(p1.b), net::ws::Role::server, pool);
  auto middle_out = make_ws(std::move(p2.a), net::ws::Role::client, pool);
  auto sink = make_ws(std::move(p2.b), net::ws::Role::server, pool);

  const std::string payload = random_payload(3u << 20, 11);
  std::size_t sent = 0;
  net::Block block;
  std::function<void()> send_next = [&] {
    if (sent == payload.size()) return;
    const std::size_t n = std::min<std::size_t>(payload.size() - sent, 1 + (sent * 7919) % net::BufferPool::kPayload);
    if (!block) block = pool->acquire();
    std::memcpy(block.data() + net::BufferPool::kHeadroom, payload.data() + sent, n);
    sent += n;
    client->async_write_in_place(asio::buffer(block.data() + net::BufferPool::kHeadroom, n), net::ws::Opcode::binary,
                                 true, [&](std::error_code ec) {
                                   REQUIRE_FALSE(ec);
                                   send_next();
                                 });
  };
  std::function<void()> forward = [&] {
    middle_in->async_read_view(64 * 1024, [&](std::error_code ec, net::ReadView v) {
      if (ec) return;
      middle_out->async_write_in_place(asio::buffer(v.data, v.size), v.opcode, v.message_end,
                                       [&](std::error_code wec) {
                                         if (!wec) forward();
                                       });
    });
  };
  std::string got;
  std::error_code error;
  send_next();
  forward();
  read_views(sink, got, payload.size(), error);
  REQUIRE(run_until(io, [&] { return got.size() >= payload.size() || error; }, std::chrono::seconds(30)));
  CHECK_FALSE(error);
  CHECK(got == payload);
  CHECK(middle_in->bytes_read() == payload.size());
  CHECK(middle_out->bytes_written() == payload.size());
  block.reset();

  // Now all four sides wait for data: none of them may hold a block while it waits.
  std::string more;
  read_views(sink, more, 1, error);
  CHECK(run_until(io, [&] { return pool->in_use() == 0; }));
  CHECK(pool->free_blocks() <= 8);
  for (auto* ws : {&client, &middle_in, &middle_out, &sink}) (*ws)->abort();
  io.restart();
  io.run_for(std::chrono::seconds(5));  // returns as soon as the aborted reads have completed
}

TEST_CASE("websocket: messages queued faster than the socket takes them leave gathered, whole and in order") {
  // Each UDP datagram is its own message, written without waiting for the one before: a write gathers the queued
  // frames. Every message must arrive whole and in order, a ping sent meanwhile must still be answered, and every
  // write handler must run once, in order, before the close that follows them.
  asio::io_context io;
  auto pool = net::BufferPool::create(4);
  SocketPair p(io);
  auto client = make_ws(std::move(p.a), net::ws::Role::client, pool);
  auto server = make_ws(std::move(p.b), net::ws::Role::server, pool);
  constexpr int kMessages = 500;
  std::vector<std::vector<uint8_t>> sent;  // with room for the header in front, as the datagram tunnel writes them
  std::vector<int> completed;
  for (int i = 0; i < kMessages; ++i) {
    const std::string body = random_payload(1 + (i * 7919) % 1400, static_cast<unsigned>(i));
    sent.emplace_back(net::BufferPool::kHeadroom + body.size());
    std::memcpy(sent.back().data() + net::BufferPool::kHeadroom, body.data(), body.size());
  }
  std::vector<std::string> expected;
  for (int i = 0; i < kMessages; ++i) {
    auto& b = sent[static_cast<std::size_t>(i)];
    expected.emplace_back(reinterpret_cast<const char*>(b.data()) + net::BufferPool::kHeadroom,
                          b.size() - net::BufferPool::kHeadroom);
    client->async_write_in_place(asio::buffer(b.data() + net::BufferPool::kHeadroom, b.size() - net::BufferPool::kHeadroom),
                                 net::ws::Opcode::binary, true, [&completed, i](std::error_code ec) {
                                   CHECK_FALSE(ec);
                                   completed.push_back(i);
                                 });
    if (i == kMessages / 2) client->send_ping("mid");
  }
  bool pong = false;
  client->set_pong_handler([&] { pong = true; });
  client->send_close(1000, "done");
  std::vector<std::string> got;
  std::string current;
  std::error_code end;
  std::function<void()> read = [&] {
    server->async_read_view(64 * 1024, [&](std::error_code ec, net::ReadView v) {
      if (ec) {
        end = ec;
        return;
      }
      current.append(reinterpret_cast<const char*>(v.data), v.size);
      if (v.message_end) {
        got.push_back(current);
        current.clear();
      }
      read();
    });
  };
  read();
  // The client reads too, or it would never see the pong.
  std::function<void()> client_read = [&] {
    client->async_read_view(1024, [&](std::error_code ec, net::ReadView) {
      if (!ec) client_read();
    });
  };
  client_read();
  REQUIRE(run_until(io, [&] { return static_cast<bool>(end); }, std::chrono::seconds(20)));
  CHECK(end == net::WsError::closed);
  REQUIRE(got.size() == expected.size());
  CHECK(got == expected);
  REQUIRE(completed.size() == static_cast<std::size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) CHECK(completed[static_cast<std::size_t>(i)] == i);
  CHECK(client->bytes_written() == [&] {
    std::size_t n = 0;
    for (const auto& e : expected) n += e.size();
    return n;
  }());
  CHECK(run_until(io, [&] { return pong; }));
  client->abort();
  server->abort();
  io.restart();
  io.run_for(std::chrono::seconds(5));
}

TEST_CASE("websocket: a frame that trickles in a byte at a time is parsed and delivered whole") {
  asio::io_context io;
  auto pool = net::BufferPool::create(2);
  SocketPair p(io);
  auto server = make_ws(std::move(p.b), net::ws::Role::server, pool);
  // Two masked frames (a 300-byte text and a ping in between would be control): built by hand.
  const std::string payload = random_payload(300, 3);
  std::vector<uint8_t> wire(net::ws::kMaxFrameHeaderSize);
  const uint8_t mask[4] = {1, 2, 3, 4};
  wire.resize(net::ws::encode_frame_header(wire.data(), true, net::ws::Opcode::binary, payload.size(), mask));
  std::vector<uint8_t> body(payload.begin(), payload.end());
  net::ws::apply_mask(body.data(), body.size(), {1, 2, 3, 4}, 0);
  wire.insert(wire.end(), body.begin(), body.end());

  std::string got;
  std::error_code error;
  read_views(server, got, payload.size(), error);
  for (uint8_t byte : wire) {
    asio::write(p.a, asio::buffer(&byte, 1));
    io.restart();
    io.poll();
  }
  REQUIRE(run_until(io, [&] { return got.size() >= payload.size() || error; }));
  CHECK_FALSE(error);
  CHECK(got == payload);
  server->abort();
  io.restart();
  io.run_for(std::chrono::seconds(5));
}

TEST_CASE("websocket: repeated TLS dials to the same relay resume the session, dials elsewhere do not get it") {
  const auto cert = testing::make_test_cert();
  testing::RelayFixture relay([&](relay::RelayConfig& c) {
    c.tls_cert = cert.cert_file;
    c.tls_key = cert.key_file;
  });
  auto tls = net::make_client_tls_context(cert.cert_file);
  REQUIRE(tls);
  // Opens a listener control channel and says whether its TLS session was resumed.
  auto dial = [&](const std::string& host) {
    net::ClientOptions options;
    options.tls = tls.value();
    options.headers.add("ServiceBusAuthorization",
                        hc::create_sas_token(hc::sas_resource_uri(host, "hc1"), "root", relay.key,
                                             static_cast<int64_t>(std::time(nullptr)) + 3600));
    options.timeout = std::chrono::seconds(10);
    auto out = std::make_shared<testing::ConnectOutcome>();
    const std::string url = "wss://" + host + ":" + std::to_string(relay.port) + "/$hc/hc1?sb-hc-action=listen&sb-hc-id=" +
                            hc::new_guid();
    net::async_ws_connect(relay.io, url, options, [out](std::error_code ec, net::ConnectResult r) {
      out->ec = ec;
      out->result = std::move(r);
      out->done = true;
    });
    REQUIRE(run_until(relay.io, [&] { return out->done; }));
    REQUIRE_FALSE(out->ec);
    return out->result.ws;
  };
  auto first = dial("127.0.0.1");
  CHECK(SSL_session_reused(first->stream().tls()->native_handle()) == 0);
  // The ticket arrives after the handshake; the first read on the channel has processed it by now.
  auto second = dial("127.0.0.1");
  CHECK(SSL_session_reused(second->stream().tls()->native_handle()) == 1);
  // Another name for the same server is another peer: full handshake, verified again.
  auto third = dial("localhost");
  CHECK(SSL_session_reused(third->stream().tls()->native_handle()) == 0);
  for (auto* ws : {&first, &second, &third}) (*ws)->abort();
  relay.io.restart();
  relay.io.run_for(std::chrono::milliseconds(200));
}

// Options::keepalive and drop_when_silent: a path that drops quiet connections (Azure's ~4 min, a proxy's idle
// timeout; hcrelay --idle-timeout) keeps a connection that sends keep-alive pongs, drops one that sends nothing, and
// does not count a connection its owner stopped reading (backpressure) as silent.
TEST_CASE("websocket: keep-alive pongs keep a quiet connection through a silence limit, without them it is dropped") {
  using std::chrono::milliseconds;
  asio::io_context io;
  auto pool = net::BufferPool::create(4);
  // The limit is eight keep-alive periods: a loaded sanitizer run may delay a pong by a few hundred ms.
  const milliseconds limit(800);
  // A pair whose server drops after `limit` of silence and reads `want` bytes (then stops reading); its client sends
  // keep-alive pongs every `keepalive` (0: none).
  struct Pair {
    std::shared_ptr<net::WebSocket> client, server;
    std::string got;
    std::error_code error;
  };
  auto open = [&](milliseconds keepalive, std::size_t want) {
    SocketPair p(io);
    net::WebSocket::Options c, s;
    c.pool = s.pool = pool;
    c.keepalive = keepalive;
    s.drop_when_silent = limit;
    auto pair = std::make_unique<Pair>();
    pair->client = std::make_shared<net::WebSocket>(std::make_unique<net::Stream>(std::move(p.a)),
                                                    net::ws::Role::client, std::string(), c);
    pair->server = std::make_shared<net::WebSocket>(std::make_unique<net::Stream>(std::move(p.b)),
                                                    net::ws::Role::server, std::string(), s);
    read_views(pair->server, pair->got, want, pair->error);
    return pair;
  };
  std::string hello = "hello";

  // With keep-alive every 100 ms, three silence limits of quiet pass and the connection still carries a message.
  const auto kept = open(milliseconds(100), 5);
  std::string client_got;
  std::error_code client_error;
  read_views(kept->client, client_got, 1, client_error);  // both owners read, as tunnels always do
  CHECK_FALSE(run_until(io, [&] { return bool(kept->error) || bool(client_error); }, 3 * limit));
  kept->client->async_write(asio::buffer(hello), net::ws::Opcode::binary, true, [](std::error_code) {});
  REQUIRE(run_until(io, [&] { return kept->got.size() == 5 || kept->error; }));
  CHECK(kept->got == "hello");
  CHECK(kept->server->is_open());

  // Without keep-alive, the same quiet connection is dropped once the limit passed (checked every quarter of it).
  const auto quiet = open(milliseconds(0), 1);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(run_until(io, [&] { return bool(quiet->error); }, std::chrono::seconds(5)));
  CHECK(std::chrono::steady_clock::now() - start >= limit);
  CHECK_FALSE(quiet->server->is_open());

  // An owner that stopped reading (its other side is slow) is not silence: the connection stays.
  const auto held = open(milliseconds(0), 1);
  held->client->async_write(asio::buffer(hello), net::ws::Opcode::binary, true, [](std::error_code) {});
  REQUIRE(run_until(io, [&] { return !held->got.empty() || bool(held->error); }));  // read once, then no more reads
  CHECK_FALSE(run_until(io, [&] { return !held->server->is_open(); }, 3 * limit));

  for (const auto* pair : {kept.get(), quiet.get(), held.get()}) {
    pair->client->abort();
    pair->server->abort();
  }
  io.restart();
  io.run_for(std::chrono::seconds(1));
}
