#include "ops/logging.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>
#include <spdlog/details/log_msg.h>

#include <cstdint>
#include <limits>

namespace {

// One whole line as the installed formatter writes it.
std::string format_line(std::string_view format, const std::string& payload) {
  const auto formatter = ops::make_formatter(format, false);
  spdlog::details::log_msg msg(spdlog::source_loc{}, "test", spdlog::level::info,
                               spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

}  // namespace

TEST_CASE("logging: text fields follow the message as key=value, quoted when needed") {
  const auto line = ops::render_fields("tunnel closed", {{"forward", "L:web"}, {"reason", "local side: reset"}, {"bytes", 10}}, false);
  CHECK(line == "tunnel closed forward=L:web reason=\"local side: reset\" bytes=10");
}

TEST_CASE("logging: text values from the relay are escaped: control characters, quotes, backslashes") {
  const std::string evil = "a \"b\"\r\nforged line\x1b[31m\\";
  const std::string want = R"("a \"b\"\r\nforged line\x1b[31m\\")";
  CHECK(ops::text_value(evil) == want);
  CHECK(ops::render_fields("tunnel open", {{"tracking_id", evil}}, false) == "tunnel open tracking_id=" + want);
  // Quoted when empty, with a space or '=', or when anything was escaped; plain otherwise (or quoted on request).
  CHECK(ops::text_value("") == "\"\"");
  CHECK(ops::text_value("a=b") == "\"a=b\"");
  CHECK(ops::text_value("tab\there") == R"("tab\there")");
  CHECK(ops::text_value("\x7f") == R"("\x7f")");
  CHECK(ops::text_value("L:web") == "L:web");
  CHECK(ops::text_value("closed", true) == "\"closed\"");
}

TEST_CASE("logging: a text line never carries a raw control character, whatever the message") {
  const std::string line = format_line("text", "refusing connection a\r\nforged\x1b[31m \"q\" \\");
  CHECK(line.back() == '\n');
  const std::string body = line.substr(0, line.size() - 1);
  CHECK(body.find_first_of("\r\n\x1b") == std::string::npos);
  CHECK_THAT(body, Catch::EndsWith(R"(refusing connection a\r\nforged\x1b[31m "q" \)"));
}

TEST_CASE("logging: JSON lines carry numbers as numbers, booleans as booleans, strings escaped") {
  const int64_t duration_ms = 1;
  const uint64_t bytes = std::numeric_limits<uint64_t>::max();
  const auto payload = ops::render_fields(
      "tunnel closed",
      {{"tunnel_id", "t1"}, {"note", "a\"b\n\x1b"}, {"duration_ms", duration_ms}, {"bytes_to_relay", bytes},
       {"clean", true}, {"partial", false}, {"ratio", 0.25}, {"bad_ratio", std::numeric_limits<double>::infinity()},
       {"count", 7u}, {"digits", "100"}},
      true);
  const std::string line = format_line("json", payload);
  rapidjson::Document d;
  d.Parse(line.c_str());
  REQUIRE_FALSE(d.HasParseError());
  REQUIRE(d.IsObject());
  CHECK(std::string(d["msg"].GetString()) == "tunnel closed");
  CHECK(d["level"].IsString());
  CHECK(std::string(d["tunnel_id"].GetString()) == "t1");
  CHECK(std::string(d["note"].GetString()) == "a\"b\n\x1b");
  REQUIRE(d["duration_ms"].IsInt64());
  CHECK(d["duration_ms"].GetInt64() == 1);
  REQUIRE(d["bytes_to_relay"].IsUint64());
  CHECK(d["bytes_to_relay"].GetUint64() == bytes);
  REQUIRE(d["clean"].IsBool());
  CHECK(d["clean"].GetBool());
  REQUIRE(d["partial"].IsBool());
  CHECK_FALSE(d["partial"].GetBool());
  REQUIRE(d["ratio"].IsDouble());
  CHECK(d["ratio"].GetDouble() == 0.25);
  CHECK(std::string(d["bad_ratio"].GetString()) == "inf");  // JSON numbers cannot be infinite
  CHECK(d["count"].GetUint() == 7);
  CHECK(d["digits"].IsString());  // a string stays a string even when it looks like a number
}

TEST_CASE("logging: json_escape escapes quotes, backslashes and control characters") {
  CHECK(ops::json_escape("a\"b\\c\x01") == "a\\\"b\\\\c\\u0001");
}
