// net::async_dial through a scripted in-process HTTP proxy on loopback, for what real proxies rarely do: the answer
// split byte by byte, HTTP/1.0 200, 200 with Content-Length, bytes after the head, an endless head, silence, an
// NTLM-only 407. Also the request the proxy sees, the NO_PROXY bypass, an unreachable proxy and cancel().
#include "relay_fixture.hpp"

#include "hc/crypto.hpp"
#include "net/dialer.hpp"
#include "net/ws_client.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

using asio::ip::tcp;
using testing::run_until;

namespace {

// Accepts connections, reads each request head, then runs `answer` on the socket.
struct ScriptedProxy {
  using Answer = std::function<void(std::shared_ptr<tcp::socket>)>;
  ScriptedProxy(asio::io_context& io, Answer a) : acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}), answer(std::move(a)) {
    accept();
  }
  void accept() {
    acceptor.async_accept([this](std::error_code ec, tcp::socket s) {
      if (ec) return;
      ++connections;
      auto sock = std::make_shared<tcp::socket>(std::move(s));
      sock->set_option(tcp::no_delay(true));
      auto buf = std::make_shared<asio::streambuf>();
      asio::async_read_until(*sock, *buf, "\r\n\r\n", [this, sock, buf](std::error_code rec, std::size_t) {
        if (rec) return;
        request.assign(asio::buffers_begin(buf->data()), asio::buffers_end(buf->data()));
        answer(sock);
      });
      accept();
    });
  }
  uint16_t port() const { return acceptor.local_endpoint().port(); }
  tcp::acceptor acceptor;
  Answer answer;
  std::string request;
  int connections = 0;
  std::vector<std::shared_ptr<tcp::socket>> held;  // sockets kept open (silence)
};

ScriptedProxy::Answer reply(std::string text) {
  return [text](std::shared_ptr<tcp::socket> s) {
    auto data = std::make_shared<std::string>(text);
    asio::async_write(*s, asio::buffer(*data), [s, data](std::error_code, std::size_t) {});
  };
}

// Writes `text` one byte per write (TCP_NODELAY on), so the client sees the head in many small reads.
void write_bytewise(std::shared_ptr<tcp::socket> s, std::shared_ptr<std::string> text, std::size_t i) {
  if (i == text->size()) return;
  asio::async_write(*s, asio::buffer(text->data() + i, 1), [s, text, i](std::error_code ec, std::size_t) {
    if (!ec) write_bytewise(s, text, i + 1);
  });
}

std::shared_ptr<const net::ProxyPolicy> policy_for(uint16_t port, const std::string& userinfo = "",
                                                   const std::string& no_proxy = "") {
  net::ProxySettings s;
  s.url = "http://" + userinfo + "127.0.0.1:" + std::to_string(port);
  s.no_proxy = no_proxy;
  auto p = net::resolve_proxy_policy(s, [](const char*) { return std::optional<std::string>(); });
  REQUIRE(p);
  return std::make_shared<const net::ProxyPolicy>(p.value());
}

struct DialOutcome {
  bool done = false;
  std::error_code ec;
  std::string detail;
  std::shared_ptr<tcp::socket> socket;
};

DialOutcome dial(asio::io_context& io, std::shared_ptr<const net::ProxyPolicy> policy, const std::string& host = "relay.example",
                 uint16_t port = 443, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  DialOutcome out;
  net::async_dial(io, host, port, net::DialOptions{std::move(policy), timeout},
                  [&out](std::error_code ec, tcp::socket s, std::string detail) {
                    out.done = true;
                    out.ec = ec;
                    out.detail = std::move(detail);
                    out.socket = std::make_shared<tcp::socket>(std::move(s));
                  });
  REQUIRE(run_until(io, [&] { return out.done; }, std::chrono::seconds(15)));
  return out;
}

}  // namespace

TEST_CASE("dialer: CONNECT request carries the target and Basic credentials, 200 hands over an open socket") {
  asio::io_context io;
  ScriptedProxy proxy(io, reply("HTTP/1.1 200 Connection established\r\n\r\n"));
  const auto out = dial(io, policy_for(proxy.port(), "alice:p%40ss%3Aw%25rd@"));
  INFO(out.detail);
  REQUIRE_FALSE(out.ec);
  CHECK(out.socket->is_open());
  CHECK_THAT(proxy.request, Catch::StartsWith("CONNECT relay.example:443 HTTP/1.1\r\nHost: relay.example:443\r\n"));
  CHECK_THAT(proxy.request, Catch::Contains("Proxy-Authorization: Basic " + hc::base64_encode("alice:p@ss:w%rd") + "\r\n"));
}

