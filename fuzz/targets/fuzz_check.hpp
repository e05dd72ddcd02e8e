// Shared helpers for the libFuzzer targets: an invariant check that aborts (so libFuzzer saves the input), and the
// small text utilities the targets use to build variants of an input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace fuzz {

[[noreturn]] inline void fail(const char* expr, const char* file, int line, const std::string& detail) {
  std::fprintf(stderr, "\n==== fuzz invariant failed: %s\n     at %s:%d\n", expr, file, line);
  if (!detail.empty()) std::fprintf(stderr, "     %s\n", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// Printable form of arbitrary bytes for failure messages.
inline std::string show(std::string_view s, std::size_t max = 300) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > max) out += "...";
  return out + "\"";
}

inline std::size_t count_of(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return 0;
  std::size_t n = 0;
  for (std::size_t pos = hay.find(needle); pos != std::string_view::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

// A same-length stand-in for a secret: letters only, so it changes no parse decision that depends on separators,
// white space, escapes or encoding, and it is easy to spot in output.
inline std::string marker(std::size_t n) {
  static constexpr char kPattern[] = "QzXq";
  std::string m(n, 'Q');
  for (std::size_t i = 0; i < n; ++i) m[i] = kPattern[i % 4];
  return m;
}

// "QzXq" when the markers of these lengths put it into `marked` and nothing else there contains it (so finding it in
// some output proves the output copied secret text); "" otherwise.
template <class Lengths>
std::string marker_probe(std::string_view marked, const Lengths& lengths) {
  const std::string probe = marker(4);
  std::size_t expected = 0;
  for (std::size_t n : lengths) expected += count_of(marker(n), probe);
  if (expected == 0 || count_of(marked, probe) != expected) return {};
  return probe;
}

// Known, reported findings in the code under test are tolerated so that fuzzing can go on looking for new ones;
// FUZZ_STRICT=1 turns them back into failures (fuzz.sh --known replays fuzz/crashes/ that way).
inline bool strict() {
  static const bool s = [] {
    const char* v = std::getenv("FUZZ_STRICT");
    return v != nullptr && v[0] == '1';
  }();
  return s;
}

inline bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

}  // namespace fuzz

#define FUZZ_CHECK(cond, detail)                                   \
  do {                                                             \
    if (!(cond)) ::fuzz::fail(#cond, __FILE__, __LINE__, (detail)); \
  } while (0)
