#include "ops/logging.hpp"

#include <catch2/catch.hpp>

TEST_CASE("logging: text fields follow the message as key=value, quoted when needed") {
  const auto line = ops::render_fields("tunnel closed", {{"forward", "L:web"}, {"reason", "local side: reset"}, {"bytes", "10"}}, false);
  CHECK(line == "tunnel closed forward=L:web reason=\"local side: reset\" bytes=10");
}

TEST_CASE("logging: JSON fields are escaped members") {
  const auto payload = ops::render_fields("open", {{"peer", "1.2.3.4:5"}, {"note", "a\"b\n"}}, true);
  CHECK(payload.front() == '\x1e');
  CHECK(payload.find("\"peer\":\"1.2.3.4:5\"") != std::string::npos);
  CHECK(payload.find("\"note\":\"a\\\"b\\n\"") != std::string::npos);
  CHECK(payload.substr(payload.find('\x1f') + 1) == "open");
}

TEST_CASE("logging: json_escape escapes quotes, backslashes and control characters") {
  CHECK(ops::json_escape("a\"b\\c\x01") == "a\\\"b\\\\c\\u0001");
}
