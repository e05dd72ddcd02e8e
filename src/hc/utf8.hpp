// UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF): the one validator the project uses, for
// control messages (src/hc), WebSocket text frames and close reasons (src/net, src/bridge).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hc {

// Incremental UTF-8 validator for text delivered in chunks: a sequence may straddle two feed() calls.
// Invalid input is reported at the first byte that cannot start or continue a valid sequence (RFC 6455 8.1 asks
// to fail fast), and the validator stays failed until reset().
class Utf8Validator {
 public:
  bool feed(const uint8_t* data, std::size_t size);
  // True when not inside a sequence (and nothing invalid was seen): the text may end here.
  bool complete() const { return !failed_ && need_ == 0; }
  void reset() { *this = Utf8Validator{}; }

 private:
  uint8_t need_ = 0;  // continuation bytes still expected
  // Allowed range of the next continuation byte; narrower than 80..BF right after E0, ED, F0 and F4, which is
  // what rules out overlongs, surrogates and code points above U+10FFFF.
  uint8_t lo_ = 0x80;
  uint8_t hi_ = 0xBF;
  bool failed_ = false;
};

bool is_valid_utf8(const uint8_t* data, std::size_t size);
inline bool is_valid_utf8(std::string_view s) {
  return is_valid_utf8(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// `s` with every byte that does not start a valid sequence replaced by U+FFFD (for text we must emit as JSON).
std::string to_valid_utf8(std::string_view s);

}  // namespace hc
