// The byte streams the benchmark drives: a TCP socket, or the payload of an HC WebSocket (relay-only chain), behind
// one small interface so every mode is written once. Also: dialing a target, and listening for connections.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

namespace bench {

using ReadHandler = std::function<void(std::error_code, std::size_t)>;
using WriteHandler = std::function<void(std::error_code)>;

class Conn {
 public:
  virtual ~Conn() = default;
  // Some bytes (at least one) or an error; the end of the peer's data is asio::error::eof.
  virtual void read_some(asio::mutable_buffer buffer, ReadHandler handler) = 0;
  // All of `buffer`. A WebSocket client masks in place, so when clobbers_writes() the bytes are lost afterwards.
  virtual void write(asio::mutable_buffer buffer, WriteHandler handler) = 0;
  virtual bool clobbers_writes() const = 0;
  virtual void close() = 0;
};

// Where a client connects, or where a server listens: plain TCP, or a hybrid connection at a relay.
struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  bool hc = false;       // talk the HC protocol to a relay at host:port (no daemon in between)
  bool tls = false;      // wss:// to the relay
  std::string hc_name;   // the hybrid connection
  std::string key_name;  // SAS rule; the key comes from the environment (HCBENCH_KEY), never the command line
  std::string key;
  std::string ca_file;  // to verify the relay's certificate
};

using DialHandler = std::function<void(std::error_code, const std::string& what, std::shared_ptr<Conn>)>;

// Opens client connections to one endpoint: TCP connect (+ TCP_NODELAY), or an HC sender WebSocket.
class Dialer {
 public:
  Dialer(asio::io_context& io, Endpoint endpoint);
  void dial(DialHandler handler);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

using AcceptHandler = std::function<void(std::shared_ptr<Conn>)>;

// Accepts connections: a TCP acceptor, or an HC listener (control channel; each accept dials the rendezvous).
// start() returns the bound TCP port (0 for HC, which says "ready" once the control channel is up via `on_ready`).
class Listener {
 public:
  Listener(asio::io_context& io, Endpoint endpoint, AcceptHandler on_conn);
  ~Listener();
  void start(std::function<void(std::error_code, const std::string& what, uint16_t port)> on_ready);
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace bench
