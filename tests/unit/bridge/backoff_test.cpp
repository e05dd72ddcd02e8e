#include "bridge/backoff.hpp"

#include <catch2/catch.hpp>

#include <set>

TEST_CASE("backoff: delays stay under an exponential ceiling capped at the maximum") {
  bridge::Backoff b(std::chrono::seconds(1), std::chrono::seconds(30), 1234);
  const double ceilings[] = {1, 2, 4, 8, 16, 30, 30, 30};
  for (double c : ceilings) {
    CHECK(b.ceiling().count() == Approx(c));
    const double d = b.next().count();
    CHECK(d >= 0.0);
    CHECK(d <= c);
  }
}

TEST_CASE("backoff: the first retry comes within a second and reset starts over") {
  bridge::Backoff b(std::chrono::seconds(1), std::chrono::seconds(30), 99);
  for (int i = 0; i < 10; ++i) b.next();
  CHECK(b.ceiling().count() == Approx(30));
  b.reset();
  CHECK(b.next().count() <= 1.0);
}

TEST_CASE("backoff: full jitter spreads the delays") {
  bridge::Backoff b(std::chrono::seconds(1), std::chrono::seconds(30), 7);
  for (int i = 0; i < 6; ++i) b.next();  // at the cap now
  std::set<int> buckets;
  double lo = 1e9, hi = 0;
  for (int i = 0; i < 200; ++i) {
    const double d = b.next().count();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    buckets.insert(static_cast<int>(d / 3));  // ten 3-second buckets over [0, 30]
  }
  CHECK(buckets.size() >= 9);
  CHECK(lo < 3.0);
  CHECK(hi > 27.0);
}
