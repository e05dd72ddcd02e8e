// What the benchmark sends, and how the receiving end checks it, so a broken chain cannot report a fast figure.
//
// Throughput stream:  client -> server  "HCBSINK1" + u64 little-endian payload length, then the payload;
//                     server -> client  "HCBOK---" or "HCBBAD--" + u64 bytes received, once the whole payload is in.
// Anything else the server receives first is an echo connection (latency, set-up and idle modes).
//
// The payload is a fixed pseudo-random table of a prime length repeated: the byte at offset i is table[i % period].
// The sender sends straight from it and the receiver checks with memcmp, so checking costs about as much as reading;
// a lost, duplicated or reordered chunk of any size that is not a multiple of the prime shows up as a mismatch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace bench {

inline constexpr char kSinkMagic[8] = {'H', 'C', 'B', 'S', 'I', 'N', 'K', '1'};
inline constexpr char kReplyOk[8] = {'H', 'C', 'B', 'O', 'K', '-', '-', '-'};
inline constexpr char kReplyBad[8] = {'H', 'C', 'B', 'B', 'A', 'D', '-', '-'};
inline constexpr std::size_t kHeaderSize = 16;  // magic + u64, for both the stream header and the reply

inline void put_u64(uint8_t* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t get_u64(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(in[i]) << (8 * i);
  return v;
}

class Pattern {
 public:
  static constexpr std::size_t kPeriod = 65521;       // the largest prime below 64 KiB
  static constexpr std::size_t kMaxSpan = 256 << 10;  // at() is valid for this many bytes

  Pattern() : bytes_(kPeriod + kMaxSpan) {
    uint64_t x = 0x9E3779B97F4A7C15ull;  // xorshift64, fixed seed: both ends build the same table
    for (std::size_t i = 0; i < kPeriod; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      bytes_[i] = static_cast<uint8_t>(x >> 24);
    }
    for (std::size_t i = kPeriod; i < bytes_.size(); ++i) bytes_[i] = bytes_[i - kPeriod];
  }

  // The payload from `offset` on, valid for kMaxSpan bytes.
  const uint8_t* at(uint64_t offset) const { return bytes_.data() + offset % kPeriod; }
  bool matches(uint64_t offset, const uint8_t* data, std::size_t size) const {
    return std::memcmp(at(offset), data, size) == 0;
  }

 private:
  std::vector<uint8_t> bytes_;
};

inline const Pattern& pattern() {
  static const Pattern p;
  return p;
}

}  // namespace bench
