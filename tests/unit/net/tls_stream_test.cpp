// net::TlsStream against asio::ssl::stream as the peer, and against itself, on loopback: byte-exact transfers both
// ways at once, many small writes, close_notify and half-close, truncation, certificate checks, hostile bytes, and
// an io_context destroyed with a handshake pending (no leak under ASan: handlers live in asio's operations only).
#include "net/tls.hpp"
#include "net/tls_stream.hpp"
#include "support/run_until.hpp"
#include "support/test_cert.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>

namespace {

using tcp = asio::ip::tcp;
using AsioTls = asio::ssl::stream<tcp::socket>;

// How long each step may take: the 20 s this file has always allowed (the shared default is 10 s).
constexpr std::chrono::seconds kWait{20};

std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
  return {std::move(client), std::move(server)};
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

struct Contexts {
  std::shared_ptr<asio::ssl::context> server, client;
  Contexts() {
    const auto cert = testing::make_test_cert();
    server = net::make_server_tls_context(cert.cert_file, cert.key_file).value();
    client = net::make_client_tls_context(cert.cert_file).value();
  }
};

// Reads until `want` bytes or an error; then `error` holds it (or stays clear).
template <class S>
struct Reader {
  S& stream;
  std::string got;
  std::error_code error;
  bool done = false;
  std::size_t want;
  std::array<char, 7000> buf{};
  void start() {
    stream.async_read_some(asio::buffer(buf), [this](std::error_code ec, std::size_t n) {
      got.append(buf.data(), n);
      if (ec || got.size() >= want) {
        error = ec;
        done = true;
        return;
      }
      start();
    });
  }
};

// Writes all of `b`: asio's composed write for asio's stream, the stream's own for ours.
template <class Handler>
void write_all(AsioTls& s, asio::const_buffer b, Handler&& h) {
  asio::async_write(s, b, std::forward<Handler>(h));
}
template <class Handler>
void write_all(net::TlsStream& s, asio::const_buffer b, Handler&& h) {
  s.async_write(b, std::forward<Handler>(h));
}

template <class A, class B>
void handshake(asio::io_context& io, A& client, B& server) {
  std::error_code client_ec = asio::error::would_block, server_ec = asio::error::would_block;
  client.async_handshake(asio::ssl::stream_base::client, [&](std::error_code ec) { client_ec = ec; });
  server.async_handshake(asio::ssl::stream_base::server, [&](std::error_code ec) { server_ec = ec; });
  REQUIRE(testing::run_until(
      io, [&] { return client_ec != asio::error::would_block && server_ec != asio::error::would_block; }, kWait));
  REQUIRE_FALSE(client_ec);
  REQUIRE_FALSE(server_ec);
}

// A client and a server of the given kinds (ours or asio's) on a loopback pair, past the TLS handshake.
template <class Client, class Server>
struct Connected {
  Client client;
  Server server;
  Connected(asio::io_context& io, const Contexts& ctx) : Connected(io, ctx, socket_pair(io)) {}
  Connected(asio::io_context& io, const Contexts& ctx, std::pair<tcp::socket, tcp::socket> sockets)
      : client(std::move(sockets.first), *ctx.client), server(std::move(sockets.second), *ctx.server) {
    REQUIRE(net::prepare_client_tls(client.native_handle(), "127.0.0.1", 1).ok());
    handshake(io, client, server);
  }
};

template <class A, class B>
void exchange_both_ways(asio::io_context& io, A& a, B& b, std::size_t size) {
  const std::string to_b = random_bytes(size, 1), to_a = random_bytes(size, 2);
  Reader<A> ra{a, {}, {}, false, size};
  Reader<B> rb{b, {}, {}, false, size};
  ra.start();
  rb.start();
  bool wrote_a = false, wrote_b = false;
  write_all(a, asio::buffer(to_b), [&](std::error_code ec, std::size_t n) {
    CHECK_FALSE(ec);
    CHECK(n == size);
    wrote_a = true;
  });
  write_all(b, asio::buffer(to_a), [&](std::error_code ec, std::size_t n) {
    CHECK_FALSE(ec);
    CHECK(n == size);
    wrote_b = true;
  });
  REQUIRE(testing::run_until(io, [&] { return ra.done && rb.done && wrote_a && wrote_b; }, kWait));
  CHECK_FALSE(ra.error);
  CHECK_FALSE(rb.error);
  CHECK((rb.got == to_b));
  CHECK((ra.got == to_a));
}

}  // namespace

TEST_CASE("tls stream: 8 MiB each way at once, byte-exact, against asio's TLS as server and as client", "[tls]") {
  Contexts ctx;
  asio::io_context io;
  SECTION("ours as client") {
    Connected<net::TlsStream, AsioTls> connected(io, ctx);
    exchange_both_ways(io, connected.client, connected.server, 8u << 20);
  }
  SECTION("ours as server") {
    Connected<AsioTls, net::TlsStream> connected(io, ctx);
    exchange_both_ways(io, connected.client, connected.server, 8u << 20);
  }
  SECTION("ours on both ends") {
    Connected<net::TlsStream, net::TlsStream> connected(io, ctx);
    exchange_both_ways(io, connected.client, connected.server, 8u << 20);
  }
}

