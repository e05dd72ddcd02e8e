// One JSON object per line on stdout: what run.py reads. Also percentiles and a bounded tally of error texts.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace bench {

class JsonLine {
 public:
  JsonLine& add(const std::string& key, const std::string& value) { return raw(key, quote(value)); }
  JsonLine& add(const std::string& key, const char* value) { return raw(key, quote(value)); }
  JsonLine& add(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }
  JsonLine& add(const std::string& key, double value) {
    std::ostringstream s;
    s.precision(6);
    s << (std::isfinite(value) ? value : 0.0);
    return raw(key, s.str());
  }
  JsonLine& add(const std::string& key, uint64_t value) { return raw(key, std::to_string(value)); }
  JsonLine& add(const std::string& key, int value) { return raw(key, std::to_string(value)); }
  JsonLine& add(const std::string& key, const std::map<std::string, uint64_t>& tally) {
    std::string s = "{";
    for (const auto& [text, n] : tally) s += (s.size() > 1 ? "," : "") + quote(text) + ":" + std::to_string(n);
    return raw(key, s + "}");
  }
  void print() const {
    std::printf("{%s}\n", body_.c_str());
    std::fflush(stdout);
  }

 private:
  JsonLine& raw(const std::string& key, const std::string& value) {
    body_ += (body_.empty() ? "" : ",") + quote(key) + ":" + value;
    return *this;
  }
  static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      if (c == '"' || c == '\\')
        out += '\\', out += static_cast<char>(c);
      else if (c < 0x20) {
        char b[8];
        std::snprintf(b, sizeof b, "\\u%04x", c);
        out += b;
      } else
        out += static_cast<char>(c);
    }
    return out + "\"";
  }
  std::string body_;
};

// Error texts and how often each happened; at most 20 distinct texts are kept (the rest count as "other").
struct ErrorTally {
  std::map<std::string, uint64_t> counts;
  uint64_t total = 0;
  void add(const std::string& text) {
    ++total;
    if (counts.size() < 20 || counts.count(text))
      ++counts[text];
    else
      ++counts["other"];
  }
};

// Nearest-rank percentile of samples in nanoseconds, returned in microseconds. Sorts `ns`.
inline double percentile_us(std::vector<int64_t>& ns, double p) {
  if (ns.empty()) return 0;
  std::sort(ns.begin(), ns.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(ns.size())));
  return static_cast<double>(ns[std::min(ns.size() - 1, rank == 0 ? 0 : rank - 1)]) / 1000.0;
}

}  // namespace bench
