// When a cached Entra token is refreshed, and how fetch failures are retried while it still lives (reference
// egress-and-identity.md 2.3): ordinary tokens (10 min .. 2 h) 5 minutes before `exp`, long ones (>= 2 h, managed
// identity's ~24 h cache) at half-life, short ones (< 10 min: tests, some sovereign clouds) at 80% of their life, as
// SAS tokens are; always a little earlier by a random jitter so a fleet does not refresh at one instant.
#pragma once

#include <cstdint>
#include <random>

namespace bridge {

struct RefreshPolicy {
  // Unix seconds at which to start fetching a new token for one issued at `issued` expiring at `expiry`.
  // `jitter01` is a uniform random number in [0, 1): up to 5% of the lifetime (at most 60 s) earlier.
  static int64_t refresh_at(int64_t issued, int64_t expiry, double jitter01);

  // Delay (seconds) before retry number `attempt` (0-based) after a failed fetch at `now`: 30 s doubling to 5 min
  // (scaled down for short tokens: lifetime / 20, at least 1 s), never later than shortly before `expiry` so the last
  // tries still land while the token is valid; `jitter01` spreads it (full jitter on the upper half).
  static double retry_delay(unsigned attempt, int64_t now, int64_t issued, int64_t expiry, double jitter01);
};

}  // namespace bridge
