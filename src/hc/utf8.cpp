#include "hc/utf8.hpp"

#include <cstring>

namespace hc {

bool is_valid_utf8(const uint8_t* data, std::size_t size) {
  Utf8Validator v;
  return v.feed(data, size) && v.complete();
}

bool Utf8Validator::feed(const uint8_t* data, std::size_t size) {
  if (failed_) return false;
  std::size_t i = 0;
  while (i < size) {
    if (need_ == 0) {
      // Relay traffic is mostly ASCII JSON: skip it a word at a time.
      while (size - i >= 8) {
        uint64_t w;
        std::memcpy(&w, data + i, 8);
        if ((w & 0x8080808080808080ull) != 0) break;
        i += 8;
      }
      if (i == size) break;
      const uint8_t b = data[i++];
      if (b < 0x80) continue;
      lo_ = 0x80;
      hi_ = 0xBF;
      if (b >= 0xC2 && b <= 0xDF) {
        need_ = 1;
      } else if (b >= 0xE0 && b <= 0xEF) {
        need_ = 2;
        if (b == 0xE0) lo_ = 0xA0;  // overlong below U+0800
        if (b == 0xED) hi_ = 0x9F;  // UTF-16 surrogates D800-DFFF
      } else if (b >= 0xF0 && b <= 0xF4) {
        need_ = 3;
        if (b == 0xF0) lo_ = 0x90;  // overlong below U+10000
        if (b == 0xF4) hi_ = 0x8F;  // above U+10FFFF
      } else {
        // 80-BF without a lead, C0/C1 (always overlong), F5-FF (beyond U+10FFFF).
        failed_ = true;
        return false;
      }
    } else {
      const uint8_t b = data[i++];
      if (b < lo_ || b > hi_) {
        failed_ = true;
        return false;
      }
      lo_ = 0x80;
      hi_ = 0xBF;
      --need_;
    }
  }
  return true;
}

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;  // what the lead byte announces
    if (i + len <= s.size() && is_valid_utf8(s.substr(i, len))) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

}  // namespace hc
