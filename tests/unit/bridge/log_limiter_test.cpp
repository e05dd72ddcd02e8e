#include "bridge/log_limiter.hpp"
#include "bridge/remote_forwarder.hpp"

#include <catch2/catch.hpp>

#include <limits>

using namespace std::chrono_literals;
using Clock = bridge::LogLimiter::Clock;

TEST_CASE("log limiter: the first occurrence logs at once, then one line per interval standing for all since") {
  bridge::LogLimiter limiter(10s);
  const Clock::time_point t0{};
  CHECK(limiter.hit(t0 + 1s) == 1);
  for (int i = 0; i < 1000; ++i) CHECK(limiter.hit(t0 + 2s) == 0);
  CHECK(limiter.hit(t0 + 10s) == 0);   // 9 s after the last line
  CHECK(limiter.hit(t0 + 11s) == 1002);  // the 1000 + 1 suppressed and this one
  CHECK(limiter.hit(t0 + 12s) == 0);
  CHECK(limiter.hit(t0 + 60s) == 2);
  CHECK(bridge::repeats(1).empty());
  CHECK(bridge::repeats(1002) == " (1002 times since the last such line)");
}

TEST_CASE("timer delays are clamped: a token expiry near INT64_MAX does not overflow the timer clock") {
  CHECK(bridge::timer_delay(-5) == 0s);
  CHECK(bridge::timer_delay(42) == 42s);
  const auto huge = bridge::timer_delay(std::numeric_limits<int64_t>::max() - 1700000000);
  CHECK(huge == std::chrono::hours(24 * 365));
  // What a timer does with it: a duration of its own clock, in the future.
  const auto as_clock = std::chrono::duration_cast<std::chrono::steady_clock::duration>(huge);
  CHECK(as_clock > std::chrono::steady_clock::duration::zero());
}
