// Every metric family the daemon exports, with its help text, and the series whose labels are known in advance (each
// forward's counters and gauges, every fixed reason word), so that /metrics has all of them from the first scrape:
// dashboards, rate() and absence alerts work before the first tunnel. docs/operations.md lists the same families and
// words, and tests/ops/admin_endpoint compares the two.
#pragma once

#include "ops/metrics.hpp"

#include <string>

namespace bridge {

enum class ForwardSide { local, remote };  // -L (sender) or -T (listener)

// HELP/TYPE of every family, and the reload counters at 0.
void describe_metric_families(ops::Metrics& m);
// A forward was started: its series at 0 (existing ones keep their values).
void declare_forward_metrics(ops::Metrics& m, const std::string& forward, ForwardSide side);
// A forward was removed: its state gauges go, and so do its series that never counted anything (counts are history).
void forget_forward_metrics(ops::Metrics& m, const std::string& forward, ForwardSide side);

}  // namespace bridge
