// Process-wide logging set-up: text or JSON lines on stderr. Under systemd (JOURNAL_STREAM set) the text format drops
// its timestamp, because the journal adds its own.
#pragma once

#include "hc/result.hpp"

#include <spdlog/common.h>
#include <spdlog/formatter.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace ops {

// level: trace, debug, info, warn, error, critical, off. format: text or json.
hc::Result<bool> setup_logging(std::string_view level, std::string_view format);

// JSON string escaping (also used for the JSON log lines).
std::string json_escape(std::string_view text);

// A value for a key=value text line: backslashes, quotes and control characters escaped (\\ \" \n \r \t \xHH), and
// quoted when it is empty or holds a space, a quote, an '=' or anything escaped (or always, with `always_quote`).
// Values that come from the relay (ids, close reasons, refusal texts) can then forge neither fields nor lines.
std::string text_value(std::string_view value, bool always_quote = false);

// A log line's field. The value keeps its type: JSON writes numbers and booleans bare, strings quoted and escaped.
struct Field {
  enum class Kind { string, number, boolean };
  Field(const char* k, std::string v) : key(k), value(std::move(v)) {}
  Field(const char* k, const char* v) : key(k), value(v) {}
  Field(const char* k, bool v) : key(k), value(v ? "true" : "false"), kind(Kind::boolean) {}
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Field(const char* k, T v) : key(k), value(std::to_string(v)), kind(Kind::number) {}
  Field(const char* k, double v);  // not finite: written as a string ("inf", "nan"), which JSON numbers cannot hold

  const char* key;
  std::string value;  // numbers and booleans as their JSON text
  Kind kind = Kind::string;
};

// A log line with fields: in text format "message key=value ...", in JSON format separate members next to "msg"
// ({"time":..,"level":..,"msg":..,"forward":..,"tunnel_id":..}), so log pipelines can filter on them.
void log(spdlog::level::level_enum level, std::string_view message, std::initializer_list<Field> fields);
// Same, with a hand-made text line for the text format (lines operators grep for keep their shape; values in it go
// through text_value()).
void log(spdlog::level::level_enum level, std::string_view text_line, std::string_view message,
         std::initializer_list<Field> fields);
// Renders the payload that log() hands to spdlog (exposed for tests).
std::string render_fields(std::string_view message, std::initializer_list<Field> fields, bool json);
// The line formatter setup_logging() installs: "json", or "text" (without a timestamp under the journal). Text lines
// never carry a raw control character: any in a message is written escaped, as in text_value().
std::unique_ptr<spdlog::formatter> make_formatter(std::string_view format, bool journal);

}  // namespace ops
