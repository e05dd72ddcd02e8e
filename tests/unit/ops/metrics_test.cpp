#include "ops/metrics.hpp"

#include <catch2/catch.hpp>

TEST_CASE("metrics: counters and gauges render in the Prometheus text format") {
  ops::Metrics m;
  m.describe_counter("hcbridge_tunnels_opened_total", "Tunnels opened.");
  m.add("hcbridge_tunnels_opened_total", {{"forward", "L:web"}});
  m.add("hcbridge_tunnels_opened_total", {{"forward", "L:web"}}, 2);
  m.set("hcbridge_tunnels_open", {{"forward", "T:a\"b"}}, 4);
  const std::string text = m.render();
  CHECK_THAT(text, Catch::Contains("# HELP hcbridge_tunnels_opened_total Tunnels opened.\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE hcbridge_tunnels_opened_total counter\n"));
  CHECK_THAT(text, Catch::Contains("hcbridge_tunnels_opened_total{forward=\"L:web\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE hcbridge_tunnels_open gauge\n"));
  CHECK_THAT(text, Catch::Contains("hcbridge_tunnels_open{forward=\"T:a\\\"b\"} 4\n"));
  CHECK(m.value("hcbridge_tunnels_opened_total", {{"forward", "L:web"}}) == 3);
}

TEST_CASE("metrics: histograms count cumulatively and expose sum and count") {
  ops::Metrics m;
  m.describe_histogram("setup_seconds", "Set-up time.", {0.01, 0.1, 1});
  m.observe("setup_seconds", {{"forward", "x"}}, 0.005);
  m.observe("setup_seconds", {{"forward", "x"}}, 0.05);
  m.observe("setup_seconds", {{"forward", "x"}}, 5);
  const std::string text = m.render();
  CHECK_THAT(text, Catch::Contains("setup_seconds_bucket{forward=\"x\",le=\"0.01\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("setup_seconds_bucket{forward=\"x\",le=\"0.1\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("setup_seconds_bucket{forward=\"x\",le=\"1\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("setup_seconds_bucket{forward=\"x\",le=\"+Inf\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("setup_seconds_sum{forward=\"x\"} 5.055\n"));
  CHECK_THAT(text, Catch::Contains("setup_seconds_count{forward=\"x\"} 3\n"));
}

TEST_CASE("metrics: a removed series disappears, others stay") {
  ops::Metrics m;
  m.set("up", {{"forward", "T:a"}}, 1);
  m.set("up", {{"forward", "T:b"}}, 1);
  m.remove("up", {{"forward", "T:a"}});
  CHECK(m.render().find("T:a") == std::string::npos);
  CHECK_THAT(m.render(), Catch::Contains("up{forward=\"T:b\"} 1"));
}

TEST_CASE("metrics: large non-integer values keep their precision") {
  ops::Metrics m;
  m.set("start", {}, 1796193391.556);
  CHECK_THAT(m.render(), Catch::Contains("start 1796193391.556"));
}

TEST_CASE("metrics: a family without series still has its HELP and TYPE") {
  ops::Metrics m;
  m.describe_counter("never_used_total", "Never used.");
  CHECK(m.render() == "# HELP never_used_total Never used.\n# TYPE never_used_total counter\n");
}

TEST_CASE("metrics: declared series render at 0 and keep what they counted") {
  ops::Metrics m;
  m.describe_counter("failed_total", "Failures.");
  m.describe_histogram("setup_seconds", "Set-up time.", {0.1, 1});
  m.declare("failed_total", {{"forward", "L:a"}, {"reason", "limit"}});
  m.declare("setup_seconds", {{"forward", "L:a"}});
  m.declare("undescribed_total", {{"forward", "L:a"}});  // only described families get declared series
  std::string text = m.render();
  CHECK_THAT(text, Catch::Contains("failed_total{forward=\"L:a\",reason=\"limit\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("setup_seconds_bucket{forward=\"L:a\",le=\"0.1\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("setup_seconds_bucket{forward=\"L:a\",le=\"+Inf\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("setup_seconds_count{forward=\"L:a\"} 0\n"));
  CHECK(text.find("undescribed_total") == std::string::npos);
  m.add("failed_total", {{"forward", "L:a"}, {"reason", "limit"}}, 2);
  m.declare("failed_total", {{"forward", "L:a"}, {"reason", "limit"}});
  CHECK(m.value("failed_total", {{"forward", "L:a"}, {"reason", "limit"}}) == 2);
}

TEST_CASE("metrics: remove_unused drops only series that never counted") {
  ops::Metrics m;
  m.describe_counter("failed_total", "Failures.");
  m.describe_histogram("setup_seconds", "Set-up time.", {1});
  m.declare("failed_total", {{"reason", "limit"}});
  m.declare("failed_total", {{"reason", "no_listener"}});
  m.add("failed_total", {{"reason", "no_listener"}});
  m.declare("setup_seconds", {{"forward", "a"}});
  m.observe("setup_seconds", {{"forward", "b"}}, 0);  // an observation of 0 still counts
  m.remove_unused("failed_total", {{"reason", "limit"}});
  m.remove_unused("failed_total", {{"reason", "no_listener"}});
  m.remove_unused("setup_seconds", {{"forward", "a"}});
  m.remove_unused("setup_seconds", {{"forward", "b"}});
  const std::string text = m.render();
  CHECK(text.find("limit") == std::string::npos);
  CHECK_THAT(text, Catch::Contains("failed_total{reason=\"no_listener\"} 1\n"));
  CHECK(text.find("forward=\"a\"") == std::string::npos);
  CHECK_THAT(text, Catch::Contains("setup_seconds_count{forward=\"b\"} 1\n"));
}
