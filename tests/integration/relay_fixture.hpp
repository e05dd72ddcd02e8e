// An in-process hcrelay plus helpers to drive asynchronous clients from a test: everything runs on one io_context,
// and run_until() (support/run_until.hpp) turns the loop until a condition holds or a deadline passes (no sleeps).
#pragma once

#include "hc/control_message.hpp"
#include "hc/guid.hpp"
#include "hc/sas.hpp"
#include "hc/url.hpp"
#include "net/ws_client.hpp"
#include "relay/fault_injector.hpp"
#include "relay/relay_server.hpp"
#include "support/run_until.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace testing {

// The SAS key of the in-process relays and daemons, in one place. Named k...Key so that the suite-wide secrets check
// (tests/secrets/check_logs.sh) finds it and greps every test's output for it.
inline const std::string kTestRelayKey = "dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleTA9PQ==";

struct ConnectOutcome {
  bool done = false;
  std::error_code ec;
  net::ConnectResult result;
};

class RelayFixture {
 public:
  explicit RelayFixture(std::function<void(relay::RelayConfig&)> tweak = {}) {
    relay::RelayConfig config;
    config.keys["root"] = key;
    if (tweak) tweak(config);
    server = std::make_unique<relay::RelayServer>(io, config);
    auto ep = server->start();
    REQUIRE(ep.ok());
    port = ep->port();
  }
  ~RelayFixture() {
    server->stop();
    run_until(io, [this] { return server->idle(); }, std::chrono::seconds(3));
  }

  std::string token(const std::string& hc, int64_t ttl = 3600, const std::string& k = {}) const {
    return hc::create_sas_token(hc::sas_resource_uri("127.0.0.1", hc), "root", k.empty() ? key : k,
                                static_cast<int64_t>(std::time(nullptr)) + ttl);
  }

  std::shared_ptr<ConnectOutcome> connect(const std::string& url, const std::string& tok = {}) {
    auto out = std::make_shared<ConnectOutcome>();
    net::ClientOptions options;
    if (!tok.empty()) options.headers.add("ServiceBusAuthorization", tok);
    options.timeout = std::chrono::seconds(10);
    net::async_ws_connect(io, url, options, [out](std::error_code ec, net::ConnectResult r) {
      out->ec = ec;
      out->result = std::move(r);
      out->done = true;
    });
    return out;
  }

  std::shared_ptr<ConnectOutcome> connect_and_wait(const std::string& url, const std::string& tok = {}) {
    auto out = connect(url, tok);
    REQUIRE(run_until(io, [out] { return out->done; }));
    return out;
  }

  // The relay's fault switches (docs/testing.md), installed as its fault plan on first use.
  relay::FaultInjector& faults() {
    if (!injector) {
      injector = std::make_shared<relay::FaultInjector>(*server);
      server->set_fault_plan(injector);
    }
    return *injector;
  }

  std::string listen_url(const std::string& hc) const { return hc::listen_url(false, "127.0.0.1", port, hc, hc::new_guid()); }
  std::string connect_url(const std::string& hc) const { return hc::connect_url(false, "127.0.0.1", port, hc, hc::new_guid()); }

  asio::io_context io;
  std::string key = kTestRelayKey;
  std::unique_ptr<relay::RelayServer> server;
  std::shared_ptr<relay::FaultInjector> injector;
  uint16_t port = 0;
};

// Reads a WebSocket until the peer closes its direction or the connection fails, keeping every byte (`data`) and the
// whole messages (`messages`, for control channels).
class Reader : public std::enable_shared_from_this<Reader> {
 public:
  explicit Reader(std::shared_ptr<net::WebSocket> ws) : ws(std::move(ws)), chunk(65536) {}
  void start() { next(); }
  std::shared_ptr<net::WebSocket> ws;
  std::string data;
  std::vector<std::string> messages;
  std::error_code ended;
  bool has_ended = false;

 private:
  void next() {
    ws->async_read(asio::buffer(chunk), [self = shared_from_this()](std::error_code ec, net::ReadChunk c) {
      if (ec) {
        self->ended = ec;
        self->has_ended = true;
        return;
      }
      const std::string piece(reinterpret_cast<const char*>(self->chunk.data()), c.size);
      self->data += piece;
      self->partial += piece;
      if (c.message_end) {
        self->messages.push_back(std::move(self->partial));
        self->partial.clear();
      }
      self->next();
    });
  }
  std::vector<uint8_t> chunk;
  std::string partial;
};
using ControlReader = Reader;
using Collector = Reader;

}  // namespace testing
