#include "ops/logging.hpp"

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace ops {
namespace {

// log() marks JSON payloads as: kFieldsStart + members + kFieldsEnd + message, and the JSON formatter splices the
// members in. Both bytes are control characters that json_escape() would never leave raw in a message.
constexpr char kFieldsStart = '\x1e';
constexpr char kFieldsEnd = '\x1f';
bool g_json = false;

class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto t = std::chrono::system_clock::to_time_t(msg.time);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[64];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    const auto level = spdlog::level::to_string_view(msg.level);
    std::string line = "{\"time\":\"";
    line += ts;
    line += "\",\"level\":\"";
    line.append(level.data(), level.size());
    std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string_view members;
    if (!payload.empty() && payload.front() == kFieldsStart) {
      const auto end = payload.find(kFieldsEnd);
      if (end != std::string_view::npos) {
        members = payload.substr(1, end - 1);
        payload = payload.substr(end + 1);
      }
    }
    line += "\",\"msg\":\"";
    line += json_escape(payload);
    line += "\"";
    if (!members.empty()) {
      line += ",";
      line.append(members.data(), members.size());
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

// Appends `v` escaped for a text line: control characters always (\n \r \t \xHH); backslashes and quotes too for
// key=value values. Returns whether anything was escaped.
bool append_escaped(std::string& out, std::string_view v, bool quotes_and_backslashes) {
  bool escaped = false;
  for (const unsigned char c : v) {
    const char* named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : nullptr;
    if (quotes_and_backslashes && (c == '\\' || c == '"')) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (named) {
      out += named;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
      continue;
    }
    escaped = true;
  }
  return escaped;
}

bool has_control_character(std::string_view v) {
  for (const unsigned char c : v)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

// The text format's pattern, with control characters in the message escaped first.
class TextFormatter : public spdlog::formatter {
 public:
  explicit TextFormatter(std::unique_ptr<spdlog::formatter> pattern) : pattern_(std::move(pattern)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (!has_control_character(payload)) return pattern_->format(msg, dest);
    std::string escaped;
    append_escaped(escaped, payload, false);
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
    pattern_->format(copy, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<TextFormatter>(pattern_->clone()); }

 private:
  std::unique_ptr<spdlog::formatter> pattern_;
};

}  // namespace

Field::Field(const char* k, double v) : key(k) {
  const bool finite = std::isfinite(v);
  value = finite ? fmt::format("{}", v) : std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
  kind = finite ? Kind::number : Kind::string;
}

std::string text_value(std::string_view value, bool always_quote) {
  std::string escaped;
  const bool changed = append_escaped(escaped, value, true);
  if (always_quote || changed || value.empty() || value.find_first_of(" =") != std::string_view::npos)
    return '"' + escaped + '"';
  return escaped;
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string render_fields(std::string_view message, std::initializer_list<Field> fields, bool json) {
  std::string out;
  if (json) {
    out += kFieldsStart;
    bool first = true;
    for (const auto& f : fields) {
      if (!first) out += ',';
      first = false;
      out += '"';
      out += f.key;
      out += "\":";
      if (f.kind == Field::Kind::string) out += '"' + json_escape(f.value) + '"';
      else out += f.value;
    }
    out += kFieldsEnd;
    out.append(message.data(), message.size());
    return out;
  }
  out.assign(message.data(), message.size());
  for (const auto& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    out += f.kind == Field::Kind::string ? text_value(f.value) : f.value;
  }
  return out;
}

void log(spdlog::level::level_enum level, std::string_view message, std::initializer_list<Field> fields) {
  if (!spdlog::should_log(level)) return;
  spdlog::log(level, "{}", render_fields(message, fields, g_json));
}

void log(spdlog::level::level_enum level, std::string_view text_line, std::string_view message,
         std::initializer_list<Field> fields) {
  if (!spdlog::should_log(level)) return;
  if (g_json) spdlog::log(level, "{}", render_fields(message, fields, true));
  else spdlog::log(level, "{}", text_line);
}

std::unique_ptr<spdlog::formatter> make_formatter(std::string_view format, bool journal) {
  if (format == "json") return std::make_unique<JsonFormatter>();
  auto pattern = journal ? std::make_unique<spdlog::pattern_formatter>("<%l> %v")
                         : std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v",
                                                                       spdlog::pattern_time_type::utc);
  return std::make_unique<TextFormatter>(std::move(pattern));
}

hc::Result<bool> setup_logging(std::string_view level_name, std::string_view format) {
  const auto level = spdlog::level::from_str(std::string(level_name));
  // from_str maps unknown names to "off"; only accept "off" when asked for.
  if (level == spdlog::level::off && level_name != "off")
    return hc::fail("unknown log level '" + std::string(level_name) +
                    "' (expected trace, debug, info, warn, error, critical or off)");
  if (format != "text" && format != "json")
    return hc::fail("unknown log format '" + std::string(format) + "' (expected text or json)");

  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("hcbridge", sink);
  logger->set_formatter(make_formatter(format, std::getenv("JOURNAL_STREAM") != nullptr));
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  g_json = format == "json";
  spdlog::set_default_logger(logger);
  return true;
}

}  // namespace ops