TEST_CASE("tls stream: many small writes and gathered header and payload buffers arrive in order", "[tls]") {
  Contexts ctx;
  asio::io_context io;
  Connected<net::TlsStream, AsioTls> connected(io, ctx);
  auto& client = connected.client;
  auto& server = connected.server;

  // Sizes from 1 byte to past a batch (64 KiB), as (header, payload) pairs the way the WebSocket writes frames.
  const std::string data = random_bytes(3u << 20, 3);
  std::vector<std::pair<std::size_t, std::size_t>> writes;
  std::mt19937 rng(4);
  std::size_t total = 0;
  while (total < data.size()) {
    const std::size_t header = 2 + rng() % 12;
    const std::size_t payload = (rng() % 4 == 0) ? rng() % 140000 : rng() % 300;
    const std::size_t n = std::min(header + payload, data.size() - total);
    writes.emplace_back(std::min(header, n), n - std::min(header, n));
    total += n;
  }
  Reader<AsioTls> reader{server, {}, {}, false, data.size()};
  reader.start();
  std::size_t next = 0, offset = 0;
  std::function<void()> write_next = [&] {
    if (next == writes.size()) return;
    const auto [h, p] = writes[next++];
    const std::array<asio::const_buffer, 2> bufs{asio::buffer(data.data() + offset, h),
                                                 asio::buffer(data.data() + offset + h, p)};
    offset += h + p;
    client.async_write(bufs, [&, expected = h + p](std::error_code ec, std::size_t n) {
      REQUIRE_FALSE(ec);
      CHECK(n == expected);
      write_next();
    });
  };
  write_next();
  REQUIRE(testing::run_until(io, [&] { return reader.done; }, kWait));
  CHECK(next == writes.size());
  CHECK((reader.got == data));
}

TEST_CASE("tls stream: one write of more small buffers than a batch takes arrives whole and in order", "[tls]") {
  // A WebSocket write gathers up to 32 queued frames (UDP datagrams): a sequence longer than one batch's 64 pieces
  // must go out over several batches without losing or reordering a piece.
  Contexts ctx;
  asio::io_context io;
  Connected<net::TlsStream, AsioTls> connected(io, ctx);
  auto& client = connected.client;
  auto& server = connected.server;
  const std::string data = random_bytes(300 * 1400, 9);
  std::vector<asio::const_buffer> pieces;
  for (std::size_t at = 0; at < data.size(); at += 1400) pieces.push_back(asio::buffer(data.data() + at, 1400));
  REQUIRE(pieces.size() == 300);
  Reader<AsioTls> reader{server, {}, {}, false, data.size()};
  reader.start();
  bool wrote = false;
  client.async_write(pieces, [&](std::error_code ec, std::size_t n) {
    CHECK_FALSE(ec);
    CHECK(n == data.size());
    wrote = true;
  });
  REQUIRE(testing::run_until(io, [&] { return reader.done && wrote; }, kWait));
  CHECK((reader.got == data));
}

TEST_CASE("tls stream: close_notify ends one direction only, and a TCP end without it is a truncation", "[tls]") {
  Contexts ctx;
  asio::io_context io;
  Connected<net::TlsStream, net::TlsStream> connected(io, ctx);
  auto& client = connected.client;
  auto& server = connected.server;

  // The client sends its close_notify: the server reads eof, and can still send to the client.
  bool shut = false;
  client.async_shutdown([&](std::error_code ec) {
    CHECK_FALSE(ec);
    shut = true;
  });
  Reader<net::TlsStream> at_server{server, {}, {}, false, 1};
  at_server.start();
  REQUIRE(testing::run_until(io, [&] { return shut && at_server.done; }, kWait));
  CHECK(at_server.error == asio::error::eof);
  CHECK(at_server.got.empty());

  const std::string reply = random_bytes(100000, 5);
  Reader<net::TlsStream> at_client{client, {}, {}, false, reply.size() + 1};
  at_client.start();
  server.async_write(asio::buffer(reply), [&](std::error_code ec, std::size_t) { CHECK_FALSE(ec); });
  REQUIRE(testing::run_until(io, [&] { return at_client.got.size() == reply.size(); }, kWait));
  CHECK((at_client.got == reply));

  SECTION("then the server's close_notify is eof at the client") {
    server.async_shutdown([](std::error_code ec) { CHECK_FALSE(ec); });
    REQUIRE(testing::run_until(io, [&] { return at_client.done; }, kWait));
    CHECK(at_client.error == asio::error::eof);
  }
  SECTION("a TCP close without close_notify is stream_truncated, as asio's TLS reports it") {
    server.next_layer().close();
    REQUIRE(testing::run_until(io, [&] { return at_client.done; }, kWait));
    CHECK(at_client.error == asio::ssl::error::stream_truncated);
  }
}

