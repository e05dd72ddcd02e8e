// How the tests wait for asynchronous work without sleeping: turn the io_context until a condition holds or a
// deadline passes. Shared by the unit tests (tls_stream_test.cpp) and the integration fixtures (relay_fixture.hpp).
#pragma once

#include <asio/io_context.hpp>

#include <chrono>
#include <functional>

namespace testing {

// Runs `io` (a handler at a time, re-checking `done` at least every 20 ms) until `done()` holds: true, or false
// when `timeout` passed first.
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace testing