TEST_CASE("dialer: the answer head split byte by byte, HTTP/1.0 200, 200 with Content-Length all open the tunnel") {
  asio::io_context io;
  SECTION("byte by byte") {
    ScriptedProxy proxy(io, [](std::shared_ptr<tcp::socket> s) {
      write_bytewise(s, std::make_shared<std::string>("HTTP/1.1 200 Connection established\r\nVia: 1.1 fake\r\n\r\n"), 0);
    });
    const auto out = dial(io, policy_for(proxy.port()));
    INFO(out.detail);
    CHECK_FALSE(out.ec);
  }
  SECTION("HTTP/1.0 200 (tinyproxy)") {
    ScriptedProxy proxy(io, reply("HTTP/1.0 200 Connection established\r\nProxy-agent: fake\r\n\r\n"));
    CHECK_FALSE(dial(io, policy_for(proxy.port())).ec);
  }
  SECTION("200 with Content-Length: the length is ignored (RFC 9110 9.3.6)") {
    ScriptedProxy proxy(io, reply("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"));
    CHECK_FALSE(dial(io, policy_for(proxy.port())).ec);
  }
}

TEST_CASE("dialer: bytes after the head, an endless head and silence fail with a clear error, not a hang") {
  asio::io_context io;
  SECTION("bytes after the head") {
    ScriptedProxy proxy(io, reply("HTTP/1.1 200 OK\r\n\r\nSURPRISE"));
    const auto out = dial(io, policy_for(proxy.port()));
    CHECK(out.ec == net::ProxyError::bad_response);
    CHECK_THAT(out.detail, Catch::Contains("sent 8 bytes after its answer"));
    CHECK_FALSE(out.socket->is_open());
  }
  SECTION("endless head: capped") {
    ScriptedProxy proxy(io, [](std::shared_ptr<tcp::socket> s) {
      std::string head = "HTTP/1.1 200 OK\r\n";
      while (head.size() < 64 * 1024) head += "X-Padding: " + std::string(100, 'a') + "\r\n";
      reply(head)(s);
    });
    const auto out = dial(io, policy_for(proxy.port()));
    CHECK(out.ec == net::ProxyError::bad_response);
    CHECK_THAT(out.detail, Catch::Contains("invalid answer to CONNECT"));
  }
  SECTION("silence: the deadline ends it") {
    ScriptedProxy proxy(io, [&](std::shared_ptr<tcp::socket> s) { proxy.held.push_back(s); });
    const auto started = std::chrono::steady_clock::now();
    const auto out = dial(io, policy_for(proxy.port()), "relay.example", 443, std::chrono::milliseconds(300));
    CHECK(out.ec == net::ProxyError::timeout);
    CHECK_THAT(out.detail, Catch::Contains("did not answer CONNECT relay.example:443 within 300 ms"));
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  }
  SECTION("closed before answering") {
    ScriptedProxy proxy(io, [](std::shared_ptr<tcp::socket> s) { s->close(); });
    CHECK(dial(io, policy_for(proxy.port())).ec == net::ProxyError::bad_response);
  }
}

TEST_CASE("dialer: 407 NTLM-only, 407/401 with and without credentials, 403, 502") {
  asio::io_context io;
  SECTION("NTLM/Negotiate only: points at cntlm") {
    ScriptedProxy proxy(io, reply("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\n"
                                  "Proxy-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n"));
    const auto out = dial(io, policy_for(proxy.port()));
    CHECK(out.ec == net::ProxyError::auth_unsupported);
    CHECK_THAT(out.detail, Catch::Contains("offers: NTLM, Negotiate") && Catch::Contains("cntlm"));
  }
  SECTION("407 without credentials: missing") {
    ScriptedProxy proxy(io, reply("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n"));
    CHECK(dial(io, policy_for(proxy.port())).ec == net::ProxyError::auth_required);
  }
  SECTION("401 with credentials: refused, and the message does not carry the password") {
    ScriptedProxy proxy(io, reply("HTTP/1.0 401 Unauthorized\r\n\r\n"));
    const auto out = dial(io, policy_for(proxy.port(), "bob:NotTheP4ssword@"));
    CHECK(out.ec == net::ProxyError::auth_rejected);
    CHECK_THAT(out.detail, Catch::Contains("http://bob:***@127.0.0.1:"));
    CHECK(out.detail.find("NotTheP4ssword") == std::string::npos);
  }
  SECTION("403") {
    ScriptedProxy proxy(io, reply("HTTP/1.0 403 Forbidden\r\n\r\n"));
    CHECK(dial(io, policy_for(proxy.port())).ec == net::ProxyError::forbidden);
  }
  SECTION("502") {
    ScriptedProxy proxy(io, reply("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"));
    CHECK(dial(io, policy_for(proxy.port())).ec == net::ProxyError::upstream_failed);
  }
}

