// Rate limit for a warning a peer can trigger at will (a relay flooding requests or accepts over the limit): the
// first occurrence is logged at once, later ones at most once per interval, with how many there were since.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace bridge {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogLimiter(Clock::duration interval = std::chrono::seconds(10)) : interval_(interval) {}

  // Counts one occurrence. Returns how many occurrences the line due now stands for (this one included), or 0 when
  // no line is due yet.
  uint64_t hit(Clock::time_point now = Clock::now()) {
    ++pending_;
    if (logged_once_ && now - last_ < interval_) return 0;
    logged_once_ = true;
    last_ = now;
    const uint64_t n = pending_;
    pending_ = 0;
    return n;
  }

 private:
  Clock::duration interval_;
  Clock::time_point last_{};
  uint64_t pending_ = 0;
  bool logged_once_ = false;
};

// What to append to a rate-limited line that stands for `n` occurrences: "" for one, else " (N times since the last
// such line)".
inline std::string repeats(uint64_t n) {
  return n > 1 ? " (" + std::to_string(n) + " times since the last such line)" : std::string();
}

}  // namespace bridge
