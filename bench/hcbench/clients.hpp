// The client modes of hcbench. Each runs on the io_context, prints one JSON result line and calls `done` with the
// process exit code (0: every exchange completed and verified).
#pragma once

#include <cstdint>
#include <functional>

#include "conn.hpp"

namespace bench {

using Done = std::function<void(int exit_code)>;

struct ThroughputOptions {
  int streams = 1;
  uint64_t bytes_per_stream = 64 << 20;
  std::size_t chunk = 64 << 10;  // bytes per write
};
void run_throughput(asio::io_context& io, Dialer& dialer, ThroughputOptions options, Done done);

struct LatencyOptions {
  uint64_t count = 10000;  // round trips measured (after `warmup`)
  uint64_t warmup = 200;
  double seconds = 5;  // stop earlier when this is up
  std::size_t size = 64;
};
void run_latency(asio::io_context& io, Dialer& dialer, LatencyOptions options, Done done);

struct SetupOptions {
  uint64_t count = 10000;  // connections, each: connect, one 64-byte round trip, close
  double seconds = 5;
  int concurrency = 16;
};
void run_setup(asio::io_context& io, Dialer& dialer, SetupOptions options, Done done);

struct IdleOptions {
  uint64_t count = 1000;  // connections to open and hold
  int concurrency = 64;
  double hold_seconds = 0;  // 0: hold until stdin reaches EOF (the harness closes it once it has measured)
};
void run_idle(asio::io_context& io, Dialer& dialer, IdleOptions options, Done done);

}  // namespace bench
