#pragma once

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace relay {

struct EntraAuth;

struct RelayConfig {
  asio::ip::tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), 0};
  std::string tls_cert, tls_key;                          // both empty: plain ws://
  std::map<std::string, std::string, std::less<>> keys;   // SAS rule name -> key
  bool no_auth = false;
  std::shared_ptr<const EntraAuth> entra;                 // --entra-jwks/--entra-roles: tokens that are not SAS
  std::size_t max_listeners_per_hc = 25;
  std::chrono::milliseconds handshake_timeout{10000};     // TLS + HTTP head of a new connection
  // Connections held at once (handshakes in progress, waiting senders, listeners, both sides of tunnels); a new TCP
  // connection beyond it is closed at once, so a flood cannot exhaust descriptors or memory.
  std::size_t max_connections = 10000;
  std::chrono::milliseconds accept_timeout{30000};        // how long a sender waits for its listener to dial
  // Accepts offered to one listener and not yet answered (dialled or rejected) nor timed out. A listener at the cap
  // is skipped when picking; when every listener of the hybrid connection is at it, the sender gets 404.
  std::size_t max_queued_accepts = 256;
  // Each control channel is pinged this often; a listener that has not answered (any pong) by the next ping is
  // unresponsive and is closed with 1008, as the service does. Zero: no pings.
  std::chrono::milliseconds listener_ping{30000};
  // A control channel or tunnel side from which nothing arrived for this long (while the relay was reading) is
  // dropped without a close frame, as the network path to Azure Relay drops flows idle for about 4 minutes. Zero:
  // never (the default); --idle-timeout 240 emulates the service for clients that must keep their tunnels alive.
  std::chrono::milliseconds idle_timeout{0};
  // HTTP request mode (docs/architecture.md): how long a sender waits for the listener's `response` before 504, how
  // requests reach the listener (auto: control channel when small and of known length, else a rendezvous; the other
  // two force one path for tests), and how many requests may wait for responses per listener and per relay.
  enum class HttpPath { automatic, control, rendezvous };
  std::chrono::milliseconds request_timeout{60000};
  // A sender's kept-alive connection is closed when its next request has not arrived (whole head) within this; zero
  // answers every request with "Connection: close".
  std::chrono::milliseconds http_idle_timeout{60000};
  HttpPath http_path = HttpPath::automatic;
  std::size_t max_http_per_listener = 256;
  std::size_t max_http_in_flight = 4096;
};

}  // namespace relay