TEST_CASE("tls stream: a certificate for another name or from an untrusted CA is refused", "[tls]") {
  Contexts ctx;
  asio::io_context io;
  for (const bool wrong_name : {true, false}) {
    auto [c, s] = socket_pair(io);
    auto client_ctx = wrong_name ? ctx.client : net::make_client_tls_context("").value();
    net::TlsStream client(std::move(c), *client_ctx);
    AsioTls server(std::move(s), *ctx.server);
    REQUIRE(net::prepare_client_tls(client.native_handle(), wrong_name ? "relay.example.com" : "127.0.0.1", 1).ok());
    std::error_code client_ec = asio::error::would_block, server_ec = asio::error::would_block;
    client.async_handshake(asio::ssl::stream_base::client, [&](std::error_code ec) { client_ec = ec; });
    server.async_handshake(asio::ssl::stream_base::server, [&](std::error_code ec) { server_ec = ec; });
    REQUIRE(testing::run_until(
      io, [&] { return client_ec != asio::error::would_block && server_ec != asio::error::would_block; }, kWait));
    CHECK(client_ec.category() == asio::error::get_ssl_category());
    CHECK_THAT(client_ec.message(), Catch::Contains("certificate verify failed"));
    CHECK(server_ec);  // told by the client's alert
  }
}

TEST_CASE("tls stream: bytes that are not TLS fail the server handshake at once", "[tls]") {
  Contexts ctx;
  asio::io_context io;
  auto [c, s] = socket_pair(io);
  net::TlsStream server(std::move(s), *ctx.server);
  std::error_code server_ec = asio::error::would_block;
  server.async_handshake(asio::ssl::stream_base::server, [&](std::error_code ec) { server_ec = ec; });
  const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(c, asio::buffer(junk));
  REQUIRE(testing::run_until(io, [&] { return server_ec != asio::error::would_block; }, kWait));
  CHECK(server_ec.category() == asio::error::get_ssl_category());
}

TEST_CASE("tls stream: a handshake the peer never answers ends on close, and with the io_context", "[tls]") {
  Contexts ctx;
  SECTION("close() while the handshake waits: operation_aborted") {
    asio::io_context io;
    auto [c, s] = socket_pair(io);
    net::TlsStream client(std::move(c), *ctx.client);
    std::error_code client_ec = asio::error::would_block;
    client.async_handshake(asio::ssl::stream_base::client, [&](std::error_code ec) { client_ec = ec; });
    io.run_for(std::chrono::milliseconds(50));
    CHECK(client_ec == asio::error::would_block);
    client.next_layer().close();
    REQUIRE(testing::run_until(io, [&] { return client_ec != asio::error::would_block; }, kWait));
    CHECK(client_ec == asio::error::operation_aborted);
  }
  SECTION("the io_context destroyed with the handshake pending frees everything (ASan)") {
    // The owner holds the stream; the pending handler holds the owner: only asio's operation keeps them alive.
    struct Owner {
      std::unique_ptr<net::TlsStream> stream;
    };
    auto destroyed = std::make_shared<bool>(false);
    {
      asio::io_context io;
      auto [c, s] = socket_pair(io);
      auto owner = std::make_shared<Owner>();
      owner->stream = std::make_unique<net::TlsStream>(std::move(c), *ctx.client);
      std::shared_ptr<void> marker(nullptr, [destroyed](void*) { *destroyed = true; });
      owner->stream->async_handshake(asio::ssl::stream_base::client,
                                     [owner, marker](std::error_code) { FAIL("a destroyed io_context runs no handler"); });
      owner.reset();
      marker.reset();
      io.run_for(std::chrono::milliseconds(50));
      CHECK_FALSE(*destroyed);
    }
    CHECK(*destroyed);
  }
}

TEST_CASE("tls stream: data and the end in one burst read as all the data, then the end, every time", "[tls]") {
  Contexts ctx;
  asio::io_context io;
  const bool clean = GENERATE(true, false);
  INFO((clean ? "close_notify" : "TCP close without close_notify"));
  Connected<net::TlsStream, net::TlsStream> connected(io, ctx);
  auto& client = connected.client;
  auto& server = connected.server;
  // Written while the client is not reading, so the records and the end wait in its socket together.
  const std::string reply = random_bytes(30000, 6);
  bool ended = false;
  server.async_write(asio::buffer(reply), [&](std::error_code ec, std::size_t) {
    REQUIRE_FALSE(ec);
    if (!clean) {
      server.next_layer().close();
      ended = true;
      return;
    }
    server.async_shutdown([&](std::error_code e) {
      CHECK_FALSE(e);
      ended = true;
    });
  });
  REQUIRE(testing::run_until(io, [&] { return ended; }, kWait));
  Reader<net::TlsStream> at_client{client, {}, {}, false, reply.size() + 1};
  at_client.start();
  REQUIRE(testing::run_until(io, [&] { return at_client.done; }, kWait));
  CHECK((at_client.got == reply));
  const std::error_code end = clean ? std::error_code(asio::error::eof) : std::error_code(asio::ssl::error::stream_truncated);
  CHECK(at_client.error == end);
  std::array<char, 16> more{};
  std::error_code again;
  CHECK(client.read_some(asio::buffer(more), again) == 0);
  CHECK(again == end);
}
