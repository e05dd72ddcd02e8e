// Reconnect delays: exponential with full jitter (AWS architecture blog's "full jitter"): the n-th retry waits a uniform
// random time in [0, min(cap, initial * 2^n)]. Spreads a fleet of daemons that lost the same relay at the same moment.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace bridge {

class Backoff {
 public:
  using Duration = std::chrono::duration<double>;

  Backoff(Duration initial, Duration cap, uint64_t seed = std::random_device{}())
      : initial_(initial), cap_(std::max(cap, initial)), rng_(seed) {}

  // The delay before the next attempt; each call counts one failure.
  Duration next() {
    const double ceiling = std::min(cap_.count(), initial_.count() * static_cast<double>(uint64_t{1} << std::min(attempt_, 30u)));
    ++attempt_;
    std::uniform_real_distribution<double> pick(0.0, ceiling);
    return Duration(pick(rng_));
  }
  // The upper bound the next call to next() can return.
  Duration ceiling() const {
    return Duration(std::min(cap_.count(), initial_.count() * static_cast<double>(uint64_t{1} << std::min(attempt_, 30u))));
  }
  void reset() { attempt_ = 0; }
  unsigned attempts() const { return attempt_; }

 private:
  Duration initial_, cap_;
  unsigned attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace bridge
