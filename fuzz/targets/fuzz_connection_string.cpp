// hc::parse_connection_string and hc::masked().
// Invariants:
//  - errors and masked() never depend on the SharedAccessKey / SharedAccessSignature values: the same input with those
//    values replaced by a same-length marker gives the identical error (or identical masked() text), and the marker
//    itself never shows up;
//  - masked() of a parsed string parses again, to the same endpoint, entity path, key name and timeout, with the
//    secrets as "***".
#include "fuzz_check.hpp"

#include "hc/connection_string.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace {

struct Span {
  std::size_t pos, len;
};

std::string_view trim(std::string_view s, std::size_t& offset) {
  while (!s.empty() && fuzz::is_ascii_space(s.front())) {
    s.remove_prefix(1);
    ++offset;
  }
  while (!s.empty() && fuzz::is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

// Where the secret values are, found the way the documented grammar splits a connection string (reference 2.6):
// parts at ';', each part at its first '=', names case-insensitive, surrounding white space ignored.
std::vector<Span> secret_spans(std::string_view text) {
  std::vector<Span> spans;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    std::size_t part_off = start;
    const std::string_view part = trim(text.substr(start, end - start), part_off);
    start = end + 1;
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::size_t key_off = 0;
    const std::string_view key = trim(part.substr(0, eq), key_off);
    std::size_t value_off = part_off + eq + 1;
    const std::string_view value = trim(part.substr(eq + 1), value_off);
    if (value.empty()) continue;
    if (hc::iequals(key, "SharedAccessKey") || hc::iequals(key, "SharedAccessSignature"))
      spans.push_back({value_off, value.size()});
  }
  return spans;
}

std::string with_markers(std::string text, const std::vector<Span>& spans) {
  for (const Span& s : spans) text.replace(s.pos, s.len, fuzz::marker(s.len));
  return text;
}

bool uri_equal(const hc::Uri& a, const hc::Uri& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port && a.explicit_port == b.explicit_port &&
         a.path == b.path && a.query == b.query;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto parsed = hc::parse_connection_string(text);

  const std::vector<Span> spans = secret_spans(text);
  const std::string marked = with_markers(text, spans);
  const auto parsed_marked = hc::parse_connection_string(marked);
  FUZZ_CHECK(parsed.ok() == parsed_marked.ok(), "input " + fuzz::show(text));

  const std::string probe = fuzz::marker_probe(marked, [&] {
    std::vector<std::size_t> lens;
    for (const Span& s : spans) lens.push_back(s.len);
    return lens;
  }());

  if (!parsed) {
    FUZZ_CHECK(!parsed.error().empty(), "input " + fuzz::show(text));
    FUZZ_CHECK(parsed.error() == parsed_marked.error(),
               "error depends on a secret value: " + fuzz::show(parsed.error()) + " vs " +
                   fuzz::show(parsed_marked.error()) + " for input " + fuzz::show(text));
    if (!probe.empty())
      FUZZ_CHECK(parsed_marked.error().find(probe) == std::string::npos,
                 "error shows a secret: " + fuzz::show(parsed_marked.error()));
    return 0;
  }

  const hc::ConnectionString& cs = parsed.value();
  FUZZ_CHECK(cs.endpoint.scheme == "sb" || cs.endpoint.scheme == "ws" || cs.endpoint.scheme == "wss",
             "scheme " + cs.endpoint.scheme);
  FUZZ_CHECK(cs.key_name.empty() == cs.key.empty(), "key name and key must come together");
  FUZZ_CHECK(!(cs.has_sas() && !cs.key.empty()), "sas combined with a key");

  const std::string shown = hc::masked(cs);
  const std::string shown_marked = hc::masked(parsed_marked.value());
  FUZZ_CHECK(shown == shown_marked, "masked() depends on a secret: " + fuzz::show(shown) + " vs " + fuzz::show(shown_marked));
  if (!probe.empty()) FUZZ_CHECK(shown_marked.find(probe) == std::string::npos, "masked() shows a secret: " + fuzz::show(shown_marked));

  // masked() is a connection string itself.
  const auto again = hc::parse_connection_string(shown);
  FUZZ_CHECK(again.ok(), "masked() does not parse: " + fuzz::show(shown) + ": " + (again.ok() ? "" : again.error()));
  const hc::ConnectionString& cs2 = again.value();
  FUZZ_CHECK(uri_equal(cs.endpoint, cs2.endpoint), "endpoint changed: " + fuzz::show(text) + " -> " + fuzz::show(shown));
  FUZZ_CHECK(cs.entity_path == cs2.entity_path, "entity path changed: " + fuzz::show(shown));
  FUZZ_CHECK(cs.key_name == cs2.key_name, "key name changed: " + fuzz::show(shown));
  FUZZ_CHECK(cs.operation_timeout == cs2.operation_timeout, "timeout changed: " + fuzz::show(shown));
  FUZZ_CHECK(cs2.key == (cs.key.empty() ? "" : "***"), "key not masked: " + fuzz::show(shown));
  FUZZ_CHECK(cs2.sas == (cs.sas.empty() ? "" : "***"), "sas not masked: " + fuzz::show(shown));
  FUZZ_CHECK(hc::masked(cs2) == shown, "masked() is not stable: " + fuzz::show(shown));
  return 0;
}
