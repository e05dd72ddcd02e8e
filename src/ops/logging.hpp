// Process-wide logging set-up: text or JSON lines on stderr. Under systemd (JOURNAL_STREAM set) the text format drops
// its timestamp, because the journal adds its own.
#pragma once

#include "hc/result.hpp"

#include <string_view>

namespace ops {

// level: trace, debug, info, warn, error, critical, off. format: text or json.
hc::Result<bool> setup_logging(std::string_view level, std::string_view format);

// JSON string escaping (also used for the JSON log lines).
std::string json_escape(std::string_view text);

}  // namespace ops
