// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text exposition format
// (version 0.0.4). Single-threaded like the rest of the daemon: updated and rendered on the event loop.
// Label values come from configuration (forward names) and fixed reason words, never from connections, so the number
// of series stays bounded.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ops {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  void describe_counter(const std::string& name, const std::string& help);
  void describe_gauge(const std::string& name, const std::string& help);
  void describe_histogram(const std::string& name, const std::string& help, std::vector<double> buckets);

  void add(const std::string& name, const Labels& labels, double value = 1);   // counter
  void set(const std::string& name, const Labels& labels, double value);       // gauge
  void observe(const std::string& name, const Labels& labels, double value);   // histogram
  double value(const std::string& name, const Labels& labels) const;           // counter or gauge, 0 when absent
  // Creates a series at 0 unless it exists: label sets known in advance are exported from the first scrape, so
  // rate() and absence alerts work before the first event.
  void declare(const std::string& name, const Labels& labels);
  // Drops one series (e.g. the state gauge of a forward removed by a reload, so no alert keeps firing for it).
  void remove(const std::string& name, const Labels& labels);
  // Drops a series that never counted anything (value 0, no observation); one that did stays, as history.
  void remove_unused(const std::string& name, const Labels& labels);

  // Every described family, with HELP and TYPE even before its first sample.

  std::string render() const;

 private:
  enum class Type { counter, gauge, histogram };
  struct Series {
    double value = 0;
    std::vector<uint64_t> bucket_counts;
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    Type type = Type::counter;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, Series> series;  // by rendered label set
  };
  Family& family(const std::string& name, Type type);
  static std::string label_text(const Labels& labels);

  std::map<std::string, Family> families_;
};

// Prometheus label value escaping (backslash, double quote, newline).
std::string escape_label_value(const std::string& v);

}  // namespace ops
