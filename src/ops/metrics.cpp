#include "ops/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace ops {
namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  // The shortest text that reads back as the same double: exact, and "0.1" stays "0.1".
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace

std::string escape_label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string Metrics::label_text(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out += ',';
    out += k + "=\"" + escape_label_value(v) + "\"";
  }
  return out;
}

Metrics::Family& Metrics::family(const std::string& name, Type type) {
  auto& f = families_[name];
  f.type = type;
  return f;
}

void Metrics::describe_counter(const std::string& name, const std::string& help) {
  family(name, Type::counter).help = help;
}
void Metrics::describe_gauge(const std::string& name, const std::string& help) { family(name, Type::gauge).help = help; }
void Metrics::describe_histogram(const std::string& name, const std::string& help, std::vector<double> buckets) {
  auto& f = family(name, Type::histogram);
  f.help = help;
  f.buckets = std::move(buckets);
}

void Metrics::add(const std::string& name, const Labels& labels, double value) {
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(name, Family{}).first;
  it->second.series[label_text(labels)].value += value;
}

void Metrics::set(const std::string& name, const Labels& labels, double value) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(name, Family{}).first;
    it->second.type = Type::gauge;
  }
  it->second.series[label_text(labels)].value = value;
}

void Metrics::observe(const std::string& name, const Labels& labels, double value) {
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != Type::histogram) return;  // histograms must be described first
  auto& f = it->second;
  auto& s = f.series[label_text(labels)];
  if (s.bucket_counts.empty()) s.bucket_counts.assign(f.buckets.size(), 0);
  for (std::size_t i = 0; i < f.buckets.size(); ++i)
    if (value <= f.buckets[i]) ++s.bucket_counts[i];
  s.sum += value;
  ++s.count;
}

double Metrics::value(const std::string& name, const Labels& labels) const {
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.series.find(label_text(labels));
  return s == it->second.series.end() ? 0 : s->second.value;
}

void Metrics::declare(const std::string& name, const Labels& labels) {
  auto it = families_.find(name);
  if (it == families_.end()) return;  // declared series belong to described families
  auto& f = it->second;
  auto& s = f.series[label_text(labels)];
  if (f.type == Type::histogram && s.bucket_counts.empty()) s.bucket_counts.assign(f.buckets.size(), 0);
}

void Metrics::remove_unused(const std::string& name, const Labels& labels) {
  auto it = families_.find(name);
  if (it == families_.end()) return;
  auto s = it->second.series.find(label_text(labels));
  if (s != it->second.series.end() && s->second.value == 0 && s->second.count == 0) it->second.series.erase(s);
}

void Metrics::remove(const std::string& name, const Labels& labels) {
  auto it = families_.find(name);
  if (it != families_.end()) it->second.series.erase(label_text(labels));
}

std::string Metrics::render() const {
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::counter ? "counter" : f.type == Type::gauge ? "gauge" : "histogram";
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, s] : f.series) {
      if (f.type != Type::histogram) {
        out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(s.value) + "\n";
        continue;
      }
      const std::string sep = labels.empty() ? "" : ",";
      for (std::size_t i = 0; i < f.buckets.size(); ++i)
        out += name + "_bucket{" + labels + sep + "le=\"" + number(f.buckets[i]) + "\"} " + number(static_cast<double>(s.bucket_counts[i])) + "\n";
      out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + number(static_cast<double>(s.count)) + "\n";
      out += name + "_sum" + (labels.empty() ? "" : "{" + labels + "}") + " " + number(s.sum) + "\n";
      out += name + "_count" + (labels.empty() ? "" : "{" + labels + "}") + " " + number(static_cast<double>(s.count)) + "\n";
    }
  }
  return out;
}

}  // namespace ops
