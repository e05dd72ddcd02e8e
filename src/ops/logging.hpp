// Process-wide logging set-up: text or JSON lines on stderr. Under systemd (JOURNAL_STREAM set) the text format drops
// its timestamp, because the journal adds its own.
#pragma once

#include "hc/result.hpp"

#include <spdlog/common.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace ops {

// level: trace, debug, info, warn, error, critical, off. format: text or json.
hc::Result<bool> setup_logging(std::string_view level, std::string_view format);

// JSON string escaping (also used for the JSON log lines).
std::string json_escape(std::string_view text);

// A log line with fields: in text format "message key=value ...", in JSON format separate members next to "msg"
// ({"time":..,"level":..,"msg":..,"forward":..,"tunnel_id":..}), so log pipelines can filter on them.
struct Field {
  const char* key;
  std::string value;
};
void log(spdlog::level::level_enum level, std::string_view message, std::initializer_list<Field> fields);
// Same, with a hand-made text line for the text format (lines operators grep for keep their shape).
void log(spdlog::level::level_enum level, std::string_view text_line, std::string_view message,
         std::initializer_list<Field> fields);
// Renders the payload that log() hands to spdlog (exposed for tests).
std::string render_fields(std::string_view message, std::initializer_list<Field> fields, bool json);

}  // namespace ops
