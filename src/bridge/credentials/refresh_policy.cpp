#include "bridge/credentials/refresh_policy.hpp"

#include <algorithm>
#include <cmath>

namespace bridge {

namespace {
constexpr int64_t kLong = 2 * 3600;
constexpr int64_t kOrdinaryMin = 10 * 60;
constexpr int64_t kAheadOfExpiry = 5 * 60;
}  // namespace

int64_t RefreshPolicy::refresh_at(int64_t issued, int64_t expiry, double jitter01) {
  const int64_t lifetime = std::max<int64_t>(expiry - issued, 1);
  int64_t at;
  if (lifetime >= kLong) {
    at = issued + lifetime / 2;
  } else if (lifetime >= kOrdinaryMin) {
    at = expiry - kAheadOfExpiry;
  } else {
    at = issued + (lifetime * 8) / 10;
  }
  const double max_jitter = std::min(60.0, static_cast<double>(lifetime) * 0.05);
  return at - static_cast<int64_t>(std::floor(max_jitter * std::clamp(jitter01, 0.0, 1.0)));
}

double RefreshPolicy::retry_delay(unsigned attempt, int64_t now, int64_t issued, int64_t expiry, double jitter01) {
  const double lifetime = static_cast<double>(std::max<int64_t>(expiry - issued, 1));
  const double base = std::clamp(lifetime / 20.0, 1.0, 30.0);
  const double cap = std::max(base, std::min(300.0, lifetime / 4.0));
  const double ceiling = std::min(cap, base * std::pow(2.0, std::min(attempt, 20u)));
  double delay = ceiling / 2 + ceiling / 2 * std::clamp(jitter01, 0.0, 1.0);
  // Keep a try (or two) inside the remaining life: at most half of what is left, but never below a second.
  const double left = static_cast<double>(expiry - now);
  if (left > 0) delay = std::min(delay, std::max(left / 2, 1.0));
  return std::max(delay, 1.0);
}

}  // namespace bridge
