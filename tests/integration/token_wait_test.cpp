// A sender connect made before the first Entra ID token (bridge::async_sender_connect's wait for the token): it dials
// only once the token is there, fails as `no_token` after the connect timeout, can be cancelled, and leaves nothing
// behind when the io_context goes away while it waits (the ASan stage runs these; the interop test covers the daemon).
#include "bridge/relay_dial.hpp"
#include "hc/url.hpp"
#include "relay_fixture.hpp"

#include <asio.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
using testing::run_until;

// Tokens that are not there until make_ready(), as an Entra ID source before its first fetch.
class LateTokens : public bridge::TokenSource {
 public:
  std::string token_for(const std::string&, int64_t) override { return ready_ ? "Bearer test-token" : ""; }
  int64_t expiry_for(const std::string&) const override { return 0; }
  bool has_credentials() const override { return true; }
  bool ready() const override { return ready_; }
  bridge::Subscription when_ready(std::function<void()> ready) override {
    auto slot = std::make_shared<std::function<void()>>(std::move(ready));
    waiters_.push_back(slot);
    return slot;
  }
  bridge::Subscription when_renewal_due(const std::string&, int64_t, std::function<void()>) override { return {}; }
  std::string describe() const override { return "test tokens"; }

  void make_ready() {
    ready_ = true;
    for (auto& w : waiters_)
      if (auto f = w.lock()) (*f)();
    waiters_.clear();
  }

 private:
  bool ready_ = false;
  std::vector<std::weak_ptr<std::function<void()>>> waiters_;
};

struct Outcome {
  bool done = false;
  std::error_code ec;
  net::ConnectResult result;
  int calls = 0;
};

// A TCP acceptor standing in for the relay: it counts connections and never answers (the test looks only at when
// the dial happens, not at the WebSocket handshake).
struct SilentRelay {
  explicit SilentRelay(asio::io_context& io) : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  void accept() {
    acceptor.async_accept([this](std::error_code ec, tcp::socket s) {
      if (ec) return;
      ++accepted;
      held.push_back(std::move(s));
      accept();
    });
  }
  bridge::RelayContext context(std::shared_ptr<bridge::TokenSource> tokens) const {
    auto uri = hc::parse_uri("ws://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/");
    REQUIRE(uri);
    return bridge::RelayContext{uri.value(), nullptr, std::move(tokens), nullptr};
  }
  tcp::acceptor acceptor;
  std::vector<tcp::socket> held;
  int accepted = 0;
};

net::ClientOptions options_with_timeout(std::chrono::milliseconds timeout) {
  net::ClientOptions options;
  options.timeout = timeout;
  return options;
}

std::shared_ptr<net::PendingConnect> connect(asio::io_context& io, const bridge::RelayContext& relay,
                                             std::chrono::milliseconds timeout, Outcome& out) {
  return bridge::async_sender_connect(io, relay, options_with_timeout(timeout), "hc", "tracking",
                                      [&out](std::error_code ec, net::ConnectResult r) {
                                        out.done = true;
                                        out.ec = ec;
                                        out.result = std::move(r);
                                        ++out.calls;
                                      });
}

}  // namespace

TEST_CASE("token wait: a sender connect made before the first token dials only once the token is there") {
  asio::io_context io;
  SilentRelay relay(io);
  auto tokens = std::make_shared<LateTokens>();
  Outcome out;
  auto pending = connect(io, relay.context(tokens), 10s, out);
  // Every event the wait can produce before the token is a timer of 10 s: nothing to dial with yet.
  io.run_for(200ms);
  CHECK(relay.accepted == 0);
  CHECK_FALSE(out.done);
  tokens->make_ready();
  CHECK(run_until(io, [&] { return relay.accepted == 1; }, 5s));
  CHECK_FALSE(out.done);  // the silent relay never answers the upgrade: the dial is in progress
  pending->cancel();
  CHECK(run_until(io, [&] { return out.done; }, 5s));
  CHECK(out.ec == asio::error::operation_aborted);
  CHECK(out.calls == 1);
}

TEST_CASE("token wait: no token within the connect timeout fails as no_token, without dialling") {
  asio::io_context io;
  SilentRelay relay(io);
  auto tokens = std::make_shared<LateTokens>();
  Outcome out;
  auto pending = connect(io, relay.context(tokens), 100ms, out);
  REQUIRE(run_until(io, [&] { return out.done; }, 5s));
  CHECK(out.ec == asio::error::timed_out);
  CHECK(std::string(bridge::sender_connect_failure(out.ec, out.result)) == "no_token");
  CHECK(relay.accepted == 0);
  tokens->make_ready();  // too late: the handler has run and must not run again, nor a dial start
  io.restart();
  io.run_for(100ms);
  CHECK(out.calls == 1);
  CHECK(relay.accepted == 0);
}

TEST_CASE("token wait: cancel while waiting for the token runs the handler once with operation_aborted") {
  asio::io_context io;
  SilentRelay relay(io);
  auto tokens = std::make_shared<LateTokens>();
  Outcome out;
  auto pending = connect(io, relay.context(tokens), 10s, out);
  pending->cancel();
  CHECK(out.done);
  CHECK(out.ec == asio::error::operation_aborted);
  tokens->make_ready();
  io.restart();
  io.run_for(100ms);
  CHECK(out.calls == 1);
  CHECK(relay.accepted == 0);
}

TEST_CASE("token wait: the io_context destroyed while a connect waits for the token leaves nothing behind") {
  auto tokens = std::make_shared<LateTokens>();
  std::weak_ptr<net::PendingConnect> left;
  Outcome out;
  {
    asio::io_context io;
    SilentRelay relay(io);
    auto pending = connect(io, relay.context(tokens), 10s, out);
    left = pending;
    io.run_for(20ms);
  }
  // The wait lived on through its timer's handler only; with the io_context gone it is gone too (ASan: no leak).
  CHECK(left.expired());
  tokens->make_ready();  // its subscription died with it: nothing runs
  CHECK(out.calls == 0);
}
