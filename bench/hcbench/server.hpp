// The server end of every chain: counts and checks throughput streams (sink) and echoes everything else.
#pragma once

#include <cstdint>
#include <memory>

#include "conn.hpp"

namespace bench {

struct ServerStats {
  uint64_t sink_streams = 0;
  uint64_t sink_bad = 0;  // streams whose bytes did not match the pattern or the announced length
  uint64_t sink_bytes = 0;
  uint64_t echo_connections = 0;
};

// Serves one accepted connection until the peer goes away.
void serve(std::shared_ptr<Conn> conn, ServerStats& stats);

}  // namespace bench