TEST_CASE("dialer: NO_PROXY match dials directly, an unreachable proxy and cancel() are reported") {
  asio::io_context io;
  ScriptedProxy proxy(io, reply("HTTP/1.1 200 OK\r\n\r\n"));
  tcp::acceptor direct(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto out = dial(io, policy_for(proxy.port(), "", "127.0.0.0/8"), "127.0.0.1", direct.local_endpoint().port());
  CHECK_FALSE(out.ec);
  CHECK(proxy.connections == 0);

  uint16_t closed_port = 0;
  {
    tcp::acceptor gone(io, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = gone.local_endpoint().port();
  }
  const auto unreachable = dial(io, policy_for(closed_port));
  CHECK(unreachable.ec == net::ProxyError::unreachable);
  CHECK_THAT(unreachable.detail, Catch::Contains("cannot connect to proxy http://127.0.0.1:"));

  ScriptedProxy silent(io, [&](std::shared_ptr<tcp::socket> s) { silent.held.push_back(s); });
  DialOutcome cancelled;
  auto pending = net::async_dial(io, "relay.example", 443, net::DialOptions{policy_for(silent.port()), std::chrono::seconds(30)},
                                 [&](std::error_code ec, tcp::socket, std::string) {
                                   cancelled.done = true;
                                   cancelled.ec = ec;
                                 });
  REQUIRE(run_until(io, [&] { return !silent.request.empty(); }));
  pending->cancel();
  REQUIRE(run_until(io, [&] { return cancelled.done; }, std::chrono::seconds(5)));
  CHECK(cancelled.ec == asio::error::operation_aborted);
}

TEST_CASE("ws_client: a cancelled connect never dials (resolve done-check)") {
  asio::io_context io;
  tcp::acceptor target(io, {asio::ip::make_address("127.0.0.1"), 0});
  int accepted = 0;
  target.async_accept([&](std::error_code ec, tcp::socket) { if (!ec) ++accepted; });
  bool done = false;
  std::error_code result;
  auto pending = net::async_ws_connect(io, "ws://127.0.0.1:" + std::to_string(target.local_endpoint().port()) + "/x",
                                       net::ClientOptions{}, [&](std::error_code ec, net::ConnectResult) {
                                         done = true;
                                         result = ec;
                                       });
  pending->cancel();  // before the (immediate, posted) resolve completes
  REQUIRE(run_until(io, [&] { return done; }, std::chrono::seconds(5)));
  CHECK(result == asio::error::operation_aborted);
  run_until(io, [] { return false; }, std::chrono::milliseconds(200));  // give a stray dial the chance to land
  CHECK(accepted == 0);
}

// A process at its descriptor limit (a busy daemon under a low LimitNOFILE) must be told so: asio's range connect
// reports a socket it could not open as operation_aborted, which reads like a cancel and hides the limit.
// Not in the sanitizer builds: their runtimes need descriptors of their own (UBSan checks a vptr's memory through a
// pipe and reports a false "invalid vptr" when it cannot open one). The Release stage runs it.
#ifndef HCB_SANITIZED_BUILD
TEST_CASE("dialer: no descriptor left for the socket is reported as such, not as 'operation aborted'") {
  asio::io_context io;
  tcp::acceptor target(io, {asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t port = target.local_endpoint().port();
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  // Take every descriptor left under a soft limit lowered to 64 above the lowest free one (a bounded loop).
  const int lowest_free = open("/dev/null", O_RDONLY);
  REQUIRE(lowest_free >= 0);
  close(lowest_free);
  rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, static_cast<rlim_t>(lowest_free) + 64);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> taken;
  for (int fd; (fd = open("/dev/null", O_RDONLY)) >= 0;) taken.push_back(fd);
  const int exhausted = errno;

  const auto out = dial(io, nullptr, "127.0.0.1", port);

  for (int fd : taken) close(fd);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  CHECK(exhausted == EMFILE);
  CHECK(out.ec == asio::error::no_descriptors);
  CHECK_THAT(out.detail, Catch::Contains("cannot connect to 127.0.0.1:") && Catch::Contains("Too many open files"));
}
#endif  // HCB_SANITIZED_BUILD
